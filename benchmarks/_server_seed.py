"""Migrate and seed a benchmark database, run with the *server tree* first on PYTHONPATH.

    PYTHONPATH=TREE python benchmarks/_server_seed.py DB_URL USERS

So the schema and the rows are those of the code under test (a ``--ref`` checkout may be
older than this benchmark). Each user gets an API key, a ready upload (3 s of audio: one
credit per subtitle job; one upload serves any number of jobs) and ten million credits, all
written straight to the database. Prints JSON: the users, and the names of the server's
per-IP rate-limit settings, which the benchmark raises (the limiter still runs).
"""

from __future__ import annotations

import json
import secrets
import sys
from typing import Any


def seed_user(db: Any, n: int) -> dict[str, str]:
    from octavia.server import credits
    from octavia.server import tables as t
    from octavia.server.db import new_id, utcnow
    from octavia.server.security import API_KEY_PREFIX, sha256_hex

    uid, upl, token = new_id("usr"), new_id("upl"), API_KEY_PREFIX + secrets.token_urlsafe(24)
    with db.begin() as conn:
        conn.execute(t.users.insert().values(id=uid, email=f"bench-{n}-{uid}@example.com", password_hash="!",
                                             email_verified_at=utcnow(), is_admin=False, created_at=utcnow()))  # fmt: skip
        conn.execute(t.api_keys.insert().values(id=new_id("key"), user_id=uid, name="bench", prefix=token[:12],
                                                key_hash=sha256_hex(token), created_at=utcnow()))  # fmt: skip
        conn.execute(t.uploads.insert().values(id=upl, user_id=uid, filename="a.wav", content_type="audio/wav",
                                               size=1000, storage_key=f"uploads/{uid}/{upl}/source.wav",
                                               status="ready", duration=3.0, created_at=utcnow()))  # fmt: skip
        credits.grant(conn, user_id=uid, amount=10_000_000, note="bench")
    return {"user": uid, "token": token, "upload": upl}


def main() -> None:
    from octavia.server.db import Database, migrate
    from octavia.server.settings import ServerSettings

    url, count = sys.argv[1], int(sys.argv[2])
    migrate(url)
    db = Database(url)
    users = [seed_user(db, n) for n in range(count)]
    db.dispose()
    limits = [name for name in ServerSettings.model_fields if name.startswith("rate_limit_")]
    print(json.dumps({"users": users, "rate_limits": limits}))


if __name__ == "__main__":
    main()
