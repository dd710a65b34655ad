"""Object storage for images: S3 in distributed mode, a local directory when embedded."""

from pathlib import Path

from ecoeco.storage.base import ObjectNotFound, Storage, UploadTarget
from ecoeco.storage.local import LocalStorage
from ecoeco.storage.s3 import S3Storage

__all__ = ["ObjectNotFound", "Storage", "UploadTarget", "create_storage"]


def create_storage(
    *,
    bucket: str | None,
    endpoint_url: str | None,
    region: str,
    root: Path,
    public_url: str,
    secret: str,
) -> Storage:
    if bucket:
        return S3Storage(bucket, endpoint_url=endpoint_url, region=region)
    return LocalStorage(root, public_url=public_url, secret=secret)
