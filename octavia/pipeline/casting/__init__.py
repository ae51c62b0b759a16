"""A voice per speaker: pitch measurement, the voice catalogue, assignment and cast files.

- :mod:`.pitch`: median F0 of speech (YIN, numpy).
- :mod:`.catalogue`: a synthesizer's voices for a language and their measured pitch (cached).
- :mod:`.assign`: distinct, pitch-matched, stable voices; reuse when there are too few.
- :mod:`.castfile`: reading and writing ``cast.json``.
- :mod:`.stage`: casting inside a dub job (what :mod:`octavia.pipeline.dubbing` calls).
"""
