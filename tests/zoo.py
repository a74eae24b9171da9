"""The torchvision zoo harness: a spec under specs/zoo/ against the torchvision model of its name.

Adding a model is a spec file specs/zoo/NAME.arch and one row in ZOO. tests/test_zoo.py then
checks, for every row: equal parameter counts (the spec, the compiled model, torchvision's model
and its published metadata), equal MACs (archc's `macs` against the conv and linear
multiply-adds counted on torchvision's model, and against `meta["_ops"]`), and equal outputs
after torchvision's weights are loaded into the compiled model with archc.weights.load_state_dict.

torchvision is imported here alone, in the way docs/environment notes describe: its compiled
extension is built for the CUDA torch and does not load under torch+cpu, so the fake-kernel
registrations `import torchvision` runs are made no-ops for the duration of the import. The
classification models are pure Python and need none of those ops.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from tests.golden import ROOT

ZOO_DIR = ROOT / "specs" / "zoo"


@dataclass(frozen=True)
class Model:
    """One zoo entry: torchvision.models.NAME(weights=None, **kwargs) against specs/zoo/NAME.arch."""

    name: str
    sizes: tuple[int, ...] = (64,)  # square input sizes the outputs are compared at
    kwargs: dict[str, Any] = field(default_factory=dict)
    same_keys: int = 0  # state_dict keys that the compiled model spells exactly as torchvision
    aux: tuple[str, ...] = ()  # in train mode torchvision also returns these fields: our aux heads, in our order
    published_without_aux: bool = False  # the checkpoint's num_params leaves the aux heads out
    slow: bool = False  # the output comparison takes more than ~5 s on two cores

    @property
    def spec(self) -> Path:
        return ZOO_DIR / f"{self.name}.arch"


ZOO = [
    Model("alexnet", sizes=(63, 100)),  # 63: torchvision's min_size
    Model("vgg16", sizes=(32,), slow=True),
    Model("vgg16_bn", sizes=(32,), slow=True),
    Model(
        "googlenet",
        sizes=(96,),
        kwargs={"aux_logits": True, "transform_input": False, "init_weights": False},
        same_keys=94,
        aux=("aux_logits1", "aux_logits2"),
        published_without_aux=True,
        slow=True,
    ),
    Model("resnet18", sizes=(64, 97), same_keys=8),
    Model("resnet50", same_keys=8, slow=True),
    Model("resnext50_32x4d", same_keys=8, slow=True),
    Model("wide_resnet50_2", same_keys=8, slow=True),
    Model("densenet121", sizes=(29,), same_keys=2, slow=True),  # torchvision's min_size
    Model("squeezenet1_1", sizes=(64, 17)),  # 17: torchvision's min_size, the last pool's window half outside
    Model("regnet_x_400mf", same_keys=2),
    Model("regnet_y_400mf", same_keys=2),
    Model("mobilenet_v2"),
    Model("efficientnet_b0", slow=True),
    Model("convnext_tiny", slow=True),  # its Linear layers act per position: pointwise_dense
    Model("mobilenet_v3_small"),
    Model("mobilenet_v3_large", slow=True),
    Model("shufflenet_v2_x1_0", same_keys=2),
    Model("mnasnet1_0", slow=True),
    # The aux head is shaped at every input, and its 5x5 pool and 5x5 conv need Mixed_6e at
    # 17x17: the spec takes 299x299 (torchvision's eval mode, which skips the head, takes 75x75).
    Model(
        "inception_v3",
        sizes=(299,),
        kwargs={"aux_logits": True, "transform_input": False, "init_weights": False},
        same_keys=46,
        aux=("aux_logits",),
        slow=True,
    ),
]
BY_NAME = {m.name: m for m in ZOO}

# torchvision classification models without a spec, and what the language lacks for each (written
# down rather than approximated). An op added, a spec written, a row above: the tests follow.
MISSING = {
    "efficientnet_b1 … b7, efficientnet_v2_*": "nothing new: wider and deeper EfficientNet-B0 (v2: fused MBConv), not written yet",
    "convnext_small/base/large": "nothing new: ConvNeXt-Tiny's modules at other depths and widths, not written yet",
    "vit_*, swin_*, maxvit_t": "attention, LayerNorm, GELU, patch embeddings",
}
# Expressible today with the modules of the specs above, not in the table yet: vgg11/13/19 (and
# _bn), resnet101/152,
# resnext101_*, wide_resnet101_2, densenet161/169/201, squeezenet1_0, the other regnet_x_*.
# The other mnasnet* and regnet_y_* are written like the ones above.


@contextlib.contextmanager
def _fake_registrations_ignored(torch: ModuleType) -> Iterator[None]:
    original = torch.library.register_fake
    torch.library.register_fake = lambda *args, **kwargs: lambda fn: fn
    try:
        yield
    finally:
        torch.library.register_fake = original


def torchvision() -> ModuleType:
    """torchvision, importable under the CPU build of torch (see the module docstring)."""
    import sys

    import torch

    if "torchvision" not in sys.modules:
        with _fake_registrations_ignored(torch):
            import torchvision as tv  # noqa: F401
    return sys.modules["torchvision"]


def reference(model: Model, device: str | None = None) -> Any:
    """torchvision's model, random weights (nothing is downloaded); on the meta device it costs nothing."""
    import torch

    build = getattr(torchvision().models, model.name)
    if device is None:
        return build(weights=None, **model.kwargs)
    try:
        with torch.device(device):
            return build(weights=None, **model.kwargs)
    except NotImplementedError:  # regnet computes its widths with tensors, which meta cannot read back
        return build(weights=None, **model.kwargs).to(device)


def published(model: Model) -> dict[str, Any]:
    """The metadata torchvision publishes for the model's default weights: num_params, _ops (GMACs), min_size."""
    meta: dict[str, Any] = torchvision().models.get_model_weights(model.name).DEFAULT.meta
    return meta


def conv_linear_macs(module: Any, size: tuple[int, int, int]) -> int:
    """Multiply-accumulates of every Conv2d and Linear in one eval-mode forward of one sample,
    counted from shapes on the meta device: weights only, no bias, pooling or normalisation
    (archc's `macs` convention, and the one torchvision's `_ops` figure follows)."""
    import torch

    total = 0

    def count(layer: Any, _inputs: Any, out: Any) -> None:
        nonlocal total
        if isinstance(layer, torch.nn.Conv2d):
            kh, kw = layer.kernel_size
            total += out.numel() * kh * kw * layer.in_channels // layer.groups
        elif isinstance(layer, torch.nn.Linear):
            total += out.numel() * layer.in_features

    hooks = [m.register_forward_hook(count) for m in module.modules() if isinstance(m, torch.nn.Conv2d | torch.nn.Linear)]
    try:
        module.eval()
        with torch.no_grad():
            module(torch.empty(1, *size, device="meta"))
    finally:
        for hook in hooks:
            hook.remove()
    return total


def calibrate(model: Any, seed: int = 0, batch: int = 4, size: int = 64) -> None:
    """Give every batch norm random scale and shift and the statistics of a random batch.

    Fresh from its initialiser (scale 1, shift 0, mean 0, variance 1) a deep batch-norm network
    can give outputs that barely depend on the input; measured statistics (train mode with
    momentum=None, one batch, then eval) make a comparison mean something.
    """
    import torch

    gen = torch.Generator().manual_seed(seed)
    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    momenta = [bn.momentum for bn in norms]
    with torch.no_grad():
        for bn in norms:
            bn.weight.copy_(torch.rand(bn.weight.shape, generator=gen) + 0.5)
            bn.bias.copy_(torch.rand(bn.bias.shape, generator=gen) - 0.5)
            bn.reset_running_stats()
            bn.momentum = None  # a cumulative average: after one batch, that batch's statistics
        model.train()
        model(torch.randn(batch, 3, size, size, generator=gen))
    for bn, momentum in zip(norms, momenta, strict=True):
        bn.momentum = momentum
    model.eval()


def relative_error(got: Any, want: Any) -> float:
    """max |got − want| relative to the output's scale, max |want|."""
    scale = float(want.abs().max())
    return float((got - want).abs().max()) / scale if scale else math.inf
