from __future__ import annotations

import pytest

from ecoeco.core.errors import ProblemError
from ecoeco.core.pagination import decode_cursor, encode_cursor


def test_cursor_round_trip() -> None:
    cursor = encode_cursor({"created_at": "2026-01-01T00:00:00+00:00", "id": "abc"})
    assert decode_cursor(cursor, keys=("created_at", "id")) == {
        "created_at": "2026-01-01T00:00:00+00:00",
        "id": "abc",
    }


@pytest.mark.parametrize("bad", ["%%%", "bm90IGpzb24", encode_cursor({"other": 1}), encode_cursor([1])])  # type: ignore[arg-type]
def test_bad_cursor_is_a_client_error(bad: str) -> None:
    with pytest.raises(ProblemError) as err:
        decode_cursor(bad, keys=("id",))
    assert err.value.status == 400
    assert err.value.code == "invalid-cursor"
