"""Figures: each returns its Axes/Figure with the expected artists, fixed scales where promised, no global state."""

import os

os.environ.setdefault("MPLBACKEND", "Agg")

import matplotlib  # noqa: E402

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from fusion_edu import ShapeError, data, plots, trace  # noqa: E402
from fusion_edu.blocks.osra import reduced_size  # noqa: E402
from fusion_edu.receptive_field import branch_erf, erf_radius, erf_theory  # noqa: E402

SIZE = 16


@pytest.fixture(autouse=True)
def _no_global_state(monkeypatch):
    """Every test: rcParams unchanged, plt.show never called, figures closed."""
    before = dict(matplotlib.rcParams)
    monkeypatch.setattr(plt, "show", lambda *a, **k: pytest.fail("plots must not call plt.show()"))
    yield
    assert dict(matplotlib.rcParams) == before
    plt.close("all")


@pytest.fixture(scope="module")
def traced():
    """Keyed tensors of every block on the photo, plus the blocks and inputs."""
    out = {}
    for key in ("gated_fusion", "mfe", "safm", "msaa", "cbam_joint"):
        model, inputs = data.block_for_photo(key, size=SIZE)
        out[key] = (model, inputs, trace(model, *inputs, keep=True))
    model, inputs = data.block_for_photo("osra", size=SIZE)
    out["osra"] = (model, inputs, trace(model, *inputs, keep=True))
    for weighting in ("sigmoid_softmax", "softmax"):
        model, inputs = data.block_for_photo("msf", size=SIZE, weighting=weighting)
        out[f"msf_{weighting}"] = (model, inputs, trace(model, *inputs, keep=True))
    return out


def _images(fig_or_ax):
    axes = fig_or_ax.axes if isinstance(fig_or_ax, Figure) else [fig_or_ax]
    return [im for ax in axes for im in ax.images]


def _hlines(ax):
    return [line.get_ydata()[0] for line in ax.lines if len(set(line.get_ydata())) == 1]


# --------------------------------------------------------------------------- gated fusion

def test_gate_mean_map_uses_the_fixed_0_1_scale_and_the_given_axes(traced):
    z = traced["gated_fusion"][2].tensors["z"]
    fig, ax = plt.subplots()
    assert plots.gate_mean_map(z, ax=ax) is ax
    (image,) = ax.images
    assert image.get_clim() == (0, 1)
    np.testing.assert_allclose(image.get_array(), z[0].mean(-1).numpy(), rtol=1e-6)


def test_gate_channel_maps_and_histogram(traced):
    z = traced["gated_fusion"][2].tensors["z"]
    fig = plots.gate_channel_maps(z, channels=(0, 3, 5))
    images = _images(fig)
    assert len(images) == 3 and all(im.get_clim() == (0, 1) for im in images)
    ax = plots.gate_histogram(z)
    assert ax.get_xlim() == (0, 1) and len(ax.patches) == 50
    assert sum(p.get_height() for p in ax.patches) == z.numel()
    with pytest.raises(ValueError, match="gate_channel_maps: channels must be indices in 0..15"):
        plots.gate_channel_maps(z, channels=(16,))


def test_fusion_panels_show_x1_x2_out_and_the_mask(traced):
    model, (x1, x2), t = traced["gated_fusion"]
    _, _, mask = data.gated_views(16, size=SIZE)
    fig = plots.fusion_panels(x1, x2, t.output, mask=mask, lang="en")
    assert len(_images(fig)) == 4
    assert [ax.get_title() for ax in fig.axes] == ["x1", "x2", "out = z*x1 + (1-z)*x2", "mask: 1 where x1 is clean"]
    assert len(_images(plots.fusion_panels(x1, x2, t.output))) == 3


def test_gate_map_rejects_a_wrong_shape_by_name():
    with pytest.raises(ShapeError, match=r"gate_mean_map: z must be \(B, H, W, C\)"):
        plots.gate_mean_map(torch.rand(4, 4))


# --------------------------------------------------------------------------- MSF / MFE weights

def test_scale_weight_bars_draw_the_note_bounds(traced):
    w = traced["msf_sigmoid_softmax"][2].tensors["weights"]
    fig, ax = plt.subplots()
    assert plots.scale_weight_bars(w, ax=ax) is ax
    lines = _hlines(ax)
    assert any(abs(y - 0.109) < 1e-3 for y in lines) and any(abs(y - 0.475) < 1e-3 for y in lines)
    assert len(ax.patches) == 4  # one bar per scale
    np.testing.assert_allclose([p.get_height() for p in ax.patches], w[0, :, :, 0].mean(0).numpy(), rtol=1e-6)
    assert ax.get_ylim() == (0, 1)


def test_scale_weights_compare_the_note_with_plain_softmax(traced):
    ws = {"note": traced["msf_sigmoid_softmax"][2].tensors["weights"],
          "softmax": traced["msf_softmax"][2].tensors["weights"]}
    fig = plots.scale_weights(ws)
    images = _images(fig)
    assert len(images) == 2 and all(im.get_clim() == (0, 1) for im in images)
    assert images[0].get_array().shape == (16, 4)  # C x 4
    # the note's weights can never leave the band, whatever the weights
    note = ws["note"].numpy()
    assert plots.MSF_BOUNDS[0] < note.min() and note.max() < plots.MSF_BOUNDS[1]


def test_weight_limit_curves_reach_the_bounds():
    ax = plots.msf_weight_limits(margin=20)
    ends = sorted(round(float(line.get_ydata()[-1]), 3) for line in ax.lines if len(line.get_ydata()) > 2)
    assert ends == [0.0, 0.175, 0.475, 1.0]


# --------------------------------------------------------------------------- MFE

def test_branch_maps_share_one_scale(traced):
    fig = plots.branch_maps(traced["mfe"][2].tensors)
    images = _images(fig)
    assert len(images) == 4 and len({im.get_clim() for im in images}) == 1


def test_receptive_field_grows_across_mfe_branches():
    model, (x,) = data.block_for_photo("mfe", size=40)
    model.train()
    erf = branch_erf(model, x)
    assert erf.shape == (4, 40, 40)
    assert model.training  # mode restored
    radii = erf_radius(erf)
    assert radii == erf_theory(model.atrous_rates) == [1, 3, 7, 15]
    fig = plots.erf_maps(erf, atrous_rates=model.atrous_rates, lang="en")
    assert len(_images(fig)) == 4 and len(fig.axes[0].patches) == 1  # the theoretical window
    assert fig.axes[3].get_title().replace("\n", " ") == "y3: radius 15 px (theory 15)"
    assert plots.erf_maps(erf, lang="zh").axes[3].get_title().replace("\n", "") == "y3：半径 15 像素（理论 15）"


def test_erf_of_one_conv_is_its_kernel_around_the_centre():
    from fusion_edu.receptive_field import erf

    conv = torch.nn.Conv2d(1, 1, 3, padding=1, bias=False)
    with torch.no_grad():
        conv.weight.copy_(torch.arange(-4.0, 5.0).view(1, 1, 3, 3))
    field = erf(conv, torch.randn(2, 1, 9, 9))
    expected = torch.zeros(9, 9)
    expected[3:6, 3:6] = 2 * torch.arange(-4.0, 5.0).abs().view(3, 3)  # two images, |weight| each
    assert torch.equal(field, expected)
    assert conv.weight.grad is None  # only the input gets a gradient
    assert erf_radius(field[None]) == [1]


def test_branch_erf_names_a_wrong_block():
    with pytest.raises(TypeError, match="branch_erf: block must be an MFEBlock"):
        branch_erf(torch.nn.Conv2d(3, 3, 3), torch.rand(1, 3, 8, 8))


# --------------------------------------------------------------------------- SAFM

def test_safm_levels_get_blockier(traced):
    model, _, t = traced["safm"]
    fig = plots.safm_level_maps(t.tensors["levels"], n_levels=model.n_levels)
    images = _images(fig)
    assert len(images) == 4 and len({im.get_clim() for im in images}) == 1
    coarsest = np.asarray(images[3].get_array())
    assert np.allclose(coarsest[::8, ::8].repeat(8, 0).repeat(8, 1), coarsest)  # 8x8 px blocks
    with pytest.raises(ValueError, match="safm_level_maps: the channels of levels must split"):
        plots.safm_level_maps(t.tensors["levels"], n_levels=3)


def test_modulation_marks_negative_values_and_the_gelu_minimum(traced):
    m = traced["safm"][2].tensors["modulation"]
    fig, ax = plt.subplots()
    assert plots.modulation_histogram(m, ax=ax) is ax
    assert any(abs(line.get_xdata()[0] - plots.GELU_MIN) < 1e-6 for line in ax.lines)
    blue = [p for p in ax.patches if p.get_facecolor()[2] > p.get_facecolor()[0]]
    assert blue and all(p.get_x() < 0 for p in blue)
    assert (m < 0).any()  # GELU output does dip below zero
    ax = plots.modulation_map(m)
    low, high = ax.images[0].get_clim()
    assert low == -high and high >= -plots.GELU_MIN
    assert len(plots.safm_modulation(m).axes) == 3  # map, histogram, colour bar


# --------------------------------------------------------------------------- OSRA

def test_query_attention_draws_input_heads_and_mean(traced):
    model, (x,), t = traced["osra"]
    fig = plots.query_attention(t.tensors["attn"], (3, 5), size=(SIZE, SIZE), sr_ratio=model.sr_ratio,
                                image=data.photo(size=SIZE))
    images = _images(fig)
    assert len(images) == 1 + model.num_heads + 1
    M = reduced_size(SIZE, model.sr_ratio) ** 2
    assert images[1].get_array().shape == (int(M**0.5),) * 2
    # relative view: fixed log scale around uniform
    assert images[1].norm.vmin == pytest.approx(0.1) and images[1].norm.vmax == pytest.approx(10)
    fig = plots.query_attention(t.tensors["attn"], (3, 5), size=(SIZE, SIZE), sr_ratio=model.sr_ratio,
                                heads=[0], relative=False)
    assert len(_images(fig)) == 3
    with pytest.raises(ShapeError, match="query_attention: attn must be"):
        plots.query_attention(t.tensors["attn"], (3, 5), size=(SIZE, SIZE), sr_ratio=4)


def test_reduction_plot_matches_reduced_size():
    fig, ax = plt.subplots()
    assert plots.reduction_plot(32, ax=ax) is ax
    heights = [p.get_height() for p in ax.patches]
    assert heights == [32, 16, 11, 8, 7, 6, 5, 4]
    assert heights[2] == 32 // 3 + 1  # odd r gives floor(H/r) + 1


# --------------------------------------------------------------------------- MSAA and the CBAM variant

def test_msaa_gates_and_responses(traced):
    model, _, t = traced["msaa"]
    tensors = t.tensors
    ax = plots.channel_gate_bars(tensors["fusion_conv.channel_gate"])
    assert len(ax.patches) == model.out_channels // 4 and ax.get_ylim() == (0, 1)
    fig, ax = plt.subplots()
    assert plots.spatial_gate_map(tensors["fusion_conv.spatial_gate"], image=data.photo(size=SIZE), ax=ax) is ax
    assert len(ax.images) == 2 and ax.images[1].get_clim() == (0, 1)
    fig = plots.kernel_responses(tensors, lang="en")
    assert [a.get_title() for a in fig.axes[:3]] == ["3x3 branch", "5x5 branch", "7x7 branch"]


def test_cbam_weights_and_basis_maps(traced):
    model, _, t = traced["cbam_joint"]
    assert len(plots.channel_gate_bars(t.tensors["channel_weight"]).patches) == model.channel
    ax = plots.spatial_gate_map(t.tensors["spatial_weight"])
    assert ax.images[0].get_clim() == (0, 1)
    fig = plots.cbam_basis_maps(model)
    hidden = model.MLP[2].weight.shape[1]
    images = _images(fig)
    assert len(images) == hidden == model.channel // 8
    col = model.MLP[2].weight[model.channel:, 1, 0, 0].detach().reshape(SIZE, SIZE).numpy()
    np.testing.assert_allclose(images[1].get_array(), col)
    with pytest.raises(TypeError, match="cbam_basis_maps: block must be a CBAMBlock"):
        plots.cbam_basis_maps(torch.nn.Linear(2, 2))


def test_multi_panel_functions_draw_into_a_given_figure(traced):
    fig = plt.figure()
    left, right = fig.subfigures(1, 2)
    assert plots.branch_maps(traced["mfe"][2].tensors, fig=left) is left
    assert plots.kernel_responses(traced["msaa"][2].tensors, fig=right) is right
    assert len(_images(fig)) == 7
    assert isinstance(plots.gate_histogram(torch.rand(10)), Axes)
