"""compare: a re-implementation or an edit against a reference, mapped by order and shape, first step that differs."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from fusion_edu import compare
from fusion_edu.blocks import SAFM
from fusion_edu.compare import CompareReport


class SEBlock(nn.Module):
    def __init__(self, C: int, reduction: int = 4):
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Sequential(nn.Conv2d(C, C // reduction, 1), nn.ReLU(), nn.Conv2d(C // reduction, C, 1),
                                nn.Sigmoid())

    def forward(self, x):
        return x * self.fc(self.pool(x))


class RenamedSE(nn.Module):
    """The same computation in another style: other names, functions instead of modules."""

    def __init__(self, channels: int, squeeze: int = 4):
        super().__init__()
        self.down = nn.Conv2d(channels, channels // squeeze, kernel_size=1)
        self.up = nn.Conv2d(channels // squeeze, channels, kernel_size=1)

    def forward(self, x):
        w = x.mean(dim=(2, 3), keepdim=True)
        return x * torch.sigmoid(self.up(F.relu(self.down(w))))


class SwappedOrderSE(RenamedSE):
    """Registers the expanding conv first: the parameter order differs, the shapes still pair up."""

    def __init__(self, channels: int, squeeze: int = 4):
        nn.Module.__init__(self)
        self.up = nn.Conv2d(channels // squeeze, channels, kernel_size=1)
        self.down = nn.Conv2d(channels, channels // squeeze, kernel_size=1)


class OtherSAFM(nn.Module):
    """SAFM written from the paper with other attribute names; one switch changes one line."""

    def __init__(self, channels: int, levels: int = 4, upsample: str = "nearest", pool: str = "max"):
        super().__init__()
        self.levels, self.upsample = levels, upsample
        self.pool = F.adaptive_max_pool2d if pool == "max" else F.adaptive_avg_pool2d
        group = channels // levels
        self.filters = nn.ModuleList(nn.Conv2d(group, group, 3, padding=1, groups=group) for _ in range(levels))
        self.fuse = nn.Conv2d(channels, channels, 1)
        self.gelu = nn.GELU()

    def forward(self, x):
        H, W = x.shape[-2:]
        groups = x.chunk(self.levels, dim=1)
        scales = [self.filters[0](groups[0])]
        for i in range(1, self.levels):
            y = self.filters[i](self.pool(groups[i], (H // 2**i, W // 2**i)))
            scales.append(F.interpolate(y, size=(H, W), mode=self.upsample))
        return self.gelu(self.fuse(torch.cat(scales, dim=1))) * x


class ExtraGammaSAFM(OtherSAFM):
    def __init__(self, channels: int):
        super().__init__(channels)
        self.gamma = nn.Parameter(torch.ones(1, channels, 1, 1))


def _x(C=16, H=16, W=16):
    return torch.randn(2, C, H, W)


def test_renamed_se_in_another_style_is_equivalent():
    report = compare(RenamedSE(16), SEBlock(16), _x(), lang="en")
    assert isinstance(report, CompareReport)
    assert report.equivalent and report.max_abs_diff < 1e-6
    assert report.matched_by == "order"
    assert [(m.candidate, m.reference, m.shape) for m in report.mapping] == [
        ("down.weight", "fc.0.weight", (4, 16, 1, 1)), ("down.bias", "fc.0.bias", (4,)),
        ("up.weight", "fc.2.weight", (16, 4, 1, 1)), ("up.bias", "fc.2.bias", (16,))]
    assert report.first_difference is None  # same steps: mean vs pool, F.relu vs ReLU give the same values


def test_a_different_parameter_order_is_paired_by_shape():
    report = compare(SwappedOrderSE(16), SEBlock(16), _x(), lang="en")
    assert report.matched_by == "shape" and report.equivalent
    assert ("up.weight", "fc.2.weight") in [(m.candidate, m.reference) for m in report.mapping]
    assert "orders differ, paired by shape" in str(report)


def test_safm_reimplementation_matches_the_catalog_block():
    report = compare(OtherSAFM(16), SAFM(16), _x(), lang="en")
    assert report.equivalent and report.max_abs_diff == 0.0 and report.first_difference is None
    assert report.mapping[0].candidate == "filters.0.weight" and report.mapping[0].reference == "mfr.0.weight"
    assert report.mapping[-1].candidate == "fuse.bias" and report.mapping[-1].reference == "aggr.bias"
    assert "all " in str(report) and "steps match one by one" in str(report)


@pytest.mark.parametrize("change,candidate_word,reference_word", [
    (dict(upsample="bilinear"), "bilinear interpolation", "nearest interpolation"),
    (dict(pool="avg"), "adaptive average pooling", "adaptive max pooling"),
])
def test_one_changed_line_is_found_at_its_first_differing_step(change, candidate_word, reference_word):
    report = compare(OtherSAFM(16, **change), SAFM(16), _x(), lang="en")
    assert not report.equivalent and report.max_abs_diff > 1e-3
    first = report.first_difference
    assert first is not None and first.kind == "values" and first.max_abs_diff > 1e-3
    assert first.candidate.en.startswith(candidate_word) and first.reference.en.startswith(reference_word)
    assert first.candidate.module == first.reference.module == ""
    # every step before it matches: the 4 chunks, the level-0 conv, then level 1's pool (and conv)
    assert first.index == (8 if "upsample" in change else 6)
    assert first.candidate.spec == first.reference.spec  # symbolic, from the two autotraces
    text = str(report)
    assert f"step {first.index}: values differ" in text and candidate_word in text and reference_word in text


def test_an_extra_parameter_means_no_mapping_and_nothing_loaded():
    candidate = ExtraGammaSAFM(16)
    before = {k: v.clone() for k, v in candidate.state_dict().items()}
    report = compare(candidate, SAFM(16), _x(), lang="en")
    assert not report.equivalent and report.mapping == [] and report.max_abs_diff is None
    text = str(report)
    assert "no parameter mapping exists" in text and "tensor count: candidate 11, reference 10" in text
    assert "the candidate's gamma (1, 16, 1, 1) has no partner" in text
    assert all(torch.equal(before[k], v) for k, v in candidate.state_dict().items())


def test_the_callers_modules_are_never_changed():
    candidate, reference = RenamedSE(16).train(), SEBlock(16).train()
    before = {k: v.clone() for k, v in candidate.state_dict().items()}
    compare(candidate, reference, _x())
    assert candidate.training and reference.training
    assert all(torch.equal(before[k], v) for k, v in candidate.state_dict().items())
    assert not any(torch.equal(candidate.down.weight, w) for w in reference.state_dict().values())
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in [*candidate.modules(),
                                                                            *reference.modules()])


def test_same_outputs_by_other_steps_are_equivalent_and_say_where_the_steps_differ():
    class BiasApart(nn.Module):
        """A conv without bias plus the bias added by hand: other steps, same result."""

        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(4, 4, 3, padding=1, bias=False)
            self.bias = nn.Parameter(torch.zeros(4))

        def forward(self, x):
            return self.conv(x) + self.bias.view(1, -1, 1, 1)

    report = compare(BiasApart(), nn.Sequential(nn.Conv2d(4, 4, 3, padding=1)), torch.randn(1, 4, 8, 8),
                     lang="en")
    assert report.equivalent and report.first_difference is not None
    assert report.first_difference.index == 1 and report.first_difference.kind == "values"
    assert "another way to the same result" in report.verdict()


def test_different_output_shapes_are_not_equivalent():
    report = compare(nn.Sequential(nn.Conv2d(4, 4, 3)), nn.Sequential(nn.Conv2d(4, 4, 3, padding=1)),
                     torch.randn(1, 4, 8, 8), lang="en")
    assert not report.equivalent and report.max_abs_diff is None
    assert report.first_difference.kind == "shapes"
    assert "the outputs differ in shape" in str(report)


def test_report_renders_as_html_and_in_chinese():
    report = compare(OtherSAFM(16, upsample="bilinear"), SAFM(16), _x(), lang="zh")
    html = report._repr_html_()
    assert "<table>" in html and "filters.0.weight" in html and "mfr.0.weight" in html
    assert "background:#fdd" in html  # the first differing step is marked
    assert "双线性插值" in html and "最近邻插值" in html
    text = str(report)
    assert "结论: 不等价" in text and "第 8 步数值不同" in text and "English" not in text


def test_errors():
    with pytest.raises(TypeError, match=r"compare: candidate must be an nn.Module; got candidate='str'"):
        compare("SAFM", SAFM(16), _x())
    with pytest.raises(ValueError, match=r"compare: the forward inputs are required"):
        compare(SAFM(16), SAFM(16))
    with pytest.raises(RuntimeError, match=r"compare: the candidate \(SAFM\) failed: autotrace failed at step"):
        compare(SAFM(16), SAFM(16), torch.randn(2, 8, 16, 16))
