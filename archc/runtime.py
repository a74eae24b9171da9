"""Generated source → live model. The same text `archc build` writes, executed as a module."""

from __future__ import annotations

import hashlib
import os
import sys
import types
from pathlib import Path
from typing import Any

from .build import backend, generate
from .env import require
from .graph import Network

FRAMEWORK = {"torch": "torch", "keras": "keras"}

# Models larger than this are refused before anything is allocated (override: ARCHC_MAX_MODEL_BYTES).
DEFAULT_MAX_MODEL_BYTES = 8 * 1024**3
BYTES_PER_PARAM = 4  # float32


class ModelTooLarge(Exception):
    """The model's parameters would not fit the memory budget."""


class BadBudget(ValueError):
    """ARCHC_MAX_MODEL_BYTES is not a positive whole number (a usage error)."""


def memory_budget(budget: int | None = None) -> int:
    """The memory budget in bytes: `budget`, else ARCHC_MAX_MODEL_BYTES, else 8 GiB."""
    if budget is not None:
        return budget
    text = os.environ.get("ARCHC_MAX_MODEL_BYTES")
    if text is None:
        return DEFAULT_MAX_MODEL_BYTES
    try:
        value = int(text.replace("_", ""))
    except ValueError:
        value = 0
    if value < 1:
        raise BadBudget(f"ARCHC_MAX_MODEL_BYTES={text!r} is not a positive whole number of bytes (e.g. 8589934592 for 8 GiB)")
    return value


def check_memory(net: Network, budget: int | None = None, extra: int = 0, what: str = "") -> None:
    """Refuses, before anything is allocated, a model whose parameters (plus `extra` bytes of
    `what`, e.g. verify's inputs and activations) would not fit the budget."""
    limit = memory_budget(budget)
    size = net.total_params * BYTES_PER_PARAM + extra
    if size > limit:
        parts = f"its {net.total_params:,} float32 parameters" + (f" and {what}" if what else "")
        raise ModelTooLarge(
            f"{net.name} would need {size / 1024**3:.1f} GiB for {parts}, "
            f"over the budget of {limit / 1024**3:.1f} GiB (set ARCHC_MAX_MODEL_BYTES to raise it)"
        )


def load_module(source: str, name: str) -> types.ModuleType:
    """Execute generated source as an importable module (registered so pickling and tracing work)."""
    module = types.ModuleType(name)
    module.__file__ = f"<archc:{name}>"
    sys.modules[name] = module
    exec(compile(source, module.__file__, "exec"), module.__dict__)
    return module


def _at_input(net: Network, shape: tuple[int, ...] | None, params: dict[str, Any] | None = None) -> Network:
    """`net` shaped again from its own source at another input, or other parameter values."""
    from .compiler import compile_source

    comp = compile_source(net.source, net.file, shape, params)
    comp.raise_for_errors()
    return next(n for n in comp.networks if n.name == net.name)


def build_model(
    spec: str | Path | Network,
    target: str = "torch",
    network: str | None = None,
    *,
    logits: bool = False,
    softmax: bool = False,
    input: tuple[int, ...] | None = None,
    params: dict[str, Any] | None = None,
    **options: Any,
) -> Any:
    """An instantiated model of the spec for `target` ("torch" or "keras").

    torch: returns the network's nn.Module, which returns logits where the spec ends in a
    softmax (PyTorch's convention, for nn.CrossEntropyLoss); softmax=True keeps it.
    keras: returns the keras.Model; pass aux=True for a model whose outputs are the main
    output followed by each aux head, and classifier_activation=None for logits (the
    default is the spec's softmax, as in keras.applications). logits=True drops an output's
    softmax on either target.

    input=(C, H, W) (or (N,) for a flat input) builds the model for another input size: the spec
    is shaped again at that size, so every shape, count and padding choice is exact for it (its
    `-> SHAPE` assertions, stated for the declared input, are not checked). A size the network
    cannot take raises CompileError; a malformed one InputShapeError.

    params={"classes": 10} builds it at other values of the network's parameters
    (`network ResNet50(classes=1000)`): the spec is shaped at them, and the generated class's
    (or builder's) defaults are these values, so the model is the one the spec describes there.
    """
    from . import load  # the package's own entry point, defined after this module is imported

    if isinstance(spec, Network):
        net = spec if input is None and not params else _at_input(spec, input, params)
    else:
        net = load(spec, network, input=input, params=params)
    check_memory(net, options.pop("max_bytes", None))
    require(FRAMEWORK[target])
    if logits and softmax:
        raise ValueError("logits=True and softmax=True contradict each other")
    source = generate([net], target, net.file, softmax=False if logits else (True if softmax else None))
    module = load_module(source, f"archc_generated_{target}_{hashlib.sha1(source.encode()).hexdigest()[:12]}")
    factory = getattr(module, backend(target).entry_point(net))
    model = factory(**options)
    model.archc_network = net  # lets archc.weights.transfer(src, dst) find the layers without being told
    return model
