"""A grammar-aware generator of random *valid* specs, for the differential campaign.

It writes specs the way a user would, tracking shapes itself (independently of archc's checker)
so that nearly every spec it writes is valid: every op and option, concat, add and multiply with
named, unnamed and identity branches (multiply with squeeze-and-excitation scales), channel split
and shuffle, `from` references, modules called with differing arguments (so
that variant classes appear), repeats, aux heads, both connection-table forms, odd and
non-square inputs, and adversarial names (Python keywords and builtins, `x`, `self`, `main`,
names differing only in case or underscores, non-ASCII). `spec(seed)` is deterministic.
"""

from __future__ import annotations

import keyword
import random
from dataclasses import dataclass, field

ADVERSARIAL = [
    *(k for k in keyword.kwlist if k not in ("True", "False", "None")),
    *("x", "self", "main", "training", "forward", "torch", "nn", "F", "keras", "layers", "ops", "inputs", "aux", "name"),
    *("print", "len", "type", "id", "list", "super", "object", "in_channels", "state_dict", "cuda", "to", "i"),
    *("a_b", "aB", "ab", "A_B", "Foo", "foo", "_", "__init__", "층1", "é", "e", "Ω", "a" * 70, "a" * 70 + "b"),
    *("Outputs", "NamedTuple", "TableConv2d", "RBF", "Subsample", "scaled_tanh", "pair", "repeat_1", "conv_1", "branch1"),
]
ADVERSARIAL = [n for n in ADVERSARIAL if n not in ("input", "from", "aux", "branch", "network", "module", "repeat", "connections")]
ACTS = ["relu", "tanh", "sigmoid", "scaled_tanh", "relu6", "leaky_relu", "elu", "gelu", "silu", "hardswish", "hardsigmoid"]
# normalisations and the residual-branch ops of ConvNeXt
NORMS = ["layernorm", "groupnorm", "layer_scale", "stochastic_depth"]
# activations written as layers of their own, with their options
ACT_LAYERS = ["leaky_relu 0.2", "leaky_relu slope=-0.5", "elu alpha=0.5", "elu 2", "gelu approximate=tanh", "gelu", "prelu", "relu6"]


@dataclass
class Seq:
    """One scope being written: its lines, the names it holds, the running shape."""

    shape: tuple[int, ...]
    lines: list[str] = field(default_factory=list)
    names: dict[str, tuple[int, ...]] = field(default_factory=dict)  # named layers → shape
    depth: int = 0


class SpecGen:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.modules: list[str] = []
        self.module_sigs: dict[str, str] = {}  # name → kind ("chan" keeps HxW, "head" → flat)
        self.used_globals: set[str] = set()

    # -- names ---------------------------------------------------------------------------------
    def name(self, seq: Seq, p: float = 0.5) -> str | None:
        r = self.rng
        if r.random() > p:
            return None
        for _ in range(10):
            cand = (
                r.choice(ADVERSARIAL)
                if r.random() < 0.5
                else r.choice(["a", "b", "c", "conv", "fc", "x1", "L", "l"]) + str(r.randint(0, 9))
            )
            if cand not in seq.names and not cand.startswith("__"):
                return cand
        return None

    def label(self, seq: Seq, shape: tuple[int, ...], p: float = 0.5) -> str:
        name = self.name(seq, p)
        if name is None:
            return ""
        seq.names[name] = shape
        return f"{name}: "

    # -- single ops ----------------------------------------------------------------------------
    def act(self, p: float = 0.4) -> str:
        return " " + self.rng.choice(ACTS) if self.rng.random() < p else ""

    def conv(self, shape: tuple[int, ...], keep_size: bool = False, filters: int | None = None) -> tuple[str, tuple[int, ...]]:
        r = self.rng
        c, h, w = shape
        f = filters or r.randint(1, 8)
        if keep_size:
            k = r.choice([1, 3])
            text = f"conv {f} {k}x{k}" + (" pad=1" if k == 3 else "") + (" same" if k == 1 and r.random() < 0.3 else "")
            return text + self.act(), (f, h, w)
        for _ in range(20):
            kh, kw = r.choice([1, 2, 3]), r.choice([1, 2, 3])
            if r.random() < 0.6:
                kw = kh
            sh, sw = r.choice([1, 1, 2]), r.choice([1, 1, 2])
            if r.random() < 0.6:
                sw = sh
            dh, dw = (1, 1) if r.random() < 0.8 else (r.choice([1, 2]), r.choice([1, 2]))
            mode = r.choice(["num", "num", "pair", "sides", "same", "valid", "none"])
            if mode == "same" and ((sh, sw) != (1, 1) or (dh * (kh - 1)) % 2 or (dw * (kw - 1)) % 2):
                mode = "none"
            ph, pw = {"num": (p := r.randint(0, 1), p), "pair": (r.randint(0, 2), r.randint(0, 2))}.get(mode, (0, 0))
            if mode == "same":
                ph, pw = dh * (kh - 1) // 2, dw * (kw - 1) // 2
            sides = (ph, ph, pw, pw)
            if mode == "sides":  # pad=TxBxLxR, keras.applications' correct_pad among them
                sides = (0, 1, 0, 1) if r.random() < 0.3 else (r.randint(0, 2), r.randint(0, 2), r.randint(0, 2), r.randint(0, 2))
            eh, ew = dh * (kh - 1) + 1, dw * (kw - 1) + 1
            oh, ow = (h + sides[0] + sides[1] - eh) // sh + 1, (w + sides[2] + sides[3] - ew) // sw + 1
            if oh >= 1 and ow >= 1:
                break
        else:
            return f"conv {f} 1x1" + self.act(), (f, h, w)
        parts = [f"conv {f} {kh}x{kw}"]
        groups = 1
        table = None
        if r.random() < 0.15:
            table = self.table(c, f)
        elif r.random() < 0.2:
            common = [g for g in (2, 3, 4) if c % g == 0 and f % g == 0]
            if common:
                groups = r.choice(common)
                parts[0] = f"conv {f} {kh}x{kw}" + (f"x{c // groups}" if r.random() < 0.3 else "")
        elif filters is None and c > 1 and r.random() < 0.25:  # depthwise: one group per input map (MobileNet), a multiplier of 1 or 2
            groups, f = c, c * r.choice([1, 1, 2])
            parts[0] = f"conv {f} {kh}x{kw}" + ("x1" if r.random() < 0.3 else "")
        if (sh, sw) != (1, 1):
            parts.append(f"stride={sh}" if sh == sw else f"stride={sh}x{sw}")
        if mode == "num":
            parts.append(f"pad={ph}")
        elif mode == "pair":
            parts.append(f"pad={ph}x{pw}")
        elif mode == "sides":
            parts.append("pad=" + "x".join(map(str, sides)))
        elif mode in ("same", "valid"):
            parts.append(r.choice([mode, f"pad={mode}"]))
        if (dh, dw) != (1, 1):
            parts.append(f"dilation={dh}" if dh == dw else f"dilation={dh}x{dw}")
        if groups != 1:
            parts.append(f"groups={groups}")
            if groups == c and r.random() < 0.3:  # keras.applications' ConvNeXt form of a depthwise conv
                parts.append("keras_kernel=grouped")
        if r.random() < 0.2:
            parts.append("bias=false")
        text = " ".join(parts) + self.act()
        if table is not None:
            text += table
        return text, (f, oh, ow)

    def table(self, c: int, f: int) -> str:
        r = self.rng
        rows = [sorted(r.sample(range(c), r.randint(1, c))) for _ in range(f)]
        if r.random() < 0.5:  # list form: one row per output map
            body = "".join(f"\n        {o}: {' '.join(map(str, ins))}" for o, ins in enumerate(rows))
        else:  # matrix form: one row per input map, one column per output map
            body = "".join(f"\n        {i}: {' '.join('X' if i in rows[o] else '.' for o in range(f))}" for i in range(c))
        return " connections {" + body + "\n    }"

    def pool(self, shape: tuple[int, ...]) -> tuple[str, tuple[int, ...]]:
        r = self.rng
        c, h, w = shape
        op = r.choice(["maxpool", "avgpool", "adaptive_avgpool", "adaptive_maxpool"])
        if op.startswith("adaptive"):  # any output size: smaller, equal, larger (windows repeat)
            oh, ow = r.choice([1, h // 2 or 1, h, h + 1, r.randint(1, h + 2)]), r.choice([1, w // 2 or 1, w, r.randint(1, w + 2)])
            return f"{op} {oh}" if oh == ow and r.random() < 0.5 else f"{op} {oh}x{ow}", (c, oh, ow)
        k = r.choice([2, 3])
        s = r.choice([1, 2, k])
        p = r.randint(0, k // 2)
        ceil = r.random() < 0.3
        size = []
        for n in (h, w):
            span = n + 2 * p - k
            if span < 0:
                return "relu", shape
            o = (-(-span // s) if ceil else span // s) + 1
            if ceil and (o - 1) * s >= n + p:
                o -= 1
            size.append(o)
        parts = [f"{op} {k}x{k}"]
        if s != k:
            parts.append(f"stride={s}")
        if p:
            parts.append(f"pad={p}")
        if ceil:
            parts.append("ceil")
        if op == "avgpool" and r.random() < 0.4:
            parts.append("count_pad=false")
        return " ".join(parts), (c, size[0], size[1])

    def norm(self, kind: str, shape: tuple[int, ...]) -> str:
        """A layer or group norm over at least 2 values, after a 1x1 conv (or dense) that mixes the maps.

        Keras' LayerNormalization and GroupNormalization compute x·inv + (β − mean·inv), which
        loses about |mean|/σ ulps when the values normalised together are nearly equal (one map,
        a softmax's outputs): float32 round-off that no target can avoid, far above the campaign's
        1e-5 tolerance. Mixed and at least 2 at a time, the values are spread as in real networks.
        """
        r = self.rng
        c = shape[0]
        positions = shape[1] * shape[2] if len(shape) == 3 else 1
        sizes = [g for g in range(1, c + 1) if c % g == 0 and c // g * positions >= 2]
        if (kind == "layernorm" and c < 2) or not sizes:
            return r.choice(["layer_scale", "relu"])
        mix = f"conv {c} 1x1; " if len(shape) == 3 else f"dense {c}; "
        if kind == "layernorm":
            return mix + "layernorm" + r.choice(["", " eps=1e-6", " eps=0.01"])
        return mix + f"groupnorm {r.choice(sizes)}" + r.choice(["", " eps=1e-3"])

    def simple(self, shape: tuple[int, ...]) -> tuple[str, tuple[int, ...]]:
        """A random op that reads `shape`, and the shape it gives."""
        r = self.rng
        spatial = len(shape) == 3
        choices = (
            [
                "conv",
                "conv",
                "pool",
                "subsample",
                "lrn",
                "batchnorm",
                *NORMS,
                "dropout",
                "rescale",
                "normalize",
                "act",
                "act_layer",
                "softmax",
                "split",
                "shuffle",
                "pointwise_dense",
            ]
            if spatial
            else ["dense", "dense", "batchnorm", *NORMS, "dropout", "rescale", "normalize", "act", "act_layer", "softmax", "split"]
        )
        kind = r.choice(choices)
        divisors = [d for d in range(1, shape[0] + 1) if shape[0] % d == 0]
        if kind == "split":
            parts = r.choice(divisors)
            part = r.randrange(parts)
            return f"split {parts}" + (f" part={part}" if part or r.random() < 0.3 else ""), (shape[0] // parts, *shape[1:])
        if kind == "shuffle":
            return f"shuffle {r.choice(divisors[1:] or divisors)}", shape
        if kind == "conv":
            return self.conv(shape)
        if kind == "pool":
            return self.pool(shape)
        if kind == "subsample":
            c, h, w = shape
            k = r.choice([1, 2])
            if h < k or w < k:
                return "relu", shape
            return f"subsample {k}x{k}" + (f" stride={k}" if r.random() < 0.5 else "") + self.act(), (c, (h - k) // k + 1, (w - k) // k + 1)
        if kind == "lrn":
            size = r.randint(1, 5)
            conv = r.choice(["", " convention=paper", " convention=caffe"])
            extra = r.choice(
                ["", f" alpha={r.choice(['1e-4', '0.001', '2e-05', '0.5'])}", f" beta={r.choice(['0.75', '0.5', '1'])}", " k=2"]
            )
            return f"lrn {size}{conv}{extra}", shape
        if kind == "batchnorm":
            opts = r.choice(
                ["", " eps=0.001", " momentum=0.3", " eps=1e-3 momentum=0.01", " scale=false", " center=false", " scale=false center=false"]
            )
            return "batchnorm" + opts + self.act(), shape
        if kind in ("layernorm", "groupnorm"):
            return self.norm(kind, shape), shape
        if kind == "layer_scale":
            return r.choice(["layer_scale", "layer_scale 0.5", "layer_scale init=2"]), shape
        if kind == "stochastic_depth":
            return f"stochastic_depth {r.choice(['0.1', '0', '0.5'])}", shape
        if kind == "dropout":
            return f"dropout {r.choice(['0.5', '0', '0.1'])}", shape
        if kind == "rescale":
            if r.random() < 0.3:  # a factor per channel (EfficientNet's 1/sqrt(stddev))
                factors = ", ".join(str(round(r.uniform(-2, 2), 3)) for _ in range(shape[0]))
                return f"rescale scale={factors}" + r.choice(["", " offset=0.5"]), shape
            return r.choice(["rescale scale=1/127.5 offset=-1", "rescale scale=1/255", "rescale 2 offset=0.5", "rescale scale=-0.5"]), shape
        if kind == "normalize":
            per = shape[0] if r.random() < 0.7 else 1  # one value per channel, or one for all
            mean = ", ".join(str(round(r.uniform(-1, 1), 3)) for _ in range(per))
            std = ", ".join(str(round(r.uniform(0.1, 2), 3)) for _ in range(shape[0] if r.random() < 0.7 else 1))
            return f"normalize mean={mean} std={std}" + (" stored" if r.random() < 0.3 else ""), shape
        if kind == "softmax":
            return "softmax", shape
        if kind == "act_layer":
            return r.choice(ACT_LAYERS), shape
        if kind == "pointwise_dense":
            units = r.randint(1, 12)
            return f"pointwise_dense {units}" + (" bias=false" if r.random() < 0.2 else "") + self.act(), (units, *shape[1:])
        if kind == "dense":
            units = r.randint(1, 12)
            return f"dense {units}" + (" bias=false" if r.random() < 0.2 else "") + self.act(), (units,)
        return r.choice(ACTS), shape

    # -- structure -----------------------------------------------------------------------------
    def merge(self, seq: Seq) -> tuple[list[str], tuple[int, ...]]:
        r = self.rng
        shape = seq.shape
        roll = r.random()
        kind = "add" if roll < 0.4 else "multiply" if roll < 0.55 else "concat"
        name = self.name(seq, 0.5)
        lines = []
        out_c = 0
        n = r.randint(1, 3)
        bnames: set[str] = set()
        scales = 0  # multiply's Cx1x1 branches: only those, and the product is Cx1x1 too
        for _ in range(n):
            bname = None
            if r.random() < 0.4:
                bname = r.choice(["branch1", "branch2", "b1", "b2", "x", "main", "self", "residual", "shortcut", "class"])
                if bname in bnames or (name is None and bname in seq.names):
                    bname = None
                else:
                    bnames.add(bname)
                    if name is None:  # an unnamed merge puts its branches in the enclosing scope
                        seq.names[bname] = (0,)
            head = f"branch {bname}" if bname else "branch"
            if kind == "multiply" and r.random() < 0.5:  # a squeeze-and-excitation scale, Cx1x1
                squeeze = f"conv {r.randint(1, 4)} 1x1{self.act(0.8)}"
                scale = f"conv {shape[0]} 1x1 {r.choice(['sigmoid', 'hardsigmoid'])}"
                lines.append(f"        {head} {{ global_avgpool {r.choice(['keep', 'keep=true'])}; {squeeze}; {scale} }}")
                scales += 1
                continue
            if kind in ("add", "multiply") and r.random() < 0.3:
                lines.append(f"        {head}")  # identity
                out_c = shape[0]
                continue
            body = []
            cur = shape
            for j in range(r.randint(1, 2)):
                last = j == 1 or r.random() < 0.5
                if kind in ("add", "multiply") and last:
                    text, cur = self.conv(cur, keep_size=True, filters=shape[0])
                elif r.random() < 0.3:
                    text, cur = ("maxpool 3x3 stride=1 pad=1", cur) if cur[1] >= 1 else ("relu", cur)
                else:
                    text, cur = self.conv(cur, keep_size=True)
                body.append(text)
                if last:
                    break
            if kind in ("add", "multiply") and cur[0] != shape[0]:
                body.append(f"conv {shape[0]} 1x1")
                cur = (shape[0], *cur[1:])
            out_c += cur[0] if kind == "concat" else 0
            sep = "; " if r.random() < 0.5 else "\n            "
            lines.append(
                f"        {head} {{ {sep.join(body)} }}" if sep == "; " else f"        {head} {{\n            {sep.join(body)}\n        }}"
            )
        out = (out_c, *shape[1:]) if kind == "concat" else (shape[0], 1, 1) if scales == n else shape
        act = self.act(0.4) if kind == "add" else ""
        label = ""
        if name:
            seq.names[name] = out
            label = f"{name}: "
        return [f"    {label}{kind}{act} {{", *lines, "    }"], out

    def from_merge(self, seq: Seq) -> tuple[str, tuple[int, ...]] | None:
        """`add from a, b` or `concat from a, b` over earlier named layers, or a `from` read."""
        r = self.rng
        cands = [(n, s) for n, s in seq.names.items() if len(s) == 3]
        if len(cands) < 1:
            return None
        a, sa = r.choice(cands)
        same = [n for n, s in cands if s == sa]
        same_hw = [n for n, s in cands if s[1:] == sa[1:]]
        roll = r.random()
        if roll < 0.1 and same:
            return f"multiply from {a}, {r.choice(same)}", sa
        if roll < 0.35 and same:
            b = r.choice(same)
            return f"add{self.act(0.3)} from {a}, {b}", sa
        if roll < 0.7 and same_hw:
            b = r.choice(same_hw)
            return f"concat from {a}, {b}", (sa[0] + seq.names[b][0], *sa[1:])
        text, shape = self.conv(sa)
        return f"{text} from {a}", shape

    def module(self, in_shape: tuple[int, ...]) -> tuple[str, str]:
        """Defines (once) a channel-keeping module and returns a call to it."""
        r = self.rng
        if all(kind == "head" for kind in self.module_sigs.values()) or r.random() < 0.4:
            name = r.choice(["block", "stack", "a_b", "aB", "foo", "Foo", "x", "nn", "conv", "층", "Basic", "basic", "self", "print"])
            if name in self.module_sigs:
                pass
            else:
                pname = r.choice(["c", "in_channels", "x", "self", "n", "filters", "class_"])
                nname = "n" if pname != "n" else "m"
                kind = r.choice(["plain", "repeat", "res"])
                if kind == "plain":
                    body = f"    conv {pname} 3x3 pad=1 relu\n    conv {pname} 1x1"
                    params = [pname]
                elif kind == "repeat":
                    body = f"    repeat {nname} {{ conv {pname} 3x3 pad=1 relu }}"
                    params = [nname, pname]
                else:
                    body = f"    add relu {{\n        branch {{ conv {pname} 3x3 pad=1; batchnorm }}\n        branch\n    }}"
                    params = [pname]
                self.module_sigs[name] = kind
                self.modules.append(f"module {name}({', '.join(params)}) {{\n{body}\n}}")
        name = r.choice([m for m, kind in self.module_sigs.items() if kind != "head"])
        kind = self.module_sigs[name]
        c = in_shape[0] if kind == "res" else r.choice([in_shape[0], r.randint(1, 6)])
        args = f"{r.randint(1, 2)}, {c}" if kind == "repeat" else f"{c}"
        return f"{name}({args})", f"{c}"

    def statement(self, seq: Seq, top: bool) -> None:
        r = self.rng
        shape = seq.shape
        roll = r.random()
        if len(shape) == 3 and roll < 0.12 and seq.depth < 2:
            lines, out = self.merge(seq)
            seq.lines += lines
            seq.shape = out
            return
        if len(shape) == 3 and roll < 0.2:
            got = self.from_merge(seq)
            if got is not None:
                text, out = got
                seq.lines.append(f"    {self.label(seq, out)}{text}")
                seq.shape = out
                return
        if len(shape) == 3 and roll < 0.3 and top:
            call, c = self.module(shape)
            out = (int(c), *shape[1:])
            seq.lines.append(f"    {self.label(seq, out, 0.6)}{call}")
            seq.shape = out
            return
        if len(shape) == 3 and roll < 0.36:
            count = r.randint(1, 3)
            body = self.conv(shape, keep_size=True, filters=shape[0])[0]
            if r.random() < 0.5:
                body += "; batchnorm" + self.act()
            seq.lines.append(f"    {self.label(seq, shape)}repeat {count} {{ {body} }}")
            return
        text, out = self.simple(shape)
        seq.lines.append(f"    {self.label(seq, out)}{text}")
        seq.shape = out

    def aux(self, seq: Seq) -> None:
        """An aux head off a named spatial layer (or the input), through a head module."""
        r = self.rng
        cands = [n for n, s in seq.names.items() if len(s) == 3]
        if not cands:
            return
        src = r.choice(cands)
        if "head" not in self.module_sigs:
            self.module_sigs["head"] = "head"
            self.modules.append("module head(classes) {\n    global_avgpool\n    dense classes\n}")
        name = r.choice(["aux1", "main", "x", "aux_", "training", "self", "Outputs", "_h", "count"])
        if name in seq.names or (not name[0].isalpha() and name[0] != "_"):
            name = "aux_" + str(r.randint(1, 9))
        if name in seq.names:
            return
        seq.names[name] = (0,)
        seq.lines.append(f"    {name}: aux head({r.randint(1, 5)}) from {src}")

    def spec(self) -> str:
        r = self.rng
        c, h, w = r.randint(1, 6), r.randint(5, 14), r.randint(5, 14)
        in_name = r.choice(["image", "x", "self", "maps", "input_", "in_channels"])
        seq = Seq((c, h, w))
        seq.names[in_name] = seq.shape
        for _ in range(r.randint(2, 9)):
            self.statement(seq, top=True)
            if r.random() < 0.12:
                self.aux(seq)
        if len(seq.shape) == 3 and r.random() < 0.8:
            seq.lines.append("    " + r.choice(["flatten", "global_avgpool"]))
            seq.shape = (seq.shape[0] * seq.shape[1] * seq.shape[2],) if seq.lines[-1].endswith("flatten") else (seq.shape[0],)
            for _ in range(r.randint(0, 2)):
                self.statement(seq, top=True)
            tail = r.choice(["dense 5", "dense 3 softmax", "rbf 4", "dense 7 relu", ""])
            if tail:
                seq.lines.append(f"    {self.label(seq, (0,))}{tail}")
        net = r.choice(["N", "Foo", "foo", "Net", "x", "self", "Model", "torch", "main", "층망"])
        body = "\n".join(seq.lines)
        return "\n\n".join([*self.modules, f"network {net} {{\n    input {in_name}: {c}x{h}x{w}\n{body}\n}}\n"])


def spec(seed: int) -> str:
    return SpecGen(seed).spec()
