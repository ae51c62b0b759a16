"""Rows of ``bench_server.py``: one per (tree, database, workers, phase); the markdown tables
(all rows, the before/after comparison with ratios) and the issue's goal lines."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

POST, GET, LIST = "POST /v1/jobs", "GET /v1/jobs/{id}", "GET /v1/jobs?limit=50"
STREAMS = " +streams"
# The goal of issue 16 per database: job creations/s at least, GET /v1/jobs/{id} p99 under (ms).
GOALS = {"sqlite": (500.0, 20.0), "postgres": (300.0, 30.0)}


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))]


@dataclass
class Row:
    tree: str
    db: str
    workers: int
    phase: str
    n: int
    rps: float
    p50: float
    p90: float
    p99: float
    max: float
    errors: dict[str, int]
    server_ms: float  # server CPU ms per request, all its processes
    client_ms: float  # load-generator CPU ms per request
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__} | {"error_count": self.error_count}


def make_row(tree: str, db: str, workers: int, phase: str, results: list[dict[str, Any]],
             server_cpu: float) -> Row:  # fmt: skip
    lat = [x * 1000 for r in results for x in r["lat"]]
    errors: Counter[str] = Counter()
    for r in results:
        errors.update(r["errors"])
    wall = max((r["wall"] for r in results), default=0.0)
    n = len(lat)
    per = 1000 / n if n else math.nan
    return Row(
        tree, db, workers, phase, n, n / wall if wall else 0.0, pct(lat, 50), pct(lat, 90), pct(lat, 99),
        max(lat, default=math.nan), dict(errors), server_cpu * per, sum(r["cpu"] for r in results) * per,
    )  # fmt: skip


def _errors(row: Row) -> str:
    if not row.errors:
        return "0"
    return ", ".join(f"{k}×{v}" for k, v in sorted(row.errors.items()))


def table(rows: list[Row]) -> str:
    out = ["| tree | database | workers | phase | requests | req/s | p50 ms | p90 ms | p99 ms | max ms "
           "| errors | server CPU ms/req | client CPU ms/req | notes |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for r in rows:
        out.append(
            f"| {r.tree} | {r.db} | {r.workers} | {r.phase} | {r.n} | {r.rps:.0f} | {r.p50:.1f} | {r.p90:.1f} "
            f"| {r.p99:.1f} | {r.max:.1f} | {_errors(r)} | {r.server_ms:.2f} | {r.client_ms:.3f} | {r.note} |"
        )
    return "\n".join(out)


def _ratio(new: float, old: float) -> str:
    return f"{new / old:.2f}×" if old and not math.isnan(old) and not math.isnan(new) else "–"


def comparison(rows: list[Row], before: str, after: str) -> str:
    """Per (database, workers, phase): before → after and after/before, for req/s, p99, CPU."""
    index = {(r.tree, r.db, r.workers, r.phase): r for r in rows}
    out = [f"| database | workers | phase | req/s {before} → {after} | × | p99 ms | × "
           "| server CPU ms/req | × |", "|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for r in rows:
        if r.tree != after or (b := index.get((before, r.db, r.workers, r.phase))) is None:
            continue
        out.append(
            f"| {r.db} | {r.workers} | {r.phase} | {b.rps:.0f} → {r.rps:.0f} | {_ratio(r.rps, b.rps)} "
            f"| {b.p99:.1f} → {r.p99:.1f} | {_ratio(r.p99, b.p99)} "
            f"| {b.server_ms:.2f} → {r.server_ms:.2f} | {_ratio(r.server_ms, b.server_ms)} |"
        )
    return "\n".join(out)


def goal_lines(rows: list[Row]) -> list[str]:
    """One line per (tree, database, workers): the issue's figures, met or not met."""
    lines = []
    seen: dict[tuple[str, str, int], dict[str, Row]] = {}
    for r in rows:
        seen.setdefault((r.tree, r.db, r.workers), {})[r.phase] = r
    for (tree, db, workers), phases in seen.items():
        rate, p99 = GOALS.get(db, (math.inf, 0.0))
        parts, ok = [], True
        for suffix in ("", STREAMS):
            post, get = phases.get(POST + suffix), phases.get(GET + suffix)
            if post is None or get is None:
                continue
            met = post.rps >= rate and get.p99 < p99 and not post.errors and not get.errors
            if suffix and (streams := get.extra.get("streams")):
                met = met and streams["opened"] == streams["wanted"] == streams["still_open"]
            ok = ok and met
            label = "with streams" if suffix else "alone"
            parts.append(
                f"{label}: creates {post.rps:.0f}/s, GET p99 {get.p99:.1f} ms ({'met' if met else 'NOT met'})"
            )
        goal = f"≥ {rate:.0f} creates/s and GET p99 < {p99:.0f} ms"
        if not parts:  # a run without both phases cannot tell
            lines.append(
                f"- {tree}, {db}, {workers} worker(s): goal {goal}: not measured (needs --phases post get)"
            )
            continue
        lines.append(
            f"- {tree}, {db}, {workers} worker(s): goal {goal}: {'MET' if ok else 'NOT MET'} — {'; '.join(parts)}"
        )
    return lines
