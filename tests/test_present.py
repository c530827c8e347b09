"""The classroom dashboard without a browser: its pure parts, the widgets poked from Python, and the server's token."""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

from fusion_edu import present  # noqa: E402
from fusion_edu.blocks import BLOCKS  # noqa: E402
from fusion_edu.lang import get_lang, set_lang  # noqa: E402


@pytest.fixture(autouse=True)
def restore_language():
    previous = get_lang()
    yield
    set_lang(previous)


# --------------------------------------------------------------------------- pure parts

def test_only_the_cbam_variant_is_built_for_one_size():
    assert {k for k in BLOCKS if present.size_bound(k)} == {"cbam_joint"}


def test_a_block_kept_at_its_size_shows_its_own_message_when_h_moves():
    same = present.fixed_size_render("cbam_joint", (7, 7), lang="en", H=7, W=7)
    assert same.ok and same.output_shapes == [(1, 64, 7, 7), (1, 64, 7, 7)]
    moved = present.fixed_size_render("cbam_joint", (7, 7), lang="en", H=9, W=7)
    assert not moved.ok
    assert moved.error.startswith("CBAMBlock: built for HW=49 but the input is 9x7 (HW=63)")
    assert "Traceback" not in moved.html and "CBAMBlock: built for HW=49" in moved.html
    zh = present.fixed_size_render("cbam_joint", (7, 7), lang="zh", H=9, W=7)
    assert zh.error.startswith("CBAMBlock：模块按 HW=49 构建")


def test_fixed_size_render_reports_a_bad_setting_instead_of_raising():
    r = present.fixed_size_render("cbam_joint", (7, 7), lang="en", H=7, W=7, C=4, reduction=8)
    assert not r.ok and "reduction" in r.error


def test_the_stylesheet_sets_projector_sizes_on_the_dashboard_only():
    css = present.dashboard_css(20)
    assert "font-size:20px" in css and "--jp-widgets-font-size:20px" in css
    rules = re.findall(r"^([^{}\s][^{}]*)\{", css.replace("<style>", ""), re.M)
    assert rules and all(sel.strip().startswith(".fe-present") for rule in rules for sel in rule.split(","))
    # text the page draws at 0.9 em (notes, code) stays at 18 px or more
    assert round(present.FONT_PX * 0.9) >= 18


def test_metrics_table_is_in_one_language():
    en = present.metrics_html({"gate_r": 0.01}, {"gate_r": 0.93}, "en")
    assert "Pearson r of the gate map" in en and "0.93" in en and "0.01" in en and "门控" not in en
    zh = present.metrics_html({"gate_r": 0.01}, {"gate_r": 0.93}, "zh")
    assert "相关系数" in zh and "Pearson" not in zh
    assert present.metrics_html({}, {}, "en") == ""


@pytest.mark.parametrize("key", list(BLOCKS))
def test_every_block_has_a_photo_map(key):
    fig = present.photo_figure(key, "en")
    assert len(fig.axes) >= 2  # the photo (or the query panel) and the block's map
    png = present.photo_png(key, "en")
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000


def test_a_photo_map_follows_the_hyperparameters():
    assert present.photo_png("safm", "en", n_levels=2) != present.photo_png("safm", "en", n_levels=4)


def test_graph_html_never_raises():
    bad = present.graph_html("safm", "en", C=38)
    assert "SAFM: dim must be divisible by n_levels" in bad
    good = present.graph_html("safm", "en", C=8, H=16, W=16)
    assert "<svg" in good or "fusion-edu-graph-missing" in good


def test_fit_reports_every_step_to_a_callback_instead_of_a_bar():
    import torch

    from fusion_edu.learn import fit

    seen = []
    model = torch.nn.Linear(1, 1)
    fit(model, iter(lambda: torch.randn(4, 1), None), 5, 0.1, lambda m, x: m(x).pow(2).mean(),
        progress=lambda step, total, desc: seen.append((step, total, desc)), desc="demo")
    assert seen == [(1, 5, "demo"), (2, 5, "demo"), (3, 5, "demo"), (4, 5, "demo"), (5, 5, "demo")]


# --------------------------------------------------------------------------- the widgets, poked from Python

def test_the_dashboard_follows_its_sliders_while_dragging():
    d = present.Dashboard("osra", lang="en", defer=False)
    page = d.page
    assert page.key == "osra" and page.last.ok
    assert all(getattr(c, "continuous_update", True) for c in page.controls.values())
    page.controls["H"].value = 48
    assert "(1, 64, 48, 32)" in page.trace_out.value
    page.controls["C"].value = 60  # not divisible by num_heads=8
    assert "OSRAttention: dim must be divisible by num_heads" in page.trace_out.value
    assert "Traceback" not in page.trace_out.value


def test_the_picker_and_the_language_toggle():
    d = present.Dashboard("safm", lang="en", defer=False)
    assert d.picker.value == "safm" and d.page.key == "safm"
    d.picker.value = "msaa"
    assert d.page.key == "msaa" and d.children[-1] is d.page
    assert "Multi-scale attention aggregation" in d.page.trace_out.value
    d.language.value = "zh"
    assert get_lang() == "zh"
    assert "多尺度注意力聚合" in d.page.trace_out.value
    assert d.page.tabs.titles[0] == "结构图" and d.page.train_button.description == "现场训练"
    assert [label for label, _ in d.picker.options][0] == "门控融合"
    d.picker.value = "safm"  # a page built in English is relabelled when it comes back
    assert "空间自适应特征调制" in d.page.trace_out.value


def test_the_cbam_page_keeps_its_size_on_request():
    d = present.Dashboard("cbam_joint", lang="en", defer=False)
    page = d.page
    assert page.fixed is not None and present.Dashboard("osra", defer=False).page.fixed is None
    page.fixed.value = True
    assert page.built_hw == (7, 7)
    page.controls["H"].value = 8
    assert "CBAMBlock: built for HW=49 but the input is 8x7" in page.trace_out.value
    page.fixed.value = False
    assert page.last.ok and page.built_hw is None


def test_the_tabs_draw_the_graph_and_the_photo():
    d = present.Dashboard("safm", lang="en", defer=False)
    page = d.page
    page.tabs.selected_index = 0
    page.update_views()
    assert "<svg" in page.graph_out.value or "fusion-edu-graph-missing" in page.graph_out.value
    page.tabs.selected_index = 1
    assert "data:image/png;base64," in page.photo_out.value


def test_an_unknown_block_is_refused_with_the_catalog():
    with pytest.raises(ValueError, match=r"dashboard: key must be one of \['gated_fusion'"):
        present.dashboard("nope")


def test_the_dashboard_notebook_is_one_clean_call():
    nb = json.loads((ROOT / "notebooks" / "present" / "dashboard.ipynb").read_text(encoding="utf-8"))
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert len(code) == 1 and "dashboard()" in "".join(code[0]["source"])
    assert code[0]["outputs"] == [] and code[0]["execution_count"] is None
    assert "widgets" not in nb["metadata"]


# --------------------------------------------------------------------------- `make present`'s server

def test_make_present_refuses_requests_without_the_token():
    pytest.importorskip("voila", reason="voila is not installed (make present needs it)")
    import present as server_script

    cmd = server_script.voila_command(8866, "t0ken")
    assert "--Voila.ip=127.0.0.1" in cmd and "--token=t0ken" in cmd
    start = time.monotonic()
    with server_script.PresentServer(preheat=False) as server:
        assert server.status("/") in (302, 403)
        assert server.status("/?token=wrong") in (302, 403)
        assert server.status("/api/kernels") in (302, 403)
        assert server.status(f"/?token={server.token}") == 200
    assert time.monotonic() - start < 60


def test_make_present_prints_the_url_with_its_token(capsys, monkeypatch):
    import subprocess

    import present as server_script

    started = []

    class Fake:
        def __init__(self, cmd, **kwargs):
            started.append(cmd)

        def wait(self):
            return 0

    monkeypatch.setattr(subprocess, "Popen", Fake)
    assert server_script.main(["--port", "9123"]) == 0
    out = capsys.readouterr().out
    token = re.search(r"http://127\.0\.0\.1:9123/\?token=([0-9a-f]{48})", out).group(1)
    assert f"--token={token}" in started[0] and "--preheat_kernel=True" in started[0]
