"""How long `archc verify` takes on the seed networks, against a bare `python -c "import torch"`
measured in the same run (issue 12's yardstick: at most 2x for LeNet-5).

    python bench/verify_time.py [--backend jax|tensorflow|torch] [--repeat 2] [SPEC ...]

Each command runs in a fresh process, alternating with the reference; CPU time is the child's
user + system time (steadier than wall-clock time on a loaded machine), and both are printed.
The first verify on JAX fills archc's compilation cache: run with --repeat 2 to see a warm one.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ["specs/lenet5.arch", "specs/alexnet.arch", "specs/googlenet.arch", "specs/vgg16.arch"]


def timed(cmd: list[str]) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of one run of `cmd` in a child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("specs", nargs="*", default=SEEDS)
    parser.add_argument("--backend", default=None)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    backend = ["--backend", args.backend] if args.backend else []
    print(f"{'spec':<28} {'run':>3} {'verify CPU':>11} {'import torch CPU':>17} {'ratio':>6} {'verify wall':>12}")
    for spec in args.specs:
        for k in range(args.repeat):
            ref_cpu, _ = timed([sys.executable, "-c", "import torch"])
            cpu, wall = timed([sys.executable, "-m", "archc", "verify", spec, "--quiet", *backend])
            print(f"{spec:<28} {k + 1:>3} {cpu:>10.2f}s {ref_cpu:>16.2f}s {cpu / ref_cpu:>5.1f}x {wall:>11.2f}s", flush=True)


if __name__ == "__main__":
    main()
