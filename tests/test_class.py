"""A class on one server: `make present`'s limits, the "class is full" page, and culling that spares live pages."""

from __future__ import annotations

import asyncio
import re
import sys
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import present  # noqa: E402


def _settings(cmd: list[str]) -> dict[str, str]:
    return dict(arg[2:].split("=", 1) for arg in cmd if arg.startswith("--") and "=" in arg)


def test_make_present_sets_a_kernel_limit_and_culling_on_purpose():
    settings = _settings(present.voila_command(8866, "t0ken"))
    assert settings["VoilaConfiguration.multi_kernel_manager_class"] == "voila_class.ClassKernelManager"
    assert settings["VoilaConfiguration.template"] == "fusion-edu"  # lab + the "class is full" page
    assert int(settings["ClassKernelManager.max_kernels"]) == present.MAX_KERNELS > 1
    assert int(settings["MappingKernelManager.cull_idle_timeout"]) == present.CULL_IDLE_S > 0
    assert settings["MappingKernelManager.cull_connected"] == "False"  # a student's open page is never culled
    assert 0 < int(settings["MappingKernelManager.cull_interval"]) < present.CULL_IDLE_S
    assert float(settings["VoilaKernelManager.fill_delay"]) == present.REFILL_DELAY_S >= 10  # not in the rush


def test_limits_can_be_set_per_run_and_the_pool_must_fit_under_the_limit():
    settings = _settings(present.voila_command(8866, "t", max_kernels=3, cull_idle_s=40, refill_delay_s=1))
    assert settings["ClassKernelManager.max_kernels"] == "3" and settings["VoilaKernelManager.fill_delay"] == "1"
    assert settings["MappingKernelManager.cull_idle_timeout"] == "40"
    assert settings["MappingKernelManager.cull_interval"] == "10"
    with pytest.raises(ValueError, match=r"pool must fit under the kernel limit; got pool_size=5, max_kernels=4"):
        present.voila_command(8866, "t", pool_size=5, max_kernels=4)
    present.voila_command(8866, "t", pool_size=5, max_kernels=0)  # 0: no limit


def test_make_present_refuses_a_pool_larger_than_the_limit_with_a_message(capsys):
    with pytest.raises(SystemExit):
        present.main(["--pool-size", "30", "--max-kernels", "24"])
    assert "pool must fit under the kernel limit" in capsys.readouterr().err


def test_make_present_stays_on_this_machine_unless_told_and_then_says_so(capsys, monkeypatch):
    import subprocess

    assert _settings(present.voila_command(8866, "t"))["Voila.ip"] == "127.0.0.1"
    assert _settings(present.voila_command(8866, "t", ip="0.0.0.0"))["Voila.ip"] == "0.0.0.0"

    class Fake:
        def __init__(self, cmd, **kwargs):
            self.cmd = cmd

        def wait(self):
            return 0

    monkeypatch.setattr(subprocess, "Popen", Fake)
    assert present.main(["--port", "9124"]) == 0
    assert "plain HTTP" not in capsys.readouterr().out
    assert present.main(["--port", "9124", "--ip", "0.0.0.0"]) == 0
    out = capsys.readouterr().out
    assert "trusted classroom network only" in out and "可信的课堂网络" in out
    assert re.search(r"open http://(?!127\.0\.0\.1|0\.0\.0\.0)[^:/]+:9124/\?token=[0-9a-f]{48}", out)


def test_the_full_page_speaks_both_languages_and_retries():
    page = (ROOT / "tools" / "voila_share" / "voila" / "templates" / "fusion-edu" / "503.html").read_text("utf-8")
    assert "课堂已满" in page and "The class is full" in page
    assert 'http-equiv="refresh"' in page and "<script" not in page  # works however busy the server is


# --------------------------------------------------------------------------- the kernel manager, without a server

class _Kernel:
    def __init__(self, last_activity: datetime):
        self.last_activity = last_activity


def _manager(**kwargs):
    pytest.importorskip("voila", reason="voila is not installed (make present needs it)")
    import voila_class

    return voila_class, voila_class.ClassKernelManager(**kwargs)


def test_a_start_over_the_limit_is_refused_before_any_kernel_starts():
    voila_class, km = _manager(max_kernels=2)
    km._kernels.update({"a": object(), "b": object()})
    with pytest.raises(voila_class.ClassFullError) as info:
        asyncio.run(km.start_kernel(kernel_name="python3"))
    assert info.value.status_code == 503 and (info.value.running, info.value.limit) == (2, 2)
    assert set(km.list_kernel_ids()) == {"a", "b"}


def test_kernels_still_starting_count_against_the_limit():
    voila_class, km = _manager(max_kernels=2)
    km._kernels["a"] = object()
    km._starting.add("b")
    assert km.in_use() == 2
    with pytest.raises(voila_class.ClassFullError):
        asyncio.run(km.start_kernel(kernel_name="python3"))


def test_the_culler_spares_pooled_kernels_and_pages_still_loading_but_not_pages_gone():
    _, km = _manager(cull_idle_timeout=60, page_load_grace=300)
    now = datetime.now(timezone.utc)
    long_ago = now - timedelta(hours=1)
    for name in ("pooled", "loading", "gone", "never"):
        km._kernels[name] = _Kernel(long_ago)
    km._kernel_connections.update({name: 0 for name in km._kernels})
    km.notify_connect("gone")  # its page connected once ...
    km.notify_disconnect("gone")  # ... and went away
    km._waiting_since["never"] = long_ago  # out of the pool for an hour, its page never connected

    async def run():
        done = asyncio.get_running_loop().create_future()
        done.set_result({"kernel_id": "pooled"})
        km._pools = {"dashboard.ipynb": [done]}
        culled = []

        async def cull_kernel_if_idle(kernel_id):  # what jupyter_server decides, recorded instead of done
            kernel = km._kernels[kernel_id]
            if datetime.now(timezone.utc) - kernel.last_activity > timedelta(seconds=km.cull_idle_timeout):
                culled.append(kernel_id)

        km.cull_kernel_if_idle = cull_kernel_if_idle
        await km.cull_kernels()
        return culled

    assert sorted(asyncio.run(run())) == ["gone", "never"]
    assert datetime.now(timezone.utc) - km._kernels["pooled"].last_activity < timedelta(seconds=5)


# --------------------------------------------------------------------------- the server

def _get(server: present.PresentServer, path: str, data: bytes | None = None) -> tuple[int, str]:
    request = urllib.request.Request(server.base + path, data=data, method="GET" if data is None else "POST")
    try:
        with urllib.request.urlopen(request, timeout=180) as response:
            return response.status, response.read().decode("utf-8")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8")


def _wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.5)
    pytest.fail(f"{what} within {timeout:.0f} s")


def test_the_second_visitor_does_not_wait_for_a_delayed_refill():
    # Voilà hands the pending replacement of a taken pre-heated kernel to the next visitor, delay included:
    # with a refill delayed by a minute the second visitor waited 57 s. make present's own settings here.
    pytest.importorskip("voila", reason="voila is not installed (make present needs it)")
    with present.PresentServer(preheat=True, pool_size=1) as server:
        _wait_for(lambda: "Kernel pool of dashboard.ipynb is filled" in server.log.read_text(errors="replace"), 120,
                  "the pre-heated kernel was not ready")
        assert _get(server, f"/?token={server.token}")[0] == 200
        start = time.monotonic()
        status, page = _get(server, f"/?token={server.token}")
        waited = time.monotonic() - start
        assert status == 200 and "kernelId" in page
        assert waited < 30, f"the second visitor waited {waited:.0f} s"


def test_the_visitor_over_the_limit_gets_the_class_full_page_and_a_freed_place_is_preheated_again():
    pytest.importorskip("voila", reason="voila is not installed (make present needs it)")

    def log() -> str:
        return server.log.read_text(errors="replace")

    def kernel_id(page: str) -> str:
        return re.search(r'"kernelId": "([0-9a-f-]{36})"', page).group(1)

    with present.PresentServer(preheat=True, pool_size=1, max_kernels=1, refill_delay_s=1) as server:
        _wait_for(lambda: "Kernel pool of dashboard.ipynb is filled" in log(), 120, "the pre-heated kernel was not ready")
        status, first = _get(server, f"/?token={server.token}")  # takes the pre-heated kernel
        assert status == 200
        _wait_for(lambda: "the pre-heated pool is not refilled" in log(), 60, "the refill was not refused")

        # The first visitor closes the tab (Voilà's page posts this), with the refused refill just behind it.
        status, _ = _get(server, f"/voila/api/shutdown/{kernel_id(first)}?token={server.token}", data=b"")
        assert status == 204
        _wait_for(lambda: log().count("Kernel started") >= 2, 60, "the freed place was not pre-heated again")
        status, second = _get(server, f"/?token={server.token}")
        assert status == 200 and kernel_id(second) != kernel_id(first)

        for _ in range(2):  # the pool is not refilled (the class is full), and no kernel of one's own either
            status, full = _get(server, f"/?token={server.token}")
            assert status == 503
            assert "课堂已满，请稍后再试" in full and "The class is full: please try again" in full
            assert "最多运行 1 个" in full and "at most 1 dashboard sessions" in full
            assert "Traceback" not in full and "voila-error" not in full  # not the generic error page
        assert len(server.kernels()) == 1  # no kernel started for the refused visitors


# --------------------------------------------------------------------------- beyond one machine: repo2docker's files

def _apt_packages() -> list[str]:
    """apt.txt read as repo2docker reads it: one package a line, `#` starts a comment."""
    lines = (ROOT / "apt.txt").read_text(encoding="utf-8").splitlines()
    return [name for name in (line.partition("#")[0].strip() for line in lines) if name]


def test_apt_txt_brings_graphviz_and_a_cjk_font_as_ci_does():
    packages = _apt_packages()
    assert all(re.fullmatch(r"[a-z0-9][a-z0-9.+-]*", p) for p in packages), packages  # repo2docker refuses others
    assert {"graphviz", "fonts-noto-cjk"} <= set(packages)
    ci = set(re.findall(r"need_apt\+=\(([a-z0-9.+-]+)\)", (ROOT / ".ci" / "run").read_text(encoding="utf-8")))
    assert ci and ci - {"chromium"} <= set(packages), "CI installs a runtime package the image would lack"


def test_repo2docker_reads_the_root_files_and_installs_the_lock_with_the_repository_present():
    for other in ("binder", ".binder", "Dockerfile", "runtime.txt", "requirements.txt", "Pipfile"):
        assert not (ROOT / other).exists(), f"{other} would make repo2docker ignore or override environment.yml"
    text = (ROOT / "environment.yml").read_text(encoding="utf-8")
    pip = [line.strip()[2:].strip() for line in text.split("- pip:", 1)[1].splitlines() if line.strip().startswith("-")]
    # `-e .` is a local requirement: repo2docker then copies the repository before installing the environment,
    # so `-r requirements.lock` is there to be read.
    assert "-e ." in pip and "-r requirements.lock" in pip
    deps = (ROOT / "pyproject.toml").read_text(encoding="utf-8").split("dependencies = [", 1)[1].split("]", 1)[0]
    assert re.search(r'"voila[<>=]', deps), "the dashboard's server must be a runtime dependency to reach the image"
    assert re.search(r"^voila==", (ROOT / "requirements.lock").read_text(encoding="utf-8"), re.M)


def test_postbuild_is_executable_and_fetches_nothing_beyond_the_package_index():
    import os
    import subprocess

    post = ROOT / "postBuild"
    text = post.read_text(encoding="utf-8")
    assert text.startswith("#!/usr/bin/env bash\n") and "set -euo pipefail" in text
    mode = subprocess.run(["git", "ls-files", "-s", "postBuild"], cwd=ROOT, capture_output=True, text=True).stdout
    assert mode.startswith("100755") or os.access(post, os.X_OK)
    code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    for fetch in ("curl", "wget", "git ", "npm", "http://", "https://", "make font", "apt-get", "conda ", "mamba"):
        assert fetch not in code, f"postBuild fetches with {fetch!r}; packages belong in apt.txt or the lock"
    assert all("--no-deps" in line for line in code.splitlines() if "pip install" in line)


def test_postbuild_runs_without_a_network_and_builds_the_font_cache(tmp_path):
    import os
    import shutil
    import subprocess

    if shutil.which("unshare") is None or subprocess.run(["unshare", "-rn", "true"]).returncode != 0:
        pytest.skip("no network namespace here (unshare -rn)")
    env = dict(os.environ, HOME=str(tmp_path), PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
               MPLBACKEND="Agg")
    for name in ("MPLCONFIGDIR", "XDG_CACHE_HOME", "XDG_CONFIG_HOME"):
        env.pop(name, None)
    done = subprocess.run(["unshare", "-rn", "bash", "postBuild"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert list((tmp_path / ".cache" / "matplotlib").glob("fontlist-*.json")), "no matplotlib font cache was built"
