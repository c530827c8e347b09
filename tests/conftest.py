import os

os.environ.setdefault("MPLBACKEND", "Agg")

import pytest  # noqa: E402
import torch  # noqa: E402

from fusion_edu.lang import set_lang  # noqa: E402

# Test tensors are tiny: one thread avoids oversubscribing a small CI machine (2 cores, other processes).
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _seed_and_language():
    """Every test starts seeded and in the course's default language (a test may call set_lang)."""
    torch.manual_seed(0)
    previous = set_lang("zh")
    yield
    set_lang(previous)
