"""`archc verify`: the PyTorch and Keras models of a spec compute the same function.

Both models are built from the generated source (archc.runtime.build_model); the torch model
is initialised with a seed and calibrated (He-normal conv and dense weights, random batch-norm
scale and shift, statistics measured on the verification batch), its weights are transferred to the Keras model
(archc.weights), and each sees its own copy of one seeded input, NCHW for torch and NHWC for
Keras, in inference mode. The sensitivity (how far the output moves between two inputs) is
reported, and a comparison whose output does not move is inconclusive, not a pass.
Outputs that end in a softmax are compared as the spec says and again as logits. Networks
with aux heads are compared on every output: the torch model is put in train() at
its root only (so it returns the aux heads) with every submodule in eval() (so dropout and
batch norm act as in inference), and the Keras model is built with aux=True.

An output passes when its largest absolute difference is within `atol` times its scale, the
largest magnitude of the torch output.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .env import MissingDependency, require
from .graph import Network
from .runtime import BYTES_PER_PARAM, ModelTooLarge, check_memory, memory_budget

# Keras backends verify can run the Keras side on, and the module each needs. JAX shares no
# kernel with PyTorch (Keras on torch would share them) and, once its compilation cache is
# warm, verifies faster than TensorFlow (docs/benchmarks.md); it imports faster in any case.
KERAS_BACKENDS = {"jax": "jax", "tensorflow": "tensorflow", "torch": "torch"}
Progress = Callable[[str], None]


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
    # How far the torch output moves between two different inputs, relative to its scale:
    # a comparison proves something only when this is well above the tolerance.
    sensitivity: float | None = None
    first_divergence: str | None = None  # --layers: the first layer whose outputs differ
    backend: str = ""  # the Keras backend the Keras side ran on
    # set when verify ran at a smaller input than the spec's, to fit the memory budget: why
    reduced: str = ""

    @property
    def inconclusive(self) -> bool:
        return self.sensitivity is not None and self.sensitivity < MIN_SENSITIVITY * self.atol

    @property
    def ok(self) -> bool:
        return bool(self.outputs) and all(o.max_rel <= self.atol for o in self.outputs) and not self.inconclusive

    def text(self) -> str:
        on = f" ({self.backend} backend)" if self.backend else ""
        lines = [f"{self.network}: PyTorch vs Keras{on}, seed {self.seed}, tolerance {self.atol:g} of each output's scale"]
        if self.reduced:
            lines.append(f"  note: {self.reduced}")
        for o in self.outputs:
            mark = "ok" if o.max_rel <= self.atol else "FAIL"
            shape = "x".join(str(d) for d in o.shape)
            lines.append(f"  {o.name:<16} {shape:<12} max abs {o.max_abs:.3e}  max rel {o.max_rel:.3e}  (scale {o.scale:.3e})  {mark}")
        if self.sensitivity is not None:
            lines.append(
                f"  sensitivity: between two inputs the output moves by {self.sensitivity:.3e} of its scale, "
                f"{self.sensitivity / self.atol:,.0f}x the tolerance"
            )
        if self.first_divergence is not None:
            lines.append(f"  first layer whose outputs differ: {self.first_divergence}")
        verdict = "INCONCLUSIVE (the output barely depends on the input)" if self.inconclusive else ("ok" if self.ok else "FAILED")
        lines.append(f"{self.network}: {verdict}")
        return "\n".join(lines)


# An output that moves by less than this many tolerances between two inputs proves nothing.
MIN_SENSITIVITY = 10.0


# Keras imports, whenever they are installed, libraries that verify never uses: scikit-learn
# for its wrappers (1 s of verify's start-up on the 2-core machine), requests for a remote
# monitoring callback (0.09 s), Pillow for image loading (0.04 s) and h5py for legacy saving.
# Each import sits in a `try` in Keras, which falls back to None. A process that exists only to
# verify (the CLI) imports Keras without them; later imports of them in the process still work.
# TensorFlow itself needs requests, and Keras on TensorFlow imports it, so there only scikit-learn.
OPTIONAL_KERAS_IMPORTS = {"jax": ("sklearn", "requests", "PIL", "h5py"), "tensorflow": ("sklearn",), "torch": ("sklearn",)}


def select_backend(requested: str | None = None, *, standalone: bool = False) -> str:
    """The Keras backend for verify's Keras side, set before keras is first imported: the
    requested one, else KERAS_BACKEND, else JAX when installed, else TensorFlow. `standalone`
    (a process that only verifies) leaves out Keras' optional scikit-learn wrappers."""
    if "keras" in sys.modules:  # imported already: its backend is fixed for this process
        current = str(sys.modules["keras"].backend.backend())
        if requested and requested != current:
            raise MissingDependency(
                f"keras is already imported with the {current} backend in this process; {requested} cannot be chosen now"
            )
        return current
    choice = requested or os.environ.get("KERAS_BACKEND") or ("jax" if importlib.util.find_spec("jax") else "tensorflow")
    if choice not in KERAS_BACKENDS:
        raise MissingDependency(f"unknown Keras backend {choice!r}: choose {', '.join(KERAS_BACKENDS)}")
    if importlib.util.find_spec(KERAS_BACKENDS[choice]) is None:
        raise MissingDependency(f"the Keras backend {choice} is not installed: pip install {KERAS_BACKENDS[choice]}")
    os.environ["KERAS_BACKEND"] = choice
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TensorFlow's start-up notices
    if choice == "jax":
        _jax_compilation_cache()
    hidden = [m for m in OPTIONAL_KERAS_IMPORTS[choice] if standalone and m not in sys.modules]
    for module in hidden:
        sys.modules[module] = None  # type: ignore[assignment]  # `import sklearn` raises ImportError
    try:
        _import_quietly("keras")
    finally:
        for module in hidden:
            del sys.modules[module]
    return choice


# What TensorFlow writes to the process's stderr while it loads, which TF_CPP_MIN_LOG_LEVEL does
# not silence. Its oneDNN setting itself is left as the user has it: verify must run the Keras
# side the way the user's own process will (docs/targets.md: a oneDNN convolution bug).
START_UP_NOTICES = (
    "oneDNN custom operations are on",
    "All log messages before absl::InitializeLog",
    "To enable the following instructions",
)


def _import_quietly(module: str) -> None:
    """Imports `module` with file descriptor 2 captured; lines other than the known start-up
    notices are written back, so that a real error still reaches the user."""
    import tempfile

    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            importlib.import_module(module)
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            lines = captured.read().decode("utf-8", "replace").splitlines(keepends=True)
            sys.stderr.write("".join(line for line in lines if not any(n in line for n in START_UP_NOTICES)))


def _jax_compilation_cache() -> None:
    """JAX compiles every op and weight initialiser per shape (LeNet-5: 6 s of CPU); a
    persistent cache in archc's private cache directory makes the next run's 0.8 s."""
    from .parse import private_cache_dir

    folder = private_cache_dir("jax")
    if folder is None:
        return
    jax: Any = importlib.import_module("jax")  # untyped use: jax's config is not annotated
    jax.config.update("jax_compilation_cache_dir", folder)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)


def verify_bytes(net: Network, batch: int) -> int:
    """What verify allocates besides one model's parameters: the second framework's copy of
    them, and its inputs (two draws and a private copy each) and activations at `batch`."""
    numel = [_numel(n.shape) for n in net.nodes if n.id in net.live or n.id == 0]
    return net.total_params * BYTES_PER_PARAM + BYTES_PER_PARAM * batch * (6 * _numel(net.input_shape) + 4 * max(numel))


def fit_budget(net: Network, batch: int, budget: int | None = None) -> tuple[Network, str]:
    """`net` itself when verify fits the memory budget at its input; else the network shaped at
    the largest halving of its height and width that fits and still checks clean with the same
    parameters (a fully convolutional network computes the same function of its weights at any
    size), with a sentence saying so; else ModelTooLarge, before anything is allocated."""
    what = f"verify's inputs and activations at batch {batch}"
    try:
        check_memory(net, budget, extra=verify_bytes(net, batch), what=what)
        return net, ""
    except ModelTooLarge as too_large:
        if len(net.input_shape) != 3:
            raise
        refusal = too_large
    from .compiler import compile_source

    c, h, w = net.input_shape
    while h > 1 or w > 1:
        h, w = max(1, h // 2), max(1, w // 2)
        comp = compile_source(net.source, net.file, (c, h, w), {name: value for name, (_, value) in net.params.items()})
        smaller = next((n for n in comp.networks if n.name == net.name), None)
        if comp.errors or smaller is None or smaller.total_params != net.total_params:
            break  # the network does not take this size, or it is another model there
        try:
            check_memory(smaller, budget, extra=verify_bytes(smaller, batch), what=what)
        except ModelTooLarge:
            continue
        full = net.total_params * BYTES_PER_PARAM + verify_bytes(net, batch)
        shape = "x".join(map(str, net.input_shape))
        return smaller, (
            f"verified at {c}x{h}x{w}, not {shape}: at {shape} verify would need {full / 1024**3:.1f} GiB, over the memory "
            f"budget of {memory_budget(budget) / 1024**3:.1f} GiB (ARCHC_MAX_MODEL_BYTES); the network has the same "
            "parameters at both sizes"
        )
    raise refusal


def _numel(shape: tuple[int, ...]) -> int:
    total = 1
    for d in shape:
        total *= d
    return total


def verify(
    net: Network,
    atol: float = 1e-4,
    seed: int = 0,
    batch: int = 2,
    layers: bool = False,
    backend: str | None = None,
    progress: Progress | None = None,
    standalone: bool = False,
) -> VerifyResult:
    """Build both models of `net`, calibrate the torch one, transfer its weights, compare.

    Calibration makes every normalisation real: batch-norm scale and shift are drawn at random
    and the running statistics are measured on the verification batch itself (a fresh network's
    mean 0 / variance 1 would leave deep networks' outputs almost independent of the input).
    Each framework gets its own copy of the input. Outputs that end in a softmax are compared
    a second time before it, as logits (rows named "output (logits)"). `standalone`: the process
    exists only to verify (the CLI), so Keras is imported without its optional wrappers.
    """
    say = progress or (lambda _: None)
    net, reduced = fit_budget(net, batch)
    if reduced:
        say(reduced)
    backend = select_backend(backend, standalone=standalone)
    np = require("numpy")
    torch = require("torch")
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, *net.input_shape)).astype("float32")
    other = rng.standard_normal((batch, *net.input_shape)).astype("float32")
    names = ["output", *(item.name for item in net.aux_heads)]
    heads = [net.nodes[net.output], *(net.node_of(item) for item in net.aux_heads)]
    result = VerifyResult(net.name, atol, seed, backend=backend, reduced=reduced)
    state = None
    for logits in (False, True):
        if logits and not any("softmax" in (n.op, n.activation) for n in heads):
            break
        torch_model = keras_model = None  # free the previous pair before building the next
        torch_model, keras_model = build_pair(net, logits, state, x, seed, say, backend)
        state = torch_model.state_dict()
        started = time.perf_counter()
        expected = torch_outputs(torch_model, x.copy(), bool(net.aux_heads))
        actual = keras_outputs(keras_model, channels_last(x.copy()))
        say(f"ran both{' on logits' if logits else ''} ({time.perf_counter() - started:.1f} s); comparing")
        suffix = " (logits)" if logits else ""
        for name, want, got in zip(names, expected, actual, strict=True):
            got = np.moveaxis(got, -1, 1) if got.ndim == 4 else got
            if want.shape != got.shape:
                raise AssertionError(f"{net.name} {name}: torch gives {want.shape}, keras {got.shape}")
            diff = float(np.max(np.abs(want.astype("float64") - got)))
            result.outputs.append(OutputDiff(name + suffix, tuple(want.shape[1:]), diff, float(np.max(np.abs(want)))))
        # sensitivity on the comparison that means most: logits when there is a softmax
        moved = torch_outputs(torch_model, other.copy(), False)[0]
        scale = float(np.max(np.abs(expected[0]))) or 1.0
        result.sensitivity = float(np.max(np.abs(expected[0].astype("float64") - moved))) / scale
        if layers and result.first_divergence is None:
            result.first_divergence = first_divergence(net, torch_model, keras_model, x, atol)
    return result


def channels_last(x: Any) -> Any:
    return x.transpose(0, 2, 3, 1).copy() if x.ndim == 4 else x


def build_pair(net: Network, logits: bool, state: Any, x: Any, seed: int, say: Progress, backend: str) -> tuple[Any, Any]:
    """The torch model (calibrated on `x`, or given `state`) and the Keras model with its weights."""
    from .runtime import build_model
    from .weights import transfer

    started = time.perf_counter()
    torch_model = build_model(net, "torch", logits=logits, softmax=not logits)
    if state is not None:
        torch_model.load_state_dict(state)
    else:
        calibrate(torch_model, x.copy(), seed)
    say(f"built the PyTorch model ({time.perf_counter() - started:.1f} s); building the Keras model on {backend}")
    started = time.perf_counter()
    # like with like: the spec's softmax on both sides, then logits on both sides
    keras_model = build_model(net, "keras", aux=bool(net.aux_heads), classifier_activation=None if logits else "softmax")
    say(f"built the Keras model ({time.perf_counter() - started:.1f} s); transferring the weights")
    transfer(torch_model, keras_model, net)
    return torch_model, keras_model


def calibrate(model: Any, x: Any, seed: int) -> None:
    """Weights under which the output depends on the input, and real normalisations.

    PyTorch's default initialisation shrinks the signal layer by layer, so that a deep
    network's logits are mostly its last bias (GoogLeNet's moved by 7e-6 of their scale
    between two inputs): convs and dense layers get He-normal weights and small biases.
    Batch norm gets a random scale and shift and running statistics measured on `x`.
    """
    import torch

    gen = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)):
                fan_in = m.weight[0].numel()
                m.weight.copy_(torch.randn(m.weight.shape, generator=gen) * (2.0 / fan_in) ** 0.5)
                if m.bias is not None:
                    m.bias.copy_(torch.randn(m.bias.shape, generator=gen) * 0.01)
    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return
    with torch.no_grad():
        for m in norms:
            if m.weight is not None:  # None: batchnorm scale=false
                m.weight.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
            if m.bias is not None:
                m.bias.copy_(torch.randn(m.num_features, generator=gen) * 0.3)
            m.reset_running_stats()
            m.momentum = None  # a cumulative average: one batch gives exactly its statistics
        model.eval()
        for m in norms:
            m.train()
        model(torch.from_numpy(x))
        for m in norms:
            m.momentum = 0.1
        model.eval()


def first_divergence(net: Network, torch_model: Any, keras_model: Any, x: Any, atol: float) -> str | None:
    """The first layer, in the spec's order, whose torch and Keras outputs differ beyond `atol`."""
    import keras
    import numpy as np

    from .backends.keras import layer_name
    from .backends.pytorch import torch_paths

    paths = torch_paths(net)
    modules = dict(torch_model.named_modules())
    seen: dict[int, Any] = {}
    hooks = []
    candidates = [n for n in net.layers if n.id in net.live and not n.activation and paths.get(n.path) in modules]
    for node in candidates:

        def hook(_m: Any, _i: Any, out: Any, nid: int = node.id) -> None:
            seen[nid] = out.detach().numpy().copy()

        hooks.append(modules[paths[node.path]].register_forward_hook(hook))
    try:
        torch_outputs(torch_model, x.copy(), bool(net.aux_heads))
    finally:
        for h in hooks:
            h.remove()
    layers = [n for n in candidates if n.id in seen]
    if not layers:
        return None
    probe = keras.Model(keras_model.input, [keras_model.get_layer(layer_name(n)).output for n in layers])
    outs = probe(channels_last(x.copy()), training=False)
    outs = outs if isinstance(outs, (list, tuple)) else [outs]
    for node, got in zip(layers, outs, strict=True):
        got = keras.ops.convert_to_numpy(got)
        got = np.moveaxis(got, -1, 1) if got.ndim == 4 else got
        want = seen[node.id]
        scale = float(np.max(np.abs(want))) or 1.0
        if want.shape != got.shape or float(np.max(np.abs(want - got))) > atol * scale:
            return node.qualname
    return None


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
    """The Keras model's outputs in inference mode, as numpy arrays. On JAX through `predict`,
    which compiles the whole model as one program, as a user's inference runs: called eagerly,
    JAX lowers every op on its own each time (LeNet-5: 0.3 s against 0.03 s with a warm cache)."""
    import keras

    quiet = logging.getLogger("tensorflow")  # TF warns that eager grouped convs retrace
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        if keras.backend.backend() == "jax":
            out = model.predict(x, batch_size=len(x), verbose=0)
        else:
            out = model(x, training=False)
    finally:
        quiet.setLevel(level)
    outs = list(out) if isinstance(out, (list, tuple)) else [out]
    return [keras.ops.convert_to_numpy(o) for o in outs]
