"""Every spec up to the 10 MB limit is checked, or refused naming the limit, in ≤ 5 s of CPU and ≤ 1 GB (issue 12).

Each pathological shape of the issue runs through a real `archc check` process at the size it
was reported (bench/pathological.py); the bounds are the issue's targets for the 2-core machine.
bench/scaling.py prints the same figures and the growth exponents.
"""

from __future__ import annotations

import pytest

from archc.compiler import compile_source
from archc.parse import MAX_STATEMENTS, MAX_TOKENS
from bench import pathological
from bench.run import fit_exponent
from bench.scaling import CPU_TARGET_S, MEMORY_TARGET_MB, cpu_time, measure

# case → (exit code, what stderr must say); "" for a clean check
EXPECTED = {
    "typo_refs": (1, "did you mean"),
    "typo_refs_large": (1, "[undefined-name]"),
    "table": (0, ""),
    "matrix": (0, ""),
    "one_line": (1, f"more than {MAX_STATEMENTS:,} layer statements"),
    "many_lines": (1, f"more than {MAX_STATEMENTS:,} layer statements"),
    "comment_lines": (0, ""),
    "syntax_errors": (1, "[syntax]"),
    "many_args": (1, f"more than {MAX_TOKENS:,} tokens"),
    "many_sources": (1, "more diagnostics"),
    "unknown_modules": (1, "[unknown-module]"),
    "many_kwargs": (1, f"more than {MAX_TOKENS:,} tokens"),
    "many_networks": (1, f"more than {MAX_STATEMENTS:,} layer statements"),
    "many_calls": (0, ""),
    "nested_repeats": (0, ""),
    "expanded": (0, ""),
    "chain_at_statement_limit": (0, ""),
    "deep_blocks": (1, "braces deep"),
    "big_comment": (0, ""),
}
FAST = {"typo_refs", "comment_lines", "nested_repeats", "expanded", "deep_blocks", "big_comment", "one_line"}


def test_every_case_has_an_expectation() -> None:
    assert set(EXPECTED) == set(pathological.CASES)


@pytest.mark.parametrize("name", [n if n in FAST else pytest.param(n, marks=pytest.mark.slow) for n in pathological.CASES])
def test_pathological_spec_is_checked_within_bounds(name: str) -> None:
    make, size = pathological.CASES[name]
    text = make(size)
    assert len(text.encode("utf-8")) <= 10 * 1024 * 1024  # within the size limit, so it must be checked or refused
    usage = measure(text)
    if usage.cpu_s > CPU_TARGET_S:  # CPU time grows on a loaded machine: the least of two runs is the one to judge
        again = measure(text)
        usage = again if again.cpu_s < usage.cpu_s else usage
    code, says = EXPECTED[name]
    assert usage.exit_code == code, usage.stderr[-2000:]
    assert says in usage.stderr, usage.stderr[-2000:]
    assert "Traceback" not in usage.stderr
    assert usage.cpu_s <= CPU_TARGET_S, f"{name}: {usage.cpu_s:.2f} s of CPU"
    assert usage.peak_mb <= MEMORY_TARGET_MB, f"{name}: {usage.peak_mb:.0f} MB"


def test_suggestions_stay_right_for_a_thousand_typos() -> None:
    names = pathological._names(1_000)
    comp = compile_source(pathological.typo_refs(1_000), "typos.arch")
    hints = [d.hint for d in comp.errors if d.code == "undefined-name"]
    assert hints == [f"did you mean `{name}`?" for name in names]


def test_suggestions_in_small_scopes_are_difflibs() -> None:
    source = "network N {\n    input x: 3x8x8\n    conv1: conv 8 3x3\n    conv2: conv 8 3x3\n    relu from conv3\n    relu from Conv1\n}\n"
    hints = [d.hint for d in compile_source(source, "s.arch").errors]
    assert hints == ["did you mean `conv2`?", "did you mean `conv1`?"]


def test_syntax_errors_after_the_first_are_found_in_one_pass() -> None:
    comp = compile_source(pathological.syntax_errors(8_000, errors=20), "s.arch")
    lines = [d.span.line for d in comp.errors]
    assert lines == [3 + 200 + 400 * i for i in range(10)]  # MAX_SYNTAX_ERRORS of the 20, each where it is


def test_a_limit_met_while_looking_for_later_syntax_errors_is_reported() -> None:
    comp = compile_source(pathological.syntax_errors(MAX_STATEMENTS + 1_000, errors=1), "s.arch")
    assert [d.code for d in comp.errors] == ["syntax", "limit"]


@pytest.mark.slow
@pytest.mark.parametrize("family", ["typo_refs", "table", "syntax_errors", "many_lines"])
def test_growth_is_linear(family: str) -> None:
    make = getattr(pathological, family)
    sizes = {"typo_refs": [250, 500, 1_000, 2_000], "table": [5, 10, 20, 40], "syntax_errors": [2_000, 4_000, 8_000, 16_000]}
    chosen = sizes.get(family, [2_000, 4_000, 8_000, 16_000])
    compile_source(make(chosen[0]))  # the parser built, the code warm
    times = [cpu_time(lambda n=n: compile_source(make(n), "g.arch"), 3) for n in chosen]
    assert fit_exponent(chosen, times) <= 1.3, times  # the target is 1.1 (bench/scaling.py); a margin for a busy machine


def test_recovery_skips_blank_and_comment_lines_after_the_failing_one() -> None:
    # as if the failing line were blank: no ghost error on the blank line, the comment or the `;` after it
    source = "network N {\n    input image: 3x : 8x8\n\n    # a comment\n    ; conv1: conv 8 3x3\n    relu ::\n}\n"
    comp = compile_source(source, "s.arch")
    assert [(d.span.line, d.code) for d in comp.errors] == [(2, "syntax"), (6, "syntax")]


def test_every_terminal_but_comments_and_arrows_counts_toward_the_token_limit() -> None:
    from archc.parse import COUNTED, parser

    uncounted = {t.name for t in parser().terminals} - set(COUNTED) - {"LBRACE", "RBRACE"}
    assert all(name == "COMMENT" or name.startswith(("__IGNORE", "__ANON")) for name in uncounted), uncounted


@pytest.mark.slow
def test_both_generators_grow_linearly_and_within_2x_of_each_other() -> None:
    """bench/scaling.py's build section, on its three larger sizes. Keras' builder once took
    5.1 s for 4,000 calls of one module against PyTorch's 0.3 s (every call's writer re-read the
    whole network), and 3x PyTorch's time on 12 nested repeats (chains of ChainMaps)."""
    from archc.build import generate
    from bench.scaling import BUILD_FAMILIES

    for family, (make, sizes, work) in BUILD_FAMILIES.items():
        times: dict[str, list[float]] = {"torch": [], "keras": []}
        for n in sizes[1:]:
            nets = list(compile_source(make(n), "g.arch").networks)
            for target, seen in times.items():
                seen.append(cpu_time(lambda nets=nets, target=target: generate(nets, target, "g.arch"), 3))
        counts = [work(n) for n in sizes[1:]]
        for target, seen in times.items():
            assert fit_exponent(counts, seen) <= 1.3, (family, target, seen)  # target 1.1; a margin for a busy machine
        assert 0.5 <= times["keras"][-1] / times["torch"][-1] <= 2.0, (family, times)
