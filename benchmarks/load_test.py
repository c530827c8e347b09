"""`make load`: a class of N students opens the classroom dashboard at once, from one server on 127.0.0.1.

    python benchmarks/load_test.py [--sessions 20] [--pool N] [--max-kernels 24] [--refill-delay 60] [--arrival 0]
                                   [--timeout 900]

The server is `make present`'s (tools/present.py: its settings, limits and culling), started with `--pool`
pre-heated kernels, as a teacher would start it before class; the students arrive once the pool is ready.
Each student is one Playwright context in one headless Chromium: it opens the dashboard with the token,
waits for the first rendered trace table, then presses an arrow key on the H slider five times (one step
each, as a drag moves it) and times each update. When every student is done, the kernels' memory is read,
and the pages close: half as a tab closes (Voilà stops the kernel at once), half abandoned (the culler,
set here to `--cull-idle` seconds, must stop their kernels). Then the server stops and no kernel process
may be left.

Measured: time to first page (request until the first trace table shows: p50, p95, max), slider latency
under load (key press until the table changed, in the page: p50, p95, max), the kernels' memory (RSS per
kernel; RSS and PSS of all kernels together; PSS counts shared pages once), failures, the CPU seconds
that Voilà, its kernels and the browser used while the class arrived, and the machine's load average before
the run (other work on this machine) and during it. Browser and server share the machine's cores, so the
times include the browser's own work for N pages, which a real class does on N computers.

A watchdog ends the whole test after `--timeout` seconds, whatever state it is in. The exit status is 0 when
every student got the dashboard and every kernel stopped (the times, against their goals, are in the table),
3 when a session failed or a kernel was left running, 4 when the hard timeout ended it. The run's row goes into
benchmarks/RESULTS.md between the `load` markers; rows of other configurations stay, so a baseline and a
tuned run sit side by side.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import os
import statistics
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import lab_driver as lab  # noqa: E402
import present  # noqa: E402
from lab_driver import _ARM as ARM_LATENCY  # noqa: E402 - the drag-latency probe `make latency` uses too
from results_md import write_section  # noqa: E402

BEGIN, END = "<!-- load:begin -->", "<!-- load:end -->"
GOAL_FIRST_PAGE_S, GOAL_SLIDER_MS = 15.0, 500.0
PRESSES = 5
TRACE = ".fe-present .fe-trace-out .fusion-edu-trace"


def pct(values: list[float], q: float) -> float:
    """The q-quantile by nearest rank (what `make latency` reports too); nan for no values."""
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


@dataclass
class Session:
    """One student: what they saw and how long it took."""

    index: int
    first_page_s: float | None = None
    html_s: float | None = None  # the server's part: request -> the page's last byte
    slider_ms: list[float] = field(default_factory=list)
    kernel_id: str = ""
    failure: str = ""


@dataclass
class Memory:
    """Kernel processes' memory, sampled while the class works."""

    peak_kernels: int = 0
    peak_rss: float = 0.0
    samples: int = 0
    snapshot: dict = field(default_factory=dict)


# --------------------------------------------------------------------------- the server's kernels

def kernel_memory(server: present.PresentServer) -> dict:
    """RSS and PSS (bytes) of every kernel process now, by pid."""
    import psutil

    out = {}
    for proc in server.kernels():
        with contextlib.suppress(psutil.Error):
            info = proc.memory_full_info()
            out[proc.pid] = {"rss": info.rss, "pss": getattr(info, "pss", info.rss),
                             "cmd": " ".join(proc.cmdline())}
    return out


def sample_memory(server: present.PresentServer, memory: Memory, stop: threading.Event) -> None:
    import psutil

    while not stop.wait(2.0):
        total, count = 0, 0
        for proc in server.kernels():
            with contextlib.suppress(psutil.Error):
                total += proc.memory_info().rss
                count += 1
        memory.samples += 1
        memory.peak_kernels = max(memory.peak_kernels, count)
        memory.peak_rss = max(memory.peak_rss, total)


def wait_for_pool(server: present.PresentServer, pool: int, timeout: float) -> float:
    """Seconds until `pool` kernels run and the server's processes are quiet (the dashboard rendered in each)."""
    import psutil

    start = time.monotonic()
    deadline, quiet = start + timeout, 0
    parent = psutil.Process(server.process.pid)
    while time.monotonic() < deadline:
        procs = [parent, *parent.children(recursive=True)]
        for p in procs:
            with contextlib.suppress(psutil.Error):
                p.cpu_percent(interval=None)
        time.sleep(1.0)
        busy = 0.0
        for p in procs:
            with contextlib.suppress(psutil.Error):
                busy += p.cpu_percent(interval=None)
        ready = len(server.kernels()) >= pool
        quiet = quiet + 1 if ready and busy < 15 else 0
        if quiet >= 3:
            return time.monotonic() - start - 3
    raise TimeoutError(f"the pool of {pool} pre-heated kernels was not ready within {timeout:.0f} s")


def cpu_seconds(server: present.PresentServer) -> dict[int, tuple[str, float]]:
    """CPU seconds so far of every process of this test, by pid: ('voila' | 'kernels' | 'browser', seconds).

    A kernel's figure includes the finished children it waited for (Graphviz's `dot` for the graph tab).
    """
    import psutil

    out = {}
    kernel_pids = {p.pid for p in server.kernels()}
    for proc in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            t = proc.cpu_times()
            if proc.pid == server.process.pid:
                out[proc.pid] = ("voila", t.user + t.system)
            elif proc.pid in kernel_pids:
                out[proc.pid] = ("kernels", t.user + t.system + t.children_user + t.children_system)
            elif proc.ppid() in kernel_pids:
                continue  # a running `dot`: its parent counts it once it ends
            else:
                out[proc.pid] = ("browser", t.user + t.system)  # Playwright's driver and Chromium
    return out


def cpu_used(before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]]) -> dict[str, float]:
    used = {"voila": 0.0, "kernels": 0.0, "browser": 0.0}
    for pid, (group, seconds) in after.items():
        used[group] += seconds - before.get(pid, (group, 0.0))[1]
    return used


def kernels_alive(server: present.PresentServer, kernel_ids: list[str]) -> list[str]:
    """Those of `kernel_ids` whose kernel process still runs (its connection file names the id)."""
    running = " ".join(k["cmd"] for k in kernel_memory(server).values())
    return [k for k in kernel_ids if k and k in running]


# --------------------------------------------------------------------------- one student

async def press_latency(page, key: str) -> float:
    """Arms the in-page probe, presses `key` on the H slider's handle; ms until the trace changed (-1: no change)."""
    await page.evaluate(ARM_LATENCY)
    slider = page.locator(".fe-present .fusion-edu-explorer .widget-slider",
                          has=page.locator("label:text-is('H')"))
    await slider.locator(".noUi-handle").first.focus()
    await page.keyboard.press(key)
    return await page.evaluate("() => window.__feLatency")


async def student(browser, url: str, session: Session, delay: float, done: asyncio.Event, everyone: asyncio.Event,
                  page_timeout_s: float) -> tuple:
    """Opens the dashboard, drags, waits for the rest of the class; returns (context, page) still open."""
    await asyncio.sleep(delay)
    context = await browser.new_context(viewport={"width": 1280, "height": 720})
    page = await context.new_page()
    try:
        start = time.monotonic()
        response = await page.goto(url, timeout=page_timeout_s * 1e3)
        if response is not None and response.status == 503:
            session.failure = "class full (503)"
            return context, page
        if response is not None and response.request.timing.get("responseEnd", -1) >= 0:
            session.html_s = response.request.timing["responseEnd"] / 1e3
        await page.wait_for_selector(TRACE, timeout=page_timeout_s * 1e3)
        session.first_page_s = time.monotonic() - start
        session.kernel_id = await page.evaluate(
            "() => { const c = document.getElementById('jupyter-config-data');"
            " return c ? (JSON.parse(c.textContent).kernelId || '') : ''; }")
        for i in range(PRESSES):  # one step left, one back, ...
            ms = await press_latency(page, "ArrowLeft" if i % 2 == 0 else "ArrowRight")
            if ms < 0:
                session.failure = session.failure or "slider press without update (10 s)"
            else:
                session.slider_ms.append(ms)
        if await page.locator("text=Traceback").count():
            session.failure = session.failure or "traceback on the page"
    except Exception as e:  # noqa: BLE001 - one student's failure is a result, not the end of the test
        session.failure = session.failure or f"{type(e).__name__}: {str(e).splitlines()[0][:120]}"
    finally:
        done.set()
    await everyone.wait()
    return context, page


# --------------------------------------------------------------------------- the class

async def run_class(server: present.PresentServer, args: argparse.Namespace, memory: Memory) -> dict:
    from playwright.async_api import async_playwright

    sessions = [Session(i) for i in range(args.sessions)]
    everyone = asyncio.Event()
    dones = [asyncio.Event() for _ in sessions]
    result: dict = {"sessions": sessions}
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=lab.CHROMIUM, args=lab.CHROMIUM_FLAGS, headless=True)
        try:
            load_before = os.getloadavg()[0]
            cpu_before = cpu_seconds(server)
            start = time.monotonic()
            spacing = args.arrival / max(1, args.sessions - 1)
            tasks = [asyncio.create_task(student(browser, server.url, s, spacing * s.index, done, everyone,
                                                 args.page_timeout))
                     for s, done in zip(sessions, dones)]
            await asyncio.gather(*(d.wait() for d in dones))
            result["class_s"] = time.monotonic() - start
            result["cpu"] = cpu_used(cpu_before, cpu_seconds(server))
            result["load_during"] = max(load_before, os.getloadavg()[0])
            memory.snapshot = kernel_memory(server)  # every student's kernel is alive here
            everyone.set()
            opened = await asyncio.gather(*tasks)
            result["close"] = await close_all(server, opened, sessions, args)
        finally:
            await browser.close()
    return result


async def close_all(server: present.PresentServer, opened: list[tuple], sessions: list[Session],
                    args: argparse.Namespace) -> dict:
    """Closes half the pages as a tab closes (beforeunload) and abandons the rest; waits for their kernels to stop."""
    closed_ids, abandoned_ids = [], []
    for (context, page), s in zip(opened, sessions):
        if s.index % 2 == 0:
            with contextlib.suppress(Exception):  # the page's beforeunload sends Voilà its shutdown beacon
                async with page.expect_event("close", timeout=10_000):
                    await page.close(run_before_unload=True)
                await asyncio.sleep(0.5)  # let the beacon leave before the context goes
            closed_ids.append(s.kernel_id)
        else:
            abandoned_ids.append(s.kernel_id)
        with contextlib.suppress(Exception):
            await context.close()
    start = time.monotonic()
    closed_ids = [k for k in closed_ids if k]
    abandoned_ids = [k for k in abandoned_ids if k]
    out = {"closed": len(closed_ids), "abandoned": len(abandoned_ids), "closed_s": None, "abandoned_s": None}
    deadline = start + args.cull_idle + 3 * max(1, min(60, args.cull_idle // 4)) + 30
    while time.monotonic() < deadline:
        if out["closed_s"] is None and not kernels_alive(server, closed_ids):
            out["closed_s"] = time.monotonic() - start
        if out["abandoned_s"] is None and not kernels_alive(server, abandoned_ids):
            out["abandoned_s"] = time.monotonic() - start
        if out["closed_s"] is not None and out["abandoned_s"] is not None:
            break
        await asyncio.sleep(1.0)
    out["left"] = len(kernels_alive(server, closed_ids + abandoned_ids))
    return out


def watchdog(seconds: float, server_ref: list) -> threading.Timer:
    """Ends the process after `seconds`, stopping the server's kernels first: the test stops by itself."""
    def fire() -> None:
        print(f"load test: hard timeout after {seconds:.0f} s; stopping the server and exiting", flush=True)
        for server in server_ref:
            with contextlib.suppress(Exception):
                for k in server.kernels():
                    k.kill()
                server.process.kill()
        os._exit(4)

    timer = threading.Timer(seconds, fire)
    timer.daemon = True
    timer.start()
    return timer


# --------------------------------------------------------------------------- RESULTS.md

def row(args: argparse.Namespace, result: dict, memory: Memory, pool_s: float | None, load_before: float) -> dict:
    sessions: list[Session] = result["sessions"]
    first = [s.first_page_s for s in sessions if s.first_page_s is not None]
    html = [s.html_s for s in sessions if s.html_s is not None]
    slider = [ms for s in sessions for ms in s.slider_ms]
    failures = [s.failure for s in sessions if s.failure]
    rss = [m["rss"] for m in memory.snapshot.values()]
    pss = [m["pss"] for m in memory.snapshot.values()]
    ok = (not failures and len(first) == len(sessions) and pct(first, 0.95) < GOAL_FIRST_PAGE_S
          and pct(slider, 0.95) < GOAL_SLIDER_MS)
    return {
        "key": f"{args.sessions} sessions, {args.pool} pre-heated, max {args.max_kernels}, "
               f"refill after {args.refill_delay:g} s, arrivals {args.arrival:g} s",
        "date": datetime.date.today().isoformat(),
        "load": f"{load_before:.1f} / {result['load_during']:.1f}",
        "pool_s": "-" if pool_s is None else f"{pool_s:.0f}",
        "first": f"{pct(first, 0.5):.1f} / {pct(first, 0.95):.1f} / {max(first, default=float('nan')):.1f}",
        "html": f"{pct(html, 0.5):.1f} / {pct(html, 0.95):.1f}" if html else "-",
        "slider": f"{pct(slider, 0.5):.0f} / {pct(slider, 0.95):.0f} / {max(slider, default=float('nan')):.0f}",
        "presses": str(len(slider)),
        "kernel_mb": f"{statistics.median(rss) / 2**20:.0f}" if rss else "-",
        "total_gb": f"{sum(rss) / 2**30:.1f} / {sum(pss) / 2**30:.1f} ({len(rss)})" if rss else "-",
        "cpu": "{voila:.0f} / {kernels:.0f} / {browser:.0f}".format(**result["cpu"]),
        "failures": f"{len(failures)}" + (f": {'; '.join(sorted(set(failures)))}" if failures else ""),
        "goal": "met" if ok else "MISSED",
    }


COLUMNS = [("key", "configuration"), ("date", "date"), ("load", "load avg before / during"),
           ("pool_s", "pool ready s"), ("html", "page sent p50 / p95 s"), ("first", "first page p50 / p95 / max s"),
           ("slider", "slider p50 / p95 / max ms"), ("presses", "presses"), ("kernel_mb", "kernel RSS MB (median)"),
           ("total_gb", "all kernels RSS / PSS GB (kernels)"), ("cpu", "CPU s: Voilà / kernels / browser"),
           ("failures", "failures"),
           ("goal", f"goal (p95 < {GOAL_FIRST_PAGE_S:g} s, < {GOAL_SLIDER_MS:g} ms, 0 failed)")]


def old_rows(text: str) -> list[str]:
    """The table rows of an earlier section (other configurations stay)."""
    if BEGIN not in text or END not in text:
        return []
    body = text.split(BEGIN, 1)[1].split(END, 1)[0]
    return [line for line in body.splitlines() if line.startswith("| ") and " sessions, " in line]


def section(rows: list[str], close_note: str) -> str:
    head = "| " + " | ".join(title for _, title in COLUMNS) + " |"
    text_columns = ("key", "date", "failures", "goal", "load")
    rule = "|" + "|".join("---" if k in text_columns else "---:" for k, _ in COLUMNS) + "|"
    lines = [BEGIN, "## 6. A class on one server: N students at once (`make load`)", "",
             f"Measured by benchmarks/load_test.py on this machine ({os.cpu_count()} CPUs, "
             f"{_memory_gib():.0f} GiB): `make present`'s server (tools/present.py) with the pre-heated pool "
             "given, and one headless Chromium with one context per student, on the same cores. The students "
             "arrive once the pool is ready, all at once (`arrivals 0 s`) or spread over the seconds given. Each "
             f"waits for the first trace table, then presses an arrow key on the H slider {PRESSES} times. "
             "`page sent`: page request → the page's last byte from the server (the server's part). "
             "`first page`: page request → first trace table on screen (adds the browser's work). "
             "`slider`: key press → changed table, in the page. "
             "Memory: the kernels while every student is connected; PSS counts pages that kernels share once. "
             "`CPU s`: CPU time used while the class arrived and dragged, by the server (Voilà's process), by its "
             "kernels (with Graphviz for the graph tab) and by the browser simulating the students (Playwright "
             "and Chromium; in a real class each student's own computer does that part). "
             "`load avg`: the machine's 1-minute load average before the server started (other work on this "
             "machine) and its highest reading during the class. `refill after`: how long the server waits before "
             "it replaces a pre-heated kernel that a student took (a kernel start, about 3 CPU s).", "",
             head, rule, *rows, "", close_note, END]
    return "\n".join(lines) + "\n"


def _memory_gib() -> float:
    import psutil

    return psutil.virtual_memory().total / 2**30



def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=20, help="students at once")
    parser.add_argument("--pool", type=int, help="pre-heated kernels, ready before the class (default: --sessions)")
    parser.add_argument("--max-kernels", type=int, default=present.MAX_KERNELS, help="the server's kernel limit")
    parser.add_argument("--arrival", type=float, default=0.0, help="seconds over which the students arrive")
    parser.add_argument("--refill-delay", type=float, default=present.REFILL_DELAY_S,
                        help="seconds before the server replaces a pre-heated kernel a student took")
    parser.add_argument("--cull-idle", type=int, default=90,
                        help="the server's idle time before an abandoned page's kernel is culled (s)")
    parser.add_argument("--page-timeout", type=float, default=180.0, help="a student gives up after this (s)")
    parser.add_argument("--timeout", type=float, default=900.0, help="hard limit for the whole test (s)")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "RESULTS.md"))
    parser.add_argument("--log", type=Path, help="keep Voilà's log of the run here")
    args = parser.parse_args(argv)
    args.pool = args.sessions if args.pool is None else args.pool
    reason = lab.browser_available()
    if reason:
        print(f"cannot run the load test: {reason}")
        return 1

    servers: list[present.PresentServer] = []
    timer = watchdog(args.timeout, servers)
    load_before = os.getloadavg()[0]
    memory, stop = Memory(), threading.Event()
    server = present.PresentServer(preheat=args.pool > 0, pool_size=max(args.pool, 1), max_kernels=args.max_kernels,
                                   cull_idle_s=args.cull_idle, refill_delay_s=args.refill_delay)
    servers.append(server)
    pids: list[int] = []
    try:
        server.start()
        pool_s = None
        if args.pool > 0:
            print(f"pre-heating {args.pool} kernels ...", flush=True)
            pool_s = wait_for_pool(server, args.pool, timeout=args.timeout / 2)
            print(f"pool ready after {pool_s:.0f} s", flush=True)
        sampler = threading.Thread(target=sample_memory, args=(server, memory, stop), daemon=True)
        sampler.start()
        print(f"{args.sessions} students open the dashboard ...", flush=True)
        result = asyncio.run(run_class(server, args, memory))
        pids = [p.pid for p in server.kernels()]
    finally:
        stop.set()
        if args.log:
            with contextlib.suppress(OSError):
                args.log.write_bytes(server.log.read_bytes())
        server.stop()
    import psutil

    left_after_stop = [pid for pid in pids if psutil.pid_exists(pid)]
    timer.cancel()

    this = row(args, result, memory, pool_s, load_before)
    close = result["close"]

    def secs(value: float | None) -> str:
        return "not within the wait" if value is None else f"{value:.0f} s"

    close_note = (f"Closing (latest run: {this['key']}): {close['closed']} pages closed as a tab closes; Voilà "
                  f"stopped their kernels within {secs(close['closed_s'])}. {close['abandoned']} pages abandoned "
                  f"(no goodbye); the culler ({args.cull_idle} s idle here, {present.CULL_IDLE_S} s in `make present`) "
                  f"stopped their kernels within {secs(close['abandoned_s'])}. Students' kernels still running "
                  f"after that: {close['left']}; kernel processes left after the server stopped: "
                  f"{len(left_after_stop)}. The whole class took {result['class_s']:.0f} s; peak while it ran: "
                  f"{memory.peak_kernels} kernels, {memory.peak_rss / 2**30:.1f} GB RSS.")
    cells = "| " + " | ".join(this[k] for k, _ in COLUMNS) + " |"
    path = Path(args.out)
    rows = [r for r in old_rows(path.read_text(encoding="utf-8") if path.exists() else "")
            if not r.startswith(f"| {this['key']} |")]
    text = section([*rows, cells], close_note)
    print(text)
    for s in result["sessions"]:
        if s.failure:
            print(f"session {s.index}: {s.failure}")
    write_section(text, path, BEGIN, END)
    print(f"wrote {path}")
    # Times depend on the machine and go into the table; a failed session or a kernel left running fails the run.
    broken = any(s.failure for s in result["sessions"]) or close["left"] or left_after_stop
    return 3 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
