"""`make present`: the classroom dashboard in Voilà, on 127.0.0.1, behind a random token.

    python tools/present.py [--port 8866] [--pool-size 1] [--no-preheat] [--max-kernels 24] [--cull-idle 600]

It prints the full URL with its token (Voilà's own log masks the token) and serves
notebooks/present/dashboard.ipynb with the code hidden. Requests without the token get a redirect
to a login page (302), never the dashboard. Every server setting lives in `SETTINGS` and
`voila_command` below, which the tests, `make latency` and `make load` use too.

Pre-heating: Voilà starts `pool_size` kernels ahead and runs the dashboard in them before anyone asks, so
a visitor gets a dashboard that is already rendered and does not wait for torch to load in a fresh kernel
(see benchmarks/RESULTS.md, "Classroom dashboard"). Each pre-heated kernel holds a few hundred MB.

Limits for a whole class (issue 15), set on purpose:

* at most `MAX_KERNELS` kernels at once, pre-heated ones included: each holds about 0.35 GB, and the
  visitor after the last place gets a "class is full, try again" page (HTTP 503, in zh and en) from
  tools/voila_class.py, never a broken page;
* a pre-heated kernel that a visitor took is replaced `REFILL_DELAY_S` later, not at once, so the
  replacements do not compete with a class that is still arriving;
* a kernel whose page is gone (closed without saying so, or its connection lost) is culled after
  `CULL_IDLE_S` seconds idle. A page that closes normally stops its kernel at once (Voilà does that), and
  a kernel with an open page is never culled: a student's dashboard never dies under them.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "present" / "dashboard.ipynb"
LAUNCHER = ROOT / "tools" / "voila_class.py"  # Voilà, plus the kernel limit and the "class is full" page
DEFAULT_PORT = 8866
MAX_KERNELS = 24
"""The most kernels `make present` runs at once (see benchmarks/RESULTS.md, "A class on one server")."""
CULL_IDLE_S = 600
"""Seconds a kernel without a page may stay idle before it is culled."""
REFILL_DELAY_S = 60
"""Seconds before a pre-heated kernel that a visitor took is replaced (Voilà's default: 1 s).

A replacement is a kernel start (~3 CPU s); a minute later it no longer competes with the students who
are still arriving (make load, 10 students: first page p95 31 s with 1 s, 13 s with 60 s). Meanwhile a
visitor who finds the pool empty gets a kernel of their own at once (`voila_class.ClassKernelManager`)."""

# Voilà's settings, one per line. Keep every server option here.
SETTINGS = {
    "Voila.ip": "127.0.0.1",  # this machine only
    "Voila.port_retries": "0",  # fail on a busy port instead of silently moving (the printed URL must be right)
    "VoilaConfiguration.show_tracebacks": "False",  # a cell error shows a short note, never a traceback
    "VoilaConfiguration.theme": "light",
    "VoilaConfiguration.strip_sources": "True",  # code-free: the page carries no source
    # A whole class: Voilà's lab template plus the "class is full" page, and a kernel manager with a limit.
    "VoilaConfiguration.template": "fusion-edu",
    "VoilaConfiguration.multi_kernel_manager_class": "voila_class.ClassKernelManager",
    "Voila.identity_provider_class": "voila_class.ClassIdentityProvider",  # a closed page stops its kernel at once
    "ClassKernelManager.max_kernels": str(MAX_KERNELS),
    # A taken pre-heated kernel is replaced a minute later, after the rush (see REFILL_DELAY_S).
    "VoilaKernelManager.fill_delay": str(REFILL_DELAY_S),
    "MappingKernelManager.cull_idle_timeout": str(CULL_IDLE_S),
    "MappingKernelManager.cull_interval": "60",
    "MappingKernelManager.cull_connected": "False",  # an open page keeps its kernel
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def voila_command(port: int, token: str, *, preheat: bool = True, pool_size: int = 1, notebook: Path = NOTEBOOK,
                  max_kernels: int | None = None, cull_idle_s: int | None = None,
                  refill_delay_s: float | None = None, ip: str | None = None) -> list[str]:
    """The command line that serves `notebook` with every setting of `SETTINGS`, the port and the token.

    Args:
        max_kernels: Overrides `MAX_KERNELS` (0: no limit). It must leave room for the pre-heated pool.
        cull_idle_s: Overrides `CULL_IDLE_S`; the culler then looks every quarter of it (at most every 60 s).
        refill_delay_s: Overrides `REFILL_DELAY_S`.
        ip: Overrides the address Voilà listens on (127.0.0.1: this machine only).
    """
    settings = dict(SETTINGS)
    if max_kernels is not None:
        settings["ClassKernelManager.max_kernels"] = str(max_kernels)
    if cull_idle_s is not None:
        settings["MappingKernelManager.cull_idle_timeout"] = str(cull_idle_s)
        settings["MappingKernelManager.cull_interval"] = str(max(1, min(60, cull_idle_s // 4)))
    if refill_delay_s is not None:
        settings["VoilaKernelManager.fill_delay"] = f"{refill_delay_s:g}"
    if ip is not None:
        settings["Voila.ip"] = ip
    limit = int(settings["ClassKernelManager.max_kernels"])
    if preheat and 0 < limit < pool_size:
        raise ValueError(f"present: the pre-heated pool must fit under the kernel limit; got pool_size={pool_size}, "
                         f"max_kernels={limit}. Raise --max-kernels or lower --pool-size.")
    cmd = [sys.executable, str(LAUNCHER), str(notebook), "--no-browser", f"--port={port}", f"--token={token}"]
    cmd += [f"--{name}={value}" for name, value in settings.items()]
    if preheat and pool_size > 0:
        cmd += ["--preheat_kernel=True", f"--pool_size={pool_size}"]
    return cmd


def url(port: int, token: str, ip: str = "127.0.0.1") -> str:
    """The dashboard's full URL; a server on every address (0.0.0.0) is named by this machine's host name."""
    host = socket.getfqdn() if ip in ("0.0.0.0", "::", "") else ip
    return f"http://{host}:{port}/?token={token}"


class PresentServer:
    """`make present`'s server as a context manager, for tests and measurements (own runtime folders).

    Attributes:
        port, token: Where it listens and the token it wants.
        log: Voilà's log file.
    """

    def __init__(self, *, port: int | None = None, preheat: bool = True, pool_size: int = 1,
                 env: dict[str, str] | None = None, max_kernels: int | None = None, cull_idle_s: int | None = None,
                 refill_delay_s: float | None = None):
        self.port = port or free_port()
        self.token = secrets.token_hex(16)
        self.cmd = voila_command(self.port, self.token, preheat=preheat, pool_size=pool_size, max_kernels=max_kernels,
                                 cull_idle_s=cull_idle_s, refill_delay_s=refill_delay_s)
        self.home = Path(tempfile.mkdtemp(prefix="fusion-edu-present-"))
        self.log = self.home / "voila.log"
        self.env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(self.home / "runtime"),
                        JUPYTER_CONFIG_DIR=str(self.home / "config"), IPYTHONDIR=str(self.home / "ipython"),
                        **(env or {}))
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return url(self.port, self.token)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60) -> PresentServer:
        """Starts Voilà and waits until it answers (not until a pre-heated kernel is ready)."""
        self.process = subprocess.Popen(self.cmd, env=self.env, cwd=ROOT, stdout=self.log.open("wb"),
                                        stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Voilà exited early:\n{self.log.read_text(errors='replace')[-3000:]}")
            with contextlib.suppress(OSError):
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return self
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"Voilà did not listen on port {self.port} within {timeout} s")

    def status(self, path: str) -> int:
        """The HTTP status of GET `path` (redirects not followed)."""
        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args, **kwargs):
                return None

        opener = urllib.request.build_opener(NoRedirect)
        try:
            with opener.open(self.base + path, timeout=120) as response:
                return response.status
        except urllib.error.HTTPError as e:
            return e.code

    def kernels(self) -> list:
        """The server's kernel processes (psutil), pre-heated ones included."""
        import psutil

        if self.process is None or self.process.poll() is not None:
            return []
        try:
            children = psutil.Process(self.process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []
        return [p for p in children if _is_kernel(p)]

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # Voilà shuts its kernels down on SIGINT
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        shutil.rmtree(self.home, ignore_errors=True)

    def __enter__(self) -> PresentServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _is_kernel(process) -> bool:
    try:
        return "ipykernel_launcher" in " ".join(process.cmdline())
    except Exception:  # noqa: BLE001 - a process that ended meanwhile is no kernel
        return False


def screenshot(path: Path, key: str = "osra", lang: str = "zh") -> Path:
    """Saves the dashboard at 1280×720 (a projector), block `key` in `lang`, for the README (`make images`)."""
    import lab_driver as lab

    with PresentServer(preheat=False, env={"FUSION_EDU_LANG": lang}) as server, lab.open_browser(1280, 720) as page:
        lab.open_dashboard(page, server.url)
        lab.pick_block(page, key)
        page.wait_for_selector(".fe-present .fe-graph svg, .fe-present .fusion-edu-graph-missing", timeout=60_000)
        page.wait_for_timeout(500)
        page.screenshot(path=str(path))
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--pool-size", type=int, default=1, help="pre-heated kernels kept ready (0: none)")
    parser.add_argument("--no-preheat", action="store_true", help="start a kernel per visitor on request")
    parser.add_argument("--max-kernels", type=int, default=MAX_KERNELS,
                        help="most kernels at once, pre-heated ones included; the next visitor gets a "
                             "'class is full' page (0: no limit)")
    parser.add_argument("--ip", default="127.0.0.1",
                        help="address to listen on; 0.0.0.0 lets students' computers in (a trusted network only)")
    parser.add_argument("--cull-idle", type=int, default=CULL_IDLE_S,
                        help="seconds before a kernel whose page is gone is stopped (0: never)")
    parser.add_argument("--screenshot", type=Path, help="save the dashboard at 1280x720 to this PNG and stop")
    args = parser.parse_args(argv)
    if args.screenshot:
        print(f"wrote {screenshot(args.screenshot)}")
        return 0
    token = secrets.token_hex(24)
    try:
        cmd = voila_command(args.port, token, preheat=not args.no_preheat, pool_size=args.pool_size,
                            max_kernels=args.max_kernels, cull_idle_s=args.cull_idle, ip=args.ip)
    except ValueError as e:
        parser.error(str(e))
    print(f"Dashboard · 课堂演示: open {url(args.port, token, args.ip)}", flush=True)
    if args.ip not in ("127.0.0.1", "localhost", "::1"):
        print("注意：服务器对网络开放，只在可信的课堂网络里这样用；网址和 token 以明文 HTTP 传输。\n"
              "Note: the server is open to the network; use this on a trusted classroom network only "
              "(the URL and its token travel as plain HTTP).", flush=True)
    limit = f"at most {args.max_kernels} kernels" if args.max_kernels else "no kernel limit"
    print(f"({limit}, {0 if args.no_preheat else args.pool_size} pre-heated; "
          f"kernels without a page stop after {args.cull_idle} s idle)", flush=True)
    print("(Voilà's log below masks the token; Ctrl+C stops the server)", flush=True)
    process = subprocess.Popen(cmd, cwd=ROOT)
    try:
        return process.wait()
    except KeyboardInterrupt:
        process.send_signal(signal.SIGINT)
        return process.wait()


if __name__ == "__main__":
    sys.exit(main())
