"""API bodies of the users domain."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.json_schema import SkipJsonSchema
from pydantic_core import PydanticCustomError

from ecoeco.core.text import Text
from ecoeco.users.models import NICKNAME_MAX


class UserOut(BaseModel):
    id: uuid.UUID
    nickname: str
    providers: list[str]
    created_at: datetime
    updated_at: datetime


# Fields the server owns: a client that sends them gets told so instead of being silently ignored.
SERVER_OWNED = frozenset(UserOut.model_fields) - {"nickname"}


class UserPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Optional but never null: None is only the "not sent" default, so the schema does not offer null.
    nickname: Annotated[Text, Field(min_length=1, max_length=NICKNAME_MAX)] | SkipJsonSchema[None] = None

    @model_validator(mode="before")
    @classmethod
    def _reject_server_owned(cls, data: Any) -> Any:
        if isinstance(data, dict):
            owned = sorted(SERVER_OWNED & data.keys())
            if owned:
                raise PydanticCustomError(
                    "read_only", "These fields are set by the server: {fields}", {"fields": ", ".join(owned)}
                )
        return data

    @field_validator("nickname")
    @classmethod
    def _clean_nickname(cls, value: str | None) -> str | None:
        if value is None:
            raise PydanticCustomError("not_nullable", "nickname cannot be null")
        value = value.strip()
        if not value or any(not ch.isprintable() for ch in value):
            raise PydanticCustomError("nickname", "nickname must be printable text")
        return value
