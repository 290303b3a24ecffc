"""Where ragline's shipped configs/ are found: the working directory first, then the source
checkout ragline runs from (an editable install).

    locate_config(Path("configs/pricing.yaml"))   # ./configs/pricing.yaml, else the checkout's
    config_dirs(Path("configs/prompts"))          # ./configs/prompts, then the checkout's
"""

from __future__ import annotations

from pathlib import Path

# src/ragline/core/config_files.py -> the repository root
REPO_ROOT = Path(__file__).resolve().parents[3]


def locate_config(path: Path) -> Path:
    """`path` if it exists or is absolute; a relative path not found here is looked up in the
    checkout's configs/ by file name (else returned unchanged, for the caller's error)."""
    if path.exists() or path.is_absolute():
        return path
    shipped = REPO_ROOT / "configs" / path.name
    return shipped if shipped.exists() else path


def config_dirs(path: Path) -> tuple[Path, ...]:
    """The folders a layered lookup searches, in order: `path` itself (relative to the working
    directory), then the checkout's configs/ folder of that name; only those that exist, each
    once. Files of the first folder shadow those of the later ones with the same name."""
    candidates = [path] if path.is_absolute() else [path, REPO_ROOT / "configs" / path.name]
    found: list[Path] = []
    for folder in candidates:
        resolved = folder.resolve()
        if resolved.is_dir() and resolved not in found:
            found.append(resolved)
    return tuple(found)
