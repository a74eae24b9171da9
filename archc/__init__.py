"""archc: a declarative architecture language and compiler for neural networks.

`import archc` loads neither PyTorch nor TensorFlow; the backends import them when asked.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from .compiler import Compilation, InputShapeError, SpecReadError, compile_file, compile_source
from .diagnostics import CompileError, Diagnostic
from .graph import Network
from .runtime import build_model

__version__ = "0.1.0"

__all__ = [
    "Compilation",
    "CompileError",
    "Diagnostic",
    "InputShapeError",
    "Network",
    "SpecReadError",
    "__version__",
    "build_model",
    "check",
    "compile_file",
    "compile_source",
    "load",
]


def _compile(spec: str | Path, input_shape: tuple[int, ...] | None = None, params: Mapping[str, object] | None = None) -> Compilation:
    """A path to a spec, or the spec's text itself (anything with a newline or a brace)."""
    if isinstance(spec, Path) or ("\n" not in spec and "{" not in spec):
        return compile_file(spec, input_shape, params)
    return compile_source(spec, input_shape=input_shape, params=params)


def check(spec: str | Path) -> list[Diagnostic]:
    """Every diagnostic of a spec; an empty list means clean."""
    return _compile(spec).diagnostics


def load(
    spec: str | Path, network: str | None = None, *, input: tuple[int, ...] | None = None, params: Mapping[str, object] | None = None
) -> Network:
    """The shaped network of a spec; raises CompileError listing every error.

    `input` (CxHxW, or N for a flat input) shapes it at another input than the declared one: the
    shape assertions are then not checked (they state the declared input's shapes), every other
    rule is; a malformed shape, or one of the wrong rank, raises InputShapeError.

    `params` shapes it at other values of its network parameters (`{"classes": 10}`); a value
    that is not a number raises ValueError, a name no network has CompileError.
    """
    comp = _compile(spec, input, params)
    comp.raise_for_errors()
    if network is None:
        return comp.networks[0]
    for net in comp.networks:
        if net.name == network:
            return net
    raise KeyError(f"no network {network!r} in the spec; it has {', '.join(n.name for n in comp.networks)}")
