"""JupyterLab in a real browser: every notebook runs with no unexpected error, and the explorer reacts to the keyboard.

Starts its own JupyterLab (127.0.0.1, token, own settings: no news, no autosave, a copy of the notebooks) and
drives Debian's Chromium through Playwright. Skips with the reason when Chromium or Playwright is missing,
except where FUSION_EDU_REQUIRE_BROWSER=1 (CI), where that is a failure. Run with `make browser`.
Screenshots go to $FUSION_EDU_SCREENSHOTS (default: artifacts/screenshots, ignored by git).
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import lab_driver as lab  # noqa: E402

pytestmark = pytest.mark.browser

NOTEBOOKS = sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))
BLOCK_KEYS = {"01": "gated_fusion", "02": "msf", "03": "mfe", "04": "safm", "05": "osra", "06": "msaa",
              "07": "cbam_joint"}
# How to reach an invalid setting with the keyboard in each block's explorer, and the message it must show.
# Gated fusion has none: every B, C, H, W and layout it offers is valid.
INVALID = {  # the explorer speaks the course language (Chinese unless FUSION_EDU_LANG says otherwise)
    "msf": ([("type", "B", 1), ("type", "H", 1), ("type", "W", 1)], "MSFBlock：训练模式下 BatchNorm 每个通道需要多于一个数"),
    "mfe": ([("type", "B", 1), ("type", "H", 1), ("type", "W", 1)], "MFEBlock：训练模式下 BatchNorm 每个通道需要多于一个数"),
    "safm": ([("type", "C", 38)], "SAFM：dim 必须能被 n_levels 整除"),
    "osra": ([("type", "C", 60)], "OSRAttention：dim 必须能被 num_heads 整除"),
    "msaa": ([("press", "out_channels", "Home")], "MSAA：out_channels 必须 ≥ 16"),
    "cbam_joint": ([("press", "reduction", "End")], "CBAMBlock：reduction 不能大于 channel"),
}


@pytest.fixture(scope="module")
def server():
    reason = lab.browser_available()
    if reason:
        if os.environ.get("FUSION_EDU_REQUIRE_BROWSER") == "1":
            pytest.fail(f"the browser test must run here: {reason}")
        pytest.skip(reason)
    with lab.LabServer() as running:
        yield running


@pytest.fixture(scope="module")
def chromium():
    """One Chromium for the module: Playwright's sync API allows one instance at a time."""
    reason = lab.browser_available()
    if reason:
        if os.environ.get("FUSION_EDU_REQUIRE_BROWSER") == "1":
            pytest.fail(f"the browser test must run here: {reason}")
        pytest.skip(reason)
    with lab.open_chromium() as b:
        yield b


@pytest.fixture(scope="module")
def browser(server, chromium):
    return chromium


@pytest.fixture
def page(browser):
    with lab.new_page(browser, width=1280, height=900) as p:  # a classroom projector's width
        yield p


@pytest.fixture(scope="module")
def screenshots() -> Path:
    folder = Path(os.environ.get("FUSION_EDU_SCREENSHOTS", ROOT / "artifacts" / "screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def tagged_cells(name: str) -> set[int]:
    nb = json.loads((ROOT / "notebooks" / name).read_text(encoding="utf-8"))
    return {i for i, c in enumerate(nb["cells"]) if "raises-exception" in c.get("metadata", {}).get("tags", [])}


def test_there_are_notebooks_to_drive():
    assert NOTEBOOKS, "no notebooks found"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_in_jupyterlab(name, server, page, screenshots):
    from playwright.sync_api import expect

    lab.open_notebook(page, server, name)
    lab.run_all_cells(page)
    unexpected = set(lab.error_cells(page)) - tagged_cells(name)
    assert not unexpected, f"{name}: cells {sorted(unexpected)} show an error"
    assert lab.overflowing_tables(page) == [], f"{name}: a trace table does not fit 1280 px"
    assert lab.wrapped_shapes(page) == [], f"{name}: a shape wraps onto a second line"

    key = BLOCK_KEYS.get(name[:2])
    if key is None:
        page.screenshot(path=str(screenshots / f"{name[:-6]}.png"))
        return
    explorer = page.locator(".fusion-edu-explorer").first
    explorer.scroll_into_view_if_needed()
    before = lab.explorer_text(page)
    height = int(re.search(r"\bH=(\d+)", before).group(1))
    doubled = 2 * height if 2 * height <= 512 else height // 2
    lab.set_first_slider(page, doubled)
    expect(explorer).to_contain_text(f"H={doubled}", timeout=30_000)
    after = lab.explorer_text(page)
    assert re.search(rf"\b{doubled}\b", after.split("symbols", 1)[-1]), "concrete shapes did not follow H"
    assert after != before
    explorer.screenshot(path=str(screenshots / f"{name[:-6]}_explorer.png"))

    if key in INVALID:
        steps, expected = INVALID[key]
        for action, control, value in steps:
            if action == "type":
                lab.set_slider(page, control, value)
            else:
                lab.press_on_slider(page, control, value)
        expect(explorer).to_contain_text(expected, timeout=30_000)
        assert "Traceback" not in lab.explorer_text(page)
    page.screenshot(path=str(screenshots / f"{name[:-6]}.png"))


# --------------------------------------------------------------------------- the classroom dashboard in Voilà

@pytest.fixture(scope="module")
def voila(chromium):
    try:
        import voila as _voila  # noqa: F401
    except ImportError:
        if os.environ.get("FUSION_EDU_REQUIRE_BROWSER") == "1":
            pytest.fail("the dashboard's browser test must run here: voila is not installed")
        pytest.skip("voila is not installed (make present needs it)")
    import present

    with present.PresentServer(preheat=False) as running:
        yield running, chromium


@pytest.fixture
def dashboard(voila):
    running, chromium = voila
    with lab.new_page(chromium, width=1280, height=720) as p:  # a projector
        lab.open_dashboard(p, running.url)
        yield p


def test_dashboard_at_1280x720(dashboard, screenshots):
    from playwright.sync_api import expect

    page = dashboard
    page.wait_for_timeout(1500)  # the deferred graph
    page.screenshot(path=str(screenshots / "dashboard.png"))
    assert "Traceback" not in page.inner_text("body")
    assert lab.small_text(page) == [], "dashboard text below 18 px"
    assert lab.wrapped_shapes(page) == [], "a shape wraps onto a second line"
    assert page.locator(".fe-present .fe-graph svg, .fe-present .fusion-edu-graph-missing").count() == 1
    before = lab.dashboard_text(page)
    lab.press_on_slider(page, "H", "ArrowRight")  # the handle moves by one step, as in a drag
    out = page.locator(".fe-present .fe-trace-out")
    expect(out).not_to_have_text(before, timeout=10_000)
    expect(out).to_contain_text("(1, 33, 32, 64)", timeout=10_000)  # gated fusion is channels-last: (B, H, W, C)


def test_dashboard_shows_the_blocks_message_for_an_invalid_setting(dashboard, screenshots):
    from playwright.sync_api import expect

    page = dashboard
    lab.pick_block(page, "safm")
    lab.set_slider(page, "C", 38)
    out = page.locator(".fe-present .fe-trace-out")
    expect(out).to_contain_text("SAFM", timeout=10_000)
    expect(out.locator(".fusion-edu-error")).to_have_count(1, timeout=10_000)
    assert "Traceback" not in page.inner_text("body")
    page.screenshot(path=str(screenshots / "dashboard_invalid.png"))


def test_dashboard_cbam_keeps_its_size_and_shows_its_message_live(dashboard, screenshots):
    from playwright.sync_api import expect

    page = dashboard
    lab.pick_block(page, "cbam_joint")
    page.click(".fe-present .fe-fixed-toggle")
    lab.press_on_slider(page, "H", "ArrowRight")
    out = page.locator(".fe-present .fe-trace-out")
    expect(out.locator(".fusion-edu-error")).to_have_count(1, timeout=10_000)
    expect(out).to_contain_text("HW=49", timeout=10_000)
    page.click(".fe-present .lm-TabBar-tab >> nth=1")  # the photo tab
    page.wait_for_selector(".fe-present .fe-photo img", timeout=30_000)
    page.screenshot(path=str(screenshots / "dashboard_cbam.png"))


def test_dashboard_switches_language(dashboard):
    from playwright.sync_api import expect

    page = dashboard
    page.click(".fe-present .fe-language button:text-is('English')")
    expect(page.locator(".fe-present .fe-trace-out")).to_contain_text("Gated fusion", timeout=10_000)
    expect(page.locator(".fe-present .fe-picker")).to_contain_text("Gated", timeout=10_000)
