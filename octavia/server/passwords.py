"""Password strength (zxcvbn) and the normalised address welcome credits are keyed by.

A length rule alone accepted ten spaces and "password1"; zxcvbn estimates how many guesses a
password needs (dictionaries, keyboard patterns, repeats, dates, the user's own address) and
scores it 0-4. New passwords below ``settings.password_min_score`` are refused with its
warning and suggestions, so the user learns why.
"""

from __future__ import annotations

import hashlib

from octavia.server.problems import ApiError

# zxcvbn's matching grows faster than linearly with length, so zxcvbn 4.5 raises ValueError
# past 72 characters (its default max_length). The first 72 decide the score of any realistic
# password (a longer one only gets stronger), and a 1 KiB one must not cost seconds of CPU.
_ESTIMATE_CHARS = 72
_GMAIL_DOMAINS = {"gmail.com": "gmail.com", "googlemail.com": "gmail.com"}


def check_password(password: str, min_score: int, *, email: str | None = None) -> None:
    """Raise a 422 ``weak_password`` problem unless ``password`` scores at least ``min_score``."""
    from zxcvbn import zxcvbn

    if not password.strip():
        raise ApiError(
            422,
            "weak_password",
            "The password is only whitespace.",
            "Choose a passphrase of a few uncommon words.",
            score=0,
            suggestions=[],
        )
    inputs = [email, email.split("@")[0]] if email else []
    result = zxcvbn(password[:_ESTIMATE_CHARS], user_inputs=inputs, max_length=_ESTIMATE_CHARS)
    score = int(result["score"])
    if score >= min_score:
        return
    feedback = result.get("feedback") or {}
    warning = str(feedback.get("warning") or "It would be guessed quickly.")
    suggestions = [str(s) for s in feedback.get("suggestions") or []]
    raise ApiError(
        422,
        "weak_password",
        f"The password is too weak (strength {score} of 4, at least {min_score} needed): {warning}",
        " ".join(suggestions) or "Add another word or two; uncommon words are better.",
        score=score,
        suggestions=suggestions,
    )


def canonical_email(addr: str) -> str:
    """The mailbox an address delivers to, for one-per-person welcome credits.

    Lowercased, with a ``+tag`` removed from the local part (every major provider delivers
    ``ann+x@`` to ``ann@``); for Gmail, whose servers ignore dots in the local part, dots are
    removed too and googlemail.com counts as gmail.com. Accounts still log in with the address
    they gave; this is only the key of the welcome grant.
    """
    local, _, domain = addr.strip().lower().rpartition("@")
    local = local.split("+", 1)[0]
    if domain in _GMAIL_DOMAINS:
        domain = _GMAIL_DOMAINS[domain]
        local = local.replace(".", "")
    return f"{local}@{domain}"


def welcome_reference(addr: str) -> str:
    """The ledger reference of the welcome grant: a digest, since ledger entries are shown to users."""
    return "welcome:" + hashlib.sha256(canonical_email(addr).encode()).hexdigest()[:40]
