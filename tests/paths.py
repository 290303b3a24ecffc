"""Where the repository's files are, for tests that read configs/ or bench/."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "configs"
