"""Stitching (缝合) a block into a host: adapters where shapes differ, the host untouched, clear errors."""

import pytest
import torch

from fusion_edu.blocks import MSAA, SAFM, CBAMBlock, GatedFusion
from fusion_edu.remix import SmallHost, resnet18, stitch
from fusion_edu.shapeonly import count_flops


def n_params(module):
    return sum(p.numel() for p in module.parameters())


def test_resnet18_has_torchvisions_stages_and_names():
    net = resnet18(num_classes=10)
    assert n_params(net) == 11_181_642  # torchvision's resnet18 with a 10-class head has the same count
    assert {"conv1.weight", "layer1.0.conv1.weight", "layer2.0.downsample.0.weight", "fc.bias"} <= set(
        net.state_dict())
    assert net.eval()(torch.randn(1, 3, 64, 64)).shape == (1, 10)


def test_a_block_that_fits_needs_no_adapter_and_keeps_the_host():
    host = SmallHost(16)
    before = {k: v.clone() for k, v in host.state_dict().items()}
    s = stitch(host, at="stage2", block=SAFM(32), input_shape=(1, 3, 64, 64))
    assert s.added == [] and s.params[1] - s.params[0] == n_params(SAFM(32))
    assert s.flops[1] > s.flops[0] and s.flops[0] == count_flops(host.eval(), torch.randn(1, 3, 64, 64))
    assert all(torch.equal(before[k], v) for k, v in host.state_dict().items()) and type(host.stage2).__name__ \
        == "BasicBlock"
    x = torch.randn(2, 3, 64, 64)
    assert s.model.eval()(x).shape == host.eval()(x).shape == (2, 10)


def test_msaa_in_resnet18_gets_resize_and_channel_adapters_and_runs_at_other_sizes():
    s = stitch(resnet18(num_classes=10), at="layer3", block=MSAA(7 * 32, 128), sources=["layer1", "layer2", "layer3"],
               input_shape=(1, 3, 128, 128))
    added = [en for _, en in s.added]
    assert added == ["input 1 (layer1): resized to layer3's size (here 32x32 -> 8x8)",
                     "input 1 (layer1): 1x1 conv 64 -> 32 channels",
                     "input 2 (layer2): resized to layer3's size (here 16x16 -> 8x8)",
                     "input 2 (layer2): 1x1 conv 128 -> 64 channels", "input 3 (layer3): 1x1 conv 256 -> 128 channels",
                     "output: 1x1 conv 128 -> 256 channels (back to the host)"]
    adapters = (64 * 32 + 32) + (128 * 64 + 64) + (256 * 128 + 128) + (128 * 256 + 256)
    assert s.params[1] - s.params[0] == n_params(MSAA(224, 128)) + adapters
    shapes = [r.shape for r in s.trace.rows]
    assert (1, 256, 8, 8) in shapes and (1, 224, 8, 8) in shapes  # the stage's output, MSAA's concatenation
    assert s.model.eval()(torch.randn(2, 3, 96, 96)).shape == (2, 10)  # resizing follows the input size
    assert "layer3" in s.to_text() and "+180,578" in s.summary("en")


def test_the_stitched_net_has_a_graph_two_levels_deep():
    # torchview lost a bare nn.Conv2d applied to the block's output at depth 2 (KeyError in render_edges);
    # lesson 09 draws exactly this graph to show where the adapters went.
    from fusion_edu import graph

    s = stitch(resnet18(num_classes=10), at="layer3", block=MSAA(7 * 32, 128), sources=["layer1", "layer2", "layer3"],
               input_shape=(1, 3, 128, 128))
    source = graph.draw(s.model, [torch.randn(1, 3, 128, 128)], depth=2).source
    assert "adaptive_avg_pool2d" in source and "ChannelAdapter" in source and "MSAA" in source


def test_residual_stitch_adds_the_stage_output():
    s = stitch(SmallHost(8), at="stage1", block=SAFM(8), residual=True, input_shape=(1, 3, 32, 32))
    assert any(r.en.startswith("residual") for r in s.trace.rows)


@pytest.mark.parametrize("kwargs,message", [
    (dict(at="layer9", block=SAFM(256)), r"stitch: at must name a stage of the host; got at='layer9'"),
    (dict(at="layer2", block=MSAA(224, 128), sources=["layer2", "layer3", "layer2"]),
     r"a source must run before \(or be\) the stage at='layer2'; got sources after=\['layer3'\]"),
    (dict(at="layer2", block=MSAA(224, 128)), None),  # every input from layer2: fine
    (dict(at="layer2", block=MSAA(224, 128), sources=["layer2"]), r"the block takes 3 inputs, so sources must name"),
    (dict(at="layer2", block=CBAMBlock(128, 8, 7, HW=64)), r"the block must return one tensor .*CBAMCombine"),
    (dict(at="layer2", block=GatedFusion(128)), r"channels-last .*ChannelsLast"),
    (dict(at="fc", block=SAFM(16)), r"a stage used by stitch must give one NCHW map"),
    (dict(at="layer2", block=SAFM), r"block must be a built nn.Module"),
])
def test_impossible_insertions_get_a_clear_error(kwargs, message):
    if message is None:
        assert stitch(resnet18(), input_shape=(1, 3, 64, 64), **kwargs).model is not None
        return
    with pytest.raises((ValueError, TypeError), match=message):
        stitch(resnet18(), input_shape=(1, 3, 64, 64), **kwargs)
