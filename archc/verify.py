"""`archc verify`: the PyTorch and Keras models of a spec compute the same function.

Both models are built from the generated source (archc.runtime.build_model); the torch model
is initialised with a seed, its weights are transferred to the Keras model (archc.weights),
and both see the same seeded input, NCHW for torch and NHWC for Keras, in inference mode.
Outputs that end in a softmax are compared as the spec says and again as logits. Networks
with aux heads are compared on every output: the torch model is put in train() at
its root only (so it returns the aux heads) with every submodule in eval() (so dropout and
batch norm act as in inference), and the Keras model is built with aux=True.

An output passes when its largest absolute difference is within `atol` times its scale, the
largest magnitude of the torch output.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from .env import require
from .graph import Network


@dataclass(frozen=True)
class OutputDiff:
    name: str
    shape: tuple[int, ...]
    max_abs: float
    scale: float

    @property
    def max_rel(self) -> float:
        """The largest absolute difference relative to the output's scale."""
        return self.max_abs / self.scale if self.scale else (0.0 if self.max_abs == 0 else float("inf"))


@dataclass
class VerifyResult:
    network: str
    atol: float
    seed: int
    outputs: list[OutputDiff] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.outputs) and all(o.max_rel <= self.atol for o in self.outputs)

    def text(self) -> str:
        lines = [f"{self.network}: PyTorch vs Keras, seed {self.seed}, tolerance {self.atol:g} of each output's scale"]
        for o in self.outputs:
            mark = "ok" if o.max_rel <= self.atol else "FAIL"
            shape = "x".join(str(d) for d in o.shape)
            lines.append(f"  {o.name:<16} {shape:<12} max abs {o.max_abs:.3e}  max rel {o.max_rel:.3e}  (scale {o.scale:.3e})  {mark}")
        lines.append(f"{self.network}: {'ok' if self.ok else 'FAILED'}")
        return "\n".join(lines)


def verify(net: Network, atol: float = 1e-4, seed: int = 0, batch: int = 2) -> VerifyResult:
    """Build both models of `net`, transfer the torch weights to Keras, compare the outputs.

    Outputs that end in a softmax are compared a second time before it, as logits (rows
    named "output (logits)"): freshly initialised networks give nearly uniform probabilities,
    whose differences say little on their own.
    """
    np = require("numpy")
    require("torch").manual_seed(seed)
    x = np.random.default_rng(seed).standard_normal((batch, *net.input_shape)).astype("float32")
    names = ["output", *(item.name for item in net.aux_heads)]
    heads = [net.nodes[net.output], *(net.node_of(item) for item in net.aux_heads)]
    result = VerifyResult(net.name, atol, seed)
    state = None
    for logits in (False, True):
        if logits and not any("softmax" in (n.op, n.activation) for n in heads):
            break
        expected, actual, state = run_both(net, x, logits, state)
        suffix = " (logits)" if logits else ""
        for name, want, got in zip(names, expected, actual, strict=True):
            got = np.moveaxis(got, -1, 1) if got.ndim == 4 else got
            if want.shape != got.shape:
                raise AssertionError(f"{net.name} {name}: torch gives {want.shape}, keras {got.shape}")
            diff = float(np.max(np.abs(want.astype("float64") - got)))
            result.outputs.append(OutputDiff(name + suffix, tuple(want.shape[1:]), diff, float(np.max(np.abs(want)))))
    return result


def run_both(net: Network, x: Any, logits: bool, state: Any) -> tuple[list[Any], list[Any], Any]:
    """Both models' outputs on `x`; the torch weights are `state` if given, else its own seeded ones."""
    from .runtime import build_model
    from .weights import transfer

    torch_model = build_model(net, "torch", logits=logits)
    if state is not None:
        torch_model.load_state_dict(state)
    aux = bool(net.aux_heads)
    keras_model = build_model(net, "keras", logits=logits, aux=aux)
    transfer(torch_model, keras_model, net)
    expected = torch_outputs(torch_model, x, aux)
    actual = keras_outputs(keras_model, x.transpose(0, 2, 3, 1) if x.ndim == 4 else x)
    return expected, actual, torch_model.state_dict()


def torch_outputs(model: Any, x: Any, aux: bool) -> list[Any]:
    """The torch model's outputs, main first, each as a numpy array, deterministically."""
    import torch

    model.eval()
    if aux:
        model.training = True  # the root alone: it returns the aux heads, its layers stay in eval
    with torch.no_grad():
        out = model(torch.from_numpy(x))
    model.eval()
    outs = list(out) if isinstance(out, tuple) else [out]
    return [o.detach().cpu().numpy() for o in outs]


def keras_outputs(model: Any, x: Any) -> list[Any]:
    import keras

    quiet = logging.getLogger("tensorflow")  # TF warns that eager grouped convs retrace
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        out = model(x, training=False)
    finally:
        quiet.setLevel(level)
    outs = list(out) if isinstance(out, (list, tuple)) else [out]
    return [keras.ops.convert_to_numpy(o) for o in outs]
