"""The credits ledger on SQLite and real PostgreSQL (``db_url`` runs each test on both)."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from octavia.errors import InputError, InsufficientCredits
from octavia.server import credits
from octavia.server.db import Database, utcnow
from octavia.server.pricing import estimate_cost, started_minutes
from octavia.server.settings import ServerSettings
from octavia.server.tables import credit_ledger
from tests.server.fixtures_billing import make_user


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    # Room for one connection per thread of the concurrency test.
    database = Database(db_url, pool_size=25, max_overflow=5)
    yield database
    database.dispose()


def _job() -> str:
    return f"job_{uuid.uuid4().hex[:20]}"


def _funded_user(db: Database, amount: int) -> str:
    uid = make_user(db)
    with db.begin() as conn:
        credits.grant(conn, user_id=uid, amount=amount, kind="grant", reference=f"seed:{uid}", note="seed")
    return uid


def _entries(db: Database, uid: str) -> list[tuple[str, int]]:
    with db.read() as conn:
        rows = conn.execute(
            sa.select(credit_ledger.c.kind, credit_ledger.c.amount)
            .where(credit_ledger.c.user_id == uid)
            .order_by(credit_ledger.c.id)
        ).all()
    return [(r.kind, r.amount) for r in rows]


def test_estimate_cost_per_started_minute_and_language() -> None:
    s = ServerSettings(prices_per_minute={"subtitle": 1, "dub": 5})
    assert started_minutes(0) == 1
    assert started_minutes(60) == 1
    assert started_minutes(60.01) == 2
    assert estimate_cost(s, "subtitle", 59.0) == 1
    assert estimate_cost(s, "dub", 61.0, n_languages=1) == 10
    assert estimate_cost(s, "dub", 61.0, n_languages=3) == 30
    assert estimate_cost(s, "subtitle", 125.0, n_languages=0) == 3  # transcription only: one unit
    assert credits.estimate_cost(s, "dub", 30.0) == 5  # the contract's re-export
    with pytest.raises(InputError, match="No price"):
        estimate_cost(s, "karaoke", 10.0)
    with pytest.raises(InputError):
        estimate_cost(s, "dub", float("nan"))


def test_grant_is_idempotent_by_kind_and_reference(db: Database) -> None:
    uid = make_user(db)
    with db.begin() as conn:
        assert credits.balance(conn, uid) == 0
        assert credits.grant(conn, user_id=uid, amount=30, kind="grant", reference="signup:x", note="hi")
        assert not credits.grant(conn, user_id=uid, amount=30, kind="grant", reference="signup:x", note="hi")
        assert credits.grant(conn, user_id=uid, amount=5, kind="grant", reference=None, note="no ref")
        assert credits.grant(conn, user_id=uid, amount=5, kind="grant", reference=None, note="no ref")
        assert credits.balance(conn, uid) == 40
    with db.begin() as conn, pytest.raises(InsufficientCredits) as exc:
        credits.grant(conn, user_id=uid, amount=-41, kind="adjustment", reference=None, note="too much")
    assert exc.value.shortfall == 1
    with db.begin() as conn:
        credits.grant(conn, user_id=uid, amount=-40, kind="adjustment", reference=None, note="all of it")
        assert credits.balance(conn, uid) == 0
    with db.begin() as conn, pytest.raises(InputError):
        credits.grant(conn, user_id=uid, amount=-1, kind="grant", reference=None, note="wrong sign")
    with db.begin() as conn, pytest.raises(InputError, match="No user"):
        credits.grant(conn, user_id="usr_nobody", amount=1, kind="grant", reference=None, note=None)


def test_reserve_settle_refund_lifecycle(db: Database) -> None:
    uid = _funded_user(db, 100)
    a, b, c = _job(), _job(), _job()
    with db.begin() as conn:
        credits.reserve_for_job(conn, user_id=uid, job_id=a, amount=40)
        credits.reserve_for_job(conn, user_id=uid, job_id=a, amount=40)  # same job: no second hold
        credits.reserve_for_job(conn, user_id=uid, job_id=b, amount=30)
        credits.reserve_for_job(conn, user_id=uid, job_id=c, amount=30)
        assert credits.balance(conn, uid) == 0
    with db.begin() as conn:
        assert credits.settle_job(conn, job_id=a, actual=25) == 15
        assert credits.settle_job(conn, job_id=a, actual=0) == 0  # second settle: nothing
        assert credits.refund_job(conn, job_id=a) == 0  # refund after settle: nothing
        assert credits.refund_job(conn, job_id=b) == 30
        assert credits.refund_job(conn, job_id=b) == 0
        assert credits.settle_job(conn, job_id=b, actual=10) == 0  # settle after refund: nothing
        assert credits.settle_job(conn, job_id=c, actual=999) == 0  # the estimate caps the charge
        assert credits.settle_job(conn, job_id="job_unknown", actual=5) == 0
        assert credits.refund_job(conn, job_id="job_unknown") == 0
        assert credits.balance(conn, uid) == 45
    assert _entries(db, uid) == [
        ("grant", 100),
        ("reserve", -40),
        ("reserve", -30),
        ("reserve", -30),
        ("settle", 15),
        ("refund", 30),
        ("settle", 0),
    ]


def test_reserve_refuses_with_the_shortfall_and_writes_nothing(db: Database) -> None:
    uid = _funded_user(db, 12)
    with db.begin() as conn, pytest.raises(InsufficientCredits) as exc:
        credits.reserve_for_job(conn, user_id=uid, job_id=_job(), amount=20)
    assert exc.value.shortfall == 8
    assert _entries(db, uid) == [("grant", 12)]


def test_history_pages_newest_first_and_only_for_that_user(db: Database) -> None:
    uid, other = _funded_user(db, 1), _funded_user(db, 50)
    with db.begin() as conn:
        for i in range(4):
            credits.grant(conn, user_id=uid, amount=i + 2, kind="grant", reference=None, note=f"n{i}")
    with db.read() as conn:
        first = credits.history(conn, uid, limit=3)
        rest = credits.history(conn, uid, limit=3, before=first[-1].id)
    assert [e.amount for e in first] == [5, 4, 3]
    assert [e.amount for e in rest] == [2, 1]
    assert all(e.kind == "grant" for e in first + rest)
    assert _entries(db, other) == [("grant", 50)]


def _insert_job(conn: sa.Connection, uid: str, job: str, cost: int) -> None:
    from octavia.server.db import utcnow
    from octavia.server.tables import jobs

    now = utcnow()
    conn.execute(
        jobs.insert().values(
            id=job,
            user_id=uid,
            kind="subtitle",
            status="queued",
            languages=[],
            options={},
            attempts=0,
            max_attempts=3,
            cancel_requested=False,
            progress={},
            cost_estimate=cost,
            created_at=now,
            enqueued_at=now,
        )
    )


@pytest.mark.parametrize("mode", ["immediate", "deferred", "job_row_first"])
def test_concurrent_reservations_never_overspend(db: Database, mode: str) -> None:
    """20 jobs of 10 credits start at once for a user with 75: exactly 7 get through.

    Each thread has its own connection and transaction and holds it open a moment after
    reserving, so without per-user locking several would read the same old balance.
    ``deferred`` opens a plain deferred transaction on SQLite (not Database.begin's BEGIN
    IMMEDIATE) to show reserve_for_job serialises on whatever transaction it is given.
    ``job_row_first`` inserts the job row (a foreign key to the user) before reserving, as job
    creation does: on PostgreSQL a plain FOR UPDATE lock would deadlock against the other
    transactions' foreign-key share locks.
    """
    n, cost, funds = 20, 10, 75
    uid = _funded_user(db, funds)
    barrier = threading.Barrier(n)
    ok: list[str] = []
    refused: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def one() -> None:
        job = _job()
        barrier.wait()
        try:
            if mode == "deferred":
                with db.engine.connect() as conn:
                    conn = conn.execution_options(octavia_readonly=True)  # plain BEGIN on SQLite
                    with conn.begin():
                        credits.reserve_for_job(conn, user_id=uid, job_id=job, amount=cost)
                        time.sleep(0.02)
            else:
                with db.begin() as conn:
                    if mode == "job_row_first":
                        _insert_job(conn, uid, job, cost)
                        time.sleep(0.01)  # let the others take their foreign-key locks too
                    credits.reserve_for_job(conn, user_id=uid, job_id=job, amount=cost)
                    time.sleep(0.02)
            with lock:
                ok.append(job)
        except InsufficientCredits as e:
            with lock:
                refused.append(e.shortfall)
        except BaseException as e:  # noqa: BLE001 - re-raised in the main thread by the assert below
            with lock:
                errors.append(e)

    threads = [threading.Thread(target=one) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert len(ok) == funds // cost
    assert len(refused) == n - funds // cost
    assert all(s == cost - funds % cost for s in refused)
    with db.read() as conn:
        assert credits.balance(conn, uid) == funds % cost
        running = 0
        for e in reversed(credits.history(conn, uid, limit=100)):
            running += e.amount
            assert running >= 0
        assert credits.unbalanced(conn) == []  # 7 reserves kept, 13 refused wrote nothing


def test_kept_balances_follow_every_entry_and_a_bypassing_write_shows(db: Database) -> None:
    uid = _funded_user(db, 50)
    job = _job()
    with db.begin() as conn:
        _insert_job(conn, uid, job, 20)
        credits.reserve_for_job(conn, user_id=uid, job_id=job, amount=20)
        credits.record_debt(conn, user_id=uid, amount=5, reference=f"debt:{uid}", note="t")
    with db.begin() as conn:
        assert credits.funds(conn, uid) == (30, 5)
        assert not credits.grant(conn, user_id=uid, amount=50, reference=f"seed:{uid}")  # a replay: no change
        credits.refund_job(conn, job_id=job)  # 20 back, 5 of them pay the debt
        assert credits.funds(conn, uid) == (45, 0)
        assert credits.unbalanced(conn) == []
    with pytest.raises(_Undo), db.begin() as conn:  # rolled back: the database is shared
        conn.execute(  # an entry written behind credits' back
            sa.insert(credit_ledger).values(user_id=uid, kind="adjustment", amount=-3, created_at=utcnow())
        )
        assert credits.unbalanced(conn) == [(uid, (45, 0), (42, 0))]
        raise _Undo


class _Undo(Exception):
    pass
