"""The verified dub report: every placed line of a dub heard back and checked.

After mixing, each line's clip is cut from the dub track where it plays, transcribed by
Whisper in the target language and compared with the text it was meant to say
(:mod:`.verify`, :mod:`.metrics`). With each line's fit (speed factor, borrowed gaps, shift,
overflow), its subtitle reading speed, speaker and voice, that is the report: in ``--json``
(``info["report"][LANG]``), as ``STEM.LANG.report.json`` and as a page for a person,
``STEM.LANG.report.html`` (:mod:`.html`), flagged lines first. A line whose error exceeds
``max_error`` is flagged; with ``strict`` the run then fails (:class:`DubCheckFailed`), after
every output is written.
"""
