"""The property every input must satisfy, shared by the fuzz tests and the long campaign (`make fuzz`).

Whatever the text, the front end and every code path a CLI command takes either succeed or
return located diagnostics: never an exception, never more than TIME_LIMIT seconds of CPU
(CPU, not wall-clock time: a loaded machine must not fail the property for us).
"""

from __future__ import annotations

import time

import archc
from archc.backends.dot import to_dot
from archc.build import BuildError, generate
from archc.compiler import gc_paused
from archc.summary import explain, to_json, to_text

TIME_LIMIT = 2.0


class PropertyViolation(AssertionError):
    pass


def check_everything(text: str, name: str = "fuzz.arch") -> bool:
    """Run check, summary, render --format dot and build (both targets); True if the spec compiled.

    The collector is paused while timing: a full collection of the heap that earlier tests
    left behind (torch, TensorFlow) once cost 2 s of CPU inside a 20 ms input.
    """
    with gc_paused():
        return _check_everything(text, name)


def _check_everything(text: str, name: str) -> bool:
    start = time.process_time()
    comp = archc.compile_source(text, name)
    for d in comp.diagnostics:
        if d.span.line < 1 or d.span.column < 1 or not d.message or not d.code:
            raise PropertyViolation(f"unlocated diagnostic {d}")
    if comp.ok and not comp.networks:
        raise PropertyViolation("no errors but no network either")
    if comp.ok:
        for net in comp.networks:
            to_text(net), to_json(net), explain(net), to_dot(net), to_dot(net, depth=1, phase="eval")
        for target in ("torch", "keras"):
            try:
                source = generate(comp.networks, target, name)
            except BuildError as exc:
                if not exc.compilation.errors:
                    raise PropertyViolation("build failed without a diagnostic") from exc
                continue
            compile(source, f"<{target}>", "exec")  # the generated text is valid Python
    elapsed = time.process_time() - start
    if elapsed > TIME_LIMIT:
        raise PropertyViolation(f"took {elapsed:.2f}s (limit {TIME_LIMIT}s)")
    return comp.ok
