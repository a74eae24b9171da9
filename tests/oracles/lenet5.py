"""LeNet-5 (LeCun, Bottou, Bengio, Haffner 1998) by hand, as an oracle for the generated model.

Input 1x32x32. C1 conv 6@5x5 → S2 trainable subsampling → C3 conv 16@5x5 with Table I's partial
connections (one small conv per C3 map, 1,516 parameters) → S4 → C5 conv 120@5x5 → F6 dense 84
→ 10 Euclidean RBF units. Squashing after C1, C3, C5, F6 is 1.7159·tanh(2x/3); the subsampling
layers end in a sigmoid. 60,840 trainable parameters.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

# Table I of the paper, one entry per C3 map: the S2 maps it reads (numbers.md lists the same).
C3_INPUTS: tuple[tuple[int, ...], ...] = (
    (0, 1, 2),
    (1, 2, 3),
    (2, 3, 4),
    (3, 4, 5),
    (0, 4, 5),
    (0, 1, 5),
    (0, 1, 2, 3),
    (1, 2, 3, 4),
    (2, 3, 4, 5),
    (0, 3, 4, 5),
    (0, 1, 4, 5),
    (0, 1, 2, 5),
    (0, 1, 3, 4),
    (1, 2, 4, 5),
    (0, 2, 3, 5),
    (0, 1, 2, 3, 4, 5),
)


def scaled_tanh(x: torch.Tensor) -> torch.Tensor:
    return 1.7159 * torch.tanh(x * (2.0 / 3.0))


class Subsampling(nn.Module):
    """Sum of each non-overlapping 2x2 window, times a coefficient per map, plus a bias per map, then sigmoid."""

    def __init__(self, maps: int) -> None:
        super().__init__()
        self.coefficient = nn.Parameter(torch.empty(maps).uniform_(-1.0, 1.0))
        self.bias = nn.Parameter(torch.empty(maps).uniform_(-1.0, 1.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        window_sum = x.reshape(n, c, h // 2, 2, w // 2, 2).sum(dim=(3, 5))
        return torch.sigmoid(window_sum * self.coefficient.view(1, c, 1, 1) + self.bias.view(1, c, 1, 1))


class TableConv(nn.Module):
    """C3: one 5x5 conv per output map, reading only the S2 maps Table I connects to it."""

    def __init__(self, inputs: tuple[tuple[int, ...], ...] = C3_INPUTS) -> None:
        super().__init__()
        self.inputs = inputs
        self.maps = nn.ModuleList(nn.Conv2d(len(src), 1, 5) for src in inputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([conv(x[:, list(src)]) for conv, src in zip(self.maps, self.inputs, strict=True)], dim=1)


class RBF(nn.Module):
    """y_i = Σ_j (x_j − w_ij)²: the squared distance of the input to each unit's centre."""

    def __init__(self, in_features: int = 84, units: int = 10) -> None:
        super().__init__()
        self.centres = nn.Parameter(torch.empty(units, in_features).uniform_(-1.0, 1.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        diff = x.unsqueeze(1) - self.centres.unsqueeze(0)  # (N, units, in)
        return (diff * diff).sum(dim=2)


class LeNet5(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(1, 6, 5)
        self.s2 = Subsampling(6)
        self.c3 = TableConv()
        self.s4 = Subsampling(16)
        self.c5 = nn.Conv2d(16, 120, 5)
        self.f6 = nn.Linear(120, 84)
        self.output = RBF(84, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.s2(scaled_tanh(self.c1(x)))
        x = self.s4(scaled_tanh(self.c3(x)))
        x = scaled_tanh(self.c5(x)).flatten(1)
        x = scaled_tanh(self.f6(x))
        return self.output(x)


@torch.no_grad()
def load_generated(oracle: LeNet5, generated: Mapping[str, torch.Tensor]) -> LeNet5:
    """Copy the generated model's weights (keys = the spec's layer names) into the oracle.

    Every generated floating-point tensor must be used exactly once and every oracle parameter
    filled: an extra or missing weight in the generated model is an error, not something to skip
    (integer buffers, such as a stored index table, are not weights and are ignored).
    """
    state = dict(generated)

    def take(key: str, shape: tuple[int, ...]) -> torch.Tensor:
        if key not in state:
            raise KeyError(f"generated state_dict has no {key!r}; it has {sorted(generated)}")
        value = state.pop(key)
        if tuple(value.shape) != shape:
            raise ValueError(f"{key}: generated shape {tuple(value.shape)}, oracle expects {shape}")
        return value

    oracle.c1.weight.copy_(take("C1.weight", (6, 1, 5, 5)))
    oracle.c1.bias.copy_(take("C1.bias", (6,)))
    oracle.s2.coefficient.copy_(take("S2.weight", (6,)))
    oracle.s2.bias.copy_(take("S2.bias", (6,)))
    links = sum(len(src) for src in oracle.c3.inputs)
    kernels = take("C3.weight", (links, 5, 5))  # one kernel per link: output map, then input map, ascending
    bias = take("C3.bias", (16,))
    start = 0
    for j, (conv, src) in enumerate(zip(oracle.c3.maps, oracle.c3.inputs, strict=True)):
        conv.weight.copy_(kernels[start : start + len(src)].unsqueeze(0))
        conv.bias.copy_(bias[j : j + 1])
        start += len(src)
    oracle.s4.coefficient.copy_(take("S4.weight", (16,)))
    oracle.s4.bias.copy_(take("S4.bias", (16,)))
    oracle.c5.weight.copy_(take("C5.weight", (120, 16, 5, 5)))
    oracle.c5.bias.copy_(take("C5.bias", (120,)))
    oracle.f6.weight.copy_(take("F6.weight", (84, 120)))
    oracle.f6.bias.copy_(take("F6.bias", (84,)))
    oracle.output.centres.copy_(take("output.weight", (10, 84)))
    leftover = sorted(k for k, v in state.items() if v.is_floating_point())  # integer index tables are not weights
    if leftover:
        raise KeyError(f"generated weights the oracle has no place for: {leftover}")
    return oracle
