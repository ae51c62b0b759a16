"""``octavia admin …``: operator commands that work on the server's database directly.

``octavia admin credits grant USER N [--note TEXT] [--reference REF]`` adds N credits to a user
(USER = email or user id). A negative N (after ``--``: ``grant USER -- -50``) is written as an ``adjustment`` and is refused when it
would make the balance negative. ``--reference`` makes the command safe to re-run (a second
run with the same reference changes nothing). ``octavia admin credits show USER`` prints the
balance and the latest entries. ``octavia admin credits check`` compares every user's kept
balance and debt with the sums of their ledger entries (exit 1 on a mismatch, for monitoring).
The database comes from the server settings (``OCTAVIA_*``
environment / config file), so SQLite and PostgreSQL both work.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from octavia.errors import InputError

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from octavia.server.db import Database

admin_app = typer.Typer(name="admin", help="Operator commands for an Octavia server.", no_args_is_help=True)
credits_app = typer.Typer(name="credits", help="Inspect and grant credits.", no_args_is_help=True)
admin_app.add_typer(credits_app)


def _resolve_user(conn: Connection, who: str) -> tuple[str, str]:
    import sqlalchemy as sa

    from octavia.server.tables import users

    cond = sa.func.lower(users.c.email) == who.lower() if "@" in who else users.c.id == who
    row = conn.execute(sa.select(users.c.id, users.c.email).where(cond)).first()
    if row is None:
        raise InputError(f"No user {who!r}.", hint="Give the account's email address or its usr_… id.")
    return str(row.id), str(row.email)


def _database() -> Database:
    from octavia.server.db import Database
    from octavia.server.settings import load_server_settings

    return Database.from_settings(load_server_settings())


@credits_app.command("grant")
def grant_credits(
    user: str = typer.Argument(..., help="Email address or user id."),
    amount: int = typer.Argument(..., help="Credits to add; to take away, a negative number after --."),
    note: str | None = typer.Option(None, "--note", help="Why; shown in the user's billing history."),
    reference: str | None = typer.Option(
        None, "--reference", help="An idempotency key: re-running with the same one changes nothing."
    ),
) -> None:
    """Give credits to a user (or take them away with a negative amount)."""
    from octavia.server import credits

    if amount == 0:
        raise InputError("The amount must not be 0.")
    db = _database()
    kind = "grant" if amount > 0 else "adjustment"
    try:
        with db.begin() as conn:
            user_id, email = _resolve_user(conn, user)
            applied = credits.grant(
                conn,
                user_id=user_id,
                amount=amount,
                kind=kind,
                reference=f"admin:{reference}" if reference else None,
                note=note or "granted by an operator",
            )
            total = credits.balance(conn, user_id)
    finally:
        db.dispose()
    if applied:
        typer.echo(
            f"{'Granted' if amount > 0 else 'Took'} {abs(amount)} credits: {email} ({user_id}) now has {total}."
        )
    else:
        typer.echo(f"Reference {reference!r} was already used; nothing changed. {email} has {total}.")


@credits_app.command("show")
def show_credits(
    user: str = typer.Argument(..., help="Email address or user id."),
    limit: int = typer.Option(20, "--limit", min=1, help="How many recent entries."),
) -> None:
    """Print a user's balance and latest ledger entries."""
    from octavia.server import credits

    db = _database()
    try:
        with db.read() as conn:
            user_id, email = _resolve_user(conn, user)
            total = credits.balance(conn, user_id)
            entries = credits.history(conn, user_id, limit=limit)
    finally:
        db.dispose()
    typer.echo(f"{email} ({user_id}): {total} credits")
    for e in entries:
        ref = f" [{e.reference}]" if e.reference else ""
        typer.echo(
            f"  {e.created_at:%Y-%m-%d %H:%M} {e.kind:<10} {e.amount:>+7}{ref} {e.note or ''}".rstrip()
        )


@credits_app.command("check")
def check_credits() -> None:
    """Check every user's balance and debt against the sums of their ledger entries (exit 1 if any differ)."""
    import sqlalchemy as sa

    from octavia.server import credits
    from octavia.server.tables import credit_ledger

    db = _database()
    try:
        with db.read() as conn:
            wrong = credits.unbalanced(conn)
            entries = conn.execute(sa.select(sa.func.count()).select_from(credit_ledger)).scalar_one()
    finally:
        db.dispose()
    if not wrong:
        typer.echo(f"Every balance matches the ledger ({entries} entries).")
        return
    for user_id, (kept, kept_debt), (summed, summed_debt) in wrong:
        typer.echo(
            f"{user_id}: kept balance {kept}, debt {kept_debt}; ledger sums {summed}, {summed_debt}", err=True
        )
    typer.echo(
        f"{len(wrong)} balance(s) differ from the ledger: something wrote credit_ledger without octavia's "
        "credits functions. The ledger is the record; report this before changing either.",
        err=True,
    )
    raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.add_typer(admin_app)
