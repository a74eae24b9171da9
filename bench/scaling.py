"""How `archc check` and `archc build` scale: growth exponents on synthetic specs, and the cost of every pathological shape.

    .venv/bin/python bench/scaling.py            # both sections
    .venv/bin/python bench/scaling.py --quick    # smaller sizes, fewer repetitions
    .venv/bin/python bench/scaling.py --only growth|build|cases

growth: for each family of specs (bench/pathological.py, bench/synthetic.py) the front end's CPU
time (archc.compile_source, in this process, the parser already built; the least of three runs) at
sizes doubling four times, and the least-squares slope of log(time) against log(size): 1.0 is
linear. Target: at most 1.1.

build: for the spec shapes that stress the generators (written layers, calls of one module,
nested repeats, a long repeat), the CPU time of generating each target's source (archc.build.generate,
in this process) at four doubling sizes, each target's growth exponent (target: at most 1.1),
and Keras' time over PyTorch's at the largest size (target: within 2x either way).

cases: every shape of issue 12 at the size it was reported (or near the 10 MB limit), through a
real `archc check` process: its CPU time (user + system) and its peak memory (VmHWM). Target:
at most 5 s and 1 GB each, on the 2-core machine; the spec is checked or refused with a
diagnostic that names the limit.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import pathological  # noqa: E402
from bench.run import fit_exponent  # noqa: E402

CPU_TARGET_S = 5.0
MEMORY_TARGET_MB = 1024.0
EXPONENT_TARGET = 1.1

# The child reports its own peak resident memory: a child's ru_maxrss starts from its parent's.
_CHILD = """
import sys
from archc.cli import main
code = main(["check", sys.argv[1]])
with open("/proc/self/status") as fh:
    peak = next((line.split()[1] for line in fh if line.startswith("VmHWM:")), "0")
sys.stdout.write(f"\\nVmHWM {peak}\\n")
sys.exit(code)
"""


@dataclass
class Usage:
    cpu_s: float
    peak_mb: float
    exit_code: int
    stderr: str
    size_bytes: int

    def first_diagnostic(self) -> str:
        return next((line for line in self.stderr.splitlines() if ": error: " in line or "Traceback" in line), "")


def measure(text: str) -> Usage:
    """`archc check` on `text` in a fresh process: CPU seconds, peak memory, exit code and stderr."""
    data = text.encode("utf-8")
    with tempfile.TemporaryDirectory() as tmp:
        spec, out, err = Path(tmp) / "case.arch", Path(tmp) / "out", Path(tmp) / "err"
        spec.write_bytes(data)
        with out.open("wb") as stdout, err.open("wb") as stderr:
            proc = subprocess.Popen([sys.executable, "-c", _CHILD, str(spec)], stdout=stdout, stderr=stderr, cwd=ROOT)
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
        return Usage(
            usage.ru_utime + usage.ru_stime, _peak_mb(out.read_bytes()), proc.returncode, err.read_text("utf-8", "replace"), len(data)
        )


def _peak_mb(out: bytes) -> float:
    for line in reversed(out.decode("ascii", "replace").splitlines()):
        if line.startswith("VmHWM "):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_time(run: Callable[[], object], reps: int) -> float:
    """The least CPU seconds of `run` over `reps` runs: what other processes on a busy machine disturb least."""
    times = []
    for _ in range(reps):
        start = time.process_time()
        run()
        times.append(time.process_time() - start)
    return min(times)


# family → (generator, sizes): sizes double, and stay below the limits they would otherwise hit
FAMILIES: dict[str, tuple[Callable[[int], str], list[int]]] = {
    "chain (written layers)": (pathological.chain, [1_250, 2_500, 5_000, 10_000]),
    "connection table rows (2,000 maps)": (pathological.table, [10, 20, 40, 80]),
    "X-matrix rows (150 maps)": (pathological.matrix, [250, 500, 1_000, 2_000]),
    "misspelt `from`s": (pathological.typo_refs, [500, 1_000, 2_000, 4_000]),
    "syntax errors in one block (lines)": (pathological.syntax_errors, [2_000, 4_000, 8_000, 16_000]),
    "layers on one line": (pathological.one_line, [2_000, 4_000, 8_000, 16_000]),
    "comment lines": (pathological.comment_lines, [125_000, 250_000, 500_000, 1_000_000]),
    "repeat expansion (layers)": (pathological.expanded, [6_000, 12_000, 24_000, 48_000]),
}


def growth(quick: bool = False) -> dict[str, float]:
    import archc
    from archc.compiler import compile_source

    archc.compile_source("network N {\n input x: 3x8x8\n relu\n}\n")  # build the parser once
    exponents = {}
    for family, (make, sizes) in FAMILIES.items():
        if quick:
            sizes = [n // 4 or 1 for n in sizes]
        times = []
        for n in sizes:
            text = make(n)
            times.append(cpu_time(lambda text=text: compile_source(text, "scaling.arch"), 1 if quick else 3))
        k = fit_exponent(sizes, times)
        exponents[family] = k
        shown = "  ".join(f"{n:>9,}: {t * 1000:7.0f} ms" for n, t in zip(sizes, times, strict=True))
        verdict = "ok" if k <= EXPONENT_TARGET else "MISS"
        print(f"  {family:<38} {shown}   exponent {k:5.2f}  {verdict}", flush=True)
    return exponents


# family → (generator, sizes, the work at a size that the generators' time should follow): the
# layers of the network, except for nested repeats, whose depth grows as log2 of their layers:
# the generators handle each item with its subtree, so there the work is layers x depth
# (n·log n, within issue 12's bound), and the exponent is taken against that.
BUILD_FAMILIES: dict[str, tuple[Callable[[int], str], list[int], Callable[[int], int]]] = {
    "chain (written layers)": (pathological.chain, [1_250, 2_500, 5_000, 10_000], lambda n: n),
    "calls of one module": (pathological.many_calls, [1_000, 2_000, 4_000, 8_000], lambda n: 2 * n),
    "nested `repeat 2` (layers x depth)": (pathological.nested_repeats, [9, 10, 11, 12], lambda n: 2**n * n),
    "one long repeat (layers)": (pathological.expanded, [2_500, 5_000, 10_000, 20_000], lambda n: n),
}
BUILD_RATIO_TARGET = 2.0


def build_growth(quick: bool = False) -> dict[str, tuple[float, float, float]]:
    """family → (torch exponent, keras exponent, keras / torch time at the largest size)."""
    from archc.build import generate
    from archc.compiler import compile_source

    results = {}
    for family, (make, sizes, layers) in BUILD_FAMILIES.items():
        if quick:
            sizes = sizes[:3]
        times: dict[str, list[float]] = {"torch": [], "keras": []}
        for n in sizes:
            nets = list(compile_source(make(n), "scaling.arch").networks)
            for target, seen in times.items():
                seen.append(cpu_time(lambda nets=nets, target=target: generate(nets, target, "scaling.arch"), 1 if quick else 3))
        counts = [layers(n) for n in sizes]
        k_torch, k_keras = fit_exponent(counts, times["torch"]), fit_exponent(counts, times["keras"])
        ratio = times["keras"][-1] / times["torch"][-1]
        results[family] = (k_torch, k_keras, ratio)
        ok = max(k_torch, k_keras) <= EXPONENT_TARGET and 1 / BUILD_RATIO_TARGET <= ratio <= BUILD_RATIO_TARGET
        print(
            f"  {family:<34} {counts[-1]:>7,}: torch {times['torch'][-1] * 1000:6.0f} ms, keras {times['keras'][-1] * 1000:6.0f} ms "
            f"(keras/torch {ratio:4.2f})   exponent torch {k_torch:4.2f}, keras {k_keras:4.2f}  {'ok' if ok else 'MISS'}",
            flush=True,
        )
    return results


def cases() -> dict[str, Usage]:
    results = {}
    for name, (make, n) in pathological.CASES.items():
        usage = measure(make(n))
        results[name] = usage
        ok = usage.cpu_s <= CPU_TARGET_S and usage.peak_mb <= MEMORY_TARGET_MB and usage.exit_code in (0, 1)
        print(
            f"  {name:<26} {usage.size_bytes / 1e6:6.2f} MB  cpu {usage.cpu_s:5.2f} s  peak {usage.peak_mb:6.0f} MB  "
            f"exit {usage.exit_code}  {'ok  ' if ok else 'MISS'}  {usage.first_diagnostic().partition(': error: ')[2][:90]}",
            flush=True,
        )
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller sizes, one run each")
    parser.add_argument("--only", choices=("growth", "build", "cases"))
    args = parser.parse_args(argv)
    if args.only in (None, "growth"):
        print(f"growth of `check` CPU time with the spec's size (target: exponent ≤ {EXPONENT_TARGET})")
        growth(args.quick)
    if args.only in (None, "build"):
        print(f"\ngrowth of `build` CPU time per target (target: exponent ≤ {EXPONENT_TARGET}, keras/torch within {BUILD_RATIO_TARGET:g}x)")
        build_growth(args.quick)
    if args.only in (None, "cases"):
        print(f"\npathological specs through `archc check` (target: ≤ {CPU_TARGET_S:.0f} s CPU, ≤ {MEMORY_TARGET_MB:.0f} MB)")
        cases()
    return 0


if __name__ == "__main__":
    sys.exit(main())
