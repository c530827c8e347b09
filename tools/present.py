"""`make present`: the classroom dashboard in Voilà, on 127.0.0.1, behind a random token.

    python tools/present.py [--port 8866] [--pool-size 1] [--no-preheat]

It prints the full URL with its token (Voilà's own log masks the token) and serves
notebooks/present/dashboard.ipynb with the code hidden. Requests without the token get a redirect
to a login page (302), never the dashboard. Every server setting lives in `SETTINGS` and
`voila_command` below, which the tests and `make latency` use too. Kernel limits and culling
(issue 15) belong there.

Pre-heating: Voilà starts `pool_size` kernels ahead and runs the dashboard in them before anyone asks, so
a visitor gets a dashboard that is already rendered and does not wait for torch to load in a fresh kernel
(see benchmarks/RESULTS.md, "Classroom dashboard"). Each pre-heated kernel holds a few hundred MB.
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
DEFAULT_PORT = 8866

# Voilà's settings, one per line. Keep every server option here.
SETTINGS = {
    "Voila.ip": "127.0.0.1",  # this machine only
    "Voila.port_retries": "0",  # fail on a busy port instead of silently moving (the printed URL must be right)
    "VoilaConfiguration.show_tracebacks": "False",  # a cell error shows a short note, never a traceback
    "VoilaConfiguration.theme": "light",
    "VoilaConfiguration.strip_sources": "True",  # code-free: the page carries no source
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def voila_command(port: int, token: str, *, preheat: bool = True, pool_size: int = 1,
                  notebook: Path = NOTEBOOK) -> list[str]:
    """The command line that serves `notebook` with every setting of `SETTINGS`, the port and the token."""
    cmd = [sys.executable, "-m", "voila", str(notebook), "--no-browser", f"--port={port}", f"--token={token}"]
    cmd += [f"--{name}={value}" for name, value in SETTINGS.items()]
    if preheat and pool_size > 0:
        cmd += ["--preheat_kernel=True", f"--pool_size={pool_size}"]
    return cmd


def url(port: int, token: str) -> str:
    return f"http://127.0.0.1:{port}/?token={token}"


class PresentServer:
    """`make present`'s server as a context manager, for tests and measurements (own runtime folders).

    Attributes:
        port, token: Where it listens and the token it wants.
        log: Voilà's log file.
    """

    def __init__(self, *, port: int | None = None, preheat: bool = True, pool_size: int = 1,
                 env: dict[str, str] | None = None):
        self.port = port or free_port()
        self.token = secrets.token_hex(16)
        self.home = Path(tempfile.mkdtemp(prefix="fusion-edu-present-"))
        self.log = self.home / "voila.log"
        self.cmd = voila_command(self.port, self.token, preheat=preheat, pool_size=pool_size)
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
    parser.add_argument("--screenshot", type=Path, help="save the dashboard at 1280x720 to this PNG and stop")
    args = parser.parse_args(argv)
    if args.screenshot:
        print(f"wrote {screenshot(args.screenshot)}")
        return 0
    token = secrets.token_hex(24)
    cmd = voila_command(args.port, token, preheat=not args.no_preheat, pool_size=args.pool_size)
    print(f"Dashboard · 课堂演示: open {url(args.port, token)}", flush=True)
    print("(Voilà's log below masks the token; Ctrl+C stops the server)", flush=True)
    process = subprocess.Popen(cmd, cwd=ROOT)
    try:
        return process.wait()
    except KeyboardInterrupt:
        process.send_signal(signal.SIGINT)
        return process.wait()


if __name__ == "__main__":
    sys.exit(main())
