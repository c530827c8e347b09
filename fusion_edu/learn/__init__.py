"""Learn by training and by answering: CPU-fast demos that make each block's mechanism visible,
and exercises with checks.

    from fusion_edu.learn import run_demo, DEMOS, exercise
    result = run_demo("msaa", seed=0)     # ~10 s on 2 CPU cores
    result.figure();
    exercise("osra", 1).check(6)

One module per block demo holds its data, its model around the block, its loss, its read-out and
its `Demo`: `gated_fusion`, `msf`, `mfe`, `safm`, `osra` (with the sr_ratio sweep), `msaa`,
`cbam_joint`. Shared machinery: `demo` (Demo, DemoResult, run_demo, the runners), `fit` (the
training loop), `figures` (before/after figures), `cache` (results shipped for the classroom),
`feedback` (the exercise engine), `exercises` (the questions per block), `remix_tasks` (the remix
lab's guided tasks), `reference` (standard CBAM for comparison).
"""

from . import cbam_joint, gated_fusion, mfe, msaa, msf, osra, safm
from .cache import CachedDemo, cached
from .cbam_joint import CBAMNet
from .demo import METRICS, Check, Demo, DemoResult, batches, pearson, run_demo
from .exercises import EXERCISES, exercise
from .feedback import Exercise, Feedback, Reveal
from .fit import fit
from .gated_fusion import GatedNet
from .mfe import MFENet
from .msaa import MSAANet
from .msf import MSFNet
from .osra import OSRANet, OSRASweep, osra_cost, osra_sweep
from .safm import SAFMNet

DEMOS: dict[str, Demo] = {
    "gated_fusion": gated_fusion.DEMO,
    "msf": msf.DEMO,
    "mfe": mfe.DEMO,
    "safm": safm.DEMO,
    "osra": osra.DEMO,
    "msaa": msaa.DEMO,
    "cbam_joint": cbam_joint.DEMO,
}

__all__ = ["DEMOS", "METRICS", "Check", "Demo", "DemoResult", "run_demo", "batches", "pearson", "fit",
           "OSRASweep", "osra_sweep", "osra_cost", "EXERCISES", "Exercise", "Feedback", "Reveal", "exercise",
           "CachedDemo", "cached", "GatedNet", "MSFNet", "MFENet", "SAFMNet", "OSRANet", "MSAANet", "CBAMNet"]
