"""Tokens and natural boundaries of subtitle text, shared by line breaking and cue splitting.

A token is what must never be split: a word with its punctuation and any markup glued to it
(``{\\i1}Hello,``), a whole tag even if it holds spaces (``<v Anna Lee>``), or one Chinese or
Japanese character (those scripts break between characters, and a closing mark such as "。"
stays with the character before it).

Boundaries between tokens are ranked: a sentence end is the best place to split, then a
clause mark (comma, semicolon, colon, dash), then before a conjunction or relative pronoun,
then before a preposition or article. The word lists cover English, Spanish, French, German,
Italian, Portuguese and Dutch; other languages still get the punctuation ranks.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum

from octavia.formats._markup import MARKUP, visible

_CJK = (
    "\u2e80-\u2fff\u3040-\u30ff\u3100-\u312f\u3190-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f"
)
_OPEN = "「『（【〈《〔［｛“‘"
_CLOSE = "、。，．！？：；」』）】〉》〕］｝…”’"
_PIECE = re.compile(
    rf"(\s*)((?:{MARKUP})*[{_OPEN}]*(?:{MARKUP})*[{_CJK}](?:[{_CLOSE}]|{MARKUP})*"
    rf"|[{_OPEN}]*(?:(?![{_CJK}{_OPEN}])(?:{MARKUP}|\S))+|\S)"
)
_CJK_CHAR = re.compile(f"[{_CJK}]")
_CLOSERS = "\"'”’»)]}」』）】"
_STRIP = "\"'“”‘’«»¿¡()[]{}<>.,;:!?…-—–。，、！？：；「」『』（）"


def _words(*groups: str) -> frozenset[str]:
    return frozenset(word for group in groups for word in group.split())


ABBREVIATIONS = _words("mr mrs ms dr st vs etc prof jr sr sra mme mlle hr fr nr z.b e.g i.e")
CONJUNCTIONS = _words(
    "and but or nor so yet because which that who whom whose when while whereas although though if unless "
    "until since where then",  # en
    "y e pero o u ni porque que cuando mientras aunque si pues donde sino",  # es
    "mas ou porque quando enquanto onde pois",  # pt
    "ma perché che mentre se dove però",  # it
    "et mais donc car parce qui quand lorsque puis comme où tandis",  # fr
    "und aber oder denn weil dass wenn als ob sondern doch während wo damit",  # de
    "en maar of want omdat dat wanneer toen",  # nl
)
PREPOSITIONS = _words(  # prepositions, articles and possessives: they lead into what follows
    "the a an of in on at to for with from by about into onto over under after before between through "
    "during without within against among like my your his her its our their this these those",  # en
    "el la los las un una unos unas de del al con por para sin sobre entre hasta desde mi tu su",  # es
    "le les une des du au aux à avec pour par sans sur sous dans chez mon ton son ma ta sa mes tes ses ce "
    "cette ces",  # fr
    "der die das den dem des ein eine einen einem einer mit von zu zum zur für auf aus bei nach über unter "
    "im am an ohne durch gegen um",  # de
    "il lo gli di della dei da su tra fra",  # it
    "os as um uma do da dos das em no na nos nas com",  # pt
    "het een van op met voor aan uit naar",  # nl
)


class Boundary(IntEnum):
    """How natural a split between two tokens is (higher = better)."""

    NONE = 0
    PREPOSITION = 1
    CONJUNCTION = 2
    CLAUSE = 3
    SENTENCE = 4


@dataclass(frozen=True, slots=True)
class Token:
    text: str  # as written, markup included
    space: bool  # whitespace stood before it: on one line it is joined with " ", else glued
    width: int  # characters on screen


def tokenize(text: str) -> list[Token]:
    """The tokens of ``text``; line breaks count as spaces (the caller re-breaks)."""
    return [Token(m.group(2), bool(m.group(1)), len(visible(m.group(2)))) for m in _PIECE.finditer(text)]


def join(tokens: Sequence[Token]) -> str:
    """One line of text from tokens."""
    return "".join((" " if t.space and k else "") + t.text for k, t in enumerate(tokens))


def width(tokens: Sequence[Token]) -> int:
    """Visible characters of the tokens on one line."""
    return sum(t.width for t in tokens) + sum(1 for t in tokens[1:] if t.space)


def core(token: str) -> str:
    """The bare lowercase word, for list look-ups."""
    return visible(token).strip(_STRIP).lower()


def boundary(left: str, right: str) -> Boundary:
    """How natural it is to split between ``left`` and ``right`` (token texts)."""
    shown = visible(left).rstrip(_CLOSERS)
    word = core(left)
    if shown.endswith(("?", "!", "…", "。", "！", "？")) or (
        shown.endswith(".") and word not in ABBREVIATIONS and not re.fullmatch(r"[a-z]", word)
    ):
        return Boundary.SENTENCE
    nxt = visible(right)
    if nxt in ("-", "–", "—"):  # a dialogue dash or a parenthetical dash starts here
        return Boundary.CLAUSE
    if shown.endswith((",", ";", ":", "—", "–", "、", "，", "；", "：")) or shown in ("-", "–", "—"):
        return Boundary.CLAUSE
    following = core(right)
    if following in CONJUNCTIONS:
        return Boundary.CONJUNCTION
    if following in PREPOSITIONS:
        return Boundary.PREPOSITION
    return Boundary.NONE


def dangles(token: str) -> bool:
    """True for a function word ("the", "and", "of") that reads badly at the end of a line or cue."""
    word = core(token)
    shown = visible(token)
    return (word in PREPOSITIONS or word in CONJUNCTIONS) and not shown.rstrip(_CLOSERS).endswith(
        tuple(",.;:!?")
    )


def glued(left: Token, right: Token) -> bool:
    """True where no space separates two tokens that are not CJK characters (e.g. after "「")."""
    return not right.space and not (
        _CJK_CHAR.search(visible(left.text)[-1:]) or _CJK_CHAR.search(visible(right.text)[:1])
    )
