"""show.source and show.doc: real file line numbers that match the trace's file:line, highlighted note() calls."""

import inspect
import re

import pytest

from fusion_edu import BLOCKS, meta_trace
from fusion_edu.blocks import SAFM, OSRAttention
from fusion_edu.blocks._common import select_scales
from fusion_edu.show import Doc, Source, doc, source

KEYS = list(BLOCKS)


@pytest.mark.parametrize("key", KEYS)
def test_source_numbers_lines_like_the_file(key):
    cls = BLOCKS[key].cls
    s = source(cls)
    lines, start = inspect.getsourcelines(cls)
    assert isinstance(s, Source) and s.start == start and s.end == start + len(lines) - 1
    assert s.lines == [line.rstrip("\n") for line in lines]
    assert s.file == "blocks/" + inspect.getsourcefile(cls).rsplit("/", 1)[-1]
    text = str(s).splitlines()
    assert text[0].startswith(f"# {cls.__qualname__}")
    for row, (n, line) in zip(text[1:], s.numbered()):
        assert int(row[:len(str(s.end))]) == n and row.endswith(line)


@pytest.mark.parametrize("key", KEYS)
def test_trace_rows_point_at_highlighted_note_lines(key):
    s = source(key)
    rows = [r for r in meta_trace(key).rows if r.file == s.file and s.start <= r.lineno <= s.end]
    assert rows, "no trace row points into the class"
    for r in rows:
        assert "note(" in s.line(r.lineno) or "watch(" in s.line(r.lineno)
        assert r.lineno in s.note_lines
    assert any("note(" in s.line(n) for n in s.note_lines)


def test_html_carries_real_line_numbers_and_highlights():
    s = source(OSRAttention)
    page = s._repr_html_()
    anchors = [int(n) for n in re.findall(r'id="fe-blocks-osra\.py-(\d+)"', page)]
    assert anchors == list(range(s.start, s.end + 1))
    first_note = min(s.note_lines)
    segment = page.split(f'id="fe-blocks-osra.py-{first_note}"', 1)[1].split('id="fe-blocks-osra.py-', 1)[0]
    assert "note" in segment and "#fff3b0" in segment
    assert f"blocks/osra.py:{s.start}–{s.end}" in page


def test_highlighting_can_be_switched_off():
    s = source(SAFM, highlight_notes=False)
    assert "▶" not in str(s) and "#fff3b0" not in s._repr_html_()
    assert "▶" in str(source(SAFM))


def test_functions_and_methods_work_too():
    s = source(select_scales)
    assert s.file == "blocks/_common.py" and s.lines[0].startswith("def select_scales")
    m = source(SAFM.forward)
    assert m.lines[0].strip().startswith("def forward") and m.note_lines
    assert source("safm").lines == source(SAFM).lines


def test_source_of_something_without_a_file_is_a_clear_error():
    with pytest.raises(TypeError, match="show.source: obj must be a class, function or method"):
        source(42)


def test_doc_splits_signature_args_and_shape():
    d = doc(SAFM)
    assert isinstance(d, Doc)
    assert d.signature == "(dim: int, n_levels: int = 4, *, pool: str = 'max')"
    assert [k for k, _ in d.sections["Args"]] == ["dim", "n_levels", "pool"]
    assert dict(d.sections["Args"])["dim"] == "Channels C. Must be divisible by n_levels."
    assert [k for k, _ in d.sections["Shape"]] == ["x", "out"]
    assert "SAFM(dim=8" in d.sections["Example"]
    assert d.summary.startswith("Split channels into L groups")
    page = d._repr_html_()
    assert "形状 Shape" in page and "参数 Args" in page and "<code>dim</code>" in page
    assert "<code>&quot;max&quot;</code>" in page  # ``"max"`` becomes code


def test_doc_reads_multi_line_args():
    d = doc("osra")
    act = dict(d.sections["Args"])["act"]
    assert act.startswith("Activation in the reduction branch") and act.endswith("the state_dict is the same.")
    assert "num_heads: int = 8" in d.signature
    assert "Differences from source" in d.sections
