"""Source of the small layers PyTorch lacks, copied into generated files that use them."""

from __future__ import annotations

MAKE_DIVISIBLE = '''
def make_divisible(v: float, divisor: int) -> int:
    """torchvision's _make_divisible(v, divisor): v rounded to a multiple of divisor, at most 10% down."""
    new_v = max(divisor, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v
'''

WHOLE = '''
def whole(value: float) -> int:
    """A whole number the spec computes by division: refused, as archc's checker refuses it, unless whole."""
    if value != int(value):
        raise ValueError(f"{value} is not a whole number (the spec's expression must give one here)")
    return int(value)
'''

SCALED_TANH = '''
def scaled_tanh(x: torch.Tensor) -> torch.Tensor:
    """LeNet-5's squashing function f(a) = 1.7159 tanh(2a/3)."""
    return 1.7159 * torch.tanh(x * (2.0 / 3.0))
'''

TABLE_CONV = '''
class TableConv2d(nn.Module):
    """A convolution whose output maps read only the input maps a connection table lists.

    `weight` holds one kernel per link, ordered by output map then input map, so the layer
    has exactly the table's parameters; forward scatters them into a dense kernel.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        connections: tuple[tuple[int, ...], ...],
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] = 0,
        dilation: int | tuple[int, int] = 1,
        bias: bool = True,
    ) -> None:
        super().__init__()
        kh, kw = (
            (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
        )
        self.in_channels, self.out_channels = in_channels, out_channels
        self.stride, self.padding, self.dilation = stride, padding, dilation
        outs = [o for o, ins in enumerate(connections) for _ in ins]
        ins = [i for row in connections for i in row]
        self.register_buffer("out_index", torch.tensor(outs), persistent=False)
        self.register_buffer("in_index", torch.tensor(ins), persistent=False)
        self.out_index: torch.Tensor  # the buffers' types, for type checkers
        self.in_index: torch.Tensor
        self.weight = nn.Parameter(torch.empty(len(ins), kh, kw))
        self._dense: torch.Tensor | None = None  # inference cache of dense_weight()
        self._dense_key: tuple[object, ...] | None = None
        self.bias = nn.Parameter(torch.empty(out_channels)) if bias else None
        fan_in = (
            torch.bincount(self.out_index, minlength=out_channels).float() * kh * kw
        )
        bound = fan_in.rsqrt()
        with torch.no_grad():
            self.weight.uniform_(-1, 1).mul_(bound[self.out_index].view(-1, 1, 1))
            if self.bias is not None:
                self.bias.uniform_(-1, 1).mul_(bound)

    def dense_weight(self) -> torch.Tensor:
        """The kernels scattered into a dense (out, in, kh, kw) weight, zero where unlinked."""
        kh, kw = self.weight.shape[1:]
        dense = self.weight.new_zeros(self.out_channels, self.in_channels, kh, kw)
        return dense.index_put((self.out_index, self.in_index), self.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch._jit_internal.is_scripting():  # TorchScript compiles only this branch
            weight = self.dense_weight()
        else:
            weight = self.eager_weight()
        return F.conv2d(x, weight, self.bias, self.stride, self.padding, self.dilation)

    @torch.jit.unused
    def eager_weight(self) -> torch.Tensor:
        if torch.is_grad_enabled() or torch.compiler.is_compiling():
            return self.dense_weight()
        # inference: scatter again only when the kernels change
        key = (self.weight._version, self.weight.data_ptr(), self.weight.dtype)
        if self._dense is None or self._dense_key != key:
            self._dense, self._dense_key = self.dense_weight(), key
        return self._dense
'''

SUBSAMPLE = '''
class Subsample(nn.Module):
    """LeNet-5's subsampling: each window's sum times a trainable coefficient plus a bias, per map."""

    def __init__(
        self,
        channels: int,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int],
    ) -> None:
        super().__init__()
        self.kernel_size, self.stride = kernel_size, stride
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        kh, kw = (
            (self.kernel_size, self.kernel_size)
            if isinstance(self.kernel_size, int)
            else self.kernel_size
        )
        summed = F.avg_pool2d(x, self.kernel_size, self.stride) * (kh * kw)
        return summed * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)
'''

RBF = '''
class RBF(nn.Module):
    """Euclidean radial basis units: y_i = sum_j (x_j - w_ij)^2, one centre per unit."""

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(
            torch.empty(out_features, in_features).uniform_(-1, 1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x.unsqueeze(1) - self.weight).pow(2).sum(-1)
'''

CHANNEL_SHUFFLE = '''
def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """ShuffleNet's channel shuffle: the maps as `groups` rows, read column by column."""
    n, c, h, w = x.shape
    x = x.view(n, groups, c // groups, h, w).transpose(1, 2)
    return x.reshape(n, c, h, w)
'''

PARTIAL_BATCH_NORM = '''
class PartialBatchNorm{rank}(nn.BatchNorm{rank}):
    """nn.BatchNorm{rank} with only some of its trainable tensors, as Keras' BatchNormalization:
    scale=False leaves out the scale (weight, fixed at 1), center=False the shift (bias, fixed at 0).
    """

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float = 0.1,
        scale: bool = True,
        center: bool = True,
    ) -> None:
        super().__init__(num_features, eps, momentum, affine=False)
        if scale:
            self.weight = nn.Parameter(torch.ones(num_features))
        if center:
            self.bias = nn.Parameter(torch.zeros(num_features))
'''

LAYER_NORM_2D = '''
class LayerNorm2d(nn.LayerNorm):
    """Layer norm over the maps at each position of an (N, C, H, W) tensor (torchvision's ConvNeXt)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.permute(0, 2, 3, 1)
        x = F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        # back in the (N, C, H, W) layout every other layer gives: a channels-last tensor here
        # would let later kernels pick their algorithm by strides (last bits differ). A clone,
        # not .contiguous(): with one map that keeps the channels-last strides
        return x.permute(0, 3, 1, 2).clone(memory_format=torch.contiguous_format)
'''

POINTWISE_LINEAR = '''
class PointwiseLinear(nn.Linear):
    """A linear layer at each position of an (N, C, H, W) tensor, over its C maps (torchvision's
    ConvNeXt applies nn.Linear to the channels-last tensor): weight (out_features, C)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # weight @ maps for each sample, on the (N, C, H*W) view: no copy in or out, and the
        # (N, C, H, W) layout every other layer gives (F.linear on the channels-last view needs
        # a contiguous copy each way: twice torchvision's time for ConvNeXt's blocks)
        n, c, h, w = x.shape
        weight, maps = self.weight.expand(n, -1, -1), x.reshape(n, c, h * w)
        if self.bias is None:
            return torch.bmm(weight, maps).view(n, -1, h, w)
        return torch.baddbmm(self.bias[:, None], weight, maps).view(n, -1, h, w)
'''

LAYER_SCALE = '''
class LayerScale(nn.Module):
    """A learnable scale per map: y = weight * x, weight of `shape` ((C, 1, 1) for maps), initially `init`."""

    def __init__(self, shape: tuple[int, ...], init: float = 1e-6) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.full(shape, init))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.weight * x
'''

STOCHASTIC_DEPTH = '''
class StochasticDepth(nn.Module):
    """While training, zeroes each sample's whole input with probability p and scales the kept ones
    by 1 / (1 - p), as torchvision.ops.StochasticDepth(p, "row"); the identity in eval().
    """

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        survival = 1.0 - self.p
        size = [x.shape[0]] + [1] * (x.dim() - 1)  # one draw per sample
        noise = torch.empty(size, dtype=x.dtype, device=x.device).bernoulli_(survival)
        return x * noise.div_(survival)

    def extra_repr(self) -> str:
        return f"p={self.p}"
'''

# helper name → (source, what it needs); the generator copies only the helpers a file uses
NORMALIZE = '''
class Normalize(nn.Module):
    """(x - mean[c]) / std[c] for each map (or feature) c, as torchvision's Normalize.

    mean and std are constants, not parameters: non-persistent buffers, so they follow
    .to(device) but no state_dict holds them. A single number holds for every channel.
    """

    def __init__(self, mean: tuple[float, ...], std: tuple[float, ...]) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean), persistent=False)
        self.register_buffer("std", torch.tensor(std), persistent=False)
        self.mean: torch.Tensor  # the buffers' types, for type checkers
        self.std: torch.Tensor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = (1, -1) + (1,) * (x.dim() - 2)  # channels first, broadcast over H and W
        return (x - self.mean.view(shape)) / self.std.view(shape)
'''

RESCALE = '''
class Rescale(nn.Module):
    """x * scale[c] + offset for each map (or feature) c, as Keras' Rescaling with one factor per
    channel. The factors are constants: a non-persistent buffer, which follows .to(device) and
    which no state_dict holds."""

    def __init__(self, scale: tuple[float, ...], offset: float = 0.0) -> None:
        super().__init__()
        self.register_buffer("scale", torch.tensor(scale), persistent=False)
        self.scale: torch.Tensor  # the buffer's type, for type checkers
        self.offset = offset

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = (1, -1) + (1,) * (x.dim() - 2)  # channels first, broadcast over H and W
        return x * self.scale.view(shape) + self.offset
'''

HELPERS = {
    "make_divisible": MAKE_DIVISIBLE,
    "whole": WHOLE,
    "scaled_tanh": SCALED_TANH,
    "TableConv2d": TABLE_CONV,
    "Subsample": SUBSAMPLE,
    "RBF": RBF,
    "channel_shuffle": CHANNEL_SHUFFLE,
    "PartialBatchNorm2d": PARTIAL_BATCH_NORM.replace("{rank}", "2d"),
    "PartialBatchNorm1d": PARTIAL_BATCH_NORM.replace("{rank}", "1d"),
    "LayerNorm2d": LAYER_NORM_2D,
    "PointwiseLinear": POINTWISE_LINEAR,
    "LayerScale": LAYER_SCALE,
    "StochasticDepth": STOCHASTIC_DEPTH,
    "Normalize": NORMALIZE,
    "Rescale": RESCALE,
}
