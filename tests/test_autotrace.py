"""autotrace: any module, no note() calls, symbolic specs that hold at every size, zh/en descriptions."""

import inspect
import re

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from fusion_edu import BLOCKS, autotrace
from fusion_edu.__main__ import main
from fusion_edu.autotrace import AutoTrace
from fusion_edu.trace import Trace, match_spec

# --------------------------------------------------------------------------- modules written for the tests

class SEBlock(nn.Module):
    def __init__(self, C: int, reduction: int = 4):
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Sequential(nn.Conv2d(C, C // reduction, 1), nn.ReLU(), nn.Conv2d(C // reduction, C, 1),
                                nn.Sigmoid())

    def forward(self, x):
        return x * self.fc(self.pool(x))


class WindowAttention(nn.Module):
    """Self-attention inside non-overlapping w x w windows (H and W must be multiples of w)."""

    def __init__(self, C: int, heads: int = 4, window: int = 4):
        super().__init__()
        self.heads, self.window = heads, window
        self.qkv = nn.Linear(C, 3 * C)
        self.proj = nn.Linear(C, C)

    def forward(self, x):
        B, C, H, W = x.shape
        w, h = self.window, self.heads
        if H % w or W % w:
            raise ValueError(f"WindowAttention: H and W must be multiples of {w}; got H={H}, W={W}.")
        t = x.reshape(B, C, H // w, w, W // w, w).permute(0, 2, 4, 3, 5, 1).reshape(-1, w * w, C)
        q, k, v = self.qkv(t).reshape(t.shape[0], w * w, 3, h, C // h).permute(2, 0, 3, 1, 4)
        attn = torch.matmul(q, k.transpose(-2, -1)) * (C // h) ** -0.5
        attn = attn.softmax(dim=-1)
        out = (attn @ v).transpose(1, 2).reshape(t.shape[0], w * w, C)
        out = self.proj(out).reshape(B, H // w, W // w, w, w, C).permute(0, 5, 1, 3, 2, 4)
        return out.reshape(B, C, H, W)


class PixelShuffleUp(nn.Module):
    def __init__(self, C: int, scale: int = 2):
        super().__init__()
        self.conv = nn.Conv2d(C, C * scale * scale, 3, padding=1)
        self.shuffle = nn.PixelShuffle(scale)

    def forward(self, x):
        return self.shuffle(self.conv(x))


class TokenMLP(nn.Module):
    """A transformer MLP on tokens (B, N, C)."""

    def __init__(self, C: int, ratio: int = 4):
        super().__init__()
        self.fc1, self.act, self.fc2 = nn.Linear(C, ratio * C), nn.GELU(), nn.Linear(ratio * C, C)

    def forward(self, x):
        return x + self.fc2(self.act(self.fc1(x)))


class Downsample(nn.Module):
    """Two ways to halve H and W, then the spatial map flattened into tokens."""

    def __init__(self, C: int):
        super().__init__()
        self.strided = nn.Conv2d(C, 2 * C, 3, stride=2, padding=1, groups=C)
        self.patch = nn.Conv2d(C, C, 2, stride=2)

    def forward(self, x):
        a = self.strided(x)
        b = self.patch(x)
        tokens = b.flatten(2)
        return a, tokens


class Pyramid(nn.Module):
    """Upsample, concatenate and mix: functions called directly in forward."""

    def __init__(self, C: int):
        super().__init__()
        self.mix = nn.Conv2d(2 * C, C, 1)

    def forward(self, x):
        small = F.max_pool2d(x, 2)
        up = F.interpolate(small, scale_factor=2, mode="nearest")
        y = torch.cat([x, up], dim=1)
        return torch.erf(self.mix(y))


class FixedGrid(nn.Module):
    """Mixes all positions with a Linear over H*W: built for one spatial size only."""

    def __init__(self, C: int, HW: int):
        super().__init__()
        self.mix = nn.Linear(HW, HW)

    def forward(self, x):
        B, C, H, W = x.shape
        return self.mix(x.flatten(2)).reshape(B, C, H, W)


class Scale(nn.Module):
    """A leaf module the glossary does not know."""

    def __init__(self, C: int):
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(1, C, 1, 1))

    def forward(self, x):
        return x * self.gamma


def _specs(trace):
    return [r.spec for r in trace.rows]


def _assert_specs_hold(trace):
    """Every row's spec, evaluated with the trace's symbols, is exactly the concrete shape."""
    assert trace.rows, "no rows"
    for r in trace.rows:
        problem = match_spec(r.spec, r.shape, dict(trace.symbols), {})
        assert problem == "", f"row {r.index} {r.en}: spec {r.spec!r} vs {r.shape}: {problem}"


CASES = {
    "se": (lambda C: SEBlock(C), lambda B, C, H, W: torch.randn(B, C, H, W)),
    "window": (lambda C: WindowAttention(C), lambda B, C, H, W: torch.randn(B, C, H, W)),
    "pixel_shuffle": (lambda C: PixelShuffleUp(C), lambda B, C, H, W: torch.randn(B, C, H, W)),
    "mlp": (lambda C: TokenMLP(C), lambda B, C, H, W: torch.randn(B, H * W, C)),
    "downsample": (lambda C: Downsample(C), lambda B, C, H, W: torch.randn(B, C, H, W)),
    "pyramid": (lambda C: Pyramid(C), lambda B, C, H, W: torch.randn(B, C, H, W)),
}


# --------------------------------------------------------------------------- specs

@pytest.mark.parametrize("case", list(CASES))
def test_specs_evaluate_to_the_concrete_shapes(case):
    build, make = CASES[case]
    trace = autotrace(build(16), make(2, 16, 8, 12))
    assert isinstance(trace, Trace) and trace.ok
    assert trace.symbols == ({"B": 2, "N": 96, "C": 16} if case == "mlp" else {"B": 2, "C": 16, "H": 8, "W": 12})
    _assert_specs_hold(trace)


@pytest.mark.parametrize("case", list(CASES))
def test_spec_lists_are_identical_at_two_input_sizes(case):
    build, make = CASES[case]
    module = build(16)
    small = autotrace(module, make(1, 16, 8, 8))
    large = autotrace(module, make(3, 16, 16, 24))
    assert _specs(small) == _specs(large)
    _assert_specs_hold(large)


@pytest.mark.parametrize("case", list(CASES))
def test_with_a_factory_the_channels_are_symbolic_too_and_specs_hold_at_another_C(case):
    build, make = CASES[case]
    a = autotrace(build, make(2, 16, 8, 8))
    b = autotrace(build, make(1, 32, 16, 24))
    assert _specs(a) == _specs(b)
    assert "C" not in a.fixed
    _assert_specs_hold(b)


def test_se_block_channel_reduction_is_C_over_4_with_a_factory_and_a_literal_with_fixed_weights():
    x = torch.randn(2, 64, 16, 16)
    by_factory = autotrace(SEBlock, x)
    assert _specs(by_factory) == ["B C 1 1", "B C//4 1 1", "B C//4 1 1", "B C 1 1", "B C 1 1", "B C H W"]
    instance = autotrace(SEBlock(64), x)
    assert _specs(instance) == ["B C 1 1", "B 16 1 1", "B 16 1 1", "B C 1 1", "B C 1 1", "B C H W"]
    assert list(instance.fixed) == ["C"]
    assert "fixed: C (built for C=64: its weights fix the channels" in instance.in_lang("en").to_text()


def test_window_attention_derives_the_window_count_and_keeps_literals():
    trace = autotrace(WindowAttention(24), torch.randn(2, 24, 8, 12))
    specs = _specs(trace)
    assert specs[0] == "B C H//4 4 W//4 4"
    assert "B*(H//4)*(W//4) 16 C" in specs  # windows x tokens per window x channels
    assert "B*(H//4)*(W//4) 4 16 16" in specs  # the attention matrix: heads and w*w stay literals
    assert specs[-1] == "B C H W"


def test_a_fixed_name_claims_equal_sizes_and_a_factory_tells_them_apart():
    x = torch.randn(2, 16, 8, 12)  # C = 16 = w*w tokens per window
    assert "B*(H//4)*(W//4) C C" in _specs(autotrace(WindowAttention(16), x))  # C cannot move: ambiguous
    assert "B*(H//4)*(W//4) 16 C" in _specs(autotrace(WindowAttention, x))  # C moves: 16 is a literal


def test_derived_spatial_sizes():
    pixel = autotrace(PixelShuffleUp, torch.randn(1, 8, 8, 12))
    assert _specs(pixel) == ["B 4*C H W", "B C 2*H 2*W"]
    down = autotrace(Downsample, torch.randn(1, 8, 8, 12))
    # 3x3 stride 2 with padding 1 is ceil(H/2); a 2x2 patch conv with stride 2 is floor(H/2).
    assert _specs(down) == ["B 2*C (H+1)//2 (W+1)//2", "B C H//2 W//2", "B C (H//2)*(W//2)"]
    flat = autotrace(lambda C: nn.Flatten(2), torch.randn(2, 3, 5, 7))
    assert _specs(flat) == ["B C H*W"]
    mlp = autotrace(TokenMLP, torch.randn(2, 10, 8))
    assert _specs(mlp) == ["B N 4*C", "B N 4*C", "B N C", "B N C"]


def test_pyramid_rows_for_functions_called_in_forward():
    trace = autotrace(Pyramid(8), torch.randn(1, 8, 8, 8), lang="en")
    assert [(r.spec, r.module) for r in trace.rows] == [
        ("B C H//2 W//2", ""), ("B C H W", ""), ("B 16 H W", ""), ("B C H W", ""), ("B C H W", "")]
    assert trace.rows[3].en.startswith("mix: ")  # a leaf's row sits in its caller's group, named by attribute
    # 2*(H//2) is H at every size the module accepts: odd sizes fail at the cat, so H is the simplest fit


def test_a_module_that_fixes_its_grid_reports_H_and_W_as_fixed():
    trace = autotrace(FixedGrid(4, HW=6 * 8), torch.randn(2, 4, 6, 8), lang="en")
    assert set(trace.fixed) == {"H", "W"}  # C moves freely: the Linear acts on H*W
    text = trace.to_text()
    assert re.search(r"^fixed: H, W \(the module rejects other sizes: .*48", text, re.M)
    assert _specs(trace)[-1] == "B C H W"  # fixed names still read as names
    _assert_specs_hold(trace)
    assert "模块不接受其他尺寸" in trace.in_lang("zh").to_text()


def test_sums_offsets_and_named_outputs():
    class Descriptors(nn.Module):
        def __init__(self, C: int):
            super().__init__()
            self.conv = nn.Conv1d(C, C, 3)

        def forward(self, x):
            joint = torch.cat([x.mean((2, 3)), x.mean(1).flatten(1)], dim=1)  # CBAM-style C + H*W descriptor
            tokens = self.conv(x.flatten(2))  # a valid 1-D conv: H*W - 2
            strip = torch.cat([x.flatten(2), x.mean(2)], dim=2)  # H*W + W
            peak = x.max(dim=1)
            return joint, tokens, strip, peak

    rows = autotrace(Descriptors, torch.randn(2, 4, 6, 8), lang="en").rows  # a factory: C moves too
    specs = {r.en: r.spec for r in rows}
    assert specs["concatenate 2 tensors on dim 1"] == "B C+H*W"
    assert specs["conv: 1-D conv, kernel 3"] == "B C H*W-2"
    assert specs["concatenate 2 tensors on dim 2"] == "B C (H+1)*W"
    assert [(r.en, r.spec) for r in rows[-2:]] == [("max over dim 1 (values)", "B H W"),
                                                   ("max over dim 1 (indices)", "B H W")]


def test_a_size_outside_the_grammar_stays_a_literal_with_a_note():
    class Square(nn.Module):
        def forward(self, x):
            H = x.shape[2]
            return x.new_zeros(H * H)

    trace = autotrace(Square(), torch.randn(1, 2, 6, 6), lang="en")
    assert _specs(trace) == ["36"] and trace.ok
    assert trace.notes and "fits no simple expression" in trace.to_text()


def test_dims_names_a_3d_input_and_expressions_bind_later_inputs():
    class Fuse(nn.Module):
        def forward(self, a, b):
            return torch.cat([a, b], dim=1)

    trace = autotrace(Fuse(), torch.randn(2, 8, 6, 6), torch.randn(2, 16, 6, 6), dims=["B C H W", "B 2*C H W"])
    assert _specs(trace) == ["B 3*C H W"]
    tokens = autotrace(TokenMLP(8), torch.randn(2, 10, 8), dims="B L D")
    assert tokens.symbols == {"B": 2, "L": 10, "D": 8} and _specs(tokens)[-1] == "B L D"


def test_every_catalog_block_autotraces_ok():
    for key, spec in BLOCKS.items():
        module, inputs = spec.build(device="meta", B=2, C=32, H=16, W=16)
        trace = autotrace(module, *inputs)
        assert trace.ok and len(trace.rows) >= 3, key
        _assert_specs_hold(trace)
        out = module(*inputs)
        assert trace.output_shapes == [tuple(o.shape) for o in (out if isinstance(out, tuple) else (out,))], key


# --------------------------------------------------------------------------- rows, grouping, descriptions

def test_leaf_modules_are_one_row_and_rows_are_grouped_by_submodule():
    net = nn.Sequential(SEBlock(16), WindowAttention(16))
    trace = autotrace(net, torch.randn(1, 16, 8, 8), lang="en")
    paths = [r.module for r in trace.rows]
    # a leaf's row belongs to the submodule whose forward called it (its group), and names the leaf
    assert paths[:6] == ["0", "0.fc", "0.fc", "0.fc", "0.fc", "0"]
    assert trace.rows[0].en.startswith("pool: ")
    assert {r.block for r in trace.rows if r.module == "1"} == {"WindowAttention"}
    assert any(r.en.startswith("qkv: ") for r in trace.rows if r.module == "1")
    # the conv's own F.conv2d is not a row: one row for fc.0
    assert sum(1 for r in trace.rows if r.module == "0.fc") == 4
    first = {}
    for i, p in enumerate(paths):
        first.setdefault(p.split(".")[0], i)
    assert first["0"] < first["1"] and all(p.startswith("1") for p in paths[first["1"]:])


def test_descriptions_in_chinese_and_english():
    class Gallery(nn.Module):
        def __init__(self):
            super().__init__()
            self.dw = nn.Conv2d(8, 8, 3, stride=2, padding=1, groups=8)
            self.scale = Scale(8)

        def forward(self, x):
            y = self.scale(self.dw(x))
            y = torch.cat([y, y], dim=1)
            y = F.interpolate(y, scale_factor=2, mode="nearest")
            return torch.softmax(y.flatten(2), dim=-1), torch.erf(y)

    rows = autotrace(Gallery(), torch.randn(1, 8, 16, 16)).rows
    assert (rows[0].zh, rows[0].en) == ("dw：3×3 卷积，步长 2，深度可分离", "dw: 3x3 conv, stride 2, depthwise")
    assert (rows[1].zh, rows[1].en) == ("scale：调用 Scale", "scale: call Scale")
    assert (rows[2].zh, rows[2].en) == ("沿第 1 维拼接 2 个张量", "concatenate 2 tensors on dim 1")
    assert rows[3].spec == "B 16 2*((H+1)//2) 2*((W+1)//2)"  # an even size: the stride-2 conv rounded up, x2
    assert (rows[3].zh, rows[3].en) == ("最近邻插值到 2*((H+1)//2)×2*((W+1)//2)",
                                        "nearest interpolation to 2*((H+1)//2) x 2*((W+1)//2)")
    assert (rows[5].zh, rows[5].en) == ("softmax（最后一维）", "softmax over the last dim")
    assert (rows[6].zh, rows[6].en) == ("调用 erf", "call erf")


def test_interpolation_names_the_symbolic_target_size():
    up = autotrace(nn.Sequential(nn.Upsample(scale_factor=2)), torch.randn(1, 4, 8, 8))
    assert (up.rows[0].zh, up.rows[0].spec) == ("最近邻上采样 ×2", "B C 2*H 2*W")

    class Up(nn.Module):
        def forward(self, x):
            return F.interpolate(x, scale_factor=2, mode="nearest")

    row = autotrace(Up(), torch.randn(1, 4, 8, 8)).rows[0]
    assert (row.zh, row.en, row.spec) == ("最近邻插值到 2H×2W", "nearest interpolation to 2H x 2W", "B C 2*H 2*W")


def test_chunks_get_one_row_per_piece_and_noise_gets_none():
    class Split(nn.Module):
        def forward(self, x):
            assert x.dim() == 4 and x.size(1) == x.shape[1]  # noise: no rows
            a, b = x.chunk(2, dim=1)
            return a - b

    trace = autotrace(Split(), torch.randn(1, 6, 4, 4), lang="en")
    assert [(r.spec, r.en) for r in trace.rows] == [
        ("B C//2 H W", "split into 2 chunks on dim 1: piece 1/2"),
        ("B C//2 H W", "split into 2 chunks on dim 1: piece 2/2"), ("B C//2 H W", "subtract element-wise")]


def test_rows_point_at_the_line_in_forward_that_made_them():
    trace = autotrace(WindowAttention(16), torch.randn(1, 16, 8, 8))
    lines, start = inspect.getsourcelines(WindowAttention.forward)
    softmax = next(r for r in trace.rows if r.en.startswith("softmax"))
    assert softmax.file.endswith("test_autotrace.py")
    assert "softmax" in lines[softmax.lineno - start]
    qkv = next(r for r in trace.rows if r.en.startswith("qkv: "))
    assert "self.qkv(" in lines[qkv.lineno - start]


# --------------------------------------------------------------------------- display and language

def test_text_and_html_show_rows_symbols_and_language():
    trace = autotrace(SEBlock(16), torch.randn(1, 16, 8, 8), lang="zh")
    text = trace.to_text()
    assert "符号: B=1, C=16, H=8, W=8" in text and "步骤" in text and "step" not in text
    assert "固定：C（模块按 C=16 构建，权重决定了通道数" in text
    html = trace._repr_html_()
    assert "<table" in html and "B C H W" in html and "fixed: C" not in html and "固定" in html
    assert "symbols: B=1" in trace.in_lang("en").to_text() and "中文" in trace.in_lang("both").to_text()


def test_lang_none_uses_the_course_language():
    from fusion_edu.lang import get_lang, set_lang

    previous = set_lang("en")
    try:
        assert autotrace(SEBlock(8), torch.randn(1, 8, 4, 4)).lang == get_lang() == "en"
    finally:
        set_lang(previous)


def test_the_callers_module_is_not_moved_changed_or_hooked():
    module = SEBlock(16).train()
    before = {k: v.clone() for k, v in module.state_dict().items()}
    autotrace(module, torch.randn(2, 16, 8, 8))
    assert module.training and all(p.device.type == "cpu" for p in module.parameters())
    assert all(torch.equal(before[k], v) for k, v in module.state_dict().items())
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in module.modules())


# --------------------------------------------------------------------------- errors

def test_not_a_module_is_a_clear_type_error():
    with pytest.raises(TypeError, match=r"autotrace: module must be an nn.Module or a factory that builds one; "
                                        r"got type='int'"):
        autotrace(3, torch.randn(1, 3, 4, 4))


def test_dims_that_do_not_match_the_input_are_a_clear_value_error():
    with pytest.raises(ValueError, match=r"autotrace: dims must name one size per axis of the input; "
                                         r"got dims='B C H', inputs\[0\].shape=\(1, 3, 4, 4\)"):
        autotrace(nn.Identity(), torch.randn(1, 3, 4, 4), dims="B C H")
    with pytest.raises(ValueError, match=r"an expression in dims must equal the input's size"):
        autotrace(nn.Identity(), torch.randn(1, 3, 4, 4), torch.randn(1, 5, 4, 4), dims=["B C H W", "B 2*C H W"])
    with pytest.raises(TypeError, match=r"autotrace: dims must be a string or a list of strings"):
        autotrace(nn.Identity(), torch.randn(1, 3), dims=3)


def test_a_module_that_fails_names_the_step():
    with pytest.raises(RuntimeError, match=r"^autotrace failed at step 2 \(Conv2d fc.0\): RuntimeError: ") as info:
        autotrace(SEBlock(16), torch.randn(1, 8, 4, 4))
    assert info.value.__cause__ is not None
    with pytest.raises(RuntimeError, match=r"autotrace failed at step \d+ \(.*\): ValueError: WindowAttention: H "
                                           r"and W must be multiples of 4"):
        autotrace(WindowAttention(16), torch.randn(1, 16, 6, 8))


# --------------------------------------------------------------------------- command line

SOURCE = '''
from torch import nn

class Squeeze(nn.Module):
    def __init__(self, channels, reduction=4):
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Sequential(nn.Conv2d(channels, channels // reduction, 1), nn.ReLU(),
                                nn.Conv2d(channels // reduction, channels, 1), nn.Sigmoid())

    def forward(self, x):
        return x * self.fc(self.pool(x))
'''


def test_cli_traces_a_class_from_a_file(tmp_path, capsys):
    path = tmp_path / "my_blocks.py"
    path.write_text(SOURCE)
    assert main(["autotrace", f"{path}:Squeeze", "--C", "64", "--H", "32", "--W", "32", "--arg", "reduction=8",
                 "--lang", "en"]) == 0
    out = capsys.readouterr().out
    assert "B C//8 1 1" in out and "(1, 8, 1, 1)" in out and "output: (1, 64, 32, 32)" in out
    assert "global average pooling" in out and "中文" not in out


@pytest.mark.parametrize("target,args,message", [
    ("{path}:Missing", [], "must define an nn.Module class Missing; got classes=['Squeeze']"),
    ("{folder}/nothing.py:Squeeze", [], "the file must exist"),
    ("{path}", [], "the target must be FILE.py:ClassName"),
    ("{path}:Squeeze", ["--arg", "ratio=2"], "--arg names must be parameters of Squeeze"),
    ("{path}:Squeeze", ["--arg", "oops"], "--arg must be NAME=VALUE"),
])
def test_cli_errors_print_one_line_and_exit_2(tmp_path, capsys, target, args, message):
    path = tmp_path / "my_blocks.py"
    path.write_text(SOURCE)
    assert main(["autotrace", target.format(path=path, folder=tmp_path), *args]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_autotrace_returns_an_autotrace_with_fixed_and_notes():
    trace = autotrace(nn.Identity(), torch.randn(1, 2, 3, 4), lang="en")
    assert isinstance(trace, AutoTrace) and trace.fixed == {} and trace.notes == []
    assert [(r.spec, r.en) for r in trace.rows] == [("B C H W", "identity: passes the input through")]
