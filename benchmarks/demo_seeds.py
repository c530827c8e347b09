"""`make seeds`: every training demo over several seeds, before and after, against its bars.

Writes benchmarks/DEMO_SEEDS.md: per demo and metric the range over seeds before and after training,
the bar, how many seeds cleared it, and the training time per run (one CPU thread, as the notebooks).
This is the evidence behind each notebook's single asserted number (seed 0).

    .venv/bin/python benchmarks/demo_seeds.py [--seeds 8] [--only osra,msf]
"""

from __future__ import annotations

import argparse
import datetime
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.run import machine  # noqa: E402
from fusion_edu.learn import DEMOS, osra_sweep, run_demo  # noqa: E402


def _span(values: list[float]) -> str:
    return f"{min(values):.3f} – {max(values):.3f}"


def study(keys: list[str], seeds: int) -> tuple[list[str], list[str]]:
    """Returns the demo table's lines and the OSRA sweep table's lines (markdown)."""
    lines = ["| demo | metric | before (over seeds) | after (over seeds) | bar | seeds passed | models trained | "
             "train s (min – max) |", "|---|---|---|---|---|---|---|---|"]
    for key in keys:
        results = []
        for seed in range(seeds):
            result = run_demo(key, seed=seed, progress=False)
            results.append(result)
            print(f"{key} seed {seed}: {result.seconds:.1f} s, passed={result.passed} "
                  + ", ".join(f"{c.metric}={result.after[c.metric]:.3f}" for c in result.checks), flush=True)
        times = [r.seconds for r in results]
        for check in DEMOS[key].checks:
            before = [r.before.get(check.metric, float("nan")) for r in results]
            after = [r.after[check.metric] for r in results]
            passed = sum(check.ok(v) for v in after)
            lines.append(f"| {key} | {check.metric} | {_span(before)} | {_span(after)} | {check.op} "
                         f"{check.threshold:g} | {passed}/{seeds} | {len(results[0].models)} | "
                         f"{min(times):.1f} – {max(times):.1f} |")
    sweep_lines = ["| sr_ratio | accuracy (over seeds) | marker mass | uniform | ms/step (min – max) |",
                   "|---|---|---|---|---|"]
    if "osra" in keys:
        sweeps = [osra_sweep(seed=seed, progress=False) for seed in range(min(seeds, 6))]
        for i, row in enumerate(sweeps[0].rows):
            rows = [s.rows[i] for s in sweeps]
            ms = [r["ms_per_step"] for r in rows]
            sweep_lines.append(f"| {row['sr_ratio']} | {_span([r['accuracy'] for r in rows])} | "
                               f"{_span([r['marker_mass'] for r in rows])} | {_span([r['uniform_mass'] for r in rows])}"
                               f" | {min(ms):.1f} – {max(ms):.1f} |")
        sweep_lines.insert(0, f"OSRA sweep, {DEMOS['osra'].steps} steps per ratio, seeds 0–{len(sweeps) - 1}:\n")
    return lines, sweep_lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--only", default="", help="comma-separated demo keys (default: all)")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "DEMO_SEEDS.md"))
    args = parser.parse_args()
    keys = [k for k in DEMOS if not args.only or k in args.only.split(",")]
    torch.set_flush_denormal(True)
    table, sweep = study(keys, args.seeds)
    text = "\n".join([
        "# Training demos over seeds", "",
        f"Measured {datetime.date.today()} on {machine()}, one torch thread per run (as in the notebooks), "
        f"seeds 0–{args.seeds - 1}. `before` is the untrained block, `after` the trained one, both in eval mode "
        "on the demo's fixed test batch. `train s` is the whole demo: MSF, MFE and CBAM train two models each "
        "(the note's weighting and plain softmax; the task and a control task; the joint MLP and standard CBAM). "
        "Regenerate with `make seeds`.", "",
        *table, "", *sweep, ""])
    Path(args.out).write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
