"""Key/value cache with TTLs: Redis in distributed mode, an in-process dict when embedded."""

from ecoeco.cache.base import Cache, create_cache

__all__ = ["Cache", "create_cache"]
