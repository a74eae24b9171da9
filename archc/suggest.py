"""Did-you-mean suggestions in bounded time, however many names a spec has and however many are misspelt.

difflib compares a word with every candidate; over every name of a scope, for every misspelt
reference, that was quadratic (1,000 typos among 1,000 layers: 46 s). Here each name is indexed
once, as it is defined, by its length and the first and the last half of it; a misspelling by one
edit or one swap of neighbours keeps one of those halves, so the index hands difflib a few
candidates instead of all of them. The names defined just before are candidates too (a typo of a
recent layer may be worse than one edit). difflib then ranks at most MAX_COMPARED candidates,
and a compile spends at most BUDGET on suggestions in all, counted as the product of the lengths
compared (difflib's cost grows so): past that, hints are left out.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

MAX_COMPARED = 24  # candidates difflib ranks for one word
MAX_BUCKET = 8  # names kept per index key: enough for any real spec's near-duplicates
RECENT = 8  # the last names defined are always candidates
BUDGET = 4_000_000  # length products compared per compile (~0.7 s on the 2-core machine at worst); new_budget() resets it
CUTOFF = 0.6  # difflib's usual threshold
SURE = 0.9  # among indexed candidates (one edit away, the likeliest first), this close ends the search

_spent = 0


def new_budget() -> None:
    """Start a compile's budget of comparisons afresh."""
    global _spent
    _spent = 0


def _half(length: int) -> int:
    # One edit at position p leaves p characters before it and length-p-1 (a swap: length-p-2)
    # after it intact, so one side keeps at least (length-2)//2 characters.
    return max(1, (length - 2) // 2)


def _keys(name: str) -> tuple[tuple[int, str, str], tuple[int, str, str]]:
    folded, h = name.casefold(), _half(len(name))
    return ((len(name), "<", folded[:h]), (len(name), ">", folded[-h:]))


class NameIndex:
    """Names in the order they were defined, indexed for suggestions."""

    __slots__ = ("by_key", "names")

    def __init__(self, names: Iterable[str] = ()) -> None:
        self.names: list[str] = []
        self.by_key: dict[tuple[int, str, str], list[str]] = {}
        for name in names:
            self.add(name)

    def add(self, name: str) -> None:
        self.names.append(name)
        for key in _keys(name):
            bucket = self.by_key.setdefault(key, [])
            if len(bucket) < MAX_BUCKET:
                bucket.append(name)

    def candidates(self, word: str) -> list[str]:
        """At most MAX_COMPARED names worth comparing with `word`, the likeliest first."""
        if len(self.names) <= MAX_COMPARED:
            return list(self.names)
        folded, found = word.casefold(), dict[str, None]()  # an ordered set
        for length in (len(word), len(word) - 1, len(word) + 1):
            h = _half(length)
            if length < 1 or h > len(word):
                continue
            for key in ((length, "<", folded[:h]), (length, ">", folded[-h:])):
                found.update(dict.fromkeys(self.by_key.get(key, ())))
        found.update(dict.fromkeys(reversed(self.names[-RECENT:])))
        return list(found)[:MAX_COMPARED]


def best_match(word: str, candidates: list[str], sure: float | None = None) -> str | None:
    """The candidate closest to `word` (difflib's ratio, at least CUTOFF, ties as get_close_matches breaks
    them), within the budget; with `sure`, the first candidate at least that close ends the search."""
    global _spent
    folded = word.casefold()
    for c in candidates:
        if c != word and c.casefold() == folded:
            return c  # only the case differs
    matcher = difflib.SequenceMatcher()
    matcher.set_seq2(word)
    best: tuple[float, str] | None = None
    for c in candidates:
        cost = len(word) * len(c)
        if _spent + cost > BUDGET:
            _spent = BUDGET  # spent: later questions stop before looking up candidates
            break
        matcher.set_seq1(c)
        if matcher.real_quick_ratio() < CUTOFF or matcher.quick_ratio() < CUTOFF:
            _spent += len(word) + len(c)
            continue
        _spent += cost
        score = matcher.ratio()
        if score >= CUTOFF and (best is None or (score, c) > best):
            best = (score, c)
            if sure is not None and score >= sure:
                break
    return None if best is None else best[1]


def hint(match: str | None) -> str | None:
    return f"did you mean `{match}`?" if match else None


def did_you_mean(word: str, candidates: Iterable[str]) -> str | None:
    """The hint for a misspelt word among a few candidates (an op's options, the catalogue)."""
    if _spent >= BUDGET:
        return None
    names = list(candidates)
    if len(names) > MAX_COMPARED:
        return hint(best_match(word, NameIndex(names).candidates(word), sure=SURE))
    return hint(best_match(word, names))


def suggest_in(word: str, indexes: Iterable[NameIndex]) -> str | None:
    """The hint for a misspelt name, looked up in nested scopes' indexes, innermost first."""
    if _spent >= BUDGET:
        return None
    seen: dict[str, None] = {}
    indexed = False
    for index in indexes:
        seen.update(dict.fromkeys(index.candidates(word)))
        indexed |= len(index.names) > MAX_COMPARED
        if len(seen) >= MAX_COMPARED:
            break
    return hint(best_match(word, list(seen)[:MAX_COMPARED], sure=SURE if indexed else None))


# What other tools call archc's ops and options (PyTorch, Keras, papers): a hint names archc's word
# even when the spelling is nowhere near it (`linear` → `dense`, `p=` → `rate=`).
OP_ALIASES = {
    "linear": "dense",
    "fc": "dense",
    "fully_connected": "dense",
    "conv2d": "conv",
    "convolution": "conv",
    "maxpool2d": "maxpool",
    "max_pool": "maxpool",
    "avgpool2d": "avgpool",
    "avg_pool": "avgpool",
    "bn": "batchnorm",
    "batchnorm2d": "batchnorm",
    "batch_norm": "batchnorm",
    "batchnormalization": "batchnorm",
    "layer_norm": "layernorm",
    "layernorm2d": "layernorm",
    "layernormalization": "layernorm",
    "group_norm": "groupnorm",
    "groupnormalization": "groupnorm",
    "layerscale": "layer_scale",
    "drop_path": "stochastic_depth",
    "droppath": "stochastic_depth",
    "stochasticdepth": "stochastic_depth",
    "adaptiveavgpool2d": "global_avgpool",
    "globalaveragepooling2d": "global_avgpool",
    "gap": "global_avgpool",
    "localresponsenorm": "lrn",
    "cat": "concat",
    "concatenate": "concat",
    "mul": "multiply",
    "chunk": "split",
    "channel_shuffle": "shuffle",
    "channelshuffle": "shuffle",
}
OPTION_ALIASES = {
    "p": "rate",
    "kernel_size": "kernel",
    "pool_size": "kernel",
    "padding": "pad",
    "strides": "stride",
    "out_channels": "filters",
    "out_features": "units",
    "dilation_rate": "dilation",
    "use_bias": "bias",
    "epsilon": "eps",
    "keepdim": "keep",
    "keepdims": "keep",
    "num_groups": "groups",
}


def alias_of(word: str, aliases: dict[str, str], known: Iterable[str]) -> str | None:
    """archc's name for another tool's `word`, if it is one of `known`."""
    target = aliases.get(word.lower())
    return target if target is not None and target in set(known) else None
