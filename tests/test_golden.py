"""Each block's trace at the note's sizes equals its golden file (rewrite with `make golden`, review the diff)."""

import difflib
import importlib.util
from pathlib import Path

import pytest

from fusion_edu import BLOCKS

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("golden_tool", ROOT / "tools" / "golden.py")
golden_tool = importlib.util.module_from_spec(spec)
spec.loader.exec_module(golden_tool)


@pytest.mark.parametrize("key", list(BLOCKS))
def test_trace_matches_its_golden_file(key):
    path = ROOT / "tests" / "golden" / f"{key}.txt"
    assert path.exists(), f"{path} is missing: run `make golden`"
    expected = path.read_text(encoding="utf-8")
    actual = golden_tool.golden_text(key)
    diff = "".join(difflib.unified_diff(expected.splitlines(True), actual.splitlines(True), "golden", "now"))
    assert actual == expected, f"the trace of {key} changed; if that is intended run `make golden`:\n{diff}"


def test_golden_files_show_both_languages_and_every_step():
    text = (ROOT / "tests" / "golden" / "osra.txt").read_text(encoding="utf-8")
    assert "中文" in text and "English" in text and "(1, 8, 49, 16)" in text and "blocks/osra.py" not in text
