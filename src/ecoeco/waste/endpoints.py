from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/waste", tags=["waste"])
