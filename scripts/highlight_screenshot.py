#!/usr/bin/env python
"""docs/images/highlight.png: a spec highlighted by archc.highlight.ArchLexer, with its diagnostics.

    .venv/bin/python scripts/highlight_screenshot.py [-o docs/images/highlight.png] [--html page.html]

The page is what an editor shows with the language server running: the Pygments tokens coloured,
each diagnostic's span underlined with a squiggle and its message at the end of the block (the
same text `archc check` prints), and the hover card `archc lsp` answers for one layer. It is
rendered to PNG by headless Chromium.
"""

from __future__ import annotations

import argparse
import html
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pygments.formatters import HtmlFormatter  # noqa: E402
from pygments.token import STANDARD_TYPES, _TokenType  # noqa: E402

from archc.diagnostics import Diagnostic  # noqa: E402
from archc.highlight import ArchLexer  # noqa: E402
from archc.lsp.analysis import Analysis  # noqa: E402

SPEC = """\
# GoogLeNet's stem and first inception block, with four mistakes in it.
module inception(c1, c3r, c3, c5r, c5, pp, proj) {
    concat {
        branch b1 { conv c1 1x1 relu }
        branch b2 { conv c3r 1x1 relu;  conv c3 3x3 pad=1 relu }
        branch b3 { conv c5r 1x1 relu;  conv c5 5x5 pad=2 relu }
        branch b4 { maxpool 3x3 stride=1 pad=1 ceil;  conv pp 1x1 relu }
    }
}

network GoogLeNetStem {
    input image: 3x224x224

    conv1: conv 64 7x7 stride=2 pad=3 relu          -> 64x112x112
    pool1: maxpool 3x3 stride=2                     -> 64x56x56
    norm1: lrn 5 alpha=1e-4 beta=0.75
    conv2: conv 192 3x3x128 pad=1 relu              -> 192x56x56
    pool2: maxpool 3x3 stride=2 ceil                -> 192x28x28
    inception3a: inception(64, 96, 128, 16, 32, 32) -> 256x28x28
}
"""
HOVER_ON = (14, 6)  # conv1

CSS = """
body { margin: 0; background: #fafafa; font: 14px/1.45 "DejaVu Sans Mono", monospace; color: #24292e; }
.window { margin: 16px; border: 1px solid #d0d7de; border-radius: 6px; background: #fff; box-shadow: 0 1px 3px #0002; }
.title { padding: 6px 12px; border-bottom: 1px solid #d0d7de; background: #f6f8fa; font: 13px sans-serif; color: #57606a; }
.code { position: relative; padding: 8px 0; }
.line { white-space: pre; padding-right: 16px; }
.ln { display: inline-block; width: 3em; padding-right: 1em; text-align: right; color: #8c959f; user-select: none; }
.sq-error { text-decoration: underline wavy #d1242f; text-decoration-skip-ink: none; text-underline-offset: 3px; }
.sq-warning { text-decoration: underline wavy #bf8700; text-decoration-skip-ink: none; text-underline-offset: 3px; }
.inline { white-space: pre; font-style: italic; padding-left: 1.5em; }
.inline.error { color: #d1242f; } .inline.warning { color: #9a6700; }
.line { overflow: hidden; text-overflow: ellipsis; }
.hoverpane { border-top: 1px solid #d0d7de; padding: 8px 12px 12px; }
.hoverpane b.cap { font: bold 12px sans-serif; color: #57606a; letter-spacing: .05em; }
.hover { margin-top: 6px; width: 46em; padding: 8px 12px; background: #fff; border: 1px solid #d0d7de;
         border-radius: 6px; box-shadow: 0 4px 12px #0003; font: 13px/1.4 sans-serif; white-space: normal; }
.hover pre { margin: 6px 0 0; padding: 6px 8px; background: #f6f8fa; font: 12.5px/1.4 "DejaVu Sans Mono", monospace; }
.hover code { font: 12.5px "DejaVu Sans Mono", monospace; background: #f6f8fa; padding: 0 3px; }
.hover hr { border: 0; border-top: 1px solid #d0d7de; }
.problems { border-top: 1px solid #d0d7de; padding: 6px 12px 10px; font-size: 13px; white-space: pre; }
.problems b { font: bold 12px sans-serif; color: #57606a; letter-spacing: .05em; }
.problems .error { color: #d1242f; } .problems .warning { color: #9a6700; }
"""


def css_class(ttype: _TokenType) -> str:
    while ttype not in STANDARD_TYPES:
        ttype = ttype.parent
    return STANDARD_TYPES[ttype]


def squiggles(diags: list[Diagnostic], lines: list[str]) -> dict[tuple[int, int], str]:
    """(line, column) → the severity underlined there, for every character a span covers."""
    out: dict[tuple[int, int], str] = {}
    for d in diags:
        s = d.span
        for line in range(s.line, s.end_line + 1):
            first = s.column if line == s.line else 1
            last = s.end_column if line == s.end_line else len(lines[line - 1]) + 1
            for col in range(first, max(last, first + 1)):
                out.setdefault((line, col), d.severity.value)
    return out


def code_html(text: str, diags: list[Diagnostic]) -> list[str]:
    """One HTML string per source line: coloured tokens, squiggles under the diagnostics' spans."""
    lines = text.split("\n")
    marks = squiggles(diags, lines)
    rows: list[list[str]] = [[]]
    line, col = 1, 1
    for ttype, value in ArchLexer().get_tokens(text):
        for ch in value:
            if ch == "\n":
                rows.append([])
                line, col = line + 1, 1
                continue
            cell = f'<span class="{css_class(ttype)}">{html.escape(ch)}</span>'
            mark = marks.get((line, col))
            rows[-1].append(f'<span class="sq-{mark}">{cell}</span>' if mark else cell)
            col += 1
    return ["".join(r) for r in rows[: len(lines)]]


def markdown(text: str) -> str:
    """The little Markdown the hover uses: bold, code, fenced blocks, rules, paragraphs."""
    out = []
    for block in re.split(r"(```\w*\n.*?\n```)", text, flags=re.S):
        if block.startswith("```"):
            body = block.split("\n", 1)[1].rsplit("\n", 1)[0]
            out.append(f"<pre>{html.escape(body)}</pre>")
            continue
        for para in block.split("\n\n"):
            if not para.strip():
                continue
            if para.strip() == "---":
                out.append("<hr>")
                continue
            p = html.escape(para.strip())
            p = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", p)
            p = re.sub(r"`(.+?)`", r"<code>\1</code>", p)
            out.append(f"<div>{p}</div>")
    return "\n".join(out)


def page(text: str) -> str:
    analysis = Analysis(text, "stem.arch")
    diags = analysis.comp.diagnostics
    rows = code_html(text, diags)
    by_line: dict[int, list[Diagnostic]] = {}
    for d in diags:
        by_line.setdefault(d.span.line, []).append(d)
    body = []
    for k, row in enumerate(rows, 1):
        inline = "".join(
            f'<span class="inline {d.severity.value}">{html.escape(d.message)}</span>'
            for d in sorted(by_line.get(k, []), key=lambda d: not d.is_error)[:1]
        )
        body.append(f'<div class="line"><span class="ln">{k}</span>{row}{inline}</div>')
    hovered = analysis.hover(HOVER_ON)
    caption = f"HOVER ON {HOVER_ON[0]}:{HOVER_ON[1]} (textDocument/hover)"
    hover = f'<div class="hoverpane"><b class="cap">{caption}</b><div class="hover">{markdown(hovered[0])}</div></div>' if hovered else ""
    problems = "\n".join(
        f'<span class="{d.severity.value}">{d.severity.value}</span> {html.escape(d.message)}  [{d.code}]   stem.arch:{d.span.line}:{d.span.column}'
        + (f"\n        hint: {html.escape(d.hint)}" if d.hint else "")
        for d in diags
    )
    style = HtmlFormatter(style="default").get_style_defs(".code")
    return f"""<!doctype html><meta charset="utf-8"><style>{style}{CSS}</style>
<div class="window"><div class="title">stem.arch — highlighted by archc.highlight.ArchLexer; diagnostics and hover from archc lsp</div>
<div class="code">{"".join(body)}</div>{hover}
<div class="problems"><b>PROBLEMS ({len(diags)})</b>\n{problems}</div></div>"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-o", "--output", type=Path, default=ROOT / "docs" / "images" / "highlight.png")
    parser.add_argument("--html", type=Path, help="also keep the HTML page here")
    parser.add_argument("--size", default="1180,900", help="window size W,H in CSS pixels")
    args = parser.parse_args(argv)
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        print("chromium is not installed (apt-get install chromium)", file=sys.stderr)
        return 3
    text = page(SPEC)
    if args.html:
        args.html.write_text(text, encoding="utf-8")
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "page.html"
        src.write_text(text, encoding="utf-8")
        shot = Path(tmp) / "shot.png"
        flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
        flags += ["--disable-sync", "--no-first-run", f"--user-data-dir={tmp}/profile", "--hide-scrollbars"]
        cmd = [chromium, *flags, f"--screenshot={shot}", f"--window-size={args.size}", src.as_uri()]
        subprocess.run(cmd, check=True, capture_output=True, timeout=120)
        shutil.copyfile(shot, args.output)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
