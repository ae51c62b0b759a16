"""Projects: optional folders that group a user's uploads and jobs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Response
from pydantic import BaseModel, Field
from sqlalchemy.engine import Connection

from octavia.server import tables as t
from octavia.server.db import new_id, owned_row, utcnow
from octavia.server.deps import CurrentUser, DbDep
from octavia.server.problems import not_found, responses

router = APIRouter(prefix="/v1/projects", tags=["projects"])


class ProjectCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200)


class ProjectOut(BaseModel):
    id: str
    name: str
    created_at: datetime


def owned_project(conn: Connection, user_id: str, project_id: str) -> sa.Row[Any]:
    """The project if ``user_id`` owns it; 404 otherwise (never 403: ids of others stay secret)."""
    row: sa.Row[Any] | None = owned_row(conn, t.projects, user_id, project_id)
    if row is None:
        raise not_found("Project")
    return row


@router.post("", status_code=201)
def create_project(body: ProjectCreate, user: CurrentUser, db: DbDep) -> ProjectOut:
    out = ProjectOut(id=new_id("prj"), name=body.name, created_at=utcnow())
    with db.begin() as conn:
        conn.execute(sa.insert(t.projects).values(user_id=user.id, **out.model_dump()))
    return out


@router.get("")
def list_projects(user: CurrentUser, db: DbDep) -> list[ProjectOut]:
    with db.read() as conn:
        rows = conn.execute(
            sa.select(t.projects).where(t.projects.c.user_id == user.id).order_by(t.projects.c.created_at)
        ).all()
    return [ProjectOut(id=r.id, name=r.name, created_at=r.created_at) for r in rows]


@router.get("/{project_id}", responses=responses(404))
def get_project(project_id: str, user: CurrentUser, db: DbDep) -> ProjectOut:
    with db.read() as conn:
        r = owned_project(conn, user.id, project_id)
    return ProjectOut(id=r.id, name=r.name, created_at=r.created_at)


@router.delete("/{project_id}", status_code=204, responses=responses(404))
def delete_project(project_id: str, user: CurrentUser, db: DbDep) -> Response:
    # Uploads and jobs stay; their project_id becomes NULL (ON DELETE SET NULL).
    with db.begin() as conn:
        owned_project(conn, user.id, project_id)
        conn.execute(sa.delete(t.projects).where(t.projects.c.id == project_id))
    return Response(status_code=204)
