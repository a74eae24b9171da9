"""Synthetic specs of any number of layers, for timing the compiler (bench/run.py, section compiler).

A chain that keeps a valid shape however long it gets: 3x3 convs with padding 1 (the size never
changes), stride-1 max pools with padding 1, standalone ReLUs and batch norms, on a small
8x16x16 input, closed by flatten and a dense classifier. Every line is one layer of the network.
"""

from __future__ import annotations

PATTERN = (
    "conv {c} 3x3 pad=1 relu",
    "conv {c} 3x3 pad=1 bias=false",
    "batchnorm",
    "relu",
    "maxpool 3x3 stride=1 pad=1",
)


def synthetic_spec(layers: int, channels: int = 8, size: int = 16) -> str:
    """A spec whose network has exactly `layers` layers (not counting the input)."""
    if layers < 3:
        raise ValueError("a synthetic spec has at least 3 layers (one conv, flatten, dense)")
    body = []
    width = len(str(layers))
    for i in range(layers - 2):
        body.append(f"    l{i:0{width}d}: {PATTERN[i % len(PATTERN)].format(c=channels)}")
    body.append("    flatten")
    body.append("    classifier: dense 10")
    return (
        f"# synthetic chain of {layers} layers (bench/synthetic.py)\n"
        f"network Chain{layers} {{\n"
        f"    input image: {channels}x{size}x{size}\n" + "\n".join(body) + "\n}\n"
    )


if __name__ == "__main__":
    import sys

    print(synthetic_spec(int(sys.argv[1]) if len(sys.argv) > 1 else 10), end="")
