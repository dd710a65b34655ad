"""Object storage for images: S3 in distributed mode, a local directory when embedded."""

from ecoeco.settings import Settings
from ecoeco.storage.base import ObjectNotFound, Storage, UploadTarget
from ecoeco.storage.local import LocalStorage

__all__ = ["ObjectNotFound", "Storage", "UploadTarget", "create_storage"]


def create_storage(settings: Settings) -> Storage:
    if settings.s3_bucket:
        # Imported when chosen: boto3 is a third of a second of start-up that embedded mode never uses.
        from ecoeco.storage.s3 import S3Storage

        return S3Storage(settings.s3_bucket, endpoint_url=settings.s3_endpoint_url, region=settings.s3_region)
    return LocalStorage(
        settings.storage_dir,
        public_url=settings.public_url,
        secret=settings.secret_key.get_secret_value(),
    )
