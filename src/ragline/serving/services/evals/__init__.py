"""Evaluation runs (`ragline eval`): ingest a suite's corpus (`measure`), run its queries or
answer its QA items (`golden`), judge through the router (`judges`, `ragas`), plot, report and
record the run as an experiment (`track`); `run.run_eval` ties them together."""
