"""What ships inside the wheel besides the code: the documentation and the example specs.

pyproject.toml force-includes docs/*.md as archc/docs/ and specs/ as archc/specs/ (as it does the
grammar); in a source checkout they are read from the repository. `archc docs` and `archc
examples` print them, so that what a hint or the README points at is there after `pip install`.
"""

from __future__ import annotations

from importlib import resources
from importlib.abc import Traversable
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parent.parent


def _folder(name: str) -> Traversable:
    """archc/NAME inside an installed wheel, else the repository's NAME/."""
    packaged = resources.files("archc").joinpath(name)
    if packaged.is_dir():
        return packaged
    return REPOSITORY / name


def _files(folder: Traversable, suffix: str) -> dict[str, Traversable]:
    """Every file ending in `suffix` below `folder`, by its stem, in name order.

    A stem that two folders share (specs/examples/resnet18.arch and specs/zoo/resnet18.arch) names
    neither: each is then known by its path below `folder`, `examples/resnet18` and `zoo/resnet18`.
    """
    found: dict[str, list[tuple[str, Traversable]]] = {}
    todo: list[tuple[str, Traversable]] = [("", folder)]
    while todo:
        where, current = todo.pop()
        for entry in current.iterdir():
            if entry.is_dir():
                todo.append((f"{where}{entry.name}/", entry))
            elif entry.name.endswith(suffix):
                stem = entry.name.removesuffix(suffix)
                found.setdefault(stem, []).append((where + stem, entry))
    named = {}
    for stem, entries in found.items():
        named.update({stem: entries[0][1]} if len(entries) == 1 else dict(entries))
    return dict(sorted(named.items()))


def shared_stem(name: str, names: list[str]) -> list[str]:
    """The qualified names a bare stem stands for when two folders hold a spec of that name."""
    return [n for n in names if n.endswith("/" + name)]


def doc_topics() -> list[str]:
    """The documents `archc docs TOPIC` prints: language (the reference), targets, figures, ..."""
    return list(_files(_folder("docs"), ".md"))


def doc_text(topic: str) -> str | None:
    found = _files(_folder("docs"), ".md").get(topic)
    return None if found is None else found.read_text(encoding="utf-8")


def example_names() -> list[str]:
    return list(_files(_folder("specs"), ".arch"))


def example_text(name: str) -> str | None:
    found = _files(_folder("specs"), ".arch").get(name)
    return None if found is None else found.read_text(encoding="utf-8")


def summary_line(text: str) -> str:
    """What an example is: the first line of its opening comment."""
    for line in text.split("\n"):
        if line.startswith("#"):
            return line.lstrip("#").strip()
        if line.strip():
            break
    return ""
