"""The `archc` command line: argparse only; every command calls the public API.

Exit codes: 0 ok, 1 errors in the spec, 2 usage errors (bad flags, unreadable files),
3 missing environment (torch, keras, Graphviz's dot) with an install hint, 4 an internal error
(a failure inside archc, the generated code or a framework: a bug to report, with a traceback).
"""

from __future__ import annotations

import argparse
import atexit
import json
import math
import os
import re
import shutil
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from . import __version__
from .compiler import (
    INPUT_FORMS,
    MAX_SOURCE_BYTES,
    Compilation,
    InputShapeError,
    SpecReadError,
    checked_input,
    compile_bytes,
    read_spec_bytes,
)
from .diagnostics import render_all, to_json
from .env import MissingDependency, require
from .graph import Network
from .runtime import BadBudget, ModelTooLarge
from .shapes import Shape

EXIT_OK, EXIT_SPEC, EXIT_USAGE, EXIT_ENV, EXIT_INTERNAL = 0, 1, 2, 3, 4
FIGURE_FORMATS = ("svg", "png", "pdf", "dot", "tex")
BUG_REPORT = "this is a bug in archc, not in your spec: please report it with the spec attached"


class UsageError(Exception):
    pass


EXIT_CODES: dict[type[Exception], int] = {
    UsageError: EXIT_USAGE,
    SpecReadError: EXIT_USAGE,
    MissingDependency: EXIT_ENV,
    ModelTooLarge: EXIT_SPEC,
    BadBudget: EXIT_USAGE,
}


# Frameworks whose unloading at interpreter exit costs CPU after the work is done: torch, JAX
# and TensorFlow together take 0.5 s of the 2-core machine to tear down after `archc verify`.
FRAMEWORKS = ("torch", "jax", "tensorflow")


def entry() -> None:
    """The `archc` command: main(), then the exit. When a framework is loaded, the output is
    flushed and the exit handlers run (so nothing is lost), and the process ends without the
    interpreter's teardown, which only frees memory that the operating system reclaims anyway."""
    code = main()
    if any(name in sys.modules for name in FRAMEWORKS):
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except (BrokenPipeError, ValueError):  # the reader has gone: nothing left to lose
            pass
        atexit._run_exitfuncs()
        os._exit(code)
    sys.exit(code)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on bad usage, 0 on --help
        return int(exc.code or 0)
    try:
        return int(args.func(args))
    except BrokenPipeError:  # output piped into `head`: not an error (and an OSError, so first)
        return EXIT_OK
    except KeyboardInterrupt:
        print("archc: interrupted", file=sys.stderr)
        return 130
    except (UsageError, SpecReadError, MissingDependency, ModelTooLarge, BadBudget) as exc:
        print(f"archc: error: {exc}", file=sys.stderr)
        return EXIT_CODES[type(exc)]
    except OSError as exc:  # an output path that cannot be written
        where = f" {exc.filename}" if exc.filename else ""
        print(f"archc: error: cannot write{where}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as exc:  # inside archc, generated code or a framework: never a spec error
        import traceback

        print(f"archc: internal error: {type(exc).__name__}: {exc}\n{BUG_REPORT}\n", file=sys.stderr)
        traceback.print_exc(file=sys.stderr)
        return EXIT_INTERNAL


EXAMPLES = {
    "": """
  archc check specs/*.arch                          # every spec checked; exit 1 on errors
  archc build specs/googlenet.arch --target torch   # -> out/googlenet_torch.py
  archc render specs/googlenet.arch -o googlenet.svg
  archc COMMAND --help                              # a command's options, with examples
  source <(archc completion bash)                   # completion in this shell (also zsh, fish)""",
    "check": """
  archc check specs/*.arch                  # exit 0 when clean, 1 on errors
  archc check --strict specs/lenet5.arch    # warnings fail the check too
  archc check --json specs/vgg16.arch       # every diagnostic, for tools
  archc check - < spec.arch                 # the spec on standard input""",
    "summary": """
  archc summary specs/googlenet.arch
  archc summary specs/lenet5.arch --explain           # the arithmetic behind every number
  archc summary specs/vgg16.arch --json
  archc summary specs/alexnet.arch --input 3x224x224  # another input size""",
    "build": """
  archc build specs/googlenet.arch --target torch           # -> out/googlenet_torch.py
  archc build specs/lenet5.arch --target keras -o models    # -> models/lenet5_keras.py
  archc build specs/lenet5.arch --target torch -o lenet.py  # -> lenet.py
  archc build specs/lenet5.arch --target torch --line-comments  # each layer names its line""",
    "render": """
  archc render specs/googlenet.arch -o googlenet.svg        # the format from the extension
  archc render specs/googlenet.arch --depth 1 --format png  # -> googlenet.png, one box per module
  archc render specs/vgg16.arch --depth 1 -o vgg16.tex      # a paper's block figure in TikZ
  archc render specs/alexnet.arch --style blocks -o alexnet.pdf""",
    "report": """
  archc report specs/vgg16.arch -o vgg16.html
  archc report specs/googlenet.arch -o googlenet.html --input 3x299x299""",
    "verify": """
  archc verify specs/alexnet.arch
  archc verify specs/lenet5.arch --layers --seed 1   # and the first layer that diverges""",
    "fmt": """
  archc fmt specs/lenet5.arch       # the formatted spec on standard output
  archc fmt --check specs/          # a diff of each spec that would change; exit 1 if any
  archc fmt -i specs/*.arch         # rewrite the specs that need it""",
    "import": """
  archc import deploy.prototxt -o model.arch        # a Caffe net as a spec; exit 1, nothing written, if it cannot be exact
  archc import train_val.prototxt --input 3x224x224 # data layers read a dataset: give the input shape
  archc import deploy.prototxt --name AlexNet       # the spec on standard output
  archc import model.keras -o model.arch            # a Keras model (keras.saving.load_model) as a spec""",
    "lsp": """
  archc lsp                         # started by an editor: `archc docs editors` says how""",
    "examples": """
  archc examples                            # the example specs that come with archc
  archc examples lenet5 > lenet5.arch       # one of them, to start from""",
    "docs": """
  archc docs                # the language reference
  archc docs targets        # how specs map onto PyTorch and Keras
  archc docs editors        # the language server and highlighting (also: figures, benchmarks)""",
    "completion": """
  archc completion bash > ~/.local/share/bash-completion/completions/archc
  archc completion zsh > "${fpath[1]}/_archc"
  archc completion fish > ~/.config/fish/completions/archc.fish""",
}


def _epilog(command: str) -> str | None:
    return f"examples:{EXAMPLES[command]}" if command in EXAMPLES else None


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="archc",
        description="Compile .arch network specs: check, summarise, render, build.",
        epilog=_epilog(""),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--version", action="version", version=f"archc {__version__}", help="print archc's version and exit")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    c = sub.add_parser("check", help="parse and shape-check specs; exit 1 on errors")
    c.add_argument("specs", nargs="+", metavar="SPEC", help="spec files, or - for standard input")
    c.add_argument("--strict", action="store_true", help="warnings fail the check too")
    c.add_argument("--json", action="store_true", help="print diagnostics as JSON")
    _param_arg(c)
    c.set_defaults(func=cmd_check)

    s = sub.add_parser("summary", help="per-layer shapes, parameters and MACs")
    _spec_args(s)
    s.add_argument("--json", action="store_true", help="one JSON object per network")
    s.add_argument("--explain", action="store_true", help="show the arithmetic behind every number")
    s.add_argument("--depth", type=_positive, metavar="N", help="fold module instances and repeats nested deeper than N into one row each")
    s.add_argument("--batch", type=_positive, default=1, metavar="N", help="batch size of the activation memory figure (default: 1)")
    s.add_argument("--width", type=_positive, metavar="COLUMNS", help="fit the table to this width (default: the terminal; none in a pipe)")
    s.set_defaults(func=cmd_summary)

    b = sub.add_parser("build", help="generate PyTorch or Keras source")
    _spec_args(b)
    b.add_argument("--target", choices=("torch", "keras"), required=True, help="torch: a PyTorch nn.Module; keras: a Keras 3 model builder")
    b.add_argument(
        "-o",
        "--output",
        metavar="PATH",
        default="out",
        help="a .py file to write, or a directory to write SPEC_TARGET.py in (default: out)",
    )
    b.add_argument("--force", action="store_true", help="overwrite a file archc did not write")
    outputs = b.add_mutually_exclusive_group()
    outputs.add_argument(
        "--logits", action="store_true", help="drop an output's softmax on either target (Keras: classifier_activation=None by default)"
    )
    outputs.add_argument("--softmax", action="store_true", help="torch: keep an output's softmax (by default the model returns logits)")
    b.add_argument("--line-comments", action="store_true", help="add `# spec.arch:LINE` comments")
    b.set_defaults(func=cmd_build)

    r = sub.add_parser("render", help="draw the network: a Graphviz diagram, or a paper's block figure (TikZ, SVG, PDF, PNG)")
    _spec_args(r)
    r.add_argument("-o", "--output", metavar="FILE", help="output file (default: SPEC name with the format's suffix)")
    r.add_argument(
        "--format", choices=FIGURE_FORMATS, default=None, help="tex: a standalone TikZ block figure (default: the output's extension)"
    )
    r.add_argument(
        "--style",
        choices=("graph", "blocks"),
        default=None,
        help="graph: Graphviz (default); blocks: boxes to scale, as papers draw them (the default for tex)",
    )
    r.add_argument(
        "--rankdir",
        choices=("TB", "LR"),
        default=None,
        help="graph: TB (default) or LR; blocks: LR rows wrapped at --width (default) or one TB column",
    )
    r.add_argument(
        "--depth",
        type=_positive,
        default=None,
        help="1: one node per module instance; blocks also fold conv runs closed by a pool into stages",
    )
    r.add_argument("--phase", choices=("train", "eval"), default="train", help="eval hides aux heads")
    r.add_argument("--width", type=float, default=None, metavar="INCHES", help="blocks: the figure's width (default 3.33, one column)")
    r.add_argument("--font-size", type=float, default=None, metavar="PT", help="blocks: text size at that width (default 7)")
    r.add_argument("--dpi", type=_positive, default=None, help="PNG resolution (default: 300 for blocks, 96 for graph)")
    r.add_argument("--title", default=None, help="blocks: the title (default: the network's name; '' for none)")
    r.set_defaults(func=cmd_render)

    h = sub.add_parser("report", help="a self-contained HTML report")
    _spec_args(h)
    h.add_argument("-o", "--output", metavar="FILE", required=True, help="the HTML file to write")
    h.set_defaults(func=cmd_report)

    v = sub.add_parser("verify", help="prove the PyTorch and Keras models compute the same function")
    _spec_args(v)
    v.add_argument("--atol", type=float, default=1e-4, help="tolerance relative to the output's scale")
    v.add_argument("--seed", type=int, default=0, help="seed of the weights and inputs")
    v.add_argument("--layers", action="store_true", help="also name the first layer whose outputs diverge")
    v.add_argument(
        "--backend",
        choices=("jax", "tensorflow", "torch"),
        default=None,
        help="the Keras backend for the Keras side (default: KERAS_BACKEND, else jax when installed, else tensorflow)",
    )
    v.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    v.set_defaults(func=cmd_verify)

    f = sub.add_parser("fmt", help="format specs: the author's layout kept, indentation and spacing mended")
    f.add_argument("specs", nargs="+", metavar="SPEC", help="spec files, directories (every .arch file below) or - for standard input")
    mode = f.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="write nothing; print a diff of what would change and exit 1 if anything would")
    mode.add_argument("-i", "--in-place", action="store_true", help="rewrite the files that need it (default: print to standard output)")
    f.set_defaults(func=cmd_fmt)

    i = sub.add_parser(
        "import", help="turn a PyTorch model, an ONNX or .keras file or a Caffe .prototxt into a readable .arch spec (archc docs import)"
    )
    i.add_argument(
        "file",
        metavar="SOURCE",
        help="PACKAGE.MODULE:CALLABLE (a PyTorch model, e.g. torchvision.models:resnet50), a .onnx or .keras file, a Caffe .prototxt, or - for standard input",
    )
    i.add_argument("-o", "--output", metavar="FILE", help="the .arch file to write (default: standard output)")
    i.add_argument(
        "--from", dest="source", choices=IMPORT_SOURCES, default=None, help="the source's framework (default: from its form or extension)"
    )
    i.add_argument("--name", help="the network's name (default: the net's name: field, else the file's name)")
    i.add_argument(
        "--weights", metavar="FILE", help="ONNX: also write the initializers as safetensors, keyed by the compiled model's state_dict"
    )
    i.add_argument("--input", metavar="CxHxW", type=_shape_arg, help="the input shape, replacing the declared one (data layers need it)")
    i.add_argument("--force", action="store_true", help="overwrite an existing output file")
    i.set_defaults(func=cmd_import)

    lsp = sub.add_parser("lsp", help="run the language server on stdin/stdout (pip install 'archc[lsp]')")
    lsp.set_defaults(func=cmd_lsp)

    e = sub.add_parser("examples", help="list the example specs that come with archc, or print one")
    e.add_argument("name", nargs="?", metavar="NAME", help="the example to print (default: list them all)")
    e.set_defaults(func=cmd_examples)

    d = sub.add_parser("docs", help="print archc's documentation: the language reference, or another TOPIC")
    d.add_argument(
        "topic", nargs="?", default="language", metavar="TOPIC", help="language (default), targets, figures, editors, benchmarks or import"
    )
    d.set_defaults(func=cmd_docs)

    k = sub.add_parser("completion", help="print a shell completion script (bash, zsh or fish)")
    k.add_argument("shell", choices=("bash", "zsh", "fish"), help="the shell to complete archc in")
    k.set_defaults(func=cmd_completion)

    for name, command in sub.choices.items():  # every command's --help ends with examples
        command.formatter_class = argparse.RawDescriptionHelpFormatter
        command.epilog = _epilog(name)
    return p


def _spec_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("spec", metavar="SPEC", help="a spec file, or - for standard input")
    p.add_argument("--input", metavar="CxHxW", type=_shape_arg, help="override the input shape")
    p.add_argument("--network", metavar="NAME", help="the network to use when the spec has several")
    _param_arg(p)


def _param_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--param", metavar="NAME=VALUE", type=_param, action="append", default=[], help="shape at another value of a network parameter"
    )


def _param(text: str) -> tuple[str, int | float]:
    key, eq, value = text.partition("=")
    try:
        number: int | float = int(value)
    except ValueError:
        try:
            number = float(value)
        except ValueError:
            number = math.nan
    if not eq or not key.isidentifier() or not math.isfinite(number):
        raise argparse.ArgumentTypeError(f"{text!r} is not NAME=NUMBER (e.g. classes=10)")
    return key, number


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is below 1")
    return value


def _shape_arg(text: str) -> Shape:
    parts = text.lower().split("x")
    if not all(p.isascii() and p.isdigit() for p in parts):
        raise argparse.ArgumentTypeError(f"{text!r} is not a shape: give {INPUT_FORMS}")
    try:
        return checked_input(tuple(int(p) for p in parts))
    except InputShapeError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a shape: give {INPUT_FORMS}") from None


# -- loading and reporting ------------------------------------------------------------------------
def load_spec(path: str, input_shape: Shape | None = None, params: list[tuple[str, int | float]] | None = None) -> Compilation:
    values = dict(params or ())
    try:
        if path == "-":
            return compile_bytes(sys.stdin.buffer.read(MAX_SOURCE_BYTES + 1), "<stdin>", input_shape, values)  # a bounded read
        return compile_bytes(read_spec_bytes(path), path, input_shape, values)
    except InputShapeError as exc:  # --input 784 for an image network
        raise UsageError(f"--input: {exc}") from None


def report(comp: Compilation, strict: bool = False) -> bool:
    """Print the diagnostics; True when the spec may be used."""
    if comp.diagnostics:
        color = sys.stderr.isatty() and "NO_COLOR" not in os.environ
        print(render_all(comp.diagnostics, {comp.file: comp.source}, color), file=sys.stderr)
    return comp.ok and not (strict and comp.warnings)


def networks(args: argparse.Namespace) -> list[Network] | None:
    comp = load_spec(args.spec, args.input, getattr(args, "param", None))
    if not report(comp):
        return None
    return _chosen(comp, args)


def _chosen(comp: Compilation, args: argparse.Namespace) -> list[Network]:
    """The networks of the spec a command uses: `--network`'s, or all of them."""
    if args.network:
        chosen = [n for n in comp.networks if n.name == args.network]
        if not chosen:
            raise UsageError(f"no network {args.network} in {args.spec}; it has {', '.join(n.name for n in comp.networks)}")
        return chosen
    return comp.networks


def _with_networks(run: Callable[[argparse.Namespace, list[Network]], int]) -> Callable[[argparse.Namespace], int]:
    def command(args: argparse.Namespace) -> int:
        nets = networks(args)
        return EXIT_SPEC if nets is None else run(args, nets)

    return command


def _one_network(nets: list[Network]) -> Network:
    """The network a command that draws one uses: the first, saying so when the spec has several."""
    if len(nets) > 1:
        names = ", ".join(n.name for n in nets)
        print(f"archc: using network {nets[0].name} (the spec has {names}; choose with --network)", file=sys.stderr)
    return nets[0]


# -- commands -------------------------------------------------------------------------------------
def cmd_check(args: argparse.Namespace) -> int:
    failed, all_diags = False, []
    for path in args.specs:
        comp = load_spec(path, None, args.param)
        all_diags.extend(comp.diagnostics)
        if args.json:
            ok = comp.ok and not (args.strict and comp.warnings)
        else:
            ok = report(comp, args.strict)
        failed |= not ok
    if args.json:
        print(to_json(all_diags))
    return EXIT_SPEC if failed else EXIT_OK


def cmd_summary(args: argparse.Namespace) -> int:
    """Like the other commands, but a spec with errors still gets what can be shown, unknowns marked `?` (exit 1)."""
    from .summary import explain, to_json, to_text

    comp = load_spec(args.spec, args.input, args.param)
    ok = report(comp)
    try:
        nets = _chosen(comp, args)
    except UsageError:
        if not ok:  # the network asked for is one the errors kept from being checked
            return EXIT_SPEC
        raise
    if not nets:
        return EXIT_SPEC
    if args.json:
        objs = [to_json(n, args.depth, args.batch) for n in nets]
        print(json.dumps(objs[0] if len(objs) == 1 else {"networks": objs}, indent=2))
    elif args.explain:
        print("\n\n".join(explain(n) for n in nets))
    else:
        width = args.width or (shutil.get_terminal_size().columns if sys.stdout.isatty() else None)
        print("\n\n".join(to_text(n, args.depth, args.batch, width) for n in nets))
    return EXIT_OK if ok else EXIT_SPEC


@_with_networks
def cmd_build(args: argparse.Namespace, nets: list[Network]) -> int:
    from .build import BuildError, softmax_note, write_build

    softmax = False if args.logits else (True if args.softmax else None)
    try:
        path = write_build(
            nets, args.spec, args.target, Path(args.output), force=args.force, softmax=softmax, line_comments=args.line_comments
        )
    except BuildError as exc:
        report(exc.compilation)
        return EXIT_SPEC
    print(f"wrote {path}")
    note = softmax_note(nets, args.target, softmax)
    if note:
        print(note)
    return EXIT_OK


@_with_networks
def cmd_render(args: argparse.Namespace, nets: list[Network]) -> int:
    from .figures import FigureOptions, block_figure, graph_png, write_figure
    from .render import render_to_file

    suffix = Path(args.output).suffix.lstrip(".").lower() if args.output else ""
    if args.format and suffix in FIGURE_FORMATS and suffix != args.format:
        raise UsageError(
            f"--format {args.format} contradicts the output's extension .{suffix}: write to a .{args.format} file, or leave out --format"
        )
    fmt = args.format or (suffix if args.output else "svg")
    if fmt not in FIGURE_FORMATS:
        raise UsageError(f"unknown format {fmt!r}: choose svg, png, pdf, dot or tex")
    style = args.style or ("blocks" if fmt == "tex" else "graph")
    if (style, fmt) in (("graph", "tex"), ("blocks", "dot")):
        raise UsageError(
            f"--format {fmt} is not a format of the {style} style: {'tex needs --style blocks' if fmt == 'tex' else 'dot is the graph style'}"
        )
    out = Path(args.output) if args.output else Path(Path(args.spec).stem if args.spec != "-" else nets[0].name).with_suffix("." + fmt)
    if style == "graph" and (args.width, args.font_size, args.title) != (None, None, None):
        raise UsageError("--width, --font-size and --title shape the block figure: add --style blocks (or write a .tex file)")
    try:
        width, font = 3.33 if args.width is None else args.width, 7.0 if args.font_size is None else args.font_size
        options = FigureOptions(width, font, args.dpi or (300 if style == "blocks" else 96), args.title)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    net = _one_network(nets)
    if style == "blocks":
        write_figure(out, block_figure(net, fmt, args.rankdir or "LR", args.depth, args.phase, options))
    elif fmt == "png" and args.dpi:
        write_figure(out, graph_png(net, args.rankdir or "TB", args.depth, args.phase, options.dpi))
    else:
        render_to_file(net, out, fmt, rankdir=args.rankdir or "TB", depth=args.depth, phase=args.phase)
    print(f"wrote {out}")
    return EXIT_OK


@_with_networks
def cmd_report(args: argparse.Namespace, nets: list[Network]) -> int:
    from .report import write_report

    write_report(_one_network(nets), Path(args.output))
    print(f"wrote {args.output}")
    return EXIT_OK


def _verify_needs(backend: str | None) -> list[str]:
    """What verify imports: torch, keras and the Keras backend it would choose (jax unless told)."""
    chosen = backend or os.environ.get("KERAS_BACKEND")
    if chosen is None:
        from .env import installed

        chosen = "tensorflow" if installed("tensorflow") and not installed("jax") else "jax"
    return ["numpy", "torch", "keras", chosen]


@_with_networks
def cmd_verify(args: argparse.Namespace, nets: list[Network]) -> int:
    from .env import require_all
    from .verify import verify

    require_all(_verify_needs(args.backend), "archc verify")
    ok = True
    for net in nets:
        progress = None if args.quiet else (lambda line, name=net.name: print(f"archc verify: {name}: {line}", file=sys.stderr, flush=True))
        result = verify(net, atol=args.atol, seed=args.seed, layers=args.layers, backend=args.backend, progress=progress, standalone=True)
        print(result.text())
        ok &= result.ok
    return EXIT_OK if ok else EXIT_SPEC


def cmd_fmt(args: argparse.Namespace) -> int:
    paths = [p for arg in args.specs for p in _spec_files(arg)]
    if args.in_place and "-" in paths:
        raise UsageError("-i rewrites files in place: it cannot rewrite standard input")
    failed = changed = False
    for path in paths:
        formatted = _formatted(path)
        if formatted is None:
            failed = True
            continue
        source, text = formatted
        if args.check or args.in_place:
            if text != source:
                changed = True
                _show_or_write(path, source, text, args.check)
        else:
            sys.stdout.write(text)
    return EXIT_SPEC if failed or (args.check and changed) else EXIT_OK


def _spec_files(arg: str) -> list[str]:
    if arg == "-" or not Path(arg).is_dir():
        return [arg]
    found = sorted(str(p) for p in Path(arg).rglob("*.arch") if p.is_file())
    if not found:
        raise UsageError(f"{arg}: a directory with no .arch file in it")
    return found


def _formatted(path: str) -> tuple[str, str] | None:
    """The spec's text and its formatted text, or None after reporting why it cannot be formatted (syntax errors)."""
    from .backends.arch import format_program
    from .compiler import NotUTF8, decode_spec
    from .diagnostics import Diagnostics
    from .parse import parse

    data = sys.stdin.buffer.read(MAX_SOURCE_BYTES + 1) if path == "-" else read_spec_bytes(path)
    name = "<stdin>" if path == "-" else path
    try:
        source = decode_spec(data, name)
    except NotUTF8 as exc:
        report(exc.compilation())
        return None
    diags = Diagnostics()
    program = parse(source, name, diags)  # the shapes are not fmt's business: only a spec that does not parse stops it
    if program is None:
        report(Compilation(name, source, diagnostics=diags.sorted()))
        return None
    bom = "\ufeff" if data.startswith(b"\xef\xbb\xbf") else ""  # not part of the spec, but the file's: kept
    return bom + source, bom + format_program(program, source)


def _show_or_write(path: str, source: str, text: str, check: bool) -> None:
    if check:
        import difflib

        name = "<stdin>" if path == "-" else path
        diff = difflib.unified_diff(source.splitlines(keepends=True), text.splitlines(keepends=True), name, name)
        sys.stdout.writelines(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in diff)
        print(f"would reformat {name}", file=sys.stderr)
    else:
        from .files import write_atomic

        write_atomic(Path(path).resolve(), text)  # through a symbolic link, which stays one
        print(f"reformatted {path}", file=sys.stderr)


IMPORT_SOURCES = ("torch", "onnx", "keras", "caffe")


def import_source(args: argparse.Namespace) -> str:
    """The framework of `archc import`'s source: --from, else PACKAGE.MODULE:CALLABLE is PyTorch, else Caffe."""
    if args.source:
        return str(args.source)
    if re.fullmatch(r"[A-Za-z_][\w.]*:[A-Za-z_][\w.]*", args.file) and not Path(args.file).exists():
        return "torch"
    if args.file.lower().endswith(".onnx"):
        return "onnx"
    if args.file.lower().endswith(".keras"):
        return "keras"
    return "caffe"


def cmd_import_onnx(args: argparse.Namespace, out: Path | None) -> int:
    from .imports.from_onnx import OnnxImportError, import_onnx_file

    require("onnx")
    if out is None:
        raise UsageError("archc import of an ONNX model needs -o FILE.arch (and --weights FILE.safetensors for its tensors)")
    if args.weights and Path(args.weights).exists() and not args.force:
        raise UsageError(f"{args.weights} exists: add --force to overwrite it")
    try:
        import_onnx_file(args.file, out, args.weights)
    except OnnxImportError as exc:
        print(f"archc import: {args.file} cannot be expressed exactly:\n{exc}", file=sys.stderr)
        return EXIT_SPEC
    print(f"wrote {out}" + (f" and {args.weights}" if args.weights else ""))
    return EXIT_OK


def cmd_import_torch(args: argparse.Namespace, out: Path | None) -> int:
    from .imports.from_torch import SourceFailed, TorchImportError, import_callable

    require("torch")
    try:
        spec = import_callable(args.file, args.input or "3x224x224")
    except TorchImportError as exc:
        print(f"archc import: {args.file} cannot be expressed exactly:\n{exc}", file=sys.stderr)
        return EXIT_SPEC
    except SourceFailed as exc:  # the user's environment or code: no traceback of archc's
        print(f"archc: error: {exc}", file=sys.stderr)
        return EXIT_ENV
    except (ImportError, AttributeError, ValueError) as exc:
        raise UsageError(f"{args.file}: {exc}") from None
    return _write_import(out, spec)


def _write_import(out: Path | None, spec: str) -> int:
    if out is None:
        sys.stdout.write(spec)
        return EXIT_OK
    from .files import write_atomic

    write_atomic(out, spec)
    print(f"wrote {out}")
    return EXIT_OK


def cmd_import(args: argparse.Namespace) -> int:
    """Every refusal is reported and nothing is written: a spec that is only partly the net would mislead."""
    from .compiler import decode_spec
    from .imports import Imported, ImportRefused, import_caffe

    out = Path(args.output) if args.output else None
    if out is not None and out.exists() and not args.force:
        raise UsageError(f"{out} exists: add --force to overwrite it")
    source = import_source(args)
    if source == "torch":
        return cmd_import_torch(args, out)
    if source == "onnx":
        return cmd_import_onnx(args, out)
    try:
        if source == "keras":
            result = Imported(_import_keras(args))
        else:
            data = sys.stdin.buffer.read(MAX_SOURCE_BYTES + 1) if args.file == "-" else read_spec_bytes(args.file)
            name = "<stdin>" if args.file == "-" else args.file
            result = import_caffe(decode_spec(data, name), name, args.name, args.input)
    except ImportRefused as exc:
        print(render_all(exc.diagnostics, exc.sources), file=sys.stderr)
        return EXIT_SPEC
    for note in result.notes:
        print(f"{note.span.file}:{note.span.line}:{note.span.column}: note: {note.message}", file=sys.stderr)
    return _write_import(out, result.spec)


def _import_keras(args: argparse.Namespace) -> str:
    from .imports.from_keras import import_keras_file

    if args.file == "-":
        raise UsageError("a .keras file is a zip archive: give its path, not standard input")
    if args.input is not None:
        raise UsageError("--input is for Caffe data layers: a Keras model's input shape is its own")
    if not Path(args.file).is_file():
        raise UsageError(f"{args.file}: no such file")
    return import_keras_file(args.file, args.name)


def cmd_examples(args: argparse.Namespace) -> int:
    from .shipped import example_names, example_text, shared_stem, summary_line

    names = example_names()
    if args.name is None:
        width = max(map(len, names))
        for name in names:
            print(f"{name.ljust(width)}  {summary_line(example_text(name) or '')}")
        return EXIT_OK
    text = example_text(args.name)
    if text is None and shared_stem(args.name, names):
        raise UsageError(f"{args.name!r} names several examples: {', '.join(shared_stem(args.name, names))}")
    if text is None:
        raise UsageError(f"no example {args.name!r}{_did_you_mean(args.name, names)}; the examples are {', '.join(names)}")
    sys.stdout.write(text)
    return EXIT_OK


def cmd_docs(args: argparse.Namespace) -> int:
    from .shipped import doc_text, doc_topics

    text = doc_text(args.topic)
    if text is None:
        topics = doc_topics()
        raise UsageError(f"no documentation on {args.topic!r}{_did_you_mean(args.topic, topics)}; the topics are {', '.join(topics)}")
    sys.stdout.write(text)
    return EXIT_OK


def _did_you_mean(word: str, names: list[str]) -> str:
    from .suggest import did_you_mean

    hint = did_you_mean(word, names)
    return f" ({hint})" if hint else ""


def cmd_completion(args: argparse.Namespace) -> int:
    from .completion import script

    sys.stdout.write(script(_parser(), args.shell))
    return EXIT_OK


def cmd_lsp(args: argparse.Namespace) -> int:
    from .lsp import serve

    serve()
    return EXIT_OK
