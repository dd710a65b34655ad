"""Key/value cache with TTLs: Redis in distributed mode, an in-process dict when embedded."""

from ecoeco.cache.base import Cache, MemoryCache

__all__ = ["Cache", "create_cache", "outage_errors"]


def create_cache(redis_url: str | None, *, prefix: str = "") -> Cache:
    if not redis_url:
        return MemoryCache()
    # redis-py only when it is configured: it costs an embedded start a quarter of a second of imports.
    from ecoeco.cache.redis_cache import RedisCache

    return RedisCache(redis_url, prefix=prefix)


def outage_errors(redis_url: str | None) -> tuple[type[Exception], ...]:
    """What the configured cache raises when it is unreachable (the in-process one never is)."""
    if not redis_url:
        return ()
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    return (RedisConnectionError, RedisTimeoutError)
