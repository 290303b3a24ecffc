"""LLM judges: our grading prompts (`judge`), ragas' metrics over the same seam (`ragas`),
question synthesis (`synthesize`), and the `JudgeModel` protocol they call (`protocol`)."""
