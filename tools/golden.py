"""`make golden`: rewrite tests/golden/<key>.txt, each block's trace at the note's own demo sizes.

The files are the CLI text (both languages, no file:line column), so any change to a label, a
row or a shape shows up as a diff to review. tests/test_golden.py compares against them.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fusion_edu import BLOCKS, trace  # noqa: E402

GOLDEN = ROOT / "tests" / "golden"


def golden_text(key: str) -> str:
    """The golden text of block `key`: its trace at the note's sizes, traced on meta."""
    model, inputs = BLOCKS[key].demo(device="meta")
    return trace(model, *inputs, lang="both").to_text(where=False) + "\n"


def main() -> int:
    GOLDEN.mkdir(parents=True, exist_ok=True)
    for key in BLOCKS:
        path = GOLDEN / f"{key}.txt"
        text = golden_text(key)
        changed = not path.exists() or path.read_text(encoding="utf-8") != text
        path.write_text(text, encoding="utf-8")
        print(f"{'rewrote' if changed else 'same   '} {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
