"""Convolutional parts of GMFlow/UniMatch: the CNN feature backbone and the regression refiner.

Attribute names follow the official checkpoints' state-dict keys (``backbone.layer1.0.conv1``,
``refine.gru.convz1`` ...), so that :meth:`torch.nn.Module.load_state_dict` with ``strict=True``
works on them without a renaming map.

References: Xu et al., "GMFlow: Learning Optical Flow via Global Matching" (CVPR 2022), section
3.1 (backbone); Xu et al., "Unifying Flow, Stereo and Depth Estimation" (TPAMI 2023), section 3.4
(local regression refinement, after RAFT's update block: Teed and Deng, ECCV 2020).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

# The backbone's three stages (GMFlow section 3.1: a ResNet-like encoder, 1/2 -> 1/4 -> 1/8).
_STAGE_DIMS = (64, 96, 128)


class ResidualBlock(nn.Module):
    """Two 3x3 convolutions (no bias) with instance norm; a strided 1x1 shortcut when the shape
    changes. Instance norm has no affine parameters, so it adds no state-dict entries."""

    def __init__(self, *, in_planes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.norm1 = nn.InstanceNorm2d(planes)
        self.norm2 = nn.InstanceNorm2d(planes)
        self.downsample: nn.Sequential | None = None
        if stride != 1 or in_planes != planes:
            # index 0 is the conv (``downsample.0.weight/bias`` in the checkpoints), 1 the norm
            self.downsample = nn.Sequential(nn.Conv2d(in_planes, planes, 1, stride=stride),
                                            nn.InstanceNorm2d(planes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.norm1(self.conv1(x)))
        y = F.relu(self.norm2(self.conv2(y)))
        if self.downsample is not None:
            x = self.downsample(x)
        return F.relu(x + y)


class TridentConv(nn.Module):
    """One 3x3 kernel applied with several strides (weights shared across branches).

    With two scales the backbone ends at 1/4 and this conv yields the 1/4 and 1/8 features from
    the same weights (UniMatch section 3.3, "hierarchical matching refinement").
    """

    def __init__(self, *, channels: int, strides: tuple[int, ...]) -> None:
        super().__init__()
        self.strides = strides
        self.weight = nn.Parameter(torch.empty(channels, channels, 3, 3))
        nn.init.kaiming_uniform_(self.weight, nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        return [F.conv2d(x, self.weight, None, stride=s, padding=1) for s in self.strides]


class CNNEncoder(nn.Module):
    """Image -> list of feature maps, highest resolution first.

    One scale: features at 1/8. Two scales: 1/4 and 1/8 (the last stage keeps stride 1 and the
    trident conv makes the 1/8 map).
    """

    def __init__(self, *, output_dim: int = 128, num_scales: int = 1) -> None:
        super().__init__()
        if num_scales not in (1, 2):
            raise ValueError(f"num_scales must be 1 or 2, got {num_scales}")
        d1, d2, d3 = _STAGE_DIMS
        self.num_scales = num_scales
        self.conv1 = nn.Conv2d(3, d1, 7, stride=2, padding=3, bias=False)  # 1/2
        self.norm1 = nn.InstanceNorm2d(d1)
        self.layer1 = self._stage(d1, d1, stride=1)  # 1/2
        self.layer2 = self._stage(d1, d2, stride=2)  # 1/4
        self.layer3 = self._stage(d2, d3, stride=2 if num_scales == 1 else 1)  # 1/8 or 1/4
        self.conv2 = nn.Conv2d(d3, output_dim, 1)
        if num_scales > 1:
            self.trident_conv = TridentConv(channels=output_dim, strides=(1, 2))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    @staticmethod
    def _stage(in_planes: int, planes: int, *, stride: int) -> nn.Sequential:
        return nn.Sequential(ResidualBlock(in_planes=in_planes, planes=planes, stride=stride),
                             ResidualBlock(in_planes=planes, planes=planes))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = F.relu(self.norm1(self.conv1(x)))
        x = self.conv2(self.layer3(self.layer2(self.layer1(x))))
        if self.num_scales > 1:
            return self.trident_conv(x)
        return [x]


# -- local regression refinement (UniMatch section 3.4) ----------------------------------------


class MotionEncoder(nn.Module):
    """Encodes the local correlation and the current flow (RAFT's BasicMotionEncoder)."""

    def __init__(self, *, corr_channels: int, flow_channels: int = 2) -> None:
        super().__init__()
        self.convc1 = nn.Conv2d(corr_channels, 256, 1)
        self.convc2 = nn.Conv2d(256, 192, 3, padding=1)
        self.convf1 = nn.Conv2d(flow_channels, 128, 7, padding=3)
        self.convf2 = nn.Conv2d(128, 64, 3, padding=1)
        self.conv = nn.Conv2d(64 + 192, 128 - flow_channels, 3, padding=1)

    def forward(self, flow: torch.Tensor, corr: torch.Tensor) -> torch.Tensor:
        cor = F.relu(self.convc2(F.relu(self.convc1(corr))))
        flo = F.relu(self.convf2(F.relu(self.convf1(flow))))
        out = F.relu(self.conv(torch.cat([cor, flo], dim=1)))
        return torch.cat([out, flow], dim=1)


class SepConvGRU(nn.Module):
    """A convolutional GRU run twice: a 1x5 (horizontal) then a 5x1 (vertical) pass."""

    def __init__(self, *, hidden_dim: int = 128, input_dim: int = 256) -> None:
        super().__init__()
        c = hidden_dim + input_dim
        self.convz1 = nn.Conv2d(c, hidden_dim, (1, 5), padding=(0, 2))
        self.convr1 = nn.Conv2d(c, hidden_dim, (1, 5), padding=(0, 2))
        self.convq1 = nn.Conv2d(c, hidden_dim, (1, 5), padding=(0, 2))
        self.convz2 = nn.Conv2d(c, hidden_dim, (5, 1), padding=(2, 0))
        self.convr2 = nn.Conv2d(c, hidden_dim, (5, 1), padding=(2, 0))
        self.convq2 = nn.Conv2d(c, hidden_dim, (5, 1), padding=(2, 0))

    @staticmethod
    def _step(h: torch.Tensor, x: torch.Tensor, convz: nn.Conv2d, convr: nn.Conv2d,
              convq: nn.Conv2d) -> torch.Tensor:
        hx = torch.cat([h, x], dim=1)
        z = torch.sigmoid(convz(hx))
        r = torch.sigmoid(convr(hx))
        q = torch.tanh(convq(torch.cat([r * h, x], dim=1)))
        return (1 - z) * h + z * q

    def forward(self, h: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        h = self._step(h, x, self.convz1, self.convr1, self.convq1)
        return self._step(h, x, self.convz2, self.convr2, self.convq2)


class FlowHead(nn.Module):
    def __init__(self, *, input_dim: int = 128, hidden_dim: int = 256, out_dim: int = 2) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(input_dim, hidden_dim, 3, padding=1)
        self.conv2 = nn.Conv2d(hidden_dim, out_dim, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2(F.relu(self.conv1(x)))


class UpdateBlock(nn.Module):
    """One refinement step: motion features -> GRU -> residual flow and convex-upsampling mask.

    Unlike RAFT, the mask is not scaled by 0.25 (the official checkpoints were trained without).
    """

    def __init__(self, *, corr_channels: int, downsample_factor: int, hidden_dim: int = 128,
                 context_dim: int = 128, flow_dim: int = 2) -> None:
        super().__init__()
        self.encoder = MotionEncoder(corr_channels=corr_channels, flow_channels=flow_dim)
        self.gru = SepConvGRU(hidden_dim=hidden_dim, input_dim=context_dim + hidden_dim)
        self.flow_head = FlowHead(input_dim=hidden_dim, hidden_dim=256, out_dim=flow_dim)
        self.mask = nn.Sequential(nn.Conv2d(hidden_dim, 256, 3, padding=1), nn.ReLU(inplace=True),
                                  nn.Conv2d(256, downsample_factor ** 2 * 9, 1))

    def forward(self, net: torch.Tensor, inp: torch.Tensor, corr: torch.Tensor,
                flow: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        inp = torch.cat([inp, self.encoder(flow, corr)], dim=1)
        net = self.gru(net, inp)
        return net, self.mask(net), self.flow_head(net)
