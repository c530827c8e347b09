"""Marked sections of benchmarks/RESULTS.md: `make latency` and `make load` each own one, `make bench` keeps them."""

from __future__ import annotations

import re
from pathlib import Path


def write_section(text: str, path: Path, begin: str, end: str) -> None:
    """Replaces the part of `path` between `begin` and `end` (markers included) by `text`, or appends `text`."""
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    if begin in old and end in old:
        new = re.sub(re.escape(begin) + ".*?" + re.escape(end) + "\n?", lambda _m: text, old, flags=re.S)
    else:
        new = old.rstrip("\n") + "\n\n" + text
    path.write_text(new, encoding="utf-8")
