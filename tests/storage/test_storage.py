from __future__ import annotations

import pytest

from ecoeco.settings import Settings
from ecoeco.storage import ObjectNotFound, Storage, create_storage


@pytest.fixture
def storage(settings: Settings) -> Storage:
    return create_storage(settings)


async def test_put_get_delete(storage: Storage) -> None:
    await storage.ping()
    await storage.put("scans/u1/a.jpg", b"\xff\xd8data", content_type="image/jpeg")
    assert await storage.get("scans/u1/a.jpg") == b"\xff\xd8data"
    await storage.delete("scans/u1/a.jpg")
    with pytest.raises(ObjectNotFound):
        await storage.get("scans/u1/a.jpg")


@pytest.mark.parametrize("key", ["../etc/passwd", "/abs", "a/../../b", "", "sp ace"])
async def test_unsafe_keys_are_refused(storage: Storage, key: str) -> None:
    with pytest.raises(ValueError, match="unsafe"):
        await storage.put(key, b"x", content_type="text/plain")
