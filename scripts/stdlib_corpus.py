"""Write the documentation of Python standard-library modules as text files.

A real corpus that exists offline on any machine: the running interpreter's own pydoc.

    python scripts/stdlib_corpus.py OUT_DIR [--modules N]
"""

from __future__ import annotations

import argparse
import importlib
import pydoc
import sys
import time
import warnings
from pathlib import Path

# Widely used modules first (make run takes the first 30); a fixed list keeps runs comparable.
MODULES = (
    "os",
    "pathlib",
    "json",
    "re",
    "datetime",
    "collections",
    "itertools",
    "functools",
    "typing",
    "dataclasses",
    "logging",
    "subprocess",
    "argparse",
    "asyncio",
    "threading",
    "random",
    "math",
    "statistics",
    "csv",
    "sqlite3",
    "shutil",
    "tempfile",
    "time",
    "uuid",
    "hashlib",
    "urllib.parse",
    "unittest",
    "enum",
    "contextlib",
    "string",
    "abc",
    "array",
    "ast",
    "base64",
    "bisect",
    "calendar",
    "concurrent.futures",
    "configparser",
    "copy",
    "decimal",
    "difflib",
    "fnmatch",
    "fractions",
    "gc",
    "getopt",
    "glob",
    "gzip",
    "heapq",
    "hmac",
    "html",
    "http.client",
    "http.server",
    "imaplib",
    "inspect",
    "io",
    "ipaddress",
    "lzma",
    "mimetypes",
    "multiprocessing",
    "operator",
    "pickle",
    "platform",
    "pprint",
    "queue",
    "sched",
    "secrets",
    "select",
    "selectors",
    "shelve",
    "shlex",
    "signal",
    "smtplib",
    "socket",
    "ssl",
    "struct",
    "tarfile",
    "textwrap",
    "timeit",
    "tokenize",
    "tomllib",
    "traceback",
    "types",
    "urllib.request",
    "warnings",
    "weakref",
    "xml.etree.ElementTree",
    "zipfile",
    "zlib",
)


def render(name: str) -> str:
    """pydoc's plain-text page for one module."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        module = importlib.import_module(name)
        return pydoc.render_doc(module, renderer=pydoc.plaintext)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--modules", type=int, default=len(MODULES), help="how many modules")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    written = unchanged = 0
    chosen = MODULES[: args.modules]
    stale = set(args.out.glob("*.txt")) - {args.out / f"{n}.txt" for n in chosen}
    for path in stale:
        path.unlink()  # this folder is the script's own: keep it to the chosen modules
    removed = len(stale)
    for name in chosen:
        text = f"Python {sys.version.split()[0]} standard library: {name}\n\n{render(name)}"
        path = args.out / f"{name}.txt"
        if path.exists() and path.read_text(encoding="utf-8") == text:
            unchanged += 1
            continue
        path.write_text(text, encoding="utf-8")
        written += 1
    seconds = time.perf_counter() - started
    print(
        f"stdlib corpus: {written} written, {unchanged} unchanged, {removed} removed "
        f"in {args.out} ({seconds:.1f} s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
