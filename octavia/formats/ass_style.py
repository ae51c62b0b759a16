"""The look of generated ASS subtitles, as one validated dataclass (options from the CLI or API land here).

Colours may be given as ASS ``&HAABBGGRR`` (alpha 00 = opaque) or as CSS-style ``#RRGGBB`` /
``#RRGGBBAA`` (alpha FF = opaque), because users think in web colours and ASS stores
blue-green-red with inverted alpha; :func:`ass_colour` converts once, at write time.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace

from octavia.errors import InputError

#: The V4+ style fields, in the order every ASS renderer expects on ``Style:`` lines.
STYLE_FORMAT = (
    "Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, Bold, Italic, "
    "Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, Alignment, "
    "MarginL, MarginR, MarginV, Encoding"
)

_ASS_COLOUR = re.compile(r"&[Hh]([0-9A-Fa-f]{1,8})&?")
_CSS_COLOUR = re.compile(r"#([0-9A-Fa-f]{6})([0-9A-Fa-f]{2})?")


def ass_colour(value: str) -> str:
    """``&HAABBGGRR`` for an ASS or CSS colour; InputError for anything else."""
    value = value.strip()
    m = _ASS_COLOUR.fullmatch(value)
    if m:
        return "&H" + m.group(1).upper().rjust(8, "0")
    m = _CSS_COLOUR.fullmatch(value)
    if m:
        rgb = m.group(1).upper()
        alpha = 255 - int(m.group(2) or "FF", 16)
        return f"&H{alpha:02X}{rgb[4:6]}{rgb[2:4]}{rgb[0:2]}"
    raise InputError(
        f"Not a colour: {value!r}.", "Use #RRGGBB, #RRGGBBAA (CSS, alpha FF = opaque) or &HAABBGGRR (ASS)."
    )


#: Text colours for speakers' styles, in order: distinct hues, all light enough to read on video.
SPEAKER_COLOURS = ("#FFFFFF", "#FFE066", "#7FDBFF", "#A3F7A3", "#FFA8D8", "#FFB870", "#C9A8FF", "#B8B8B8")


def speaker_styles(base: AssStyle, speakers: Iterable[str]) -> dict[str, AssStyle]:
    """One style per speaker (in order of first appearance): ``base`` in the speaker's colour.

    The style is named after the speaker (commas, which ASS uses as separators, become spaces);
    past the palette, colours repeat.
    """
    out: dict[str, AssStyle] = {}
    for speaker in dict.fromkeys(speakers):
        name = " ".join(speaker.replace(",", " ").split()) or "Speaker"
        colour = SPEAKER_COLOURS[len(out) % len(SPEAKER_COLOURS)]
        out[speaker] = replace(base, name=name, primary_colour=colour)
    return out


def _num(x: float) -> str:
    return f"{x:g}"


@dataclass(frozen=True, slots=True)
class AssStyle:
    """The default style of a generated ASS file, sized for a 1920×1080 script resolution.

    Defaults: white Arial with a black outline and a soft shadow, bottom centre (numpad
    alignment 2), margins that keep text inside title-safe areas.
    """

    name: str = "Default"
    font_name: str = "Arial"
    font_size: float = 54
    primary_colour: str = "&H00FFFFFF"
    secondary_colour: str = "&H000000FF"
    outline_colour: str = "&H00000000"
    back_colour: str = "&H80000000"
    bold: bool = False
    italic: bool = False
    border_style: int = 1  # 1 = outline + shadow, 3 = opaque box
    outline: float = 2.5
    shadow: float = 1.0
    alignment: int = 2  # numpad layout: 1-3 bottom, 4-6 middle, 7-9 top
    margin_l: int = 80
    margin_r: int = 80
    margin_v: int = 50
    play_res_x: int = 1920
    play_res_y: int = 1080

    def __post_init__(self) -> None:
        hint = "Fix the ass_style option."
        for label, text in (("name", self.name), ("font_name", self.font_name)):
            if not text.strip() or "," in text or "\n" in text:
                raise InputError(f"ASS style {label} {text!r} must be non-empty, without commas.", hint)
        if self.font_size <= 0 or self.outline < 0 or self.shadow < 0:
            raise InputError("ASS font_size must be positive, outline and shadow not negative.", hint)
        if self.alignment not in range(1, 10):
            raise InputError(f"ASS alignment {self.alignment} is not 1-9 (numpad layout).", hint)
        if self.border_style not in (1, 3):
            raise InputError(f"ASS border_style {self.border_style} is not 1 (outline) or 3 (box).", hint)
        if min(self.margin_l, self.margin_r, self.margin_v) < 0 or min(self.play_res_x, self.play_res_y) <= 0:
            raise InputError("ASS margins must not be negative, play_res must be positive.", hint)
        for colour in (self.primary_colour, self.secondary_colour, self.outline_colour, self.back_colour):
            ass_colour(colour)

    def style_line(self) -> str:
        """The ``Style:`` line of this style, matching :data:`STYLE_FORMAT`."""
        colours = [
            ass_colour(c)
            for c in (self.primary_colour, self.secondary_colour, self.outline_colour, self.back_colour)
        ]
        fields = [
            self.name.strip(), self.font_name.strip(), _num(self.font_size), *colours,
            "-1" if self.bold else "0", "-1" if self.italic else "0", "0", "0", "100", "100", "0", "0",
            str(self.border_style), _num(self.outline), _num(self.shadow), str(self.alignment),
            str(self.margin_l), str(self.margin_r), str(self.margin_v), "1",
        ]  # fmt: skip
        return "Style: " + ",".join(fields)

    def header(self) -> str:
        """[Script Info] and [V4+ Styles] of a file that uses only this style."""
        return (
            "[Script Info]\n"
            "; Script generated by Octavia\n"
            "ScriptType: v4.00+\n"
            f"PlayResX: {self.play_res_x}\n"
            f"PlayResY: {self.play_res_y}\n"
            "WrapStyle: 0\n"
            "ScaledBorderAndShadow: yes\n"
            "YCbCr Matrix: None\n"
            "\n"
            "[V4+ Styles]\n"
            f"Format: {STYLE_FORMAT}\n"
            f"{self.style_line()}"
        )
