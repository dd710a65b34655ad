"""Where the HTTP API lives, and the parameter types every domain spells the same way."""

from typing import Annotated

from fastapi import Path

API_PREFIX = "/api/v1"

# Integer ids are PostgreSQL `integer` columns: a larger number cannot name a row, and handing it to the
# database fails there (int4 on PostgreSQL, int64 on SQLite) instead of answering "no such thing".
INT32_MAX = 2**31 - 1
RowId = Annotated[int, Path(ge=1, le=INT32_MAX, description="A positive 32-bit integer id.")]
