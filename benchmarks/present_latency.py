"""`make latency`: the classroom dashboard measured in a real browser, written into benchmarks/RESULTS.md.

* Drag latency: for every block at the largest settings (B=64, C=512, H=W=512), the time in headless
  Chromium from a key press on the H slider's handle (the input event's timestamp) to the moment the
  trace output's text has changed in the page (a MutationObserver). Every press moves H by one
  (512 -> 511 -> 512 ...). This includes the comm round trip, the kernel's render, and the DOM update.
  Beside it is the kernel's own render time for the same setting, measured in this process.
* Cold start:
  - in the kernel: launching a fresh kernel until `dashboard()` has rendered its first trace;
  - in the browser, without pre-heating: the page request until the first trace table shows (Voilà
    starts a kernel for the visitor);
  - in the browser, as `make present` serves it (one pre-heated kernel): the same.

The numbers replace the section between the `classroom` markers in RESULTS.md (appended when it is
missing), so `make bench` and this script can each rewrite their own part.
"""

from __future__ import annotations

import argparse
import datetime
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))

import lab_driver as lab  # noqa: E402
import present  # noqa: E402
from results_md import write_section  # noqa: E402

BEGIN, END = "<!-- classroom:begin -->", "<!-- classroom:end -->"
LARGEST = {"B": 64, "C": 512, "W": 512, "H": 512}
DRAG_GOAL_MS, COLD_GOAL_S = 100, 3.0


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


def kernel_render_ms(key: str, repeat: int = 20) -> float:
    from fusion_edu.render import render

    render(key, **LARGEST)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        render(key, **LARGEST)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def kernel_cold_start(runs: int) -> list[float]:
    """Seconds from launching a kernel to a dashboard whose first trace is rendered, in fresh kernels."""
    from jupyter_client.manager import start_new_kernel

    code = "from fusion_edu.present import dashboard\nd = dashboard()\nassert d.page.last.ok"
    out = []
    for _ in range(runs):
        start = time.monotonic()
        manager, client = start_new_kernel(kernel_name="python3", cwd=str(ROOT))
        try:
            reply = client.execute_interactive(code, timeout=120, output_hook=lambda msg: None)
            if reply["content"]["status"] != "ok":
                raise RuntimeError(f"dashboard failed in a fresh kernel: {reply['content']}")
            out.append(time.monotonic() - start)
        finally:
            client.stop_channels()
            manager.shutdown_kernel(now=True)
    return out


def wait_until_idle(server: present.PresentServer, timeout: float = 120) -> None:
    """Waits until the server's kernels have stopped working (a pre-heated kernel has run the dashboard)."""
    import psutil

    parent = psutil.Process(server.process.pid)
    deadline, quiet = time.monotonic() + timeout, 0
    time.sleep(2)
    while time.monotonic() < deadline and quiet < 2:
        procs = [parent, *parent.children(recursive=True)]
        busy = sum(p.cpu_percent(interval=None) for p in procs)
        time.sleep(1)
        busy = sum(p.cpu_percent(interval=None) for p in procs)
        quiet = quiet + 1 if busy < 10 else 0


def browser_cold_starts(browser, runs: int, preheat: bool) -> list[float]:
    out = []
    # Each run stands for a visitor who finds a pre-heated kernel: the pool is refilled at once between runs
    # (make present waits a minute, and a visitor in that minute gets the path without pre-heating).
    with present.PresentServer(preheat=preheat, pool_size=1, refill_delay_s=1 if preheat else None) as server:
        for _ in range(runs):
            if preheat:
                wait_until_idle(server)
            with lab.new_page(browser, 1280, 720) as page:
                out.append(lab.open_dashboard(page, server.url))
    return out


def drag_rows(browser, samples: int) -> list[dict]:
    rows = []
    with present.PresentServer(preheat=False) as server, lab.new_page(browser, 1280, 720) as page:
        lab.open_dashboard(page, server.url)
        from fusion_edu.blocks import BLOCKS

        for key in BLOCKS:
            lab.pick_block(page, key)
            for name, value in LARGEST.items():
                lab.set_slider(page, name, value)
            page.wait_for_function("() => document.querySelector('.fe-present .fe-trace-out').textContent"
                                   ".includes('64, 512')", timeout=30_000)
            lab.drag_latencies(page, "H", 3)  # warm: the first presses of a page pay for its first paint
            ms = lab.drag_latencies(page, "H", samples)
            missed = sum(1 for v in ms if v < 0)
            ms = [v for v in ms if v >= 0]
            rows.append({"key": key, "kernel_ms": kernel_render_ms(key), "p50": pct(ms, 0.5), "p95": pct(ms, 0.95),
                         "max": max(ms), "n": len(ms), "missed": missed})
            print(f"{key}: p50 {rows[-1]['p50']:.0f} ms, p95 {rows[-1]['p95']:.0f} ms ({len(ms)} presses)", flush=True)
    return rows


def section(rows: list[dict], kernel: list[float], plain: list[float], heated: list[float], samples: int) -> str:
    lines = [BEGIN, "## 5. Classroom dashboard: drag latency and cold start in the browser (`make latency`)", "",
             f"Measured {datetime.date.today().isoformat()} by benchmarks/present_latency.py: Voilà serving "
             "notebooks/present/dashboard.ipynb, headless Debian Chromium at 1280×720, on the same machine as "
             "the kernel.", "",
             f"Drag latency: the H slider at B=64, C=512, H=W=512, {samples} key presses per block (H moves "
             "512 ↔ 511). Each sample runs from the keydown event to the changed trace text in the page. "
             "`kernel render` is the render alone, in-process, from section 1's path.", "",
             f"| block | kernel render p50 ms | browser p50 ms | browser p95 ms | max ms | presses | "
             f"goal (p95 < {DRAG_GOAL_MS} ms) |", "|---|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        ok = r["p95"] < DRAG_GOAL_MS and not r["missed"]
        missed = f" ({r['missed']} without update)" if r["missed"] else ""
        lines.append(f"| {r['key']} | {r['kernel_ms']:.1f} | {r['p50']:.0f} | {r['p95']:.0f} | {r['max']:.0f} | "
                     f"{r['n']}{missed} | {'met' if ok else 'MISSED'} |")

    def cell(values: list[float]) -> str:
        return f"{statistics.median(values):.1f} (runs: {', '.join(f'{v:.1f}' for v in values)})"

    lines += ["", "Cold start, seconds until the first trace (median of the runs):", "",
              f"| path | seconds | goal (< {COLD_GOAL_S:g} s) |", "|---|---|---|",
              f"| kernel: launch a fresh kernel → `dashboard()` rendered | {cell(kernel)} | "
              f"{'met' if statistics.median(kernel) < COLD_GOAL_S else 'MISSED'} |",
              f"| browser, no pre-heating: page request → first trace table | {cell(plain)} | "
              f"{'met' if statistics.median(plain) < COLD_GOAL_S else 'MISSED'} |",
              f"| browser, `make present` (1 pre-heated kernel): page request → first trace table | {cell(heated)} | "
              f"{'met' if statistics.median(heated) < COLD_GOAL_S else 'MISSED'} |", "",
              "A fresh kernel pays for importing torch and for its first shape-only meta operation (an import "
              "of about 2 s inside torch). `make present` therefore keeps a kernel pre-heated: Voilà has run "
              "the dashboard in it before the visitor arrives.", END]
    return "\n".join(lines) + "\n"



def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=25, help="key presses per block")
    parser.add_argument("--runs", type=int, default=3, help="cold starts per path")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "RESULTS.md"))
    args = parser.parse_args(argv)
    reason = lab.browser_available()
    if reason:
        print(f"cannot measure in a browser: {reason}")
        return 1
    print("cold start in fresh kernels ...", flush=True)
    kernel = kernel_cold_start(args.runs)
    with lab.open_chromium() as browser:
        print("drag latency per block ...", flush=True)
        rows = drag_rows(browser, args.samples)
        print("cold start in the browser ...", flush=True)
        plain = browser_cold_starts(browser, args.runs, preheat=False)
        heated = browser_cold_starts(browser, args.runs, preheat=True)
    text = section(rows, kernel, plain, heated, args.samples)
    print(text)
    write_section(text, Path(args.out), BEGIN, END)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
