#!/usr/bin/env python
"""Turn `bench/run.py --json FILE` output into the Markdown tables of docs/benchmarks.md.

.venv/bin/python bench/run.py --json /tmp/bench.json
.venv/bin/python bench/to_markdown.py /tmp/bench.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.run import fmt_time as ms  # noqa: E402  (the same unit rules as the run's own tables)


def spread(row: dict[str, Any], side: str) -> str:
    return f"{ms(row[f'{side}_median_s'])} ({ms(row[f'{side}_min_s'])}–{ms(row[f'{side}_max_s'])})"


def pair_table(rows: list[dict[str, Any]], a: str, b: str) -> list[str]:
    out = [
        f"| case | {a}: median (min–max) | {b}: median (min–max) | A/B median | per-sample A/B min–max | min/min |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        out.append(
            f"| {r['case']} | {spread(r, 'a')} | {spread(r, 'b')} | **{r['ratio']:.3f}** | {r['ratio_min']:.2f}–{r['ratio_max']:.2f} "
            f"| {r.get('ratio_of_minima', r['a_min_s'] / r['b_min_s']):.3f} |"
        )
    return out


def compiler_table(rows: list[dict[str, Any]]) -> list[str]:
    out = [
        "| layers | runs | parse + check: median (min–max) | emit (median) | total (median) | µs per layer |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        if "layers" not in r:
            continue
        pc = f"{ms(r['parse_check_median_s'])} ({ms(r['parse_check_min_s'])}–{ms(r['parse_check_max_s'])})"
        emit = ms(r["emit_median_s"]) if r.get("emit_median_s") is not None else "—"
        total = r["total_median_s"]
        out.append(f"| {r['layers']:,} | {r['runs']} | {pc} | {emit} | {ms(total)} | {total / r['layers'] * 1e6:.0f} |")
    exponent = [r["exponent"] for r in rows if "exponent" in r]
    if exponent:
        out += ["", f"Growth exponent (least squares of log time on log layers): **{exponent[0]:.3f}**."]
    return out


def render(data: dict[str, Any]) -> str:
    env = data["environment"]
    lines = ["Machine: " + ", ".join(f"{k} {v}" for k, v in env.items()) + ".", ""]
    labels = {
        "models": ("generated", "hand-written"),
        "c3": ("table conv", "dense conv"),
        "keras": ("generated", "applications"),
        "cli": ("A", "B"),
    }
    for section in data["sections"]:
        name = section["section"]
        lines.append(f"### {name}")
        lines.append("")
        for message in section["skipped"]:
            lines.append(f"Skipped: {message}")
        for message in section["notes"]:
            lines.append(f"Note: {message}")
        if section["rows"]:
            lines += compiler_table(section["rows"]) if name == "compiler" else pair_table(section["rows"], *labels[name])
        lines.append("")
    checks = [c for s in data["sections"] for c in s["checks"]]
    if checks:
        lines += ["### Targets", "", "| figure | measured | target | |", "|---|---|---|---|"]
        for c in checks:
            value = f"{c['value'] * 1e3:.0f} ms" if c["unit"] == "s" else f"{c['value']:.3f}{c['unit']}"
            target = f"{c['target'] * 1e3:.0f} ms" if c["unit"] == "s" else f"{c['target']:g}{c['unit']}"
            lines.append(f"| {c['what']} | {value} | ≤ {target} | {'ok' if c['ok'] else '**miss**'} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    print(render(json.loads(Path(sys.argv[1]).read_text())), end="")
