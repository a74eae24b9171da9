"""Connection tables (LeNet-5's Table I): the list form and the paper's X-matrix form."""

from __future__ import annotations

from . import ir
from .diagnostics import Diagnostics

Table = tuple[tuple[int, ...], ...]  # for each output map, the input maps it reads


def table_inputs(table: ir.Table, in_maps: int, out_maps: int, diags: Diagnostics) -> Table | None:
    """Validate a table against the layer's maps and return it per output map, or None."""
    if table.matrix:
        return _from_matrix(table, in_maps, out_maps, diags)
    return _from_list(table, in_maps, out_maps, diags)


def _from_matrix(table: ir.Table, in_maps: int, out_maps: int, diags: Diagnostics) -> Table | None:
    # Rows are input maps, columns output maps, as in the paper.
    ok = _check_rows(table, in_maps, "input", diags)
    for row in table.rows:
        if row.ints:
            diags.error("connection-table", "a matrix row holds only X and .", row.span)
            ok = False
        elif len(row.marks) != out_maps:
            diags.error(
                "connection-table",
                f"row {row.index} has {len(row.marks)} columns, but the layer has {out_maps} output maps",
                row.span,
            )
            ok = False
    if not ok:
        return None
    columns: list[list[int]] = [[] for _ in range(out_maps)]  # out_maps == the rows' width: bounded by the text
    for row in table.rows:
        for col, mark in enumerate(row.marks):
            if mark == "X" and 0 <= row.index < in_maps:
                columns[col].append(row.index)
    return _nonempty(tuple(tuple(sorted(c)) for c in columns), table, diags)


def _from_list(table: ir.Table, in_maps: int, out_maps: int, diags: Diagnostics) -> Table | None:
    # `out: in in in`, one row per output map.
    ok = _check_rows(table, out_maps, "output", diags)
    rows: dict[int, tuple[int, ...]] = {}
    for row in table.rows:
        if row.marks:
            diags.error("connection-table", "mix of list rows and X-matrix rows", row.span)
            ok = False
            continue
        bad = [i for i in row.ints if i >= in_maps]
        if bad:
            diags.error(
                "connection-table",
                f"output map {row.index} reads input map {bad[0]}, but the input has maps 0..{in_maps - 1}",
                row.span,
            )
            ok = False
        if len(set(row.ints)) != len(row.ints):
            diags.error("connection-table", f"output map {row.index} names an input map twice", row.span)
            ok = False
        rows[row.index] = tuple(sorted(row.ints))
    if not ok:
        return None
    return _nonempty(tuple(rows.get(i, ()) for i in range(out_maps)), table, diags)


def _check_rows(table: ir.Table, expected: int, what: str, diags: Diagnostics) -> bool:
    ok = True
    seen: set[int] = set()
    for row in table.rows:
        if row.index >= expected:
            diags.error(
                "connection-table",
                f"row {row.index} names {what} map {row.index}, but there are only {expected} (0..{expected - 1})",
                row.span,
            )
            ok = False
        elif row.index in seen:
            diags.error("connection-table", f"row {row.index} appears twice", row.span)
            ok = False
        seen.add(row.index)
    if ok and len(seen) != expected:
        missing = [i for i in range(min(expected, len(seen) + 5)) if i not in seen][:5]  # the first few; `expected` may be huge
        diags.error(
            "connection-table",
            f"the table has {len(table.rows)} row{'' if len(table.rows) == 1 else 's'} but the layer has {expected} {what} maps (missing {', '.join(map(str, missing[:5]))})",
            table.span,
        )
        ok = False
    return ok


def _nonempty(result: Table, table: ir.Table, diags: Diagnostics) -> Table | None:
    empty = [i for i, ins in enumerate(result) if not ins]
    if empty:
        diags.error("connection-table", f"output map {empty[0]} reads no input map", table.span)
        return None
    return result
