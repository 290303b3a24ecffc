"""ragline's evaluation layer: pure metrics (`metrics`), LLM judges (`judges`), confidence
intervals (`stats`), data sets, suites, gates and reports.

It imports no other ragline package but `ragline.core` (the `Embedder` it scores with); the
judge seam it needs, `JudgeModel`, is defined in `judges.protocol`.
"""
