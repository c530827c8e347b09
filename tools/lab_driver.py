"""Drive JupyterLab in headless Chromium, as a student would: used by the browser test and `make images`.

`LabServer` starts JupyterLab on 127.0.0.1 with a random token, its own settings, workspace and runtime
folders (no news popup, no autosave) and a copy of the notebooks, so nothing in the repository changes.
`open_browser()` starts Debian's Chromium through Playwright (never a browser download).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]

# User settings written into the server's own settings folder.
SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false",
                                                                        "checkForUpdates": False},
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none",
                                                                   "autoStartDefaultKernel": True},
}


def browser_available() -> str:
    """'' when Chromium and Playwright are usable, else the reason they are not."""
    if not Path(CHROMIUM).exists():
        return f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Python package playwright is not installed (pip install playwright; never `playwright install`)"
    return ""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LabServer:
    """A JupyterLab server on 127.0.0.1 with a token, serving a temporary copy of `notebooks/`."""

    def __init__(self, notebooks: Path = ROOT / "notebooks"):
        self.token = secrets.token_hex(16)
        self.port = _free_port()
        self.home = Path(tempfile.mkdtemp(prefix="fusion-edu-lab-"))
        self.root = self.home / "notebooks"
        shutil.copytree(notebooks, self.root, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
        self.process: subprocess.Popen | None = None
        self.log = self.home / "server.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def notebook_url(self, name: str) -> str:
        # A workspace of its own per notebook, so no tab of an earlier notebook is restored next to it.
        workspace = "nb-" + "".join(ch if ch.isalnum() else "-" for ch in name)
        return f"{self.url}/lab/workspaces/{workspace}/tree/{name}?token={self.token}"

    def start(self, timeout: float = 90) -> LabServer:
        settings = self.home / "settings"
        for name, values in SETTINGS.items():
            path = settings / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values), encoding="utf-8")
        env = dict(os.environ, JUPYTER_CONFIG_DIR=str(self.home / "config"),
                   JUPYTER_RUNTIME_DIR=str(self.home / "runtime"), IPYTHONDIR=str(self.home / "ipython"),
                   JUPYTERLAB_SETTINGS_DIR=str(settings), JUPYTERLAB_WORKSPACES_DIR=str(self.home / "workspaces"),
                   MPLBACKEND="module://matplotlib_inline.backend_inline")
        cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", f"--ServerApp.root_dir={self.root}",
               "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={self.port}", "--ServerApp.port_retries=0",
               f"--IdentityProvider.token={self.token}", f"--LabApp.user_settings_dir={settings}",
               f"--LabApp.workspaces_dir={self.home / 'workspaces'}"]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            cmd.append("--allow-root")
        self.process = subprocess.Popen(cmd, env=env, cwd=self.root, stdout=self.log.open("wb"),
                                        stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"JupyterLab exited early:\n{self.log.read_text(errors='replace')[-3000:]}")
            with contextlib.suppress(OSError):
                with urllib.request.urlopen(f"{self.url}/api/status?token={self.token}", timeout=2) as r:
                    if r.status == 200:
                        return self
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"JupyterLab did not answer within {timeout} s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        shutil.rmtree(self.home, ignore_errors=True)

    def __enter__(self) -> LabServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


@contextlib.contextmanager
def open_chromium() -> Iterator:
    """Headless Debian Chromium through Playwright."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@contextlib.contextmanager
def new_page(browser, width: int = 1400, height: int = 1000) -> Iterator:
    """A fresh page (its own context), so one notebook's tabs never leak into the next."""
    context = browser.new_context(viewport={"width": width, "height": height})
    try:
        yield context.new_page()
    finally:
        context.close()


@contextlib.contextmanager
def open_browser(width: int = 1400, height: int = 1000) -> Iterator:
    """A Playwright page in headless Debian Chromium."""
    with open_chromium() as browser, new_page(browser, width, height) as page:
        yield page


# --------------------------------------------------------------------------- page actions

def open_notebook(page, server: LabServer, name: str, timeout_ms: int = 60_000) -> None:
    page.goto(server.notebook_url(name), timeout=timeout_ms)
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=timeout_ms)
    with contextlib.suppress(Exception):  # a kernel picker shows when the preferred kernel does not start itself
        page.click(".jp-Dialog .jp-mod-accept", timeout=3_000)
    wait_for_kernel_idle(page, timeout_ms)


def wait_for_kernel_idle(page, timeout_ms: int = 60_000) -> None:
    page.wait_for_function(
        "() => { const s = document.querySelector('.jp-Notebook-ExecutionIndicator');"
        " return s && s.getAttribute('data-status') === 'idle'; }", timeout=timeout_ms)


def run_all_cells(page, timeout_ms: int = 240_000) -> None:
    """Run > Run All Cells, then wait until no cell is queued or running and the kernel is idle."""
    page.click(".lm-MenuBar-itemLabel:text-is('Run')")
    page.click(".lm-Menu-itemLabel:text-is('Run All Cells')")
    page.wait_for_function(  # a cell whose source is hidden (the checks cell) shows an empty prompt: skip it
        "() => { const prompts = [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')]"
        ".filter(p => p.offsetParent !== null && p.textContent.trim() !== '');"
        " return prompts.length > 0 && prompts.every(p => !p.textContent.includes('*'))"
        " && prompts.every(p => /\\[\\d+\\]/.test(p.textContent)); }", timeout=timeout_ms)
    wait_for_kernel_idle(page, timeout_ms)


def error_cells(page) -> list[int]:
    """Indices of cells that show an exception (a traceback), not merely text on stderr such as a progress bar."""
    return page.evaluate(
        "() => [...document.querySelectorAll('.jp-Notebook .jp-Cell')].map((c, i) => [c, i])"
        ".filter(([c]) => c.classList.contains('jp-CodeCell') && [...c.querySelectorAll("
        "'.jp-OutputArea-output[data-mime-type=\"application/vnd.jupyter.stderr\"]')]"
        ".some(o => o.textContent.includes('Traceback (most recent call last)')))"
        ".map(([c, i]) => i)")


def explorer_text(page, index: int = 0) -> str:
    return page.locator(".fusion-edu-explorer").nth(index).inner_text()


def _type_into(page, readout, value: int) -> None:
    readout.scroll_into_view_if_needed()
    readout.click()
    page.keyboard.press("Control+A")
    page.keyboard.type(str(value))
    page.keyboard.press("Enter")


def set_first_slider(page, value: int, index: int = 0) -> None:
    """Types a value into the first slider's readout of explorer `index` (keyboard only) and presses Enter."""
    explorer = page.locator(".fusion-edu-explorer").nth(index)
    _type_into(page, explorer.locator(".widget-readout").first, value)


def set_slider(page, name: str, value: int, index: int = 0) -> None:
    """Types a value into the readout of the explorer slider whose description is `name`."""
    explorer = page.locator(".fusion-edu-explorer").nth(index)
    slider = explorer.locator(".widget-slider", has=page.locator(f"label:text-is('{name}')"))
    _type_into(page, slider.locator(".widget-readout").first, value)


def press_on_slider(page, name: str, key: str, index: int = 0) -> None:
    """Focuses the handle of slider `name` (e.g. a SelectionSlider) and presses `key` (Home, End, ArrowRight)."""
    explorer = page.locator(".fusion-edu-explorer").nth(index)
    slider = explorer.locator(".widget-slider", has=page.locator(f"label:text-is('{name}')"))
    handle = slider.locator(".noUi-handle").first
    handle.scroll_into_view_if_needed()
    handle.focus()
    page.keyboard.press(key)


def overflowing_tables(page) -> list[str]:
    """Trace tables wider than the output area they sit in (they would scroll sideways), as 'notebook cell: px'."""
    return page.evaluate(
        "() => [...document.querySelectorAll('.fusion-edu-trace')].map((t, i) => {"
        " const area = t.closest('.jp-OutputArea-output') || t.parentElement;"
        " const over = Math.max(t.scrollWidth - t.clientWidth,"
        "   t.getBoundingClientRect().right - area.getBoundingClientRect().right);"
        " return over > 1 ? `table ${i}: ${Math.round(over)} px too wide` : ''; }).filter(Boolean)")


def wrapped_shapes(page) -> list[str]:
    """Shape cells (code in a trace table) whose text takes more than one line."""
    return page.evaluate(
        "() => [...document.querySelectorAll('.fusion-edu-trace td code')].filter(c => {"
        " const r = c.getClientRects(); return r.length > 1; }).map(c => c.textContent).slice(0, 5)")


# --------------------------------------------------------------------------- the classroom dashboard (Voilà)

def open_dashboard(page, url: str, timeout_ms: int = 120_000) -> float:
    """Opens the dashboard at `url` and waits for its first trace table; returns the seconds that took."""
    start = time.monotonic()
    page.goto(url, timeout=timeout_ms)
    page.wait_for_selector(".fe-present .fe-trace-out .fusion-edu-trace", timeout=timeout_ms)
    return time.monotonic() - start


def pick_block(page, key: str, timeout_ms: int = 60_000) -> None:
    """Clicks block `key` in the dashboard's picker and waits for its page."""
    page.click(f".fe-picker button[title$='[{key}]']")
    page.wait_for_selector(f".fe-page-{key} .fe-trace-out .fusion-edu-render", timeout=timeout_ms)


def dashboard_text(page) -> str:
    return page.locator(".fe-present .fe-trace-out").first.inner_text()


# In the page: resolve with the time from the next keydown's event timestamp to the moment the trace
# output's text differs from now (a MutationObserver fires before the next paint).
_ARM = """() => {
  const out = document.querySelector('.fe-present .fe-trace-out');
  const before = out.textContent;
  window.__feLatency = new Promise((resolve) => {
    let t0 = null;
    const onKey = (e) => { if (t0 === null) t0 = e.timeStamp; };
    document.addEventListener('keydown', onKey, true);
    const obs = new MutationObserver(() => {
      if (out.textContent !== before && t0 !== null) {
        const t1 = performance.now();
        obs.disconnect(); document.removeEventListener('keydown', onKey, true);
        resolve(t1 - t0);
      }
    });
    obs.observe(out, {subtree: true, childList: true, characterData: true});
    setTimeout(() => { obs.disconnect(); document.removeEventListener('keydown', onKey, true); resolve(-1); },
               10000);
  });
}"""


def drag_latencies(page, slider: str, samples: int) -> list[float]:
    """Milliseconds from a key press on slider `slider`'s handle to the changed trace, `samples` times.

    The presses alternate ArrowLeft and ArrowRight, so the slider moves by one step and back. A press
    whose table did not change within 10 s counts as -1.
    """
    out = []
    for i in range(samples):
        page.evaluate(_ARM)
        press_on_slider(page, slider, "ArrowLeft" if i % 2 == 0 else "ArrowRight")
        out.append(page.evaluate("() => window.__feLatency"))
    return out


def small_text(page, minimum_px: float = 18) -> list[str]:
    """Text in the dashboard drawn smaller than `minimum_px` (outside figures and graphs), as 'size: text'."""
    return page.evaluate(
        "(minimum) => { const out = [];"
        " for (const el of document.querySelectorAll('.fe-present *')) {"
        "  if (el.closest('svg') || !el.getClientRects().length) continue;"
        "  const own = [...el.childNodes].filter(n => n.nodeType === 3 && n.textContent.trim())"
        "    .map(n => n.textContent.trim());"
        "  if (!own.length) continue;"
        "  const size = parseFloat(getComputedStyle(el).fontSize);"
        "  if (size < minimum) out.push(`${size}px: ${own.join(' ').slice(0, 40)}`); }"
        " return out.slice(0, 10); }", minimum_px)
