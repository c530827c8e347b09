"""Learn by training and by answering: CPU-fast demos that make each block's mechanism visible,
and exercises with checks.

    from fusion_edu.learn import run_demo, DEMOS, exercise
    result = run_demo("msaa", seed=0)     # ~10 s on 2 CPU cores
    result.figure();
    exercise("osra", 1).check(6)

Submodules: `datasets` (synthetic, seeded data), `fit` (the training loop), `demos` (models,
read-outs, `run_demo`, `osra_sweep`), `figures` (before/after figures), `exercises`,
`reference` (standard CBAM for comparison).
"""

from .demos import DEMOS, METRICS, Demo, DemoResult, OSRASweep, osra_sweep, run_demo
from .exercises import EXERCISES, Exercise, exercise
from .fit import fit

__all__ = ["DEMOS", "METRICS", "Demo", "DemoResult", "OSRASweep", "osra_sweep", "run_demo", "EXERCISES", "Exercise",
           "exercise", "fit"]
