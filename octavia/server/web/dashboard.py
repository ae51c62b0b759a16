"""``/``: the dashboard. A placeholder of the web skeleton; the jobs pages replace it."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response

from octavia.server.web import page_router
from octavia.server.web.render import render
from octavia.server.web.session import CurrentWebUser

router = page_router()


@router.get("/")
def dashboard(request: Request, user: CurrentWebUser) -> Response:
    return render(request, "dashboard.html", nav="dashboard")
