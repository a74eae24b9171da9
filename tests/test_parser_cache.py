"""The grammar is strict LALR; its analysis is cached in a private per-user directory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import lark

from archc.parse import cache_path, grammar_text
from tests.golden import ROOT


def test_grammar_builds_strict_lalr_without_cache() -> None:
    # strict: any shift/reduce conflict or terminal collision raises here
    lark.Lark(grammar_text(), parser="lalr", strict=True, propagate_positions=True, maybe_placeholders=True)


def _check(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "archc", "summary", "specs/lenet5.arch"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, **env},
    )


def test_cache_is_private_and_gives_the_same_result(tmp_path: Path) -> None:
    env = {"XDG_CACHE_HOME": str(tmp_path)}
    first = _check(env)
    files = list((tmp_path / "archc").glob("grammar-*.cache"))
    assert first.returncode == 0 and len(files) == 1
    assert (tmp_path / "archc").stat().st_mode & 0o077 == 0
    second = _check(env)
    assert second.stdout == first.stdout


def test_no_cache_in_a_shared_or_disabled_place(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("ARCHC_NO_CACHE", "1")
    assert cache_path("g") is None
    monkeypatch.delenv("ARCHC_NO_CACHE")
    shared = tmp_path / "shared"
    (shared / "archc").mkdir(parents=True)
    (shared / "archc").chmod(0o777)
    monkeypatch.setenv("XDG_CACHE_HOME", str(shared))
    assert cache_path("g") is None  # world-writable: another user could plant a pickle
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "mine"))
    assert cache_path("g") is not None
