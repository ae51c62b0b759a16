"""``report.html``: the dub report for a person, one self-contained file beside the outputs.

No external assets (it is opened from disk, mailed, or stored as a job artifact): styles and
the few lines of script are in the page. The media player points at the dubbed file by its
name, so the page works where the two files sit side by side. Every text from the job is
HTML-escaped: a translation is user data.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import Any

_CSS = """
body{font:15px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1100px;padding:1rem;color:#1b1b1b}
h1{font-size:1.4rem}table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;
padding:.35rem;text-align:left;vertical-align:top}th{background:#f4f4f4}.num{text-align:right;
white-space:nowrap}.track{position:relative;height:1.6rem;background:#f4f4f4;margin:.2rem 0}
.box{position:absolute;top:0;height:100%;border-radius:2px;opacity:.85}.ok{background:#2e7d32}
.adjusted{background:#f9a825}.flagged{background:#c62828}.orig{background:#607d8b}
tr.flagged td:first-child{border-left:4px solid #c62828}.legend span{display:inline-block;
padding:0 .5rem;margin-right:.5rem;color:#fff;border-radius:2px}video,audio{width:100%;max-height:50vh}
button{font:inherit;cursor:pointer}.muted{color:#666}
"""

_SCRIPT = """
const player = document.getElementById('player');
let stopAt = null;
document.querySelectorAll('button[data-start]').forEach((b) => b.addEventListener('click', () => {
  player.currentTime = Number(b.dataset.start); stopAt = Number(b.dataset.end); player.play();
}));
if (player) player.addEventListener('timeupdate', () => {
  if (stopAt !== null && player.currentTime >= stopAt) { player.pause(); stopAt = null; }
});
"""


def _fit_class(row: Mapping[str, Any]) -> str:
    if row["flagged"] or row["overflow_s"] > 0:
        return "flagged"
    if row["factor"] > 1.0005 or abs(row["shift_s"]) > 0.0005:
        return "adjusted"
    return "ok"


def _box(start: float, end: float, duration: float, cls: str, title: str) -> str:
    left = 100 * start / duration
    width = max(0.3, 100 * (end - start) / duration)
    return (f'<div class="box {cls}" style="left:{left:.3f}%;width:{width:.3f}%" '
            f'title="{escape(title)}"></div>')  # fmt: skip


def _timeline(rows: list[Mapping[str, Any]], duration: float) -> str:
    orig = "".join(_box(r["start"], r["end"], duration, "orig", f"#{r['index'] + 1} original") for r in rows)
    dub = "".join(
        _box(r["placed_start"], r["placed_end"], duration, _fit_class(r), f"#{r['index'] + 1} {r['text']}")
        for r in rows
    )
    return (f'<p class="muted">Original segments</p><div class="track">{orig}</div>'
            f'<p class="muted">Dubbed lines</p><div class="track">{dub}</div>')  # fmt: skip


def _clock(t: float) -> str:
    return f"{int(t // 60)}:{t % 60:06.3f}"


def _line(row: Mapping[str, Any], playable: bool) -> str:
    cls = "flagged" if row["flagged"] else ""
    play = (f'<button type="button" data-start="{row["placed_start"]}" data-end="{row["placed_end"]}">'
            f"Play #{row['index'] + 1}</button>") if playable else ""  # fmt: skip
    notes = ", ".join(row["warnings"])
    cells = [
        f"#{row['index'] + 1} {play}",
        f"{_clock(row['start'])}–{_clock(row['end'])}<br><span class=muted>plays "
        f"{_clock(row['placed_start'])}–{_clock(row['placed_end'])}</span>",
        escape(str(row.get("speaker") or ""))
        + "<br><span class=muted>"
        + escape(str(row.get("voice") or ""))
        + "</span>",
        escape(row["text"]),
        escape(row["heard"]),
    ]
    nums = [f"{row['wer']:.0%}", f"{row['cer']:.0%}", f"{row['factor']:.2f}×", f"{row['shift_s']:+.2f} s",
            f"{row['overflow_s']:.2f} s", f"{row['cps']:.1f}"]  # fmt: skip
    body = "".join(f"<td>{c}</td>" for c in cells) + "".join(f'<td class="num">{n}</td>' for n in nums)
    return f'<tr class="{cls}">{body}<td>{escape(notes)}</td></tr>'


def render(report: Mapping[str, Any], *, title: str, media_name: str | None, duration: float) -> str:
    """The page for one language's report (see :func:`octavia.pipeline.dubreport.verify.back_transcribe`)."""
    rows: list[Mapping[str, Any]] = list(report["segments"])
    ordered = sorted(rows, key=lambda r: (not r["flagged"], r["index"]))  # flagged lines first
    span = max([duration, *(r["placed_end"] for r in rows), 1e-3])
    player = ""
    if media_name:
        tag = "video" if media_name.rsplit(".", 1)[-1].lower() in ("mp4", "mkv", "mov", "webm") else "audio"
        player = f'<{tag} id="player" controls preload="metadata" src="{escape(media_name)}"></{tag}>'
    flagged = len(report["flagged"])
    head = ["Line", "Time", "Speaker / voice", "Meant to say", "Heard", "WER", "CER", "Speed", "Shift",
            "Overflow", "Chars/s", "Notes"]  # fmt: skip
    summary = (f"{len(rows)} lines · {flagged} flagged (error above {report['max_error']:.0%}) · "
               f"word error {report['wer']:.1%} · character error {report['cer']:.1%} · "
               f"heard by Whisper {escape(str(report['model']))}")  # fmt: skip
    table = "".join(_line(r, bool(media_name)) for r in ordered)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>{escape(title)}</title><style>{_CSS}</style></head><body>
<h1>{escape(title)}</h1>
<p>{summary}</p>
<p class="legend"><span class="ok">fits</span><span class="adjusted">sped up or shifted</span><span class="flagged">flagged or overflowing</span></p>
{player}
{_timeline(rows, span)}
<table><thead><tr>{"".join(f"<th>{h}</th>" for h in head)}</tr></thead><tbody>{table}</tbody></table>
<script>{_SCRIPT}</script>
</body></html>
"""


__all__ = ["render"]
