"""The shape trace: spec grammar, binding, strict vs lenient, hooks cleaned up, displays."""

import re

import pytest
import torch
from torch import nn

from fusion_edu import ShapeError, meta_trace, note, section, set_lang, trace
from fusion_edu.trace import match_spec, parse_spec, watch


class Doubler(nn.Module):
    """A toy block: one correct note and one whose spec can be made wrong."""

    def __init__(self, spec: str = "B C H*2 W"):
        super().__init__()
        self.spec = spec

    def forward(self, x):
        note(x, "B C H W", zh="输入", en="input")
        y = torch.cat([x, x], dim=2)
        note(y, self.spec, zh="沿 H 拼接两份", en="two copies stacked along H", key="y")
        return y


def test_note_without_a_trace_returns_the_same_object():
    x = torch.randn(2, 3)
    assert note(x, "this spec is never parsed !!", zh="", en="") is x


def test_names_bind_on_first_use_and_are_checked_later():
    bindings = {}
    assert match_spec("B C H W", (2, 3, 4, 5), bindings, {}) == ""
    assert bindings == {"B": 2, "C": 3, "H": 4, "W": 5}
    assert match_spec("B C H*W 1", (2, 3, 20, 1), bindings, {}) == ""
    assert "H*W should be 20, got 21" in match_spec("B C H*W", (2, 3, 21), bindings, {})
    assert "C should be 3, got 4" in match_spec("B C", (2, 4), bindings, {})


def test_expressions_keyword_dims_primes_ellipsis_and_skip():
    bindings = {"H": 16, "C": 8}
    assert match_spec("C//L H//2**i", (2, 4), bindings, {"L": 4, "i": 2}) == ""
    assert "L" not in bindings and "i" not in bindings  # keyword dims are never stored
    assert match_spec("H' W' H'*W'", (3, 5, 15), bindings, {}) == ""
    assert bindings["H'"] == 3
    assert match_spec("... C", (7, 7, 7, 8), bindings, {}) == ""
    assert match_spec("_ C", (99, 8), bindings, {}) == ""
    assert "at least 2 axes" in match_spec("... H C", (8,), bindings, {})
    assert "expected 3 axes" in match_spec("B C H", (1, 2), {}, {})
    assert "not bound yet" in match_spec("Q//2", (4,), {}, {})


def test_malformed_specs_are_rejected():
    with pytest.raises(ValueError, match="only"):
        parse_spec("B len(x)")
    with pytest.raises(ValueError, match="one '...'"):
        parse_spec("... C ...")


def test_strict_mode_raises_with_the_step_spec_and_shape():
    with pytest.raises(ShapeError, match=r"Doubler: step 2 \(two copies stacked along H\) expected \"B C H W\".*"
                                         r"got shape \(1, 2, 6, 4\)"):
        trace(Doubler("B C H W"), torch.randn(1, 2, 3, 4))


def test_lenient_mode_flags_the_row_and_carries_on():
    result = trace(Doubler("B C H W"), torch.randn(1, 2, 3, 4), strict=False)
    assert not result.ok
    bad = result.rows[1]
    assert not bad.ok and "H should be 3, got 6" in bad.problem
    assert "background:#fdd" in result._repr_html_()
    assert "!! H should be 3" in result.to_text()


def test_hooks_are_removed_and_mode_kept_even_after_an_error():
    block = Doubler("B C H W").eval()
    with pytest.raises(ShapeError):
        trace(block, torch.randn(1, 2, 3, 4))
    assert not block._forward_hooks and not block._forward_pre_hooks
    assert not block.training
    # no trace is left active: the same mismatching block now runs as a plain module, without raising
    assert Doubler("B C H W")(torch.randn(1, 2, 3, 4)).shape == (1, 2, 6, 4)


def test_keep_stores_detached_tensors_by_key_and_nested_paths():
    outer = nn.Sequential(Doubler(), Doubler())
    x = torch.randn(1, 2, 3, 4, requires_grad=True)
    result = trace(outer, x, keep=True)
    assert set(result.tensors) == {"0.y", "1.y"}
    assert result.tensors["1.y"].shape == (1, 2, 12, 4)
    assert not result.tensors["0.y"].requires_grad
    assert [r.module for r in result.rows] == ["0", "0", "1", "1"]
    assert result.scopes == {"0": {"B": 1, "C": 2, "H": 3, "W": 4}, "1": {"B": 1, "C": 2, "H": 6, "W": 4}}


def test_unexpected_failures_are_wrapped_with_the_step_reached():
    class Broken(nn.Module):
        def forward(self, x):
            note(x, "B C", zh="输入", en="input")
            return x @ torch.ones(5, 5)

    with pytest.raises(RuntimeError, match="trace failed after step 1 of Broken"):
        trace(Broken(), torch.ones(2, 3))


def test_displays_in_each_language():
    result = meta_trace("osra", C=64, H=32, W=32, num_heads=8, lang="both")
    html = result._repr_html_()
    assert "<table" in html and "中文" in html and "English" in html and "(1, 8, 1024, 256)" in html
    assert "nh=8" in result.symbols_line() and "H'=16" in result.symbols_line()
    zh_only = result.in_lang("zh")
    assert "English" not in zh_only._repr_html_() and "步骤" in zh_only._repr_html_()
    assert "softmax" in result.in_lang("en").to_text() and "概率" not in result.in_lang("en").to_text()
    assert str(result) == result.to_text()
    with pytest.raises(ValueError, match="lang must be one of"):
        result.in_lang("fr")


def test_meta_trace_reports_the_catalogs_defaults_and_errors():
    assert meta_trace("safm").symbols == {"B": 1, "C": 36, "H": 64, "W": 64}
    with pytest.raises(ValueError, match=r"SAFM: settings must be among .*got unknown=\['heads'\]"):
        meta_trace("safm", heads=2)
    with pytest.raises(ValueError, match="block key must be one of"):
        meta_trace("transformer")
    with pytest.raises(ValueError, match=r"H \(height\) must be a positive int; got H=0"):
        meta_trace("osra", H=0)


class Phases(nn.Module):
    """Two phases, a submodule whose own rows group under it, and a watched step inside a Sequential."""

    def __init__(self):
        super().__init__()
        self.inner = Doubler()
        self.mlp = nn.Sequential(nn.Conv2d(2, 3, 1), nn.ReLU(), nn.Conv2d(3, 2, 1))

    def forward(self, x):
        section("准备", "prepare")
        note(x, "B C H W", "输入", "input")
        y = self.inner(x)
        section("混合", "mix")
        watch(self.mlp[1], "B M H2 W", "瓶颈 {k}", "bottleneck {k}", k=7)
        y = self.mlp(y)
        note(y, "B C H2 W", "输出", "output", H2=2 * x.shape[2])
        return y


def test_sections_group_rows_and_submodules_indent_under_their_path():
    t = trace(Phases(), torch.randn(1, 2, 3, 4), lang="en")
    groups = [(g.module, g.section, [r.index for r in g.rows]) for g in t.groups()]
    assert groups == [("", ("准备", "prepare"), [1]), ("inner", None, [2, 3]), ("", ("混合", "mix"), [4, 5])]
    text = t.to_text()
    assert "▸ prepare" in text and "▸ mix" in text and "  ▸ inner · Doubler" in text
    assert "\n  2 " in text  # the submodule's rows are indented under its heading
    html = t._repr_html_()
    assert html.count("<details open") == 3 and "<summary" in html


class OpensWithASubmodule(nn.Module):
    """A phase whose first rows come from a submodule, then the phase goes on (MSAA's channel path)."""

    def __init__(self):
        super().__init__()
        self.inner = Doubler()

    def forward(self, x):
        section("门", "gate")
        y = self.inner(x)
        note(y, "B C H2 W", "门之后", "after the gate", H2=2 * x.shape[2])
        return y


def test_a_callers_phase_is_headed_before_its_submodules_rows_and_marked_when_it_resumes():
    t = trace(OpensWithASubmodule(), torch.randn(1, 2, 3, 4), lang="en")
    groups = [(g.module, g.section, [r.index for r in g.rows], g.continued) for g in t.groups()]
    assert groups == [("", ("门", "gate"), [], False), ("inner", None, [1, 2], False),
                      ("", ("门", "gate"), [3], True)]
    lines = [line.strip() for line in t.to_text().splitlines() if "▸" in line]
    assert lines == ["▸ gate", "▸ inner · Doubler", "▸ gate (cont.)"]
    assert "（续）" in t.in_lang("zh").to_text()
    html = t._repr_html_()
    assert html.index("<b>gate</b>") < html.index("inner · Doubler") < html.index("gate (cont.)")


def test_watch_records_a_step_inside_a_container_in_the_callers_scope():
    t = trace(Phases(), torch.randn(1, 2, 3, 4), lang="en")
    row = t.rows[3]
    assert (row.en, row.spec, row.shape, row.module) == ("bottleneck 7", "B M H2 W", (1, 3, 6, 4), "")
    assert t.symbols["M"] == 3 and row.line.endswith(f":{Phases.forward.__code__.co_firstlineno + 5}")
    assert not Phases().mlp[1]._forward_hooks  # the watch leaves nothing behind


def test_compact_view_has_one_language_no_where_and_one_shape_column():
    t = meta_trace("osra", lang="both")
    compact = t.as_compact("en")
    text = compact.to_text()
    assert "B nh H*W H'*W' = (1, 8, 1024, 256)" in text and "blocks/osra.py" not in text and "中文" not in text
    html = compact._repr_html_()
    assert "English" not in html and "white-space:nowrap" in html and "osra.py" not in html
    assert "osra.py" in t._repr_html_()  # the full view keeps the source line


def test_shapes_never_wrap_in_the_table():
    html = meta_trace("mfe", B=64, C=512, H=512, W=512)._repr_html_()
    cells = re.findall(r"<td([^>]*)><code([^>]*)>\(64, 512, 512, 512\)</code>", html)
    assert len(cells) == 7 and all("white-space:nowrap" in td and "white-space:nowrap" in code for td, code in cells)


def test_the_course_language_decides_when_none_is_given():
    t = meta_trace("safm")
    set_lang("en")
    assert "input feature map" in t.to_text() and "输入特征图" not in t.to_text()
    set_lang("zh")
    assert "输入特征图" in t.to_text() and "input feature map" not in t.to_text()
