"""The figure style: one projector scale, figure language from the course setting, and a CJK font that the
package ships, so Chinese figures draw without boxes on a machine with no CJK font installed."""

import importlib.util
import io
import os
import re
import warnings
from pathlib import Path

os.environ.setdefault("MPLBACKEND", "Agg")

import matplotlib  # noqa: E402

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.text import Text  # noqa: E402

from fusion_edu import data, lang, plots, trace  # noqa: E402
from fusion_edu.learn import DEMOS, osra_sweep, run_demo  # noqa: E402
from fusion_edu.learn.figures import loss_curve  # noqa: E402
from fusion_edu.plots import style  # noqa: E402
from fusion_edu.receptive_field import branch_erf  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")


def _make_font_tool():
    spec = importlib.util.spec_from_file_location("make_font", ROOT / "tools" / "make_font.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True)
def _no_global_state():
    """rcParams, the course language and the scale are as before each test; figures closed."""
    before, previous_lang, previous_scale = dict(matplotlib.rcParams), lang.get_lang(), style.get_scale()
    yield
    assert dict(matplotlib.rcParams) == before
    assert lang.get_lang() == previous_lang and style.get_scale() == previous_scale
    plt.close("all")


@pytest.fixture
def shipped_font(monkeypatch):
    """Pretends no system CJK font exists, so figures use the font the package ships."""
    monkeypatch.setattr(style, "SYSTEM_CJK_FAMILIES", ())
    style.cjk_family.cache_clear()
    yield style.FONT_FAMILY
    style.cjk_family.cache_clear()


@pytest.fixture(scope="module")
def everything():
    """Inputs for every figure: traced photo blocks and a one-step run of every demo."""
    traced = {}
    for key in ("gated_fusion", "mfe", "safm", "msaa", "cbam_joint", "osra", "msf"):
        model, inputs = data.block_for_photo(key, size=16)
        traced[key] = (model, inputs, trace(model, *inputs, keep=True))
    plain, plain_inputs = data.block_for_photo("msf", size=16, weighting="softmax")
    traced["msf_plain"] = (plain, plain_inputs, trace(plain, *plain_inputs, keep=True))
    results = {key: run_demo(key, steps=1, progress=False) for key in DEMOS}
    sweep = osra_sweep(ratios=(2, 4), steps=1, progress=False)
    return traced, results, sweep


def _every_figure(traced, results, sweep):
    """(name, function drawing one figure) for every figure function of plots and learn.figures."""
    g, m, s, a, c, o = (traced[k] for k in ("gated_fusion", "mfe", "safm", "msaa", "cbam_joint", "osra"))
    z = g[2].tensors["z"]
    weights = {"note": traced["msf"][2].tensors["weights"], "plain": traced["msf_plain"][2].tensors["weights"]}
    yield "gate_mean_map", lambda: plots.gate_mean_map(z)
    yield "gate_channel_maps", lambda: plots.gate_channel_maps(z)
    yield "gate_histogram", lambda: plots.gate_histogram(z)
    yield "fusion_panels", lambda: plots.fusion_panels(*g[1], g[2].output, mask=torch.ones(16, 16))
    yield "scale_weights", lambda: plots.scale_weights(weights)
    yield "msf_weight_limits", lambda: plots.msf_weight_limits()
    yield "branch_maps", lambda: plots.branch_maps(m[2].tensors)
    yield "erf_maps", lambda: plots.erf_maps(branch_erf(m[0], m[1][0]), atrous_rates=m[0].atrous_rates)
    yield "safm_level_maps", lambda: plots.safm_level_maps(s[2].tensors["levels"], n_levels=s[0].n_levels)
    yield "safm_modulation", lambda: plots.safm_modulation(s[2].tensors["modulation"])
    yield "query_attention", lambda: plots.query_attention(o[2].tensors["attn"], (3, 5), size=(16, 16),
                                                           sr_ratio=o[0].sr_ratio, image=data.photo(size=16))
    yield "query_attention_absolute", lambda: plots.query_attention(o[2].tensors["attn"], (3, 5), size=(16, 16),
                                                                    sr_ratio=o[0].sr_ratio, relative=False)
    yield "reduction_plot", lambda: plots.reduction_plot(32)
    yield "channel_gate_bars", lambda: plots.channel_gate_bars(a[2].tensors["fusion_conv.channel_gate"])
    yield "spatial_gate_map", lambda: plots.spatial_gate_map(a[2].tensors["fusion_conv.spatial_gate"],
                                                             image=data.photo(size=16))
    yield "kernel_responses", lambda: plots.kernel_responses(a[2].tensors)
    yield "cbam_basis_maps", lambda: plots.cbam_basis_maps(c[0])
    for key, result in results.items():
        yield f"demo {key}", result.figure
    yield "loss_curve", lambda: loss_curve(results["msf"])
    yield "osra_sweep", sweep.figure


def _draw(make):
    """Draws a figure to PNG in memory; returns the figure and every warning raised while making and drawing it."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        drawn = make()
        fig = drawn if isinstance(drawn, Figure) else drawn.figure
        fig.savefig(io.BytesIO(), format="png", dpi=40)
    return fig, [str(w.message) for w in caught]


def _texts(fig) -> list[str]:
    return [t.get_text() for t in fig.findobj(Text) if t.get_text().strip()]


# --------------------------------------------------------------------------- language

def test_chinese_figures_draw_every_glyph_from_the_shipped_font(everything, shipped_font):
    lang.set_lang("zh")
    try:
        for name, make in _every_figure(*everything):
            fig, caught = _draw(make)
            missing = [w for w in caught if "missing from font" in w]
            assert not missing, (name, missing[:3])
            assert any(CJK.search(t) for t in _texts(fig)), f"{name}: no Chinese text in a 'zh' figure"
            plt.close("all")
    finally:
        lang.set_lang("zh")


def test_english_figures_have_no_chinese_and_both_has_both(everything):
    previous = lang.set_lang("en")
    try:
        for name, make in _every_figure(*everything):
            fig, caught = _draw(make)
            assert not [w for w in caught if "missing from font" in w], name
            chinese = [t for t in _texts(fig) if CJK.search(t)]
            assert not chinese, (name, chinese[:3])
            plt.close("all")
    finally:
        lang.set_lang(previous)
    fig, _ = _draw(lambda: plots.reduction_plot(16, lang="both"))
    title = fig.axes[0].get_title()
    assert CJK.search(title) and "key grid" in title


def test_lang_keyword_draws_one_figure_in_that_language_and_restores_the_setting():
    previous = lang.set_lang("zh")
    try:
        ax = plots.gate_histogram(torch.rand(100), lang="en")
        assert ax.get_xlabel() == "z" and ax.get_ylabel() == "count"
        assert lang.get_lang() == "zh"
        assert plots.gate_histogram(torch.rand(100)).get_ylabel() == "个数"
    finally:
        lang.set_lang(previous)
    with pytest.raises(ValueError, match="lang must be one of"):
        plots.gate_histogram(torch.rand(10), lang="fr")


def test_every_character_the_figures_can_draw_is_in_the_shipped_font():
    from fontTools.ttLib import TTFont

    tool = _make_font_tool()
    cmap = TTFont(str(style.FONT_FILE))["cmap"].getBestCmap()
    chinese = {c for c in tool.drawable_text() if CJK.search(c)}
    assert len(chinese) > 100  # the scan found the labels
    assert "训" in chinese and "门" in chinese
    assert sorted(c for c in tool.characters() if ord(c) not in cmap and c != " ") == []
    # every label's Chinese text is written out in the source, except the CBAM figure's error message
    assert [place.split(":")[0] for place in tool.opaque_labels()] == ["fusion_edu/learn/figures.py"]


def test_the_shipped_font_is_a_small_renamed_subset_with_its_licence():
    from matplotlib import ft2font

    font = ft2font.FT2Font(str(style.FONT_FILE))
    assert font.family_name == style.FONT_FAMILY
    assert style.FONT_FILE.stat().st_size < 600 * 1024
    licence = (style.FONT_FILE.parent / "OFL.txt").read_text(encoding="utf-8")
    assert "SIL Open Font License" in licence or "SIL OPEN FONT LICENSE" in licence


def test_a_system_cjk_font_is_preferred_when_there_is_one(monkeypatch):
    from matplotlib import font_manager

    fake = font_manager.FontEntry(fname=str(style.FONT_FILE), name="Noto Sans CJK SC")
    monkeypatch.setattr(font_manager.fontManager, "ttflist", [*font_manager.fontManager.ttflist, fake])
    style.cjk_family.cache_clear()
    try:
        assert style.cjk_family() == "Noto Sans CJK SC"
    finally:
        style.cjk_family.cache_clear()


# --------------------------------------------------------------------------- scale

def test_one_scale_setting_enlarges_every_text_of_a_figure():
    def sizes(ax):
        return {"title": ax.title.get_fontsize(), "xlabel": ax.xaxis.label.get_fontsize(),
                "tick": ax.xaxis.get_ticklabels()[0].get_fontsize(), "legend": ax.get_legend().get_texts()[0].get_fontsize()}

    values = torch.rand(200)
    normal = sizes(plots.gate_histogram(values))
    with style.scaled(1.6):
        big = sizes(plots.gate_histogram(values))
        assert style.get_scale() == 1.6
    assert style.get_scale() == 1.0
    assert {k: pytest.approx(1.6 * v) for k, v in normal.items()} == big
    assert normal["title"] == style.BASE_SIZES["title"]


def test_scale_grows_narrow_figures_and_keeps_wide_ones_within_a_notebook_column():
    with style.scaled(1.6):
        narrow, wide = style.figsize(3.2, 2.7), style.figsize(12.5, 4.0)
    assert narrow == pytest.approx((3.2 * 1.6, 2.7 * 1.6))
    assert wide[0] == 12.5 and wide[1] > 4.0
    with pytest.raises(ValueError, match="set_scale: factor must be a number from 0.5 to 4"):
        style.set_scale(10)


def test_titles_are_wrapped_to_their_panel_without_breaking_before_punctuation():
    text = "门控融合：门控学会了每个传感器在哪里干净（r 0.12 → 0.95，对比度 0.00 → 0.63）"
    lines = style.wrap(text, 2.0, 10).split("\n")
    assert "".join(lines).replace(" ", "") == text.replace(" ", "")
    assert len(lines) > 1 and all(not line.startswith(("，", "）", "：")) for line in lines)
    assert style.wrap("sensor A", 2.0, 10) == "sensor A"
    fig = plots.gate_channel_maps(torch.rand(1, 8, 8, 4), lang="zh")
    assert all("\n" not in ax.get_title() for ax in fig.axes[:4])  # short titles stay on one line


def test_colour_maps_and_bounds_have_one_definition():
    from fusion_edu.blocks._common import NOTE_BOUNDS

    assert plots.MSF_BOUNDS is NOTE_BOUNDS is style.MSF_BOUNDS
    sources = [p for p in (ROOT / "fusion_edu").rglob("*.py") if p.name != "style.py"]
    for path in sources:
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"^\s*[A-Z_]*CMAP\s*=", text, re.M), f"{path} declares a colour map"
        assert "3 * math.e" not in text, f"{path} re-declares MSF's bounds"


def test_interactive_mode_a_backend_turns_on_while_drawing_is_kept():
    import matplotlib

    previous = matplotlib.is_interactive()
    matplotlib.interactive(False)
    try:
        with style.context():
            matplotlib.interactive(True)  # what JupyterLab's inline backend does at a kernel's first figure
        assert matplotlib.is_interactive(), "later figures would not show in a fresh kernel"
    finally:
        matplotlib.interactive(previous)


def test_chinese_on_axes_made_before_the_figure_function_uses_the_cjk_font():
    import matplotlib.pyplot as plt

    previous = lang.set_lang("zh")
    try:
        fig, ax = plt.subplots()  # made outside the style's context: its label texts have the default family
        plots.gate_histogram(torch.rand(50), ax=ax)
        assert style.cjk_family() in ax.yaxis.label.get_fontfamily() and ax.get_ylabel() == "个数"
        plt.close(fig)
    finally:
        lang.set_lang(previous)
