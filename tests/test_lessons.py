"""The course's rules for every lesson, read from the notebooks (no execution; nbmake runs them).

* Chinese first: a markdown cell reads in Chinese; English is one click away, folded in <details>.
* Short path: a block notebook's main path (before its folded "深入 · going deeper" part) has at most
  40 cells.
* Predict, then check: every block notebook asks for a prediction (`predict(...)`) before it shows
  a trace, and uses a code exercise.
* One exercise pattern: an exercise cell starts from ``answer = None``; no cell calls ``reveal()``
  (a student does, by removing the ``#``), so Run All reveals nothing.
* Pitfalls show both errors: PyTorch's raw error (``with raw_errors():``, tagged raises-exception)
  next to the block's own message.
* Tests out of the lesson: ``assert`` only in the last code cell, tagged ``checks``, its source hidden.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from fusion_edu.learn import EXERCISES

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
BLOCK = {"01": "gated_fusion", "02": "msf", "03": "mfe", "04": "safm", "05": "osra", "06": "msaa", "07": "cbam_joint"}
MAIN_PATH_CELLS = 40
DEEPER = re.compile(r"^#+\s*深入")
CJK = re.compile(r"[\u4e00-\u9fff]")
LATIN_WORD = re.compile(r"\b[A-Za-z]{3,}\b")


def cells(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def source(cell: dict) -> str:
    return "".join(cell["source"])


def tags(cell: dict) -> list[str]:
    return cell.get("metadata", {}).get("tags", [])


def main_path(path: Path) -> list[dict]:
    """The cells before the 深入 (going deeper) heading, without the final checks cell."""
    out = []
    for cell in cells(path):
        if cell["cell_type"] == "markdown" and DEEPER.match(source(cell).lstrip()):
            break
        if "checks" not in tags(cell):
            out.append(cell)
    return out


def outside_folds(text: str) -> str:
    """Markdown with <details> blocks, code, math, links and HTML tags removed: what a reader sees unfolded."""
    text = re.sub(r"<details>.*?</details>", " ", text, flags=re.S)
    text = re.sub(r"```.*?```", " ", text, flags=re.S)
    text = re.sub(r"`[^`]*`", " ", text)
    text = re.sub(r"\$[^$]*\$", " ", text)
    text = re.sub(r"\]\([^)]*\)", "]", text)
    text = re.sub(r"https?://\S+", " ", text)
    return re.sub(r"<[^>]+>", " ", text)


@pytest.fixture(params=NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def notebook(request) -> Path:
    return request.param


def test_markdown_reads_in_chinese_with_english_folded(notebook):
    for i, cell in enumerate(cells(notebook)):
        if cell["cell_type"] != "markdown":
            continue
        visible = outside_folds(source(cell))
        cjk, latin = len(CJK.findall(visible)), len(LATIN_WORD.findall(visible))
        assert latin <= 6 + cjk // 4, (f"{notebook.name} cell {i}: {latin} English words unfolded next to {cjk} "
                                       f"Chinese characters; fold the English in <details>: {visible[:200]!r}")
        if latin > 6 or len(visible.strip()) > 80:
            assert "<details" in source(cell), f"{notebook.name} cell {i}: no English version one click away"


def test_block_notebooks_keep_a_short_main_path(notebook):
    if notebook.name[:2] not in BLOCK:
        pytest.skip("not a block notebook")
    assert len(main_path(notebook)) <= MAIN_PATH_CELLS, f"{notebook.name}: {len(main_path(notebook))} cells"


def test_asserts_only_in_the_last_hidden_checks_cell(notebook):
    code = [c for c in cells(notebook) if c["cell_type"] == "code"]
    for i, cell in enumerate(code):
        has_assert = re.search(r"^\s*assert\b", source(cell), flags=re.M)
        if "checks" in tags(cell):
            assert cell is code[-1], f"{notebook.name}: the checks cell must be the last code cell"
            assert cell["metadata"].get("jupyter", {}).get("source_hidden"), f"{notebook.name}: show no test code"
        else:
            assert not has_assert, f"{notebook.name} code cell {i}: an assert in a teaching cell"
    if notebook.name[:2] in BLOCK:
        assert "checks" in tags(code[-1]), f"{notebook.name}: no final checks cell (nbmake must fail on a wrong number)"


def test_run_all_reveals_no_answer_and_exercises_start_unanswered(notebook):
    for i, cell in enumerate(cells(notebook)):
        if cell["cell_type"] != "code":
            continue
        text = source(cell)
        live = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
        assert ".reveal()" not in live, f"{notebook.name} cell {i}: reveal() runs on Run All"
        if re.search(r"\.check\(\s*answer", live):
            assert re.search(r"^answer\s*=\s*None\b", text, flags=re.M), f"{notebook.name} cell {i}: start at None"


def test_block_notebooks_ask_for_a_prediction_before_the_trace(notebook):
    key = BLOCK.get(notebook.name[:2])
    if key is None:
        pytest.skip("not a block notebook")
    texts = [source(c) for c in main_path(notebook) if c["cell_type"] == "code"]
    first_predict = next((i for i, t in enumerate(texts) if "predict(" in t), None)
    shown = [i for i, t in enumerate(texts) if re.search(r"\btrace\(", re.sub(r"predict\(.*\)", "", t))]
    assert first_predict is not None, f"{notebook.name}: no predict(...) step"
    assert not shown or first_predict < shown[0], f"{notebook.name}: the trace is shown before the prediction"


def test_block_notebooks_use_a_code_exercise_and_show_raw_errors(notebook):
    key = BLOCK.get(notebook.name[:2])
    if key is None:
        pytest.skip("not a block notebook")
    text = "\n".join(source(c) for c in cells(notebook) if c["cell_type"] == "code")
    used = {int(n) for n in re.findall(rf"exercise\(\s*['\"]{key}['\"]\s*,\s*(\d+)\s*\)", text)}
    kinds = {getattr(EXERCISES[key][n - 1], "kind", "") for n in used if 1 <= n <= len(EXERCISES[key])}
    assert "code" in kinds, f"{notebook.name}: no code exercise among exercises {sorted(used)}"
    raw = [i for i, c in enumerate(cells(notebook)) if "raw_errors()" in source(c)]
    assert raw, f"{notebook.name}: no pitfall shows PyTorch's raw error (with raw_errors(): ...)"
    for i in raw:
        assert "raises-exception" in tags(cells(notebook)[i]), f"{notebook.name} cell {i}: tag raises-exception"


def test_every_block_has_a_code_exercise():
    for key, items in EXERCISES.items():
        assert any(getattr(ex, "kind", "") == "code" for ex in items), key
