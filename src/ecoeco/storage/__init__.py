"""Object storage for images: S3 in distributed mode, a local directory when embedded."""

from ecoeco.storage.base import ObjectNotFound, Storage, create_storage

__all__ = ["ObjectNotFound", "Storage", "create_storage"]
