#!/usr/bin/env python
"""archc benchmarks: generated models against hand-written ones, and the compiler itself.

    .venv/bin/python bench/run.py                  # everything, on the CPU (several minutes)
    .venv/bin/python bench/run.py --quick          # smoke test: seconds, numbers meaningless
    .venv/bin/python bench/run.py --only compiler  # one section (models, c3, keras, compiler, cli)
    .venv/bin/python bench/run.py --device cuda    # bf16 autocast + channels_last + torch.compile

Sections (docs/benchmarks.md says what each measures):
  models    generated PyTorch vs bench/reference_torch.py: LeNet-5, AlexNet, VGG16, GoogLeNet;
            eval forward at batch 1 and 8, SGD training step at batch 8
  c3        LeNet-5's connection-table C3 (the generated model's submodule) vs nn.Conv2d(6, 16, 5)
  keras     generated Keras VGG16 vs keras.applications.VGG16(weights=None), batch 1 and 8
  compiler  parse + check and emit time for synthetic specs of 100, 1,000, 10,000 layers
  cli       `archc check specs/googlenet.arch` vs `python -c "import torch"`
  zoo       each specs/zoo/NAME.arch compiled to PyTorch vs torchvision.models.NAME(weights=None):
            eval forward at batch 1 and 8, SGD training step at batch 8 (--zoo-size, default 224;
            --models picks zoo models too)

A and B are measured in the same run, interleaved (A B, then B A, ...), each sample repeating the
call enough times to last a while; the tables give medians with min–max over the samples, the
ratio A/B of the medians with the min–max of the per-sample ratios, and the ratio of the two
fastest samples (min/min), which other processes on a busy machine disturb least. A section whose backend is
not there yet (the generators are written alongside) says so and is skipped, never crashes.
Without --quick every section runs in its own process, so that one framework's thread pools and
memory do not weigh on the next.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before anything imports TensorFlow

SECTIONS = ("models", "c3", "keras", "compiler", "cli", "zoo")
ALIASES = {"a": "models", "b": "c3", "c": "keras", "d": "compiler", "e": "cli", "f": "zoo"}
CUDA_SECTIONS = ("models", "c3")  # the sections --device cuda changes; the others run anyway when named
SPECS = ROOT / "specs"


class Skip(Exception):
    """The section (or one case of it) cannot run here; the message says why."""


# ---------------------------------------------------------------- results


@dataclass
class Check:
    """One measured figure against the issue's target."""

    what: str
    value: float
    target: float
    unit: str = "x"  # "x" for a ratio, "s" for seconds, "" for a plain number
    ok: bool = field(init=False)

    def __post_init__(self) -> None:
        self.ok = self.value <= self.target

    def line(self) -> str:
        value = f"{self.value:.3f}{self.unit}" if self.unit != "s" else f"{self.value * 1e3:.0f} ms"
        target = f"{self.target:g}{self.unit}" if self.unit != "s" else f"{self.target * 1e3:.0f} ms"
        return f"  {'ok  ' if self.ok else 'MISS'}  {self.what:<52} {value:>12}  (target ≤ {target})"


@dataclass
class Report:
    section: str
    rows: list[dict[str, Any]] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def skip(self, message: str) -> None:
        self.skipped.append(message)
        print(f"  skipped: {message}", flush=True)

    def note(self, message: str) -> None:
        self.notes.append(message)
        print(f"  note: {message}", flush=True)


# ---------------------------------------------------------------- timing


@dataclass
class Timing:
    a: list[float]  # seconds per call, one entry per sample
    b: list[float]
    number: int  # calls per sample

    @property
    def ratio(self) -> float:
        return statistics.median(self.a) / statistics.median(self.b)

    @property
    def ratios(self) -> list[float]:
        return [x / y for x, y in zip(self.a, self.b, strict=True)]

    def row(self, case: str, a_label: str, b_label: str) -> dict[str, Any]:
        return {
            "case": case,
            "a": a_label,
            "b": b_label,
            "a_median_s": statistics.median(self.a),
            "a_min_s": min(self.a),
            "a_max_s": max(self.a),
            "b_median_s": statistics.median(self.b),
            "b_min_s": min(self.b),
            "b_max_s": max(self.b),
            "ratio": self.ratio,
            "ratio_min": min(self.ratios),
            "ratio_max": max(self.ratios),
            "ratio_of_minima": min(self.a) / min(self.b),
            "samples": len(self.a),
            "calls_per_sample": self.number,
        }


def fmt_time(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.0f} µs"


def fmt_spread(values: list[float]) -> str:
    return f"{fmt_time(statistics.median(values))} ({fmt_time(min(values))}–{fmt_time(max(values))})"


def print_header(a_label: str, b_label: str) -> None:
    print(
        f"  {'case':<26} {a_label + ' (median, min–max)':<36} {b_label + ' (median, min–max)':<36} {'A/B':>6}  {'min–max':<11}", flush=True
    )


def print_row(case: str, t: Timing) -> None:
    spread = f"{min(t.ratios):.2f}–{max(t.ratios):.2f}"
    print(f"  {case:<26} {fmt_spread(t.a):<36} {fmt_spread(t.b):<36} {t.ratio:>6.3f}  {spread:<11} {min(t.a) / min(t.b):>7.3f}", flush=True)


def compare(
    fa: Callable[[], object], fb: Callable[[], object], *, reps: int, warmup: int, min_time: float, sync: Callable[[], None]
) -> Timing:
    """Interleaved timing of two callables: warm both, calibrate, then alternate A B / B A."""
    for _ in range(warmup):
        fa()
        fb()
    sync()

    def once(f: Callable[[], object], number: int) -> float:
        start = time.perf_counter()
        for _ in range(number):
            f()
        sync()
        return (time.perf_counter() - start) / number

    number = 1
    if min_time > 0:
        slowest = max(once(fa, 1), once(fb, 1))
        number = max(1, min(1000, math.ceil(min_time / max(slowest, 1e-7))))
    a: list[float] = []
    b: list[float] = []
    for r in range(reps):
        if r % 2 == 0:
            a.append(once(fa, number))
            b.append(once(fb, number))
        else:
            b.append(once(fb, number))
            a.append(once(fa, number))
    return Timing(a, b, number)


# ---------------------------------------------------------------- shared set-up


BACKEND_MODULES = {"torch": "archc.backends.pytorch", "keras": "archc.backends.keras"}


def have_backend(target: str) -> bool:
    """Whether the target's generator exists yet (they are being written alongside this benchmark)."""
    return importlib.util.find_spec(BACKEND_MODULES[target]) is not None


def need_torch_backend() -> Any:
    if importlib.util.find_spec("torch") is None:
        raise Skip("PyTorch is not installed")
    if not have_backend("torch"):
        raise Skip("the PyTorch generator (archc/backends/pytorch.py) is not there yet")
    import torch

    return torch


def generated_torch(name: str, *, logits: bool = False) -> Any:
    from archc.build import BuildError
    from archc.runtime import build_model

    try:
        # logits=False keeps the spec's softmax, as the hand-written reference does in eval
        return build_model(SPECS / f"{name}.arch", "torch", logits=logits, softmax=not logits)
    except (ImportError, NotImplementedError, BuildError) as exc:
        raise Skip(f"the generated PyTorch {name} cannot be built yet: {exc}") from None


@dataclass
class TorchSetup:
    torch: Any
    device: str
    compile: bool

    @property
    def cuda(self) -> bool:
        return self.device == "cuda"

    def sync(self) -> None:
        if self.cuda:
            self.torch.cuda.synchronize()

    def place(self, model: Any) -> Any:
        if self.cuda:
            model = model.to("cuda", memory_format=self.torch.channels_last)
        return model

    def tensor(self, *shape: int) -> Any:
        x = self.torch.randn(*shape)
        if self.cuda:
            x = x.to("cuda")
            if x.dim() == 4:
                x = x.contiguous(memory_format=self.torch.channels_last)
        return x

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        if self.cuda:
            return self.torch.autocast("cuda", dtype=self.torch.bfloat16)
        return contextlib.nullcontext()

    def fresh(self) -> None:
        """Forget earlier compilations, so that guards and recompile limits start afresh for each case."""
        if self.compile:
            self.torch._dynamo.reset()

    def wrap(self, model: Any) -> Any:
        """The callable to time: the model itself, or torch.compile of it on CUDA."""
        if self.compile:
            return self.torch.compile(model, dynamic=False)
        return model

    def forward(self, model: Any, x: Any) -> Callable[[], object]:
        fn = self.wrap(model)
        torch = self.torch

        def run() -> object:
            with torch.no_grad(), self.autocast():
                return fn(x)

        return run

    def train_step(self, model: Any, x: Any, y: Any, negate: bool) -> Callable[[], object]:
        """One SGD step with cross-entropy; aux outputs (a tuple after the main one) weigh 0.3."""
        torch = self.torch
        fn = self.wrap(model)
        opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
        ce = torch.nn.functional.cross_entropy

        def run() -> object:
            opt.zero_grad(set_to_none=True)
            with self.autocast():
                out = fn(x)
                main, aux = (out[0], tuple(out[1:])) if isinstance(out, tuple) else (out, ())
                if negate:  # LeNet-5's RBF units give distances: smaller is better
                    main = -main
                loss = ce(main.float(), y)
                for extra in aux:
                    loss = loss + 0.3 * ce(extra.float(), y)
            loss.backward()
            opt.step()
            return loss

        return run

    def case(
        self, a: Any, b: Any, kind: str, shape: tuple[int, ...], classes: int, negate: bool = False
    ) -> tuple[Callable[[], object], Callable[[], object]]:
        """The two callables one comparison times, on one input: an eval forward, or a training step."""
        x = self.tensor(*shape)
        self.fresh()
        if kind == "eval":
            a.eval()
            b.eval()
            return self.forward(a, x), self.forward(b, x)
        a.train()
        b.train()
        y = self.torch.randint(0, classes, (shape[0],), device=x.device)
        return self.train_step(a, x, y, negate), self.train_step(b, x, y, negate)


def torch_setup(args: argparse.Namespace) -> TorchSetup:
    torch = need_torch_backend()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    if args.device == "cuda":
        if not torch.cuda.is_available():
            raise Skip("--device cuda: no CUDA device here")
        torch.backends.cudnn.benchmark = True
    return TorchSetup(torch, args.device, compile=args.device == "cuda" and not args.no_compile)


# ---------------------------------------------------------------- (a) models

MODEL_NAMES = ("lenet5", "alexnet", "vgg16", "googlenet")
MODEL_REPS = {"lenet5": 9, "alexnet": 7, "vgg16": 3, "googlenet": 5}
CLASSES = {"lenet5": 10, "alexnet": 1000, "vgg16": 1000, "googlenet": 1000}


def section_models(args: argparse.Namespace, report: Report) -> None:
    setup = torch_setup(args)
    torch = setup.torch
    from bench import reference_torch

    names = ("lenet5",) if args.quick else MODEL_NAMES
    if args.models:
        names = tuple(n for n in args.models.split(",") if n)
    cases = [("eval", 1)] if args.quick else [("eval", 1), ("eval", 8), ("train", 8)]
    if args.quick:
        cases.append(("train", 1))
    mode = "bf16 autocast, channels_last" + (", torch.compile" if setup.compile else "") if setup.cuda else "fp32"
    print(f"  generated (A) vs hand-written bench/reference_torch.py (B); {mode}; {args.threads} threads", flush=True)
    print_header("generated", "hand-written")
    for name in names:
        reps = args.reps or (1 if args.quick else MODEL_REPS[name])
        shape = reference_torch.INPUTS[name]
        for kind, batch in cases:
            logits = kind == "train"
            try:
                torch.manual_seed(0)
                gen = setup.place(generated_torch(name, logits=logits))
            except Skip as exc:
                report.skip(str(exc))
                break
            ref = setup.place(reference_torch.build(name, logits=logits))
            n_gen = sum(p.numel() for p in gen.parameters())
            n_ref = sum(p.numel() for p in ref.parameters())
            if n_gen != n_ref:
                report.note(f"{name}: generated has {n_gen:,} parameters, hand-written {n_ref:,}")
            fa, fb = setup.case(gen, ref, kind, (batch, *shape), CLASSES[name], negate=name == "lenet5")
            warmup = 1 if args.quick else (3 if setup.compile else 2)
            t = compare(fa, fb, reps=reps, warmup=warmup, min_time=args.min_time, sync=setup.sync)
            case = f"{name} {kind} b{batch}"
            print_row(case, t)
            report.rows.append(t.row(case, "generated", "hand-written"))
            if not args.quick:
                report.checks.append(Check(f"{case}: generated / hand-written ({args.device})", t.ratio, 1.05))
            del gen, ref, fa, fb


# ---------------------------------------------------------------- (b) C3


def _c3_dense_equivalent(c3: Any, torch: Any) -> tuple[bool, bool]:
    """Whether the generated C3 submodule applies the scaled tanh itself (so the dense baseline must too).

    Feeds a probe through C3 and checks whether every output lies inside (−1.7159, 1.7159) for an
    input large enough that a bare conv would leave that range.
    """
    with torch.no_grad():
        probe = torch.randn(2, 6, 14, 14, device=next(c3.parameters()).device) * 100
        out = c3(probe)
    squashed = bool(out.abs().max() <= 1.7159 + 1e-4)
    return squashed, tuple(out.shape[1:]) == (16, 10, 10)


def section_c3(args: argparse.Namespace, report: Report) -> None:
    setup = torch_setup(args)
    torch = setup.torch
    from torch import nn

    from bench import reference_torch

    lenet = generated_torch("lenet5")
    if not hasattr(lenet, "C3"):
        raise Skip("the generated LeNet5 has no submodule named C3")
    c3 = setup.place(lenet.C3)
    squashed, shape_ok = _c3_dense_equivalent(c3, torch)
    if not shape_ok:
        raise Skip("the generated C3 does not map 6x14x14 to 16x10x10")
    n_c3 = sum(p.numel() for p in c3.parameters())
    dense_conv = nn.Conv2d(6, 16, 5)
    dense: nn.Module = nn.Sequential(dense_conv, reference_torch.ScaledTanh()) if squashed else dense_conv
    table: nn.Module = reference_torch.TableConv2d(reference_torch.LENET_TABLE, 5)
    if squashed:
        table = nn.Sequential(table, reference_torch.ScaledTanh())
    dense, table = setup.place(dense), setup.place(table)
    print(
        f"  generated C3 ({n_c3:,} params{', includes its scaled tanh' if squashed else ''}) and the hand-written "
        f"table conv (A) vs dense nn.Conv2d(6, 16, 5) ({sum(p.numel() for p in dense.parameters()):,} params) (B); "
        f"{args.threads} threads",
        flush=True,
    )
    print_header("table conv", "dense conv")
    cases = [("eval", 1)] if args.quick else [("eval", 1), ("eval", 8), ("eval", 64), ("train", 8)]
    reps = args.reps or (1 if args.quick else 15)
    for kind, batch in cases:
        for label, module in (("generated C3", c3), ("hand-written C3", table)):
            x = setup.tensor(batch, 6, 14, 14)
            setup.fresh()
            if kind == "eval":
                module.eval()
                fa, fb = setup.forward(module, x), setup.forward(dense, x)
            else:
                x.requires_grad_(True)

                def step(m: Any, x: Any = x) -> Callable[[], object]:
                    fn = setup.wrap(m)

                    def run() -> object:
                        with setup.autocast():
                            out = fn(x)
                        out.float().sum().backward()
                        return out

                    return run

                fa, fb = step(module), step(dense)
            t = compare(fa, fb, reps=reps, warmup=1 if args.quick else 3, min_time=args.min_time, sync=setup.sync)
            case = f"{label} {kind} b{batch}"
            print_row(case, t)
            report.rows.append(t.row(case, label, "dense conv"))
            if label == "generated C3" and not args.quick:
                report.checks.append(Check(f"{case}: table / dense ({args.device})", t.ratio, 1.1))


# ---------------------------------------------------------------- (c) Keras


def section_keras(args: argparse.Namespace, report: Report) -> None:
    if importlib.util.find_spec("keras") is None:
        raise Skip("Keras is not installed")
    if not have_backend("keras"):
        raise Skip("the Keras generator (archc/backends/keras.py) is not there yet")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import numpy as np

    with contextlib.suppress(ImportError, RuntimeError):
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    import keras

    from archc.build import BuildError
    from archc.runtime import build_model

    try:
        gen = build_model(SPECS / "vgg16.arch", "keras")
    except (ImportError, NotImplementedError, BuildError) as exc:
        raise Skip(f"the generated Keras VGG16 cannot be built yet: {exc}") from None
    ref = keras.applications.VGG16(weights=None)
    print(
        f"  generated Keras VGG16 ({gen.count_params():,} params) (A) vs keras.applications.VGG16(weights=None) "
        f"({ref.count_params():,}) (B); predict_on_batch; keras {keras.__version__} ({keras.backend.backend()}); "
        f"{args.threads} intra-op threads",
        flush=True,
    )
    print_header("generated", "applications")
    rng = np.random.default_rng(0)
    batches = (1,) if args.quick else (1, 8)
    for batch in batches:
        xa = rng.standard_normal((batch, *gen.input_shape[1:])).astype("float32")
        xb = rng.standard_normal((batch, *ref.input_shape[1:])).astype("float32")
        reps = args.reps or (1 if args.quick else 5)
        t = compare(
            lambda xa=xa: gen.predict_on_batch(xa),
            lambda xb=xb: ref.predict_on_batch(xb),
            reps=reps,
            warmup=1 if args.quick else 2,
            min_time=args.min_time,
            sync=lambda: None,
        )
        case = f"vgg16 predict b{batch}"
        print_row(case, t)
        report.rows.append(t.row(case, "generated keras", "keras.applications"))
        if not args.quick:
            report.checks.append(Check(f"keras {case}: generated / applications", t.ratio, 1.05))


# ---------------------------------------------------------------- (d) compiler


def fit_exponent(sizes: list[int], times: list[float]) -> float:
    """Least-squares slope of log(time) against log(size)."""
    xs = [math.log(n) for n in sizes]
    ys = [math.log(t) for t in times]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum((x - mx) ** 2 for x in xs)


def section_compiler(args: argparse.Namespace, report: Report) -> None:
    import archc
    from archc.build import generate
    from bench.synthetic import synthetic_spec

    emit = have_backend("torch")
    if not emit:
        report.skip("emit: the PyTorch generator (archc/backends/pytorch.py) is not there yet; timing parse + check only")
    sizes = [100] if args.quick else [100, 1_000, 10_000]
    reps = {100: 15, 1_000: 7, 10_000: 3}
    archc.compile_source(synthetic_spec(10))  # build the parser once, as a long-lived process would
    print("  synthetic chains (bench/synthetic.py); median of N runs (min–max); emit = archc.build.generate(..., 'torch', ...)")
    print(f"  {'layers':>7} {'runs':>5} {'parse + check':<28} {'emit':<28} {'total':<12} {'µs/layer':>9}", flush=True)
    totals: list[float] = []
    for n in sizes:
        text = synthetic_spec(n)
        parse_check: list[float] = []
        emitting: list[float] = []
        for _ in range(args.reps or (1 if args.quick else reps[n])):
            start = time.perf_counter()
            comp = archc.compile_source(text, f"chain{n}.arch")
            mid = time.perf_counter()
            if not comp.ok:
                raise RuntimeError(f"synthetic spec of {n} layers does not check: {comp.errors[0].message}")
            if emit:
                generate(comp.networks, "torch", f"chain{n}.arch")
            end = time.perf_counter()
            parse_check.append(mid - start)
            emitting.append(end - mid)
        total = statistics.median([p + e for p, e in zip(parse_check, emitting, strict=True)])
        totals.append(total)
        emit_text = fmt_spread(emitting) if emit else "—"
        print(
            f"  {n:>7,} {len(parse_check):>5} {fmt_spread(parse_check):<28} {emit_text:<28} {fmt_time(total):<12} {total / n * 1e6:>9.1f}",
            flush=True,
        )
        report.rows.append(
            {
                "case": f"{n} layers",
                "layers": n,
                "parse_check_median_s": statistics.median(parse_check),
                "parse_check_min_s": min(parse_check),
                "parse_check_max_s": max(parse_check),
                "emit_median_s": statistics.median(emitting) if emit else None,
                "total_median_s": total,
                "runs": len(parse_check),
            }
        )
    if len(sizes) > 1:
        k = fit_exponent(sizes, totals)
        print(f"  growth exponent (log-log least squares over {', '.join(f'{n:,}' for n in sizes)} layers): {k:.3f}", flush=True)
        report.rows.append({"case": "growth exponent", "exponent": k})
        report.checks.append(Check("compiler: growth exponent", k, 1.1, unit=""))
        if 10_000 in sizes:
            report.checks.append(
                Check("compiler: 10,000 layers parse + check + emit" + ("" if emit else " (no emit)"), totals[-1], 1.0, unit="s")
            )


# ---------------------------------------------------------------- (e) CLI


def archc_command() -> list[str]:
    exe = Path(sys.executable).with_name("archc")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "archc"]


def section_cli(args: argparse.Namespace, report: Report) -> None:
    def runner(cmd: list[str], env: dict[str, str] | None = None) -> Callable[[], object]:
        full_env = {**os.environ, **(env or {})}

        def run() -> object:
            done = subprocess.run(cmd, cwd=ROOT, env=full_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
            if done.returncode != 0:
                raise RuntimeError(f"{' '.join(cmd)} exited {done.returncode}: {done.stderr.decode(errors='replace')[-500:]}")
            return done

        return run

    check = archc_command() + ["check", "specs/googlenet.arch"]
    torch_import = [sys.executable, "-c", "import torch"]
    bare = [sys.executable, "-c", "pass"]
    reps = args.reps or (1 if args.quick else 11)
    print(f"  wall time of a fresh process (subprocess.run), {reps} interleaved runs each", flush=True)
    print_header("A", "B")
    # (case, A command, A's extra environment, B label, B command, counts towards the target)
    pairs: list[tuple[str, list[str], dict[str, str] | None, str, list[str], bool]] = []
    if importlib.util.find_spec("torch") is not None:
        pairs.append(("archc check googlenet", check, None, "python -c 'import torch'", torch_import, True))
    else:
        report.skip("PyTorch is not installed: no `import torch` baseline")
    pairs.append(("archc check googlenet", check, None, "python -c 'pass'", bare, True))
    if not args.quick:  # the first run on a machine: no cached parser tables yet
        pairs.append(("archc check, ARCHC_NO_CACHE=1", check, {"ARCHC_NO_CACHE": "1"}, "python -c 'pass'", bare, False))
    check_times: list[float] = []
    for a_label, a_cmd, a_env, b_label, b_cmd, counts in pairs:
        t = compare(runner(a_cmd, a_env), runner(b_cmd), reps=reps, warmup=1, min_time=0, sync=lambda: None)
        case = f"{'no parser cache ' if a_env else ''}vs {b_label}"
        print_row(case, t)
        report.rows.append(t.row(case, a_label, b_label))
        if counts:
            check_times += t.a
    check_median = statistics.median(check_times)
    if not args.quick:
        report.checks.append(Check("cli: `archc check specs/googlenet.arch` wall time", check_median, 0.3, unit="s"))


# ---------------------------------------------------------------- (f) zoo

ZOO = SPECS / "zoo"


def import_torchvision() -> tuple[Any, str]:
    """torchvision, and a note when it needed the CPU-build workaround of docs/benchmarks.md.

    A torchvision whose compiled ops were built for another torch (a CUDA wheel beside the CPU
    torch) fails at import while registering fake kernels for ops that never loaded; the
    classification models need none of them, so the registration is skipped for the import.
    """
    if importlib.util.find_spec("torchvision") is None:
        raise Skip("torchvision is not installed (pip install torchvision matching your torch)")
    try:
        import torchvision

        return torchvision, ""
    except RuntimeError:
        import torch

        for name in [m for m in sys.modules if m.startswith("torchvision")]:
            del sys.modules[name]
        real = torch.library.register_fake
        torch.library.register_fake = lambda *a, **k: lambda f: f  # type: ignore[assignment]
        try:
            import torchvision
        finally:
            torch.library.register_fake = real
        return torchvision, "torchvision imported without its fake-kernel registrations (its compiled ops do not match this torch)"


def zoo_names(args: argparse.Namespace) -> list[str]:
    names = sorted(p.stem for p in ZOO.glob("*.arch"))
    if args.models:
        names = [n for n in args.models.split(",") if n in names]
    return names[:1] if args.quick else names


def section_zoo(args: argparse.Namespace, report: Report) -> None:
    setup = torch_setup(args)
    torch = setup.torch
    tv, note = import_torchvision()
    if note:
        report.note(note)
    import archc
    from archc.runtime import build_model

    size = 64 if args.quick else args.zoo_size
    cases = [("eval", 1)] if args.quick else [("eval", 1), ("eval", 8), ("train", 8)]
    print(f"  compiled spec (A) vs torchvision (B) at 3x{size}x{size}; fp32; {args.threads} threads", flush=True)
    print_header("compiled", "torchvision")
    for name in zoo_names(args):
        if not hasattr(tv.models, name):
            report.skip(f"{name}: no torchvision.models.{name}")
            continue
        try:
            archc.load(ZOO / f"{name}.arch", input=(3, size, size))
        except archc.CompileError as exc:  # Inception-v3's aux head needs 299x299
            report.skip(f"{name} does not take 3x{size}x{size}: {exc.diagnostics[0].message}")
            continue
        for kind, batch in cases:
            torch.manual_seed(0)
            gen = setup.place(build_model(ZOO / f"{name}.arch", "torch", input=(3, size, size)))
            ref = setup.place(tv.models.get_model(name, weights=None))  # aux heads, if any, run in training on both sides
            fa, fb = setup.case(gen, ref, kind, (batch, 3, size, size), 1000)
            reps = args.reps or (1 if args.quick else 5)
            t = compare(fa, fb, reps=reps, warmup=1 if args.quick else 2, min_time=args.min_time, sync=setup.sync)
            case = f"{name} {kind} b{batch}"
            print_row(case, t)
            report.rows.append(t.row(case, "compiled", "torchvision"))
            if not args.quick:
                report.checks.append(Check(f"{case}: compiled / torchvision ({args.device})", t.ratio, 1.02))
            del gen, ref, fa, fb


SECTION_FUNCS = {
    "models": section_models,
    "c3": section_c3,
    "keras": section_keras,
    "compiler": section_compiler,
    "cli": section_cli,
    "zoo": section_zoo,
}
TITLES = {
    "models": "(a) generated PyTorch vs hand-written",
    "c3": "(b) connection-table C3 vs dense conv",
    "keras": "(c) generated Keras VGG16 vs keras.applications",
    "compiler": "(d) compiler: parse + check + emit",
    "cli": "(e) CLI start-up",
    "zoo": "(f) compiled zoo specs vs torchvision",
}


# ---------------------------------------------------------------- driver


def run_section(name: str, args: argparse.Namespace) -> Report:
    report = Report(name)
    print(f"\n== {TITLES[name]}{' [quick]' if args.quick else ''}", flush=True)
    if args.device == "cuda" and name not in CUDA_SECTIONS:
        report.note("this section does not use the GPU; it runs as on the CPU")
    start = time.perf_counter()
    try:
        SECTION_FUNCS[name](args, report)
    except Skip as exc:
        report.skip(str(exc))
    print(f"  ({time.perf_counter() - start:.1f} s)", flush=True)
    return report


def environment(args: argparse.Namespace) -> dict[str, Any]:
    import archc

    env: dict[str, Any] = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "processor": _cpu_name(),
        "cpus": os.cpu_count(),
        "threads": args.threads,
        "device": args.device,
        "archc": archc.__version__,
        "commit": _git_commit(),
        "load average": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }
    if importlib.util.find_spec("torch") is not None:
        import torch

        env["torch"] = torch.__version__
        if args.device == "cuda" and torch.cuda.is_available():
            env["gpu"] = torch.cuda.get_device_name()
    return env


def _cpu_name() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _git_commit() -> str:
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False)
        if done.returncode == 0:
            return done.stdout.strip()
    return "unknown"


def child_args(args: argparse.Namespace, section: str, results: Path) -> list[str]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--only", section, "--no-isolate", "--results", str(results)]
    cmd += ["--device", args.device, "--threads", str(args.threads), "--min-time", str(args.min_time)]
    if args.quick:
        cmd.append("--quick")
    if args.reps:
        cmd += ["--reps", str(args.reps)]
    if args.models:
        cmd += ["--models", args.models]
    cmd += ["--zoo-size", str(args.zoo_size)]
    if args.no_compile:
        cmd.append("--no-compile")
    return cmd


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    p.add_argument("--quick", action="store_true", help="tiny mode for CI: batch 1, one sample, LeNet-5 only, 100-layer spec only")
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="cuda: bf16 autocast, channels_last and torch.compile")
    p.add_argument("--only", default="", help="comma-separated sections: " + ", ".join(SECTIONS) + " (or a–e)")
    p.add_argument("--models", default="", help="comma-separated subset of " + ", ".join(MODEL_NAMES) + " for the models section")
    p.add_argument(
        "--threads", type=int, default=os.cpu_count() or 1, help="torch.set_num_threads / TF intra-op threads (default: all cores)"
    )
    p.add_argument("--reps", type=int, default=0, help="samples per comparison (default: per case)")
    p.add_argument(
        "--min-time", type=float, default=None, help="seconds each sample lasts at least (repeating the call); default 0.2, 0 in --quick"
    )
    p.add_argument("--zoo-size", type=int, default=224, help="input height and width for the zoo section (default 224)")
    p.add_argument("--no-compile", action="store_true", help="with --device cuda: skip torch.compile")
    p.add_argument("--json", type=Path, help="also write every figure to this JSON file")
    p.add_argument("--no-isolate", action="store_true", help="run all sections in this process (the default with --quick)")
    p.add_argument("--results", type=Path, help=argparse.SUPPRESS)  # a child's report, for the parent
    args = p.parse_args(argv)
    if args.min_time is None:
        args.min_time = 0.0 if args.quick else 0.2
    chosen = [ALIASES.get(s.strip(), s.strip()) for s in args.only.split(",") if s.strip()]
    unknown = [s for s in chosen if s not in SECTIONS]
    if unknown:
        p.error(f"unknown section {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")
    args.sections = chosen or (list(CUDA_SECTIONS) if args.device == "cuda" else list(SECTIONS))
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    isolate = not (args.no_isolate or args.quick) and len(args.sections) > 1
    env = environment(args)
    if not args.results:
        print("archc benchmarks — " + ", ".join(f"{k} {v}" for k, v in env.items()), flush=True)
    reports: list[Report] = []
    failed: list[str] = []
    for name in args.sections:
        if not isolate:
            reports.append(run_section(name, args))
            continue
        with tempfile.TemporaryDirectory() as tmp:
            results = Path(tmp) / "report.json"
            done = subprocess.run(child_args(args, name, results), check=False)
            if done.returncode != 0 or not results.exists():
                failed.append(name)
                print(f"  FAILED: section {name} exited {done.returncode}", flush=True)
                continue
            data = json.loads(results.read_text())
            report = Report(name, data["rows"], [], data["skipped"], data["notes"])
            for c in data["checks"]:
                report.checks.append(Check(c["what"], c["value"], c["target"], c["unit"]))
            reports.append(report)
    if args.results:
        payload = asdict(reports[0]) if len(reports) == 1 else {}
        args.results.write_text(json.dumps(payload))
        return 0
    checks = [c for r in reports for c in r.checks]
    if checks:
        print("\n== targets (issue 7)")
        for c in checks:
            print(c.line())
    skipped = [f"{r.section}: {m}" for r in reports for m in r.skipped]
    if skipped:
        print("\n== skipped")
        for m in skipped:
            print(f"  {m}")
    print(f"\nload average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())} (other processes on the machine skew the figures)")
    if args.json:
        args.json.write_text(json.dumps({"environment": env, "sections": [asdict(r) for r in reports], "failed": failed}, indent=2) + "\n")
        print(f"\nwrote {args.json}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
