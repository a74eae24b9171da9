#!/usr/bin/env python
"""GPU check for a lent CUDA machine: the four seed specs, built by archc, on the GPU.

For LeNet-5, AlexNet, VGG16 and GoogLeNet: build the model with `archc.runtime.build_model`
(logits, so that a softmax does not hide differences), check its parameter count against the
spec's summary, run an eval forward on the CPU (fp32), then on CUDA with channels_last: eval in
fp32 (TF32 off) and under bf16 autocast, compared with the CPU output, and one SGD training step
(forward + backward, aux heads included) under bf16 autocast. Prints one compact table; exits 1
if a comparison misses its tolerance or a step gives a non-finite loss or gradient.

Tolerances, as max |cuda − cpu| / max |cpu| over the batch of logits:
  fp32 (TF32 off, cuDNN may still pick other algorithms than the CPU)   1e-3
  bf16 autocast (8-bit mantissa, errors grow with depth)                 1e-1

Without CUDA it still builds all four and runs the CPU forward and a CPU training step, and says
that the CUDA parts were skipped. The GPU machine has torch but not lark: if `import lark` fails,
every *.whl (and *.zip) in --wheels, $ARCHC_WHEELS, .whl/ or wheels/ under the repository root is put
on sys.path (lark and interegular are pure Python), or install them first with
`python3 -m pip install --no-index --no-deps --target /tmp/site .whl/*.whl; export PYTHONPATH=/tmp/site`.

    python3 bench/gpu_check.py [--models lenet5,alexnet] [--batch 2] [--wheels DIR]
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

MODELS = ("lenet5", "alexnet", "vgg16", "googlenet")
CLASSES = {"lenet5": 10, "alexnet": 1000, "vgg16": 1000, "googlenet": 1000}
FP32_TOL = 1e-3
BF16_TOL = 1e-1


def ensure_lark(extra: str | None) -> None:
    try:
        import interegular
        import lark

        return
    except ImportError:
        pass
    dirs = [Path(d) for d in (extra, os.environ.get("ARCHC_WHEELS")) if d] + [ROOT / ".whl", ROOT / "wheels"]
    added = []
    for d in dirs:
        for wheel in sorted([*d.glob("*.whl"), *d.glob("*.zip")]) if d.is_dir() else []:
            sys.path.insert(0, str(wheel))
            added.append(wheel.name)
    try:
        import interegular  # noqa: F401
        import lark  # noqa: F401
    except ImportError as exc:
        sys.exit(f"gpu_check: archc needs lark and interegular ({exc}); put their wheels in .whl/ or pass --wheels DIR")
    print(f"lark and interegular from: {', '.join(added)}")


def rel_err(got: Any, want: Any) -> float:
    scale = float(want.abs().max())
    return float((got.float().cpu() - want).abs().max()) / (scale if scale > 0 else 1.0)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", default=",".join(MODELS), help="comma-separated subset of " + ", ".join(MODELS))
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--wheels", help="a folder of wheels holding lark and interegular, if they are not installed")
    args = p.parse_args(argv)
    ensure_lark(args.wheels)

    import torch

    import archc
    from archc.runtime import build_model

    cuda = torch.cuda.is_available()
    print(f"torch {torch.__version__}; archc {archc.__version__}; " + (f"CUDA: {torch.cuda.get_device_name()}" if cuda else "no CUDA"))
    if not cuda:
        print("CUDA is not available: skipping the GPU parts (fp32 and bf16 comparisons, GPU training step); CPU parts only")
    else:
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    torch.manual_seed(0)
    rows: list[tuple[str, ...]] = []
    failures: list[str] = []
    for name in [m for m in args.models.split(",") if m]:
        spec = ROOT / "specs" / f"{name}.arch"
        net = archc.load(spec)
        start = time.perf_counter()
        model = build_model(spec, "torch", logits=True)
        build_s = time.perf_counter() - start
        params = sum(p.numel() for p in model.parameters())
        if params != net.total_params:
            failures.append(f"{name}: {params:,} parameters, the summary says {net.total_params:,}")
        x = torch.randn(args.batch, *net.input_shape, generator=torch.Generator().manual_seed(1))
        y = torch.randint(0, CLASSES[name], (args.batch,), generator=torch.Generator().manual_seed(2))
        model.eval()
        with torch.no_grad():
            start = time.perf_counter()
            want = model(x)
            cpu_ms = (time.perf_counter() - start) * 1e3
        fp32 = bf16 = "skipped"
        if cuda:
            model = model.to("cuda", memory_format=torch.channels_last)
            xc = x.to("cuda").contiguous(memory_format=torch.channels_last)
            with torch.no_grad():
                e32 = rel_err(model(xc), want)
                with torch.autocast("cuda", dtype=torch.bfloat16):
                    e16 = rel_err(model(xc), want)
            fp32, bf16 = f"{e32:.1e}", f"{e16:.1e}"
            if not e32 <= FP32_TOL:
                failures.append(f"{name}: fp32 CUDA vs CPU relative error {e32:.2e} > {FP32_TOL:g}")
            if not e16 <= BF16_TOL:
                failures.append(f"{name}: bf16 CUDA vs CPU relative error {e16:.2e} > {BF16_TOL:g}")
            x, y = xc, y.to("cuda")
        loss, step_ms, outputs = train_step(torch, model, x, y, name, cuda)
        grads_ok = all(p.grad is None or bool(torch.isfinite(p.grad).all()) for p in model.parameters())
        if not (math.isfinite(loss) and grads_ok):
            failures.append(f"{name}: training step gave loss {loss} (gradients finite: {grads_ok})")
        where = "cuda bf16+CL" if cuda else "cpu fp32"
        rows.append(
            (name, f"{params:,}", f"{build_s:.2f}", f"{cpu_ms:.1f}", fp32, bf16, where, f"{loss:.3f}", str(outputs), f"{step_ms:.1f}")
        )
        del model
        if cuda:
            torch.cuda.empty_cache()
    header = (
        "model",
        "params",
        "build s",
        "cpu eval ms",
        f"fp32 err≤{FP32_TOL:g}",
        f"bf16 err≤{BF16_TOL:g}",
        "train step",
        "loss",
        "outs",
        "step ms",
    )
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)))
    print("relative error = max |cuda − cpu| / max |cpu| over the logits of a seeded batch of", args.batch)
    for f in failures:
        print("FAIL", f)
    print("gpu_check:", "FAILED" if failures else ("ok" if cuda else "ok (CPU parts only)"))
    return 1 if failures else 0


def train_step(torch: Any, model: Any, x: Any, y: Any, name: str, cuda: bool) -> tuple[float, float, int]:
    """One SGD step: cross-entropy on the main output plus 0.3 × each aux head's; returns loss, ms, outputs."""
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    ce = torch.nn.functional.cross_entropy
    if cuda:
        torch.cuda.synchronize()
    start = time.perf_counter()
    opt.zero_grad(set_to_none=True)
    with torch.autocast("cuda", dtype=torch.bfloat16) if cuda else torch.autocast("cpu", enabled=False):
        out = model(x)
        outs = tuple(out) if isinstance(out, tuple) else (out,)
        main = -outs[0] if name == "lenet5" else outs[0]  # LeNet-5's RBF units are distances
        loss = ce(main.float(), y) + sum(0.3 * ce(o.float(), y) for o in outs[1:])
    loss.backward()
    opt.step()
    if cuda:
        torch.cuda.synchronize()
    return float(loss.detach()), (time.perf_counter() - start) * 1e3, len(outs)


if __name__ == "__main__":
    sys.exit(main())
