"""CBAM variant with a joint MLP over channel and spatial descriptors (融合通道表示的空间注意力).

Parent paper: Woo et al., "CBAM: Convolutional Block Attention Module", ECCV 2018, arXiv 1807.06521.
The joint-MLP variant itself is a community modification with no paper. Source: the note's
CBAMBlock. State-dict names kept: ChannelAttention.se, SpatialAttention.conv, MLP.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import init

from ..errors import require_int, require_tensors, shape_error, value_error
from ..trace import note


class ChannelAttention(nn.Module):
    """Channel descriptor: shared MLP on the max- and avg-pooled input, summed (logits, no sigmoid).

    Shape:
        x: (B, C, H, W)
        out: (B, C, 1, 1)
    """

    def __init__(self, channel: int, reduction: int = 16):
        super().__init__()
        self.maxpool = nn.AdaptiveMaxPool2d(1)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.se = nn.Sequential(
            nn.Conv2d(channel, channel // reduction, 1, bias=False),
            nn.ReLU(),
            nn.Conv2d(channel // reduction, channel, 1, bias=False),
        )
        self.sigmoid = nn.Sigmoid()  # defined but unused in the note

    def forward(self, x: Tensor) -> Tensor:
        return self.se(self.maxpool(x)) + self.se(self.avgpool(x))


class SpatialAttention(nn.Module):
    """Spatial descriptor: per-pixel channel max and mean, then a k x k conv (logits, no sigmoid).

    Shape:
        x: (B, C, H, W)
        out: (B, 1, H, W) for odd kernel_size
    """

    def __init__(self, kernel_size: int = 7):
        super().__init__()
        self.conv = nn.Conv2d(2, 1, kernel_size=kernel_size, padding=kernel_size // 2)
        self.sigmoid = nn.Sigmoid()  # defined but unused in the note

    def forward(self, x: Tensor) -> Tensor:
        pooled = torch.cat([x.amax(dim=1, keepdim=True), x.mean(dim=1, keepdim=True)], dim=1)
        return self.conv(pooled)


class CBAMBlock(nn.Module):
    """Channel and spatial descriptors mixed by one MLP over C + H*W features, returned as two gates.

    The spatial map (H*W numbers) is flattened into the channel axis, so the MLP's weights are
    tied to absolute pixel positions: the block is built for one H*W and cannot take another.
    Both gates are applied in parallel to x (standard CBAM applies them in sequence) and the
    block returns the two products.

    Shape:
        x: (B, C, H, W) with C = channel and H*W = HW
        out: (out1, out2), each (B, C, H, W): x * channel weight and x * spatial weight

    Args:
        channel: Channels C.
        reduction: MLP bottleneck C // reduction (must be >= 1).
        kernel_size: Odd kernel of the spatial conv.
        HW: H*W of the inputs this block will see (required).
        squash_descriptors: Apply the sigmoids that the note defines but never uses to the two
            descriptors before the joint MLP (default False, the note's behaviour).

    Differences from source: validation added; ``init_weights`` kept but, as in the note, not
    called; ``squash_descriptors`` switch added.

    Example:
        >>> import torch
        >>> out1, out2 = CBAMBlock(channel=64, reduction=8, kernel_size=7, HW=49)(torch.randn(1, 64, 7, 7))
        >>> out1.shape, out2.shape
        (torch.Size([1, 64, 7, 7]), torch.Size([1, 64, 7, 7]))
    """

    def __init__(self, channel: int = 512, reduction: int = 16, kernel_size: int = 49, HW: int | None = None,
                 *, squash_descriptors: bool = False):
        super().__init__()
        require_int("CBAMBlock", "channel", channel)
        require_int("CBAMBlock", "reduction", reduction)
        require_int("CBAMBlock", "kernel_size", kernel_size)
        if HW is None:
            raise value_error("CBAMBlock", "HW (= H*W of the input) is required because the joint MLP mixes "
                              "C + H*W features", {"HW": None}, "Example: CBAMBlock(64, HW=7*7).",
                              zh="必须给出 HW（输入的 H×W），因为联合 MLP 混合 C + H×W 个特征",
                              zh_hint="例如 CBAMBlock(64, HW=7*7)。")
        require_int("CBAMBlock", "HW", HW, hint="HW is H*W of the input, e.g. HW=7*7.")
        if reduction > channel:
            raise value_error("CBAMBlock", "reduction must be <= channel so the MLP keeps channel // reduction "
                              ">= 1 units", {"channel": channel, "reduction": reduction},
                              f"Try reduction={max(1, channel // 8)}.",
                              zh="reduction 不能大于 channel，否则 MLP 的隐藏单元 channel // reduction 为 0",
                              zh_hint=f"可试 reduction={max(1, channel // 8)}。")
        if kernel_size % 2 == 0:
            raise value_error("CBAMBlock", "kernel_size must be odd so the spatial map stays H x W",
                              {"kernel_size": kernel_size}, f"Try kernel_size={kernel_size + 1}.",
                              zh="kernel_size 必须是奇数，空间图才能保持 H×W",
                              zh_hint=f"可试 kernel_size={kernel_size + 1}。")
        self.ChannelAttention = ChannelAttention(channel=channel, reduction=reduction)
        self.SpatialAttention = SpatialAttention(kernel_size=kernel_size)
        self.joint_channel = channel + HW
        self.MLP = nn.Sequential(
            nn.Conv2d(self.joint_channel, channel // reduction, 1, bias=False),
            nn.ReLU(),
            nn.Conv2d(channel // reduction, self.joint_channel, 1, bias=False),
        )
        self.sigmoid = nn.Sigmoid()
        self.channel = channel
        self.HW = HW
        self.squash_descriptors = bool(squash_descriptors)

    def init_weights(self) -> None:
        """The note's initialiser (Kaiming-normal convs); like the note, __init__ does not call it."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                init.kaiming_normal_(m.weight, mode="fan_out")
                if m.bias is not None:
                    init.constant_(m.bias, 0)
            elif isinstance(m, nn.BatchNorm2d):
                init.constant_(m.weight, 1)
                init.constant_(m.bias, 0)
            elif isinstance(m, nn.Linear):
                init.normal_(m.weight, std=0.001)
                if m.bias is not None:
                    init.constant_(m.bias, 0)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        self._check(x)
        B, C, H, W = x.shape
        note(x, "B C H W", zh="输入特征图", en="input feature map")
        channel_x = self.ChannelAttention(x).reshape(B, C, 1, 1)
        note(channel_x, "B C 1 1", zh="通道描述符：最大池化和平均池化共用一个 MLP 后相加（没有 sigmoid）",
             en="channel descriptor: max- and avg-pool through one shared MLP, summed (no sigmoid)")
        spatial_x = self.SpatialAttention(x)
        note(spatial_x, "B 1 H W", zh="空间描述符：逐像素的通道最大值和均值拼接后做 k×k 卷积（没有 sigmoid）",
             en="spatial descriptor: per-pixel channel max and mean, then a k x k conv (no sigmoid)")
        if self.squash_descriptors:
            channel_x = self.ChannelAttention.sigmoid(channel_x)
            spatial_x = self.SpatialAttention.sigmoid(spatial_x)
        spatial_x = spatial_x.reshape(B, H * W, 1, 1)
        note(spatial_x, "B H*W 1 1", zh="把 H×W 个空间值摊平到通道维",
             en="flatten the H*W spatial values onto the channel axis")
        joint = torch.cat([channel_x, spatial_x], 1)
        note(joint, "B C+H*W 1 1", zh="拼接成 C + H×W 维的联合描述符", en="concatenate into one C + H*W descriptor")
        joint = self.MLP(joint)
        note(joint, "B C+H*W 1 1", zh="联合 MLP：降到 C/r 再升回 C + H×W，通道和空间互相影响",
             en="joint MLP: down to C/r and back to C + H*W, so channel and spatial parts inform each other")
        channel_weight = self.sigmoid(joint[:, :C].reshape(B, C, 1, 1))
        note(channel_weight, "B C 1 1", key="channel_weight", zh="拆出前 C 个，sigmoid 得到通道权重",
             en="split off the first C values, sigmoid: channel weights")
        spatial_weight = self.sigmoid(joint[:, C:].reshape(B, 1, H, W))
        note(spatial_weight, "B 1 H W", key="spatial_weight", zh="剩下 H×W 个还原成图，sigmoid 得到空间权重",
             en="the other H*W values back to a map, sigmoid: spatial weights")
        out1 = x * channel_weight
        note(out1, "B C H W", zh="out1 = x ⊙ 通道权重", en="out1 = x * channel weights")
        out2 = x * spatial_weight
        note(out2, "B C H W", zh="out2 = x ⊙ 空间权重（两个输出由调用者决定如何使用）",
             en="out2 = x * spatial weights (the caller decides how to combine the two)")
        return out1, out2

    def _check(self, x: Tensor) -> None:
        require_tensors("CBAMBlock", ("x",), (x,), ndim=4)
        B, C, H, W = x.shape
        if C != self.channel:
            raise shape_error("CBAMBlock", f"x must have channel={self.channel} channels", {"x.shape": (B, C, H, W)},
                              f"Build CBAMBlock(channel={C}, ..., HW={H * W}).",
                              zh=f"x 的通道数必须是 channel={self.channel}",
                              zh_hint=f"可改建 CBAMBlock(channel={C}, ..., HW={H * W})。")
        if H * W != self.HW:
            raise shape_error("CBAMBlock", f"built for HW={self.HW} but the input is {H}x{W} (HW={H * W}); the "
                              "joint MLP's weights are tied to positions", {"x.shape": (B, C, H, W)},
                              f"Pool or resize the input to HW={self.HW}, or build CBAMBlock(..., HW={H * W}).",
                              zh=f"模块按 HW={self.HW} 构建，但输入是 {H}×{W}（HW={H * W}）；"
                                 "联合 MLP 的权重与像素位置绑定",
                              zh_hint=f"请先把输入池化/缩放到 HW={self.HW}，或重建 CBAMBlock(..., HW={H * W})。")
