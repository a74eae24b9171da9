"""Generated source → live model. The same text `archc build` writes, executed as a module."""

from __future__ import annotations

import hashlib
import sys
import types
from pathlib import Path
from typing import Any

from . import load
from .build import backend, generate
from .env import require
from .graph import Network

FRAMEWORK = {"torch": "torch", "keras": "keras"}


def load_module(source: str, name: str) -> types.ModuleType:
    """Execute generated source as an importable module (registered so pickling and tracing work)."""
    module = types.ModuleType(name)
    module.__file__ = f"<archc:{name}>"
    sys.modules[name] = module
    exec(compile(source, module.__file__, "exec"), module.__dict__)
    return module


def build_model(spec: str | Path | Network, target: str = "torch", network: str | None = None, *, logits: bool = False, **options: Any) -> Any:
    """An instantiated model of the spec for `target` ("torch" or "keras").

    torch: returns the network's nn.Module. keras: returns the keras.Model; pass aux=True for
    a model whose outputs are the main output followed by each aux head.
    """
    require(FRAMEWORK[target])
    net = spec if isinstance(spec, Network) else load(spec, network)
    source = generate([net], target, net.file, logits=logits)
    module = load_module(source, f"archc_generated_{target}_{hashlib.sha1(source.encode()).hexdigest()[:12]}")
    factory = getattr(module, backend(target).entry_point(net))
    return factory(**options)
