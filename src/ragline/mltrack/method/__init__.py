"""The methodology as tools: problem briefs and kill criteria, ML-vs-rules signals (`decide`),
model suggestion, A/B test design and analysis, deployment plans, the ML-system score."""
