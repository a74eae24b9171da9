"""Geometry of a block figure: archc/backends/blocks.py's Figure → boxes, lines, marks and text in points.

Both emitters (tikz.py for LaTeX, blocks_svg.py for SVG) draw exactly these primitives (blocks_draw.py), so the
TikZ, SVG, PDF and PNG of a figure are one drawing. Coordinates are points (1/72 in), y down.

Scale (documented in docs/figures.md): a map C×H×W is a box `S(H)` tall and `S(W)/2` deep (at
45°, as a cabinet projection) with `S(n) = 3 pt · (1 + log2 n)`, and `T(C) = 1 pt · (1 + log2 C)`
thick; a vector of N features is a bar `2 pt · (1 + log2 N)` tall. A grouped conv is drawn as its
towers side by side, each `T(C / groups)` thick. Text is set at the font size and never scaled:
LR rows wrap at the figure's width, so at that width the text is the size asked for.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from .blocks import AuxHead, Block, Figure, Group, Slab, Unit
from .blocks_draw import Box, Drawing, Line, Mark, Prim, Text, bounds, shift, text_width

S_UNIT, T_UNIT, V_UNIT = 3.0, 1.0, 2.0  # points per (1 + log2 n): spatial, channels, vector length
GAP, FORK, JOIN, LANE_GAP, ROW_GAP, LABEL_GAP, TOWER_GAP = 9.0, 8.0, 6.0, 5.0, 9.0, 2.5, 2.0
MARGIN, TURN = 2.0, 3.5  # page margin; the stub of an edge before it turns


def spatial(n: int) -> float:
    return S_UNIT * (1 + math.log2(max(n, 1)))


def thickness(c: float) -> float:
    return T_UNIT * (1 + math.log2(max(c, 1)))


def bar(n: int) -> float:
    return V_UNIT * (1 + math.log2(max(n, 1)))


@dataclass
class Ext:
    a: float  # along the flow
    before: float  # across the flow, before the axis (above in LR, left in TB)
    after: float


class Layout:
    def __init__(self, fig: Figure, width_in: float, font: float, rankdir: str) -> None:
        if rankdir not in ("LR", "TB"):
            raise ValueError(f"rankdir must be TB or LR, not {rankdir!r}")
        if font <= 0 or width_in <= 0:
            raise ValueError("font size and width must be positive")
        self.fig, self.font, self.lr = fig, font, rankdir == "LR"
        self.width = width_in * 72.0
        self.lh = 1.2 * font
        self.prims: list[Prim] = []
        self.boxes: dict[str, list[Box]] = {}
        self.where: dict[int, tuple[tuple[float, float], tuple[float, float]]] = {}  # node → (entry, exit) in (u, v)
        self.slot: dict[int, tuple[float, float]] = {}  # node → the span along the flow of the unit holding it
        self.anchor: dict[int, tuple[float, float]] = {}  # node → where an aux head's edge leaves it (u, v)
        self.floor = 0.0  # LR: the labels of a row's blocks start this far below the axis, all on one line
        self.row_top, self.skips = 0.0, 0  # the row's near edge, and the edges drawn over it so far
        self.row_of: dict[int, int] = {}  # node → the row of the top-level unit holding it
        self.gaps: list[float] = []  # LR: the middle of the gap after each row placed so far

    # -- coordinates: u along the flow, v across it ------------------------------------------------
    def xy(self, u: float, v: float) -> tuple[float, float]:
        return (u, v) if self.lr else (v, u)

    def line(self, pts: list[tuple[float, float]], dashed: bool = False, arrow: bool = True) -> None:
        self.prims.append(Line(tuple(self.xy(u, v) for u, v in pts), arrow, dashed))

    # -- blocks -----------------------------------------------------------------------------------
    def slab_dims(self, slab: Slab) -> tuple[float, float, float]:
        """(thickness, height, depth) of one tower of a slab."""
        shape = slab.shape
        if len(shape) >= 2:
            c, h, w = shape[0], shape[1], shape[2] if len(shape) > 2 else 1
            t = thickness(c / slab.towers)
            return (max(1.5, 0.4 * t) if slab.thin else t), spatial(h), spatial(w) * 0.5 / math.sqrt(2)
        return 2.5, bar(shape[0] if shape else 1), 1.2

    def slab_size(self, slab: Slab) -> tuple[float, float]:
        """(width, height) of a slab's front faces: towers stack across the flow (up-down in LR, side by side in TB)."""
        t, h, d = self.slab_dims(slab)
        across = (slab.towers - 1) * (d + TOWER_GAP)
        return (t, slab.towers * h + across) if self.lr else (slab.towers * t + across, h)

    def box_extent(self, block: Block) -> tuple[float, float, float]:
        """(width, above the centre line, below it) of a block's boxes, or of its merge mark."""
        if block.merge:
            r = self.mark_r()
            return 2 * r, r, r
        width, up, down, last_d = 0.0, 0.0, 0.0, 0.0
        for slab in block.slabs:
            (w, total), d = self.slab_size(slab), self.slab_dims(slab)[2]
            up, down = max(up, total / 2 + d), max(down, total / 2)
            width += w
            last_d = d
        return width + last_d, up, down

    def label_size(self, lines: list[str]) -> tuple[float, float]:
        return max((text_width(t, self.font) for t in lines), default=0.0), len(lines) * self.lh

    def measure_block(self, block: Block) -> Ext:
        bw, up, down = self.box_extent(block)
        lw, lh = self.label_size(block.lines)
        if self.lr:
            return Ext(max(bw, lw), up, down + LABEL_GAP + lh)
        return Ext(max(up + down, lh), bw / 2, bw / 2 + LABEL_GAP + lw)

    def mark_r(self) -> float:
        return 0.6 * self.font

    def place_block(self, block: Block, u: float, v: float, ext: Ext) -> tuple[tuple[float, float], tuple[float, float]]:
        ends, anchor = self.draw_boxes(block, u, v, ext)
        for n in block.nodes:
            self.where[n], self.anchor[n] = ends, anchor
        return ends

    def draw_boxes(
        self, block: Block, u: float, v: float, ext: Ext
    ) -> tuple[tuple[tuple[float, float], tuple[float, float]], tuple[float, float]]:
        bw, up, down = self.box_extent(block)
        _, lh = self.label_size(block.lines)
        if self.lr:
            x0, cy = u + (ext.a - bw) / 2, v
            for i, text in enumerate(block.lines):
                y = cy + max(down, self.floor) + LABEL_GAP + (i + 1) * self.lh - 0.3 * self.font
                self.prims.append(Text(u + ext.a / 2, y, text, self.font))
            ends, anchor = ((x0, v), (x0 + bw, v)), (x0 + bw / 2, v - up + 1)
        else:
            x0, cy = v - bw / 2, u + (ext.a - (up + down)) / 2 + up
            top = cy - lh / 2
            for i, text in enumerate(block.lines):
                y = top + (i + 1) * self.lh - 0.3 * self.font
                self.prims.append(Text(v + bw / 2 + LABEL_GAP, y, text, self.font, "start"))
            ends, anchor = ((cy - up, v), (cy + down, v)), (cy, v - bw / 2)
        if block.merge:
            r = self.mark_r()
            self.prims.append(Mark(x0 + r, cy, r, block.merge, block.aux))
            return ends, anchor
        boxes: list[Box] = []
        x = x0
        for slab in block.slabs:
            t, h, d = self.slab_dims(slab)
            w, total = self.slab_size(slab)
            for k in range(slab.towers):
                if self.lr:
                    boxes.append(Box(x, cy - total / 2 + k * (h + d + TOWER_GAP), t, h, d, slab.family, block.aux))
                else:
                    boxes.append(Box(x + k * (t + d + TOWER_GAP), cy - h / 2, t, h, d, slab.family, block.aux))
            x += w
        ends = self.tower_edges(block, boxes, ends)
        self.prims += boxes
        self.boxes[block.key] = boxes
        return ends, anchor

    def tower_edges(
        self, block: Block, boxes: list[Box], ends: tuple[tuple[float, float], tuple[float, float]]
    ) -> tuple[tuple[float, float], tuple[float, float]]:
        """Edges into and out of each tower of a grouped conv that opens or closes a block; returns the new ends."""
        (entry, exit_), first, last = ends, block.slabs[0].towers, block.slabs[-1].towers
        dashed = block.aux
        if first > 1:
            start = (entry[0] - TURN, entry[1])
            for box in boxes[:first]:
                c = box.y + box.h / 2 if self.lr else box.x + box.w / 2
                self.line([start, (start[0], c), (entry[0], c)], dashed)
            entry = start
        if last > 1:
            end = (exit_[0] + TURN, exit_[1])
            for box in boxes[-last:]:
                c = box.y + box.h / 2 - box.d / 2 if self.lr else box.x + box.w / 2
                self.line([(exit_[0], c), (end[0], c), end], dashed, arrow=False)
            exit_ = end
        return entry, exit_

    # -- sequences and groups -------------------------------------------------------------------
    def measure(self, unit: Unit) -> Ext:
        return self.measure_group(unit) if isinstance(unit, Group) else self.measure_block(unit)

    def measure_seq(self, units: list[Unit]) -> Ext:
        exts = [self.measure(u) for u in units]
        if not exts:
            return Ext(0.0, 2.0, 2.0)
        return Ext(sum(e.a for e in exts) + GAP * (len(exts) - 1), max(e.before for e in exts), max(e.after for e in exts))

    def lanes_across(self, group: Group) -> tuple[list[Ext], float]:
        exts = [self.measure_seq(lane) for lane in group.lanes]
        return exts, sum(e.before + e.after for e in exts) + LANE_GAP * (len(exts) - 1)

    def core_length(self, group: Group) -> float:
        exts, _ = self.lanes_across(group)
        return FORK + max((e.a for e in exts), default=0.0) + JOIN + 2 * self.mark_r()

    def measure_group(self, group: Group) -> Ext:
        _, across = self.lanes_across(group)
        cw, ch = self.label_size(group.caption)
        core = self.core_length(group)
        if self.lr:
            return Ext(max(core, cw), across / 2, across / 2 + LABEL_GAP + ch)
        return Ext(max(core, ch), across / 2, across / 2 + LABEL_GAP + cw)

    def place(self, unit: Unit, u: float, v: float, ext: Ext) -> tuple[tuple[float, float], tuple[float, float]]:
        ends = self.place_block(unit, u, v, ext) if isinstance(unit, Block) else self.place_group(unit, u, v, ext)
        for block in [unit] if isinstance(unit, Block) else [unit.mark]:
            for n in block.nodes:
                self.slot[n] = (u, u + ext.a)
                self.row_of[n] = len(self.gaps)
        return ends

    def place_seq(self, units: list[Unit], u: float, v: float, dashed: bool) -> tuple[tuple[float, float], tuple[float, float]]:
        """Places a chain on the axis v from u; returns (entry, exit); an empty chain is a point."""
        first: tuple[float, float] | None = None
        last: tuple[float, float] | None = None
        for unit in units:
            ext = self.measure(unit)
            entry, exit_ = self.place(unit, u, v, ext)
            if last is not None:
                self.line([last, entry], dashed)
            first = first or entry
            last = exit_
            u += ext.a + GAP
        return (first or (u, v)), (last or (u, v))

    def place_group(self, group: Group, u: float, v: float, ext: Ext) -> tuple[tuple[float, float], tuple[float, float]]:
        exts, across = self.lanes_across(group)
        core = self.core_length(group)
        u0 = u + (ext.a - core) / 2
        r, dashed = self.mark_r(), group.mark.aux
        cu = u0 + core - r
        fork = u0 + FORK / 2
        top = v - across / 2
        for lane, lext in zip(group.lanes, exts, strict=True):
            lv = top + lext.before
            entry, exit_ = self.place_seq(lane, u0 + FORK, lv, dashed)
            into = (cu, v + r if lv > v else v - r) if abs(lv - v) > r else (cu - r, v)
            if lane:
                self.line([(u0, v), (fork, v), (fork, lv), entry], dashed)
                self.line([exit_, (cu, lv), into] if abs(lv - v) > r else [exit_, into], dashed)
            else:
                self.line([(u0, v), (fork, v), (fork, lv), (cu, lv), into], dashed)
            top += lext.before + lext.after + LANE_GAP
        self.place_block(group.mark, cu - r, v, Ext(2 * r, r, r))
        for i, text in enumerate(group.caption):
            if self.lr:
                self.prims.append(Text(u + ext.a / 2, v + across / 2 + LABEL_GAP + (i + 1) * self.lh - 0.3 * self.font, text, self.font))
            else:
                x, y = v + across / 2 + LABEL_GAP, u + (i + 1) * self.lh - 0.3 * self.font
                self.prims.append(Text(x, y, text, self.font, "start"))
        return (u0, v), (cu + r, v)

    # -- the page: rows of the main chain, aux heads beside their source --------------------------
    def run(self) -> Drawing:
        top = 0.0
        if self.fig.title:
            self.prims.append(Text(0.0, self.font + 1, self.fig.title, self.font + 1, "start", True))
            top = 1.2 * (self.font + 1) + 3
        main = self.fig.main
        exts = [self.measure(unit) for unit in main]
        rows = self.rows(exts)
        u0 = GAP / 2 + 1
        v_top = top if self.lr else 0.0
        prev: tuple[Unit, tuple[float, float], float] | None = None  # last unit, its exit, its slot end
        gap_v = 0.0
        for row in rows:
            starts = [u0 if self.lr else top]
            for i in row[:-1]:
                starts.append(starts[-1] + exts[i].a + GAP)
            heads = self.plan_aux(row, starts, exts)
            skips = sum(1 for k in row if k for n in unit_inputs(main[k]) if n != unit_output(main[k - 1]))
            self.skips, self.row_top = 0, v_top + sum(h for h, _ in heads) + (2.5 * skips + 3 if skips else 0.0)
            axis = self.row_top + max(exts[i].before for i in row)
            blocks = [b for b in (main[i] for i in row) if isinstance(b, Block) and not b.merge]
            self.floor = max((self.box_extent(b)[2] for b in blocks), default=0.0) if self.lr else 0.0
            after = [self.floor + LABEL_GAP + self.label_size(b.lines)[1] for b in blocks]
            for i, u in zip(row, starts, strict=True):
                unit, ext = main[i], exts[i]
                if isinstance(unit, Group):
                    floor, self.floor = self.floor, 0.0
                    entry, exit_ = self.place(unit, u, axis, ext)
                    self.floor = floor
                else:
                    entry, exit_ = self.place(unit, u, axis, ext)
                if prev is not None:
                    self.connect(prev, unit, entry, u, gap_v if i == row[0] and self.lr else None)
                prev = (unit, exit_, u + ext.a)
            self.floor = 0.0
            self.place_aux(heads, axis - max(exts[i].before for i in row))
            bottom = axis + max([exts[i].after for i in row] + after)
            gap_v = bottom + ROW_GAP / 2
            self.gaps.append(gap_v)
            v_top = bottom + ROW_GAP
        return self.finish(len(rows))

    def rows(self, exts: list[Ext]) -> list[list[int]]:
        if not self.lr:
            return [list(range(len(exts)))]
        avail = self.width - 2 * MARGIN - GAP - 2
        rows: list[list[int]] = [[]]
        used = 0.0
        for i, ext in enumerate(exts):
            if rows[-1] and used + GAP + ext.a > avail:
                rows.append([])
                used = 0.0
            used += (GAP if rows[-1] else 0.0) + ext.a
            rows[-1].append(i)
        return rows

    def connect(
        self, prev: tuple[Unit, tuple[float, float], float], unit: Unit, entry: tuple[float, float], start: float, gap_v: float | None
    ) -> None:
        """The chain edge from the previous unit; into a new row it runs back through the gap between rows."""
        before, exit_, end = prev
        sources = [n for n in unit_inputs(unit) if n in self.where]
        if not sources or unit_output(before) in sources:
            dashed = unit.aux if isinstance(unit, Block) else unit.mark.aux
            if gap_v is None:
                self.line([exit_, entry], dashed)
            else:
                back = start - GAP / 2
                self.line([exit_, (end + GAP / 2, exit_[1]), (end + GAP / 2, gap_v), (back, gap_v), (back, entry[1]), entry], dashed)
        for n in sources:
            if n != unit_output(before):  # a layer read by name (`from X`): an edge over the row, at its own height
                (_, src), near = self.where[n], (entry[0] - TURN - self.skips, entry[1])
                self.skips += 1
                over = self.row_top - 2.5 * self.skips
                row = self.row_of.get(n, len(self.gaps))
                if row < len(self.gaps):  # from an earlier row: down between its units, along the gap under it, down into this row
                    side, back, gap = (
                        self.slot[n][1] + GAP / 2 - 1.5 * self.skips,
                        start - GAP / 2 + 1.5 * self.skips,
                        self.gaps[row] - 1.5 * self.skips,
                    )
                    self.line([src, (side, src[1]), (side, gap), (back, gap), (back, over), (near[0], over), near, entry])
                else:
                    self.line([src, (src[0] + TURN + self.skips, src[1]), (src[0] + TURN + self.skips, over), (near[0], over), near, entry])

    def plan_aux(self, row: list[int], starts: list[float], exts: list[Ext]) -> list[tuple[float, list[tuple[AuxHead, Ext, float]]]]:
        """Lanes before the row (above it in LR, left of it in TB) for the aux heads it feeds: (height, heads) each."""
        spans = {n: (u, u + exts[i].a) for i, u in zip(row, starts, strict=True) for b in _all_blocks(self.fig.main[i]) for n in b.nodes}
        lanes: list[list[tuple[AuxHead, Ext, float]]] = []
        for head in self.fig.aux:
            if head.source not in spans:
                continue
            ext = self.measure_seq(head.units)
            s, e = spans[head.source]
            u = (s + e) / 2 + TURN
            if self.lr:
                u = max(GAP / 2 + 1, min(u, self.width - 2 * MARGIN - ext.a))
            free = (k for k, lane in enumerate(lanes) if all(u > v + x.a + GAP or u + ext.a + GAP < v for _, x, v in lane))
            k = next(free, len(lanes))
            if k == len(lanes):
                lanes.append([])
            lanes[k].append((head, ext, u))
        return [(max(x.before + x.after for _, x, _ in lane) + LANE_GAP, lane) for lane in lanes]

    def place_aux(self, lanes: list[tuple[float, list[tuple[AuxHead, Ext, float]]]], edge: float) -> None:
        """Draws the planned aux heads, dashed, the lane nearest the row first; `edge`: the row's near side."""
        cursor = edge - LANE_GAP
        for _, lane in lanes:
            axis = cursor - max(x.after for _, x, _ in lane)
            for head, _, u in lane:
                entry, _ = self.place_seq(head.units, u, axis, True)
                au, av = self.anchor[head.source]
                if entry[0] > au + 1:
                    self.line([(au, av), (au, axis), entry], True)
                else:
                    over = axis - max(x.before for _, x, _ in lane) - 2
                    self.line([(au, av), (au, over), (entry[0] - GAP / 2, over), (entry[0] - GAP / 2, axis), entry], True)
            cursor = axis - max(x.before for _, x, _ in lane) - LANE_GAP

    def finish(self, rows: int) -> Drawing:
        x0, y0, x1, y1 = bounds(self.prims)
        dx, dy = MARGIN - x0, MARGIN - y0
        prims = [shift(p, dx, dy) for p in self.prims]
        boxes = {k: [replace(b, x=b.x + dx, y=b.y + dy) for b in v] for k, v in self.boxes.items()}
        return Drawing(round(x1 - x0 + 2 * MARGIN, 2), round(y1 - y0 + 2 * MARGIN, 2), self.font, prims, boxes, rows)


def _all_blocks(unit: Unit) -> list[Block]:
    if isinstance(unit, Block):
        return [unit]
    return [b for lane in unit.lanes for u in lane for b in _all_blocks(u)] + [unit.mark]


def layout(fig: Figure, width_in: float = 3.33, font: float = 7.0, rankdir: str = "LR") -> Drawing:
    """The drawing of `fig`: LR wraps the chain into rows `width_in` wide; TB draws one column."""
    return Layout(fig, width_in, font, rankdir).run()


def unit_output(unit: Unit) -> int:
    return unit.mark.output if isinstance(unit, Group) else unit.output


def unit_inputs(unit: Unit) -> tuple[int, ...]:
    return (unit.input,) if isinstance(unit, Group) else unit.inputs
