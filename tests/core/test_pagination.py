from __future__ import annotations

import base64
import json

import pytest

from ecoeco.core.errors import ProblemError
from ecoeco.core.pagination import (
    InvalidCursor,
    decode_cursor,
    encode_cursor,
    keyset_page,
    query_tag,
    read_keyset,
    use_secret,
)
from ecoeco.settings import Settings


def test_cursor_round_trip() -> None:
    cursor = encode_cursor({"created_at": "2026-01-01T00:00:00+00:00", "id": "abc"})
    assert decode_cursor(cursor, keys=("created_at", "id")) == {
        "created_at": "2026-01-01T00:00:00+00:00",
        "id": "abc",
    }


@pytest.mark.parametrize(
    "bad",
    ["%%%", "bm90IGpzb24", encode_cursor({"other": 1}), encode_cursor([1])],  # type: ignore[arg-type]
    ids=["not-base64", "not-json", "other-keys", "not-an-object"],
)
def test_bad_cursor_is_a_client_error(bad: str) -> None:
    with pytest.raises(ProblemError) as err:
        decode_cursor(bad, keys=("id",))
    assert err.value.status == 400
    assert err.value.code == "invalid-cursor"


def test_keyset_page_hands_out_a_cursor_only_when_more_rows_exist() -> None:
    rows = [{"id": i} for i in range(1, 6)]
    page, cursor = keyset_page(rows[:4], 3, lambda r: {"id": r["id"]})  # fetched one to spare
    assert page == rows[:3]
    assert read_keyset(cursor, ("id",)) == {"id": 3}
    assert keyset_page(rows[3:5], 3, lambda r: {"id": r["id"]}) == (rows[3:5], None)


def test_keyset_cursor_of_another_query_is_refused() -> None:
    tag = query_tag(37.5, 127.0, "battery")
    _, cursor = keyset_page([1, 2], 1, lambda r: {"id": r}, tag=tag)
    assert read_keyset(cursor, ("id",), tag=tag) == {"id": 1}
    with pytest.raises(InvalidCursor) as err:
        read_keyset(cursor, ("id",), tag=query_tag(37.5, 127.0, "lamp"))
    assert (err.value.status, err.value.code) == (400, "invalid-cursor")


def _edited(cursor: str, change: dict[str, object]) -> str:
    """The cursor with its values changed and the signature kept, as an attacker would try."""
    body, _, tag = cursor.partition(".")
    values = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    edited = json.dumps(values | change).encode()
    return base64.urlsafe_b64encode(edited).rstrip(b"=").decode() + "." + tag


@pytest.mark.parametrize(
    "change", [{"id": None}, {"id": [1]}, {"id": 1e30}, {"id": "1"}, {"created_at": 9}, {"d": 2**70}]
)
def test_an_edited_cursor_is_refused_before_its_values_are_read(change: dict[str, object]) -> None:
    cursor = encode_cursor({"created_at": "2026-01-01T00:00:00+00:00", "id": 7, "d": 1.5})
    with pytest.raises(InvalidCursor):
        decode_cursor(_edited(cursor, change), keys=("created_at", "id", "d"))


def test_an_unsigned_or_foreign_cursor_is_refused() -> None:
    payload = base64.urlsafe_b64encode(b'{"id":7}').rstrip(b"=").decode()
    for forged in (payload, payload + ".", payload + ".AAAA", encode_cursor({"id": 7}) + "x"):
        with pytest.raises(InvalidCursor):
            decode_cursor(forged, keys=("id",))
    cursor = encode_cursor({"id": 7})
    use_secret("another server's secret")
    try:
        with pytest.raises(InvalidCursor):
            decode_cursor(cursor, keys=("id",))
    finally:
        use_secret(Settings().secret_key.get_secret_value())
