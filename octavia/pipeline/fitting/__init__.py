"""Fitting dubbed speech to the original timing without ever cutting it.

- :mod:`~octavia.pipeline.fitting.records`: the per-segment fit record (``fit.{target}.json``,
  ``ctx.info["timing"][target]["segments"]``), the shape other stages and reports read.
- :mod:`~octavia.pipeline.fitting.placement`: the global placement of whole clips over the
  timeline (borrow gaps, speed up to a cap, shift neighbours, bounded drift, overflow reported).
- :mod:`~octavia.pipeline.fitting.rate`: how fast a voice speaks (characters per second),
  measured once per engine + voice and cached, and the character budgets derived from it.
- :mod:`~octavia.pipeline.fitting.budget`: time budgets per segment and per sentence.
- :mod:`~octavia.pipeline.fitting.retry`: clips that need more than a gentle speed-up are
  sent back to a length-aware translator for a shorter rendering, then re-synthesised.
"""
