#!/usr/bin/env python
"""How fast does `archc lsp` re-check a spec while you type? Target: GoogLeNet in ≤ 20 ms.

    .venv/bin/python bench/lsp_latency.py                 # specs/googlenet.arch, 200 edits
    .venv/bin/python bench/lsp_latency.py --spec specs/vgg16.arch --edits 50 --json

Starts the server as an editor does (`python -m archc lsp`, JSON-RPC over its stdin and stdout),
opens the spec, and then times edit after edit: one didChange notification (a one-character
incremental edit, as an editor sends on a keystroke, alternately typing a digit into a shape
assertion and deleting it) until the publishDiagnostics notification for that version arrives.
The first edits warm the server up and are not counted. Prints the median, with min, p90 and max.

LspClient is also what tests/test_lsp.py drives the server with.
"""

from __future__ import annotations

import argparse
import itertools
import json
import queue
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


class LspClient:
    """A minimal LSP client over a subprocess's pipes: requests, notifications, and waiting for either."""

    def __init__(self, command: list[str] | None = None, cwd: Path = ROOT) -> None:
        self.proc = subprocess.Popen(
            command or [sys.executable, "-m", "archc", "lsp"],
            cwd=cwd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self.ids = itertools.count(1)
        self.inbox: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.pending: list[dict[str, Any]] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        out = self.proc.stdout
        assert out is not None
        while True:
            headers = {}
            while True:
                line = out.readline()
                if not line:
                    self.inbox.put(None)
                    return
                if line in (b"\r\n", b"\n"):
                    break
                key, _, value = line.decode("ascii").partition(":")
                headers[key.strip().lower()] = value.strip()
            self.inbox.put(json.loads(out.read(int(headers["content-length"]))))

    def send(self, message: dict[str, Any]) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode("utf-8")
        stdin = self.proc.stdin
        assert stdin is not None
        stdin.write(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        stdin.flush()

    def notify(self, method: str, params: dict[str, Any]) -> None:
        self.send({"method": method, "params": params})

    def request(self, method: str, params: dict[str, Any] | None = None, timeout: float = 10) -> Any:
        ident = next(self.ids)
        self.send({"id": ident, "method": method, "params": params or {}})
        reply = self.wait(lambda m: m.get("id") == ident and "method" not in m, timeout)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply.get("result")

    def wait(self, match: Any, timeout: float = 10) -> dict[str, Any]:
        """The first message (kept or new) that `match` accepts; others are kept for later."""
        for k, message in enumerate(self.pending):
            if match(message):
                return self.pending.pop(k)
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no matching message from the server")
            try:
                message = self.inbox.get(timeout=left)
            except queue.Empty:
                continue
            if message is None:
                stderr = self.proc.stderr.read().decode() if self.proc.stderr else ""
                raise ConnectionError(f"the server exited ({self.proc.wait()}): {stderr}")
            if match(message):
                return message
            self.pending.append(message)

    def diagnostics(self, uri: str, version: int | None = None, timeout: float = 10) -> dict[str, Any]:
        """The next publishDiagnostics for the document (and version, when given)."""

        def match(m: dict[str, Any]) -> bool:
            if m.get("method") != "textDocument/publishDiagnostics" or m["params"]["uri"] != uri:
                return False
            return version is None or m["params"].get("version") == version

        return self.wait(match, timeout)["params"]  # type: ignore[no-any-return]

    def initialize(self, capabilities: dict[str, Any] | None = None) -> Any:
        result = self.request("initialize", {"processId": None, "rootUri": ROOT.as_uri(), "capabilities": capabilities or {}})
        self.notify("initialized", {})
        return result

    def open(self, uri: str, text: str, version: int = 1) -> None:
        self.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "arch", "version": version, "text": text}})

    def change(self, uri: str, version: int, text: str, start: tuple[int, int] | None = None, end: tuple[int, int] | None = None) -> None:
        """Replace the whole text, or (with start and end, 0-based) the range between them."""
        change: dict[str, Any] = {"text": text}
        if start is not None:
            end = end or start
            change["range"] = {"start": {"line": start[0], "character": start[1]}, "end": {"line": end[0], "character": end[1]}}
        self.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": version}, "contentChanges": [change]})

    def close(self) -> int:
        try:
            self.request("shutdown", timeout=5)
            self.notify("exit", {})
            return self.proc.wait(timeout=5)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
                if stream is not None:
                    stream.close()


def edit_point(text: str) -> tuple[int, int]:
    """0-based (line, character) just after the first `-> ` assertion's first digit."""
    for row, line in enumerate(text.split("\n")):
        col = line.find("-> ")
        if col >= 0 and line[col + 3 : col + 4].isdigit():
            return row, col + 4
    raise ValueError("the spec has no shape assertion to edit")


def measure(spec: Path, edits: int, warmup: int) -> list[float]:
    text = spec.read_text(encoding="utf-8")
    uri = spec.resolve().as_uri()
    client = LspClient()
    try:
        client.initialize()
        client.open(uri, text)
        client.diagnostics(uri, 1)
        row, col = edit_point(text)
        times = []
        for version in range(2, 2 + warmup + edits):
            typing = version % 2 == 0  # type a digit into the assertion, then delete it again
            start = time.perf_counter()
            if typing:
                client.change(uri, version, "0", (row, col))
            else:
                client.change(uri, version, "", (row, col), (row, col + 1))
            published = client.diagnostics(uri, version)
            times.append(time.perf_counter() - start)
            assert bool(published["diagnostics"]) == typing, "a wrong assertion is an error, the original is clean"
        return times[warmup:]
    finally:
        client.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--spec", type=Path, default=ROOT / "specs" / "googlenet.arch")
    parser.add_argument("--edits", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    times = sorted(t * 1000 for t in measure(args.spec, args.edits, args.warmup))
    figures = {
        "spec": str(args.spec),
        "edits": len(times),
        "median_ms": statistics.median(times),
        "min_ms": times[0],
        "p90_ms": times[int(0.9 * (len(times) - 1))],
        "max_ms": times[-1],
    }
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        print(
            f"{args.spec.name}: didChange → publishDiagnostics, {len(times)} edits: median {figures['median_ms']:.1f} ms "
            f"(min {figures['min_ms']:.1f}, p90 {figures['p90_ms']:.1f}, max {figures['max_ms']:.1f}; target ≤ 20 ms)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
