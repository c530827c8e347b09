"""`make bench`: side-by-side speed ratios measured in one run, printed and written to benchmarks/RESULTS.md.

1. The explorer's update (`fusion_edu.explore.render` at the largest slider settings, on meta) against
   `torchinfo.summary(..., device="meta")` and `torchview.draw_graph(..., device="meta")` on the same block
   and dims. Goal: at most half of torchinfo's time, and under 30 ms at the 95th percentile.
2. Each annotated block with no trace active against the same block with `note` replaced by a no-op
   (median of many interleaved pairs), next to the overhead expected from the measured cost of one
   inactive `note` call. Goal: within 2 %.
3. `fusion_edu.autotrace` (any module, no note() calls) against torchview's `draw_graph` on meta, for every
   catalog block and three modules written for the benchmark (benchmarks/autotrace_bench.py). Goal: p50
   <= 50 ms and no slower than draw_graph.
4. Each notebook's execution time in a fresh kernel against the 60 s budget (skip with --no-notebooks).

Absolute times on a shared machine mean little; the ratios are measured side by side in one run.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import importlib
import itertools
import os
import platform
import re
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from fusion_edu.blocks import BLOCKS  # noqa: E402
from fusion_edu.render import render  # noqa: E402

LARGEST = dict(B=64, C=512, H=512, W=512)
BLOCK_MODULES = ["_common", "gated_fusion", "msf", "mfe", "safm", "osra", "msaa", "cbam_joint"]


def _times(fn, repeat: int, warmup: int = 3) -> list[float]:
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def _p95(times: list[float]) -> float:
    return statistics.quantiles(times, n=20)[-1] if len(times) >= 20 else max(times)


def explorer_rows(repeat: int) -> list[dict]:
    import torchinfo
    from torchview import draw_graph

    rows = []
    for key, spec in BLOCKS.items():
        r = render(key, **LARGEST)
        assert r.ok, r.error

        heights = itertools.cycle([LARGEST["H"], LARGEST["H"] - 1])  # a drag: H moves 512 <-> 511

        def ours(key=key, heights=heights):
            render(key, **{**LARGEST, "H": next(heights)})

        def info(spec=spec):
            model, inputs = spec.build(device="meta", **LARGEST)
            torchinfo.summary(model, input_data=inputs, device="meta", verbose=0)

        built, built_inputs = spec.build(device="meta", **LARGEST)

        def info_reused(model=built, inputs=built_inputs):
            torchinfo.summary(model, input_data=inputs, device="meta", verbose=0)

        def view(spec=spec):
            model, inputs = spec.build(device="meta", **LARGEST)
            draw_graph(model, input_data=inputs, device="meta", expand_nested=True)

        few = max(5, repeat // 4)
        t_ours, t_info, t_view = _times(ours, repeat), _times(info, few), _times(view, few)
        t_reused = _times(info_reused, few)
        rows.append(dict(key=key, ours_p50=statistics.median(t_ours), ours_p95=_p95(t_ours),
                         info=statistics.median(t_info), info_reused=statistics.median(t_reused),
                         view=statistics.median(t_view)))
    return rows


def _noop_note(tensor, spec, zh, en, *, key=None, **dims):
    """`note` with its signature and nothing else."""
    return tensor


def _noop_step(*args, **kwargs):
    """`section` / `watch` with nothing inside."""


NOOPS = {"note": _noop_note, "section": _noop_step, "watch": _noop_step}


@contextlib.contextmanager
def _noop_notes():
    """Replaces `note`, `section` and `watch` in every block module by functions that do nothing else."""

    modules = [importlib.import_module(f"fusion_edu.blocks.{name}") for name in BLOCK_MODULES]
    saved = [(m, name, getattr(m, name)) for m in modules for name in NOOPS if hasattr(m, name)]
    for m, name, _ in saved:
        setattr(m, name, NOOPS[name])
    try:
        yield
    finally:
        for m, name, original in saved:
            setattr(m, name, original)


def _forward_pairs(model, inputs, rounds: int) -> tuple[float, float, float]:
    """Median per-forward time of the annotated block, of the no-op variant, and the median paired ratio.

    The two variants run one forward each, back to back, `rounds` times (the order alternates);
    the median of the per-pair ratios is robust to the slow drifts of a shared machine, which
    the best-of or mean of each variant alone were not (they scattered +-5 % on a quiet machine).
    """
    annotated, noop = [], []
    with torch.no_grad():
        for i in range(rounds):
            for variant in ((0, 1) if i % 2 == 0 else (1, 0)):
                ctx = _noop_notes() if variant else contextlib.nullcontext()
                with ctx:
                    start = time.perf_counter()
                    model(*inputs)
                    elapsed = time.perf_counter() - start
                (noop if variant else annotated).append(elapsed)
    ratio = statistics.median(a / b for a, b in zip(annotated, noop))
    return statistics.median(annotated), statistics.median(noop), ratio


def note_call_cost(n: int = 200_000) -> float:
    """Seconds that one inactive `note` call costs more than a call of the no-op, best of 5."""
    from fusion_edu.trace import note

    x = torch.zeros(1)
    best = {}
    for name, fn in (("note", note), ("noop", _noop_note)):
        times = []
        for _ in range(5):
            start = time.perf_counter()
            for _ in range(n):
                fn(x, "B C H W", "", "")
            times.append((time.perf_counter() - start) / n)
        best[name] = min(times)
    return max(0.0, best["note"] - best["noop"])


def annotation_rows(rounds: int) -> list[dict]:
    from fusion_edu.trace import trace

    per_call = note_call_cost()
    rows = []
    for key, spec in BLOCKS.items():
        for label, (model, inputs) in (("note demo", spec.demo()), ("small", spec.build(B=1, C=16, H=8, W=8))):
            model.eval()
            if key in ("gated_fusion", "mfe", "safm") and label == "note demo":
                model, inputs = spec.build()  # the note's demo is large; use the explorer's defaults
                model.eval()
                label = "default"
            notes = len(trace(model, *inputs).rows)
            with torch.no_grad():
                start = time.perf_counter()
                model(*inputs)
                once = time.perf_counter() - start
            pairs = min(rounds, max(200, int(4.0 / once)))  # about 8 s at most per row
            annotated, noop, ratio = _forward_pairs(model, inputs, pairs)
            rows.append(dict(key=key, size=label, shape=tuple(inputs[0].shape), annotated=annotated, noop=noop,
                             ratio=ratio, pairs=pairs, notes=notes,
                             expected=1 + notes * per_call / noop, per_call=per_call))
    return rows


def notebook_rows() -> list[dict]:
    import nbformat
    from nbclient import NotebookClient

    rows = []
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        start = time.perf_counter()
        error = ""
        try:
            NotebookClient(nb, timeout=300, kernel_name="python3",
                           resources={"metadata": {"path": str(ROOT / "notebooks")}}).execute()
        except Exception as e:  # noqa: BLE001 - reported in the table
            error = f"{type(e).__name__}"
        rows.append(dict(name=path.name, seconds=time.perf_counter() - start, error=error))
    return rows


def _kept_sections(old: str) -> str:
    """Sections other scripts write between their own markers (e.g. `make latency`'s classroom numbers)."""
    found = re.finditer(r"<!-- (\w+):begin -->.*?<!-- \1:end -->", old, flags=re.S)
    return "\n\n".join(m.group(0) for m in found)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return (f"{cpu}; {os.cpu_count()} logical CPUs; torch {torch.__version__} ({torch.get_num_threads()} threads); "
            f"Python {platform.python_version()}; {platform.system()} {platform.release()}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=40, help="explorer renders per block")
    parser.add_argument("--rounds", type=int, default=1500, help="interleaved pairs of forward passes per block")
    parser.add_argument("--no-notebooks", action="store_true", help="skip executing the notebooks")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "RESULTS.md"))
    args = parser.parse_args(argv)

    lines = ["# Benchmark results", "",
             f"Measured {datetime.date.today().isoformat()} by `make bench` on: {machine()}.", "",
             "Ratios are measured side by side in one run; absolute times on a shared machine vary.", ""]

    print("explorer update at B=64, C=512, H=W=512 (meta) ...", flush=True)
    rows = explorer_rows(args.repeat)
    lines += ["## 1. Explorer update vs torchinfo and torchview (largest slider settings, meta device)", "",
              "render runs as a drag does (H moves 512 ↔ 511), so it reuses the block it built on meta while "
              "B, H and W move; torchinfo and torchview build the block on meta each call, as a summary of a "
              "new setting does. `torchinfo, block reused` gives torchinfo the same reuse.", "",
              "| block | render p50 ms | render p95 ms | torchinfo ms | torchinfo, block reused ms | torchview ms | "
              "render / torchinfo | render / torchinfo, block reused | goal (≤ 0.5, p95 < 30 ms) |",
              "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        ratio = r["ours_p50"] / r["info"]
        ok = ratio <= 0.5 and r["ours_p95"] < 0.030
        lines.append(f"| {r['key']} | {r['ours_p50'] * 1e3:.1f} | {r['ours_p95'] * 1e3:.1f} | {r['info'] * 1e3:.1f} | "
                     f"{r['info_reused'] * 1e3:.1f} | {r['view'] * 1e3:.1f} | {ratio:.2f} | "
                     f"{r['ours_p50'] / r['info_reused']:.2f} | {'met' if ok else 'MISSED'} |")
    lines.append("")

    print("annotated blocks vs no-op notes ...", flush=True)
    torch.set_num_threads(1)
    rows = annotation_rows(args.rounds)
    per_call = rows[0]["per_call"]
    lines += ["## 2. Annotated blocks (no trace active) vs `note` replaced by a no-op", "",
              f"Up to {args.rounds} interleaved pairs of forward passes (annotated, no-op; `pairs`, fewer for slow "
              "blocks), eval mode, 1 thread; the times "
              "are medians and the ratio is the median of the per-pair ratios. "
              f"`expected` adds the direct cost of the inactive `note` calls ({per_call * 1e9:.0f} ns each more "
              "than a no-op call, measured over 200,000 calls) to the no-op time: the overhead the measured "
              "ratio should show if there were no noise.", "",
              "| block | size | input | notes | pairs | annotated µs | no-op µs | ratio | expected | goal (≤ 1.02) |",
              "|---|---|---|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        ratio = r["ratio"]
        lines.append(f"| {r['key']} | {r['size']} | {r['shape']} | {r['notes']} | {r['pairs']} | "
                     f"{r['annotated'] * 1e6:.1f} | "
                     f"{r['noop'] * 1e6:.1f} | {ratio:.3f} | {r['expected']:.4f} | "
                     f"{'met' if ratio <= 1.02 else 'MISSED'} |")
    lines.append("")

    print("autotrace vs torchview ...", flush=True)
    import autotrace_bench

    rows = autotrace_bench.measure(max(10, args.repeat // 2))
    lines += ["## 3. autotrace (any module, symbolic specs) vs torchview's draw_graph, on meta", "",
              "B=64, C=512, H=W=512 (the token MLP: N=4096). autotrace includes its meta twin, the perturbed runs that "
              "solve the symbolic specs and the descriptions; draw_graph builds its graph (no rendering). "
              "Calls interleaved, 1 thread. Goal: p50 ≤ 50 ms and ratio ≤ 1.", "",
              autotrace_bench.table(rows), ""]

    if not args.no_notebooks:
        print("notebooks in a fresh kernel ...", flush=True)
        rows = notebook_rows()
        lines += ["## 4. Notebooks, each in a fresh kernel, against the 60 s budget", "",
                  "| notebook | seconds | share of 60 s | result |", "|---|---:|---:|---|"]
        for r in rows:
            lines.append(f"| {r['name']} | {r['seconds']:.1f} | {r['seconds'] / 60:.2f} | {r['error'] or 'ok'} |")
        lines.append("")

    text = "\n".join(lines)
    print(text)
    out = Path(args.out)
    kept = _kept_sections(out.read_text(encoding="utf-8")) if out.exists() else ""
    out.write_text(text + ("\n" + kept + "\n" if kept else ""), encoding="utf-8")
    print(f"written to {os.path.relpath(args.out, ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
