"""Breaking one cue's text into lines: as few lines as fit, of similar length, at natural places.

Text that fits on one line stays on one line. Otherwise the line count is the smallest that
fits (greedy filling finds it), and a dynamic programme picks the breaks that minimise the
distance of each line from an even share (half a point per character), minus a bonus for
breaking after punctuation (sentence end 10, clause mark 7) or before a conjunction (5) or
preposition/article (2), plus a penalty for leaving "the"/"and" at a line end (8).

Shape: balanced with a slight bottom-heavy preference (the "pyramid" most style guides ask
for): each line's target is shifted by ``_SKEW`` characters, shorter at the top, so that of
two equally good breaks the one with the longer bottom line wins. Syntax outweighs small
imbalances: a break after a comma beats an even split up to 14 characters of difference.

Words are never split; a single word longer than the limit gets a line of its own (and the
layout reports it).
"""

from __future__ import annotations

from collections.abc import Sequence

from octavia.formats._text import Boundary, Token, boundary, dangles, glued, join, tokenize
from octavia.formats.rules import LayoutRules

_SKEW = 1.0
_PER_CHAR = 0.5  # per character a line is off its target: two lines 10 apart cost 5
_BREAK_BONUS = {Boundary.SENTENCE: 10.0, Boundary.CLAUSE: 7.0, Boundary.CONJUNCTION: 5.0,
                Boundary.PREPOSITION: 2.0, Boundary.NONE: 0.0}  # fmt: skip
_DANGLING = 8.0
_GLUED = 6.0


def lines_needed(tokens: Sequence[Token], max_chars: int) -> int:
    """Fewest lines for ``tokens`` at ``max_chars`` per line (an overlong word takes a line alone)."""
    lines, current = 0, -1
    for t in tokens:
        if current >= 0 and current + (1 if t.space else 0) + t.width <= max_chars:
            current += (1 if t.space else 0) + t.width
        else:
            lines, current = lines + 1, t.width
    return lines


def _break_cost(tokens: Sequence[Token], j: int) -> float:
    """Cost of ending a line before ``tokens[j]`` (negative = a good place)."""
    left, right = tokens[j - 1], tokens[j]
    cost = -_BREAK_BONUS[boundary(left.text, right.text)]
    if dangles(left.text):
        cost += _DANGLING
    if glued(left, right):
        cost += _GLUED
    return cost


def split_lines(tokens: Sequence[Token], max_chars: int) -> list[list[Token]]:
    """The tokens grouped into lines (see the module docstring for the choice)."""
    n = len(tokens)
    if n == 0:
        return []
    cw = [0]  # visible width of tokens[:k]
    sp = [0]  # spaces before tokens[:k]
    for t in tokens:
        cw.append(cw[-1] + t.width)
        sp.append(sp[-1] + (1 if t.space else 0))

    def line_width(i: int, j: int) -> int:
        return cw[j] - cw[i] + sp[j] - sp[i + 1]

    if line_width(0, n) <= max_chars:
        return [list(tokens)]
    m = lines_needed(tokens, max_chars)
    share = line_width(0, n) / m
    inf = float("inf")
    best = [[inf] * (n + 1) for _ in range(m + 1)]
    back = [[0] * (n + 1) for _ in range(m + 1)]
    best[0][0] = 0.0
    for k in range(1, m + 1):
        target = share + _SKEW * (2 * (k - 1) - (m - 1)) / max(m - 1, 1)
        for j in range(k, n + 1):
            after = _break_cost(tokens, j) if j < n else 0.0
            for i in range(j - 1, k - 2, -1):
                w = line_width(i, j)
                if w > max_chars and j - i > 1:
                    break  # adding more tokens only makes the line wider
                if best[k - 1][i] == inf:
                    continue
                cost = best[k - 1][i] + _PER_CHAR * abs(w - target) + after
                if cost < best[k][j]:
                    best[k][j], back[k][j] = cost, i
    lines: list[list[Token]] = []
    j = n
    for k in range(m, 0, -1):
        i = back[k][j]
        lines.append(list(tokens[i:j]))
        j = i
    return lines[::-1]


def break_lines(text: str, rules: LayoutRules | None = None) -> str:
    """``text`` re-broken into balanced lines ("\\n"-joined) for ``rules.max_chars_per_line``.

    Existing line breaks are ignored. The result may have more than ``rules.max_lines`` lines
    when the text does not fit; callers split cues (:func:`segments_to_cues`) or report it.
    """
    rules = rules or LayoutRules()
    return "\n".join(join(line) for line in split_lines(tokenize(text), rules.max_chars_per_line))
