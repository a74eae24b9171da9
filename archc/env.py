"""Optional dependencies, imported only by the commands that need them (exit code 3 if missing)."""

from __future__ import annotations

import importlib
import shutil
from types import ModuleType


class MissingDependency(Exception):
    """A framework or tool the command needs is not installed; the message says how to install it."""


INSTALL_HINTS = {
    "torch": "pip install 'archc[torch]'  (PyTorch)",
    "keras": "pip install 'archc[keras]'  (Keras 3 with JAX)",
    "jax": "pip install 'archc[keras]'  (Keras 3 with JAX)",
    "tensorflow": "pip install 'archc[tensorflow]'  (Keras 3 with TensorFlow)",
    "graphviz": "pip install 'archc[render]'  (the graphviz Python package)",
}


def require(module: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        hint = INSTALL_HINTS.get(module.split(".")[0], f"pip install {module}")
        raise MissingDependency(f"{module} is not installed ({exc}); install it with: {hint}") from None


def require_dot() -> str:
    path = shutil.which("dot")
    if path is None:
        raise MissingDependency(
            "Graphviz's `dot` program is not on PATH; install it with: apt-get install graphviz "
            "(or brew install graphviz); `--format dot` works without it"
        )
    return path
