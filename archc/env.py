"""Optional dependencies, imported only by the commands that need them (exit code 3 if missing)."""

from __future__ import annotations

import importlib
import importlib.util
import platform
import shutil
import sys
from collections.abc import Iterable
from types import ModuleType


class MissingDependency(Exception):
    """A framework or tool the command needs is not installed; the message says how to install it."""


# The extra that installs each optional module, and what it is.
EXTRAS = {
    "torch": ("torch", "PyTorch"),
    "numpy": ("torch", "NumPy, with PyTorch"),
    "keras": ("keras", "Keras 3 with JAX"),
    "jax": ("keras", "Keras 3 with JAX"),
    "tensorflow": ("tensorflow", "Keras 3 with TensorFlow"),
    "graphviz": ("render", "the graphviz Python package"),
    "pygls": ("lsp", "the language server"),
    "lsprotocol": ("lsp", "the language server"),
}
INSTALL_HINTS = {module: f"pip install 'archc[{extra}]'  ({what})" for module, (extra, what) in EXTRAS.items()}


def installed(module: str) -> bool:
    """Whether `module` can be imported, without importing it (a framework takes seconds to import)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a parent package missing, or a module that is None in sys.modules
        return False


def install_command(modules: Iterable[str]) -> str:
    """One pip command that installs every module given: `pip install 'archc[torch,keras]'`."""
    extras = list(dict.fromkeys(EXTRAS[m][0] for m in modules if m in EXTRAS))
    others = [m for m in modules if m not in EXTRAS]
    return " ".join(["pip install", *([f"'archc[{','.join(extras)}]'"] if extras else []), *others])


def require_all(modules: Iterable[str], what: str) -> None:
    """Check up front that everything `what` (a command) needs is there; one message names all that is missing."""
    wanted = list(dict.fromkeys(modules))
    missing = [m for m in wanted if not installed(m)]
    if not missing:
        return
    names = missing[0] if len(missing) == 1 else ", ".join(missing[:-1]) + " and " + missing[-1]
    which, it = ("which is", "it") if len(missing) == 1 else ("which are", "them")
    message = f"{what} needs {names}, {which} not installed; install {it} with: {install_command(missing)}"
    if "torch" in missing and intel_mac():
        message += f" ({INTEL_MAC})"
    raise MissingDependency(message)


INTEL_MAC = (
    "but there is no PyTorch 2.4 for Intel Macs: PyTorch's last macOS x86-64 wheels are 2.2; "
    "use Linux, Windows or an Apple-silicon Mac for the torch side, the Keras target runs here on JAX"
)


def intel_mac() -> bool:
    return sys.platform == "darwin" and platform.machine() == "x86_64"


def require(module: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        hint = INSTALL_HINTS.get(module.split(".")[0], f"pip install {module}")
        if module.split(".")[0] == "torch" and intel_mac():
            hint += f" ({INTEL_MAC})"
        raise MissingDependency(f"{module} is not installed ({exc}); install it with: {hint}") from None


def require_dot() -> str:
    path = shutil.which("dot")
    if path is None:
        raise MissingDependency(
            "Graphviz's `dot` program is not on PATH; install it with: apt-get install graphviz "
            "(or brew install graphviz); `--format dot` works without it"
        )
    return path


def require_graphviz() -> ModuleType:
    """The graphviz package, with Graphviz's `dot` on PATH; when both are missing, one message says so."""
    if shutil.which("dot") is None and not installed("graphviz"):
        raise MissingDependency(
            "drawing needs Graphviz's `dot` program and the graphviz Python package, which are not installed; install them with: "
            "apt-get install graphviz (or brew install graphviz) and pip install 'archc[render]'; `--format dot` works without them"
        )
    require_dot()
    return require("graphviz")
