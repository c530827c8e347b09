"""Standard CBAM (channel gate, then spatial gate), for comparison with the note's joint-MLP variant.

Paper: Woo et al., "CBAM: Convolutional Block Attention Module", ECCV 2018, arXiv 1807.06521.
Written for this project after the paper's equations and the layer list of the official code
(Jongchan/attention-module): an MLP with biases for the channel gate, and a bias-free k x k conv
followed by BatchNorm for the spatial gate. Nothing in it depends on H or W.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..errors import require_int, require_tensors, shape_error, value_error
from ..trace import note

__all__ = ["StandardCBAM"]


class StandardCBAM(nn.Module):
    """CBAM as published: ``x' = x * Mc(x)``, then ``out = x' * Ms(x')``; works at any input size.

    Shape:
        x: (B, C, H, W) with C = channel, any H and W
        out: (B, C, H, W)

    Args:
        channel: Channels C.
        reduction: Hidden width of the channel MLP is C // reduction (must be >= 1).
        kernel_size: Odd kernel of the spatial conv (7 in the paper).

    Example:
        >>> import torch
        >>> cbam = StandardCBAM(16, reduction=4)
        >>> cbam(torch.randn(2, 16, 8, 8)).shape, cbam(torch.randn(2, 16, 13, 5)).shape
        (torch.Size([2, 16, 8, 8]), torch.Size([2, 16, 13, 5]))
    """

    def __init__(self, channel: int, reduction: int = 16, kernel_size: int = 7):
        super().__init__()
        require_int("StandardCBAM", "channel", channel)
        require_int("StandardCBAM", "reduction", reduction)
        require_int("StandardCBAM", "kernel_size", kernel_size)
        if reduction > channel:
            raise value_error("StandardCBAM", "reduction must be <= channel", {"channel": channel,
                              "reduction": reduction}, f"Try reduction={max(1, channel // 8)}.")
        if kernel_size % 2 == 0:
            raise value_error("StandardCBAM", "kernel_size must be odd so the map stays H x W",
                              {"kernel_size": kernel_size}, f"Try kernel_size={kernel_size + 1}.")
        self.channel = channel
        self.mlp = nn.Sequential(nn.Linear(channel, channel // reduction), nn.ReLU(),
                                 nn.Linear(channel // reduction, channel))
        self.spatial_conv = nn.Conv2d(2, 1, kernel_size, padding=kernel_size // 2, bias=False)
        self.spatial_bn = nn.BatchNorm2d(1, momentum=0.01)

    def forward(self, x: Tensor) -> Tensor:
        require_tensors("StandardCBAM", ("x",), (x,), ndim=4)
        B, C, H, W = x.shape
        if C != self.channel:
            raise shape_error("StandardCBAM", f"x must have channel={self.channel} channels",
                              {"x.shape": (B, C, H, W)}, f"Build StandardCBAM({C}).")
        note(x, "B C H W", zh="输入特征图（任意 H、W）", en="input feature map (any H, W)")
        logits = self.mlp(x.mean(dim=(2, 3))) + self.mlp(x.amax(dim=(2, 3)))
        channel_weight = torch.sigmoid(logits).view(B, C, 1, 1)
        note(channel_weight, "B C 1 1", key="channel_weight",
             zh="通道门 Mc：平均池化和最大池化共用 MLP，相加后 sigmoid",
             en="channel gate Mc: avg- and max-pool through one shared MLP, summed, sigmoid")
        x = x * channel_weight
        note(x, "B C H W", zh="先按通道加权", en="first reweight the channels")
        pooled = torch.cat([x.amax(dim=1, keepdim=True), x.mean(dim=1, keepdim=True)], dim=1)
        note(pooled, "B 2 H W", zh="逐像素的通道最大值和均值", en="per-pixel channel max and mean")
        spatial_weight = torch.sigmoid(self.spatial_bn(self.spatial_conv(pooled)))
        note(spatial_weight, "B 1 H W", key="spatial_weight",
             zh="空间门 Ms：k×k 卷积 + BN + sigmoid，卷积核可滑到任何尺寸",
             en="spatial gate Ms: k x k conv + BN + sigmoid; a conv slides over any size")
        out = x * spatial_weight
        note(out, "B C H W", zh="再按位置加权（顺序：先通道后空间）",
             en="then reweight the positions (channel first, then spatial)")
        return out
