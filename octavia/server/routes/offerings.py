"""What this server offers a new job, and what one would cost: for the web app's job form
(and any client that builds one).

``GET /v1/offerings``: the job kinds, subtitle formats, upload limits, prices and the models and
voices *installed here* (the only names ``POST /v1/jobs`` accepts). ``POST /v1/jobs/estimate``:
the credits a job would reserve and the caller's balance, computed exactly as creation does.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel, Field

from octavia.server import credits
from octavia.server import jobs as J
from octavia.server.deps import CurrentUser, DbDep, SettingsDep
from octavia.server.problems import responses
from octavia.server.settings import ServerSettings

router = APIRouter(tags=["offerings"])


class Voice(BaseModel):
    name: str
    language: str = Field(description="The language code the voice speaks (from its name).")
    engine: str


class Offerings(BaseModel):
    kinds: list[str]
    formats: list[str]
    max_upload_bytes: int
    allowed_content_types: list[str] = Field(description="A prefix ending in '/' or an exact type.")
    prices_per_minute: dict[str, int]
    whisper_models: list[str]
    voices: list[Voice]
    review_kinds: list[str]


def _installed(settings: ServerSettings, engine: str) -> list[str]:
    from octavia.pipeline import catalogue
    from octavia.pipeline.models import ModelResolver

    resolver = ModelResolver.from_settings(settings)
    return sorted(
        e.spec.name
        for e in catalogue.entries(engine)
        if resolver.find_cached(e.spec) is not None or resolver.pack_for(e.spec) is not None
    )


def _voice_language(name: str) -> str:
    """``en_US-lessac-medium`` → ``en`` (Piper names start with the locale)."""
    return name.split("-", 1)[0].split("_", 1)[0].lower()


#: Kokoro voice names start with their speaker's language: ``ef_dora`` is a Spanish voice.
_KOKORO_LANGUAGES = {
    "a": "en",
    "b": "en",
    "e": "es",
    "f": "fr",
    "h": "hi",
    "i": "it",
    "j": "ja",
    "p": "pt",
    "z": "zh",
}


def installed_voices(settings: ServerSettings) -> list[Voice]:
    """Every voice a job may name here: the installed Piper voices and Kokoro's."""
    from octavia.pipeline import kokoro
    from octavia.pipeline.models import ModelResolver

    piper = [
        Voice(name=n, language=_voice_language(n), engine="piper") for n in _installed(settings, "piper")
    ]
    names = sorted(kokoro.installed_voices(ModelResolver.from_settings(settings)))
    return piper + [Voice(name=n, language=_KOKORO_LANGUAGES.get(n[:1], "?"), engine="kokoro") for n in names]


@router.get("/v1/offerings")
def offerings(user: CurrentUser, settings: SettingsDep) -> Offerings:
    from octavia.formats import FORMATS
    from octavia.pipeline.jobs import available_kinds
    from octavia.server.review import REVIEW_KINDS

    kinds = sorted(available_kinds())
    return Offerings(
        kinds=kinds, formats=list(FORMATS), max_upload_bytes=settings.max_upload_bytes,
        allowed_content_types=list(settings.allowed_content_types),
        prices_per_minute={k: v for k, v in settings.prices_per_minute.items() if k in kinds},
        whisper_models=_installed(settings, "whisper"),
        voices=installed_voices(settings),
        review_kinds=[k for k in REVIEW_KINDS if k in kinds],
    )  # fmt: skip


class EstimateIn(BaseModel):
    kind: str = Field(max_length=32)
    upload_id: str = Field(max_length=40)
    source_language: str | None = Field(None, max_length=16)
    languages: list[Annotated[str, Field(min_length=2, max_length=16)]] = Field(
        default_factory=list, max_length=20
    )


class EstimateOut(BaseModel):
    cost: int = Field(description="Credits the job would reserve (its cap: it never costs more).")
    balance: int
    shortfall: int = Field(description="Credits missing to start it; 0 when the balance covers it.")
    minutes: int
    languages: list[str] = Field(description="The targets it would be charged for.")


@router.post("/v1/jobs/estimate", responses=responses(404, 422))
def estimate(body: EstimateIn, user: CurrentUser, db: DbDep, settings: SettingsDep) -> EstimateOut:
    from octavia.errors import InputError
    from octavia.server import tables as t
    from octavia.server.db import owned_row
    from octavia.server.pricing import billable_seconds, estimate_cost, started_minutes

    J.check_kind(body.kind)
    targets = J.target_languages(body.kind, tuple(body.languages), body.source_language)
    with db.read() as conn:
        up = owned_row(conn, t.uploads, user.id, body.upload_id)
        if up is None:
            raise J.NotFound("Upload not found.")
        if up.status != "ready" or up.duration is None:
            raise InputError(f"Upload {up.id} is {up.status}, not ready.")
        have = credits.balance(conn, user.id) - credits.debt(conn, user.id)
    seconds = billable_seconds(float(up.duration))
    cost = estimate_cost(settings, body.kind, seconds, len(targets))
    return EstimateOut(
        cost=cost, balance=max(0, have), shortfall=max(0, cost - have), minutes=started_minutes(seconds),
        languages=list(targets),
    )  # fmt: skip
