"""Being written (server-core)."""

from fastapi import APIRouter

router = APIRouter()
