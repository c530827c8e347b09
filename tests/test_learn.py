"""Training demos: seeded data, the fit loop, read-outs before training, and shortened runs that move the
block's own internal quantity in the right direction, past a meaningful bar.

The full-length runs (the demo's own step counts) clear the thresholds in DEMOS on seeds 0-7; here the
steps are cut (see SHORT) and the bars are the looser ones a shortened run reaches with a margin.
"""

import os

os.environ.setdefault("MPLBACKEND", "Agg")

import matplotlib  # noqa: E402

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from fusion_edu import ShapeError  # noqa: E402
from fusion_edu.blocks import BLOCKS, reduced_size  # noqa: E402
from fusion_edu.learn import (  # noqa: E402
    DEMOS,
    METRICS,
    batches,
    cbam_joint,
    fit,
    gated_fusion,
    mfe,
    msaa,
    msf,
    osra,
    pearson,
    run_demo,
    safm,
)
from fusion_edu.learn.figures import loss_curve  # noqa: E402
from fusion_edu.learn.osra import marker_mask, osra_cost, osra_sweep  # noqa: E402
from fusion_edu.learn.reference import StandardCBAM  # noqa: E402

# Shortened runs for the tests (the demos' own counts are in DEMOS[key].steps).
SHORT = {"gated_fusion": 300, "msf": 150, "mfe": 120, "safm": 300, "osra": 250, "msaa": 150, "cbam_joint": 300}

MAKERS = {
    "sensor_pair": (gated_fusion.sensor_pair, {"a": (3, 1, 24, 24), "b": (3, 1, 24, 24), "clean": (3, 1, 24, 24),
                                     "mask": (3, 1, 24, 24)}),
    "stripe_inputs": (msf.stripe_inputs, {"xs": (4, 3, 8, 16, 16), "label": (3,)}),
    "dot_counts": (mfe.dot_counts, {"x": (3, 1, 32, 32), "target": (3, 1, 32, 32)}),
    "shape_edges": (safm.shape_edges, {"x": (3, 1, 32, 32), "edges": (3, 1, 32, 32)}),
    "marker_colours": (osra.marker_colours, {"x": (3, 3, 16, 16), "label": (3,), "pos": (3, 2)}),
    "multiscale_blobs": (msaa.multiscale_blobs, {"x": (3, 1, 32, 32), "mask": (3, 1, 32, 32)}),
    "coloured_object": (cbam_joint.coloured_object, {"x": (3, 3, 16, 16), "label": (3,), "mask": (3, 1, 16, 16)}),
}


@pytest.fixture(scope="module")
def results():
    """One shortened run per demo (seed 0), shared by the tests below."""
    return {key: run_demo(key, seed=0, steps=SHORT[key], progress=False) for key in DEMOS}


@pytest.fixture(autouse=True)
def _no_global_state(monkeypatch):
    """Figures never call plt.show() nor change rcParams; close them after each test."""
    before = dict(matplotlib.rcParams)
    monkeypatch.setattr(plt, "show", lambda *a, **k: pytest.fail("figures must not call plt.show()"))
    yield
    assert dict(matplotlib.rcParams) == before
    plt.close("all")


# --------------------------------------------------------------------------- datasets

@pytest.mark.parametrize("name", list(MAKERS))
def test_dataset_shapes_and_determinism(name):
    make, shapes = MAKERS[name]
    a = make(3, torch.Generator().manual_seed(5))
    b = make(3, torch.Generator().manual_seed(5))
    c = make(3, torch.Generator().manual_seed(6))
    assert {k: tuple(v.shape) for k, v in a.items()} == shapes
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert any(not torch.equal(a[k], c[k]) for k in a)


def test_datasets_hold_what_their_docstrings_promise():
    g = torch.Generator().manual_seed(0)
    s = gated_fusion.sensor_pair(8, g)
    clean_a, clean_b = s["mask"] == 1, s["mask"] == 0
    assert torch.equal(s["a"][clean_a], s["clean"][clean_a]) and torch.equal(s["b"][clean_b], s["clean"][clean_b])
    assert set(s["mask"].unique().tolist()) == {0.0, 1.0}

    st = msf.stripe_inputs(256, g)
    assert st["xs"].mean(dim=(1, 2, 3, 4)).sub(0.5).abs().max() < 0.01  # every input has mean 0.5
    assert msf.stripe_inputs(4, g, zero_mean=True)["xs"].mean().abs() < 0.05

    d = mfe.dot_counts(4, g, radius=1)
    x = torch.nn.functional.pad(d["x"], (1, 1, 1, 1))
    plus = x[..., 1:-1, 1:-1] + x[..., :-2, 1:-1] + x[..., 2:, 1:-1] + x[..., 1:-1, :-2] + x[..., 1:-1, 2:]
    assert torch.allclose(d["target"] * 0.02 * 5, plus, atol=1e-5)  # count within radius 1, normalised
    assert mfe.disk_kernel(1).sum() == 5 and mfe.disk_kernel(10).shape == (1, 1, 21, 21)

    m = osra.marker_colours(6, g)
    for i in range(6):
        y, x = m["pos"][i]
        assert torch.equal(m["x"][i, :, y, x], 1.5 * osra.CORNERS[m["label"][i]])

    o = cbam_joint.coloured_object(6, g)
    assert torch.equal(o["mask"].sum(dim=(1, 2, 3)), torch.full((6,), 16.0))
    assert safm.edge_map(torch.ones(1, 1, 8, 8)).sum() == 0

    with pytest.raises(ValueError, match="stripe_inputs: informative must be"):
        msf.stripe_inputs(2, g, informative=4)


def test_batches_stream_is_endless_and_seeded():
    first = [b["x"] for b, _ in zip(batches(mfe.dot_counts, 2, seed=3), range(3))]
    again = [b["x"] for b, _ in zip(batches(mfe.dot_counts, 2, seed=3), range(3))]
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    assert not torch.equal(first[0], first[1])


# --------------------------------------------------------------------------- fit loop

def test_fit_reduces_the_loss_and_returns_one_value_per_step():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 16), torch.nn.ReLU(), torch.nn.Linear(16, 1))
    w = torch.tensor([[1.0], [-2.0], [0.5]])
    data = iter(lambda: torch.randn(32, 3), None)
    losses = fit(model, data, 150, 2e-2, lambda m, x: ((m(x) - x @ w) ** 2).mean(), progress=False)
    assert len(losses) == 150 and all(isinstance(v, float) for v in losses)
    assert sum(losses[-15:]) / 15 < 0.05 * sum(losses[:15]) / 15
    assert not model.training  # eval mode after training


def test_fit_rejects_bad_arguments_with_clear_messages():
    model = torch.nn.Linear(1, 1)
    data = iter(lambda: torch.zeros(1, 1), None)
    with pytest.raises(ValueError, match="fit: steps must be >= 0"):
        fit(model, data, -1, 0.1, lambda m, x: m(x).sum())
    with pytest.raises(ValueError, match="fit: lr must be a positive number"):
        fit(model, data, 1, 0.0, lambda m, x: m(x).sum())
    with pytest.raises(TypeError, match="fit: loss_fn must be a function"):
        fit(model, data, 1, 0.1, "mse")


# --------------------------------------------------------------------------- catalog and helpers

def test_every_block_has_a_demo_with_bilingual_text_and_known_metrics():
    assert set(DEMOS) == set(BLOCKS)
    for key, demo in DEMOS.items():
        assert demo.title_zh == BLOCKS[key].title_zh and demo.title_en == BLOCKS[key].title_en
        assert demo.task_zh and demo.task_en and demo.before_zh and demo.before_en
        assert demo.metric in METRICS and all(c.metric in METRICS for c in demo.checks)
        assert demo.checks[0].metric == demo.metric and demo.checks[0].threshold == demo.threshold
        assert demo.steps > SHORT[key]


def test_pearson_and_marker_cells():
    a = torch.arange(10.0)
    assert pearson(a, 2 * a + 1).item() == pytest.approx(1.0)
    assert pearson(a, -a).item() == pytest.approx(-1.0)
    assert pearson(torch.stack([a, a]), torch.stack([a, -a]), per_image=True).tolist() == pytest.approx([1, -1])
    # sr=2: cell j is centred on pixel 2j; an odd position lies half-way and counts both neighbours
    cells = marker_mask(torch.tensor([[4, 5]]), 16, 2)[0]
    assert cells.shape == (reduced_size(16, 2),) * 2
    assert cells.nonzero().tolist() == [[2, 2], [2, 3]]
    assert marker_mask(torch.tensor([[15, 0]]), 16, 4)[0].nonzero().tolist() == [[3, 0]]


def test_run_demo_rejects_unknown_keys_and_restores_threads():
    with pytest.raises(ValueError, match="run_demo: key must be one of"):
        run_demo("nope")
    before = torch.get_num_threads()
    run_demo("msaa", steps=1, progress=False, threads=2)
    assert torch.get_num_threads() == before


# --------------------------------------------------------------------------- before training

def test_before_training_the_read_outs_show_no_mechanism(results):
    gated = results["gated_fusion"].before
    assert abs(gated["gate_contrast"]) < 0.02  # z ~ 0.5 everywhere
    assert gated["mse"] > 2 * gated["mse_average"]
    msf = results["msf"].before
    for name in ("w_informative", "w_other", "w_informative_softmax"):
        assert msf[name] == pytest.approx(0.25, abs=0.04)
    mfe = results["mfe"].before
    assert 0.15 < mfe["erf_outside"] < 0.5
    assert all(mfe[f"w{i}"] == pytest.approx(0.25, abs=0.02) for i in range(4))
    safm = results["safm"].before
    assert abs(safm["edge_r"]) < 0.2 and safm["edge_ratio"] == pytest.approx(1.0, abs=0.15)
    osra = results["osra"].before
    assert osra["marker_mass"] == pytest.approx(osra["uniform_mass"], abs=0.01)
    assert 0.02 < osra["uniform_mass"] < 0.05
    assert abs(results["msaa"].before["gate_contrast"]) < 0.05
    cbam = results["cbam_joint"].before
    assert abs(cbam["sw_contrast"]) < 0.02 and cbam["accuracy"] < 0.6


# --------------------------------------------------------------------------- shortened training

def test_gated_fusion_gate_recovers_the_clean_sensor(results):
    after = results["gated_fusion"].after
    assert after["gate_r"] > 0.75 and after["gate_contrast"] > 0.25
    assert after["mse"] < 0.2 * after["mse_average"]


def test_msf_selects_the_informative_input_and_plain_softmax_selects_more(results):
    after = results["msf"].after
    assert after["w_informative"] > 0.33 > after["w_other"] * 1.5
    assert after["w_informative"] < 0.4754  # the note's cap e/(e+3)
    assert after["w_informative_softmax"] > 0.55
    assert after["w_informative_softmax"] > after["w_informative"] + 0.2


def test_mfe_widens_its_receptive_field_only_when_the_task_needs_it(results):
    r = results["mfe"]
    assert r.after["erf_outside"] > 0.55 and r.after["erf_outside"] > r.before["erf_outside"] + 0.15
    assert r.after["erf_outside_control"] < r.after["erf_outside"] - 0.2
    # the branch weights move only modestly: they stay inside the note's bounds (0.109, 0.475), near 1/4
    assert all(abs(r.after[f"w{i}"] - 0.25) < 0.12 for i in range(4))


def test_safm_modulation_lines_up_with_edges(results):
    after = results["safm"].after
    assert after["edge_r"] > 0.3 and after["edge_ratio"] > 1.2


def test_osra_attention_finds_the_marker(results):
    after = results["osra"].after
    assert after["marker_mass"] > 0.3 > 5 * after["uniform_mass"]
    assert after["accuracy"] > 0.9


def test_msaa_spatial_gate_matches_the_objects(results):
    after = results["msaa"].after
    assert after["gate_r"] > 0.6 and after["gate_iou"] > 0.5 and after["gate_contrast"] > 0.4


def test_cbam_joint_localises_and_cannot_change_size_but_standard_cbam_can(results):
    r = results["cbam_joint"]
    assert r.after["sw_r"] > 0.35 and r.after["sw_contrast"] > 0.25
    assert r.extra["size_error"].startswith("CBAMBlock: built for HW=64 but the input is 16x16")
    with pytest.raises(ShapeError, match="built for HW=64"):
        r.model(r.extra["new_batch"]["x"][:2])
    assert r.after["std_sw_r"] > 0.35 and r.after["std_sw_r_new_size"] > 0.25
    assert r.extra["std_maps_new_size"]["sw"].shape[-2:] == (16, 16)


def test_results_report_and_draw(results):
    for key, r in results.items():
        assert r.key == key and r.steps == SHORT[key] and r.seconds > 0
        assert len(r.history) == SHORT[key]
        assert set(r.before) <= set(r.after)
        text, page = r.to_text(), r._repr_html_()
        assert key in text and "训练前 before" in page
        fig = r.figure()
        assert isinstance(fig, Figure) and len(fig.axes) >= 3
        assert isinstance(loss_curve(r).figure, Figure)
    # gates and weights are drawn on their fixed 0..1 range
    images = [im for ax in results["msaa"].figure().axes for im in ax.get_images()]
    assert any(im.get_clim() == (0, 1) for im in images)


def test_standard_cbam_takes_any_size_and_keeps_its_gate():
    from fusion_edu import trace

    block = StandardCBAM(8, reduction=2).eval()
    for size in (5, 8, 13):
        t = trace(block, torch.randn(2, 8, size, size), keep=True)
        assert t.output.shape == (2, 8, size, size)
        assert t.tensors["spatial_weight"].shape == (2, 1, size, size)
    with pytest.raises(ValueError, match="StandardCBAM: kernel_size must be odd"):
        StandardCBAM(8, reduction=2, kernel_size=4)
    with pytest.raises(ShapeError, match="StandardCBAM: x must have channel=8"):
        block(torch.randn(1, 4, 5, 5))


def test_osra_cost_and_a_tiny_sweep():
    costs = {sr: osra_cost(sr) for sr in (1, 2, 4)}
    assert [c["attn_entries"] for c in costs.values()] == [256 * 256, 256 * 64, 256 * 16]
    assert costs[1]["attn_mib_64"] == pytest.approx(4 * 2 * 4096 * 4096 / 2**20)
    assert costs[1]["mflops"] > costs[2]["mflops"] > costs[4]["mflops"] > 0
    sweep = osra_sweep(ratios=(2, 4), steps=2, progress=False)
    assert [row["sr_ratio"] for row in sweep.rows] == [2, 4] and set(sweep.results) == {2, 4}
    assert "sr" in sweep.to_text() and "<table>" in sweep._repr_html_()
    assert isinstance(sweep.figure(), Figure)
    # a row added by hand (e.g. from run_demo("osra")) may lack the timing columns
    sweep.rows.append({**osra_cost(1), "accuracy": 1.0, "marker_mass": 0.5, "uniform_mass": 0.004})
    assert "-</td>" in sweep._repr_html_() and "nan" in sweep.to_text()
    assert isinstance(sweep.figure(), Figure)


# --------------------------------------------------------------------------- the shipped cache

def test_the_cache_ships_every_demo_in_both_languages_matching_its_settings_and_bars():
    from fusion_edu.learn import cached

    for key, demo in DEMOS.items():
        for lang in ("zh", "en"):
            shown = cached(key, lang)
            assert shown.lang == lang and shown.png[:8] == b"\x89PNG\r\n\x1a\n"
            assert len(shown.png) < 150 * 1024, (key, lang, len(shown.png))
            assert shown._repr_png_() == shown.png
        assert cached(key, "zh").png != cached(key, "en").png
        # a stale cache (settings changed since make cache) fails here
        assert (shown.seed, shown.steps, shown.lr, shown.batch_size) == (0, demo.steps, demo.lr, demo.batch_size)
        assert [b["metric"] for b in shown.bars] == [c.metric for c in demo.checks]
        assert shown.passed and all(c.ok(shown.after[c.metric]) for c in demo.checks), key
    assert cached("msf", "both").lang == "zh"  # Chinese first
    with pytest.raises(ValueError, match="cached: the demo's cached result must exist"):
        cached("nope", "en")


def test_save_cached_round_trips_metrics_and_figures(tmp_path):
    from fusion_edu.learn import cached
    from fusion_edu.learn.cache import save_cached

    result = run_demo("msaa", steps=1, progress=False)
    paths = save_cached(result, DEMOS["msaa"], directory=tmp_path)
    assert sorted(p.name for p in paths) == ["msaa.json", "msaa_en.png", "msaa_zh.png"]
    shown = cached("msaa", "en", directory=tmp_path)
    assert shown.after == result.after and shown.before == result.before and shown.steps == 1
    assert shown.passed == result.passed
