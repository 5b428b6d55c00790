"""Every figure placesim draws is readable: nothing cut by the edge, nothing drawn over a legend,
range bars inside their axes, one colour per pool, numeric factors in numeric order.

Each figure is inspected as it is saved, through ``results.figure_style.after_save``, at the size
and resolution it is written (the run's PNGs, the report's embedded PNGs, the appraisal's and the
sweep's). The inputs are small: two short runs of the default authority (without and with an IFA
block), an appraisal table built from them, and risk registers of made-up sweeps over two factors.
"""

from __future__ import annotations

import io
import itertools
import re
from contextlib import contextmanager

import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import Collection, PolyCollection
from matplotlib.colors import to_hex
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle
from matplotlib.text import Text

from experiments.appraise import PHASES, appraisal_table, load_options
from experiments.runner import run
from models import Scenario
from models.catalogue import POOL_LABELS
from results import figure_style, figures, report_figures, risk_figures
from results.measures import COST_TYPES
from results.palette import COST_COLOURS, POOL_COLOURS
from results.risk import RiskSettings, parse_constraint, register

TOLERANCE = 1.0  # pixels: anti-aliasing and rounding, not room for a cut letter
RANGE_GAP = 2.0  # pixels between the end of a range bar and its axes' frame, at the least
#: the appraisal's phases drawn here: the longest option titles, and two panels of spend
APPRAISED = ("fostering", "residential")


# --------------------------------------------------------------------------- the checks


def _box(bb) -> str:
    return f"[{bb.x0:.0f}, {bb.y0:.0f}, {bb.x1:.0f}, {bb.y1:.0f}]"


def _inside(inner, outer, tol: float = TOLERANCE) -> bool:
    return (inner.x0 >= outer.x0 - tol and inner.y0 >= outer.y0 - tol
            and inner.x1 <= outer.x1 + tol and inner.y1 <= outer.y1 + tol)


def _overlap(a, b, tol: float = TOLERANCE) -> bool:
    return min(a.x1, b.x1) - max(a.x0, b.x0) > tol and min(a.y1, b.y1) - max(a.y0, b.y0) > tol


def _shown(t: Text) -> bool:
    return t.get_visible() and bool(t.get_text().strip())


def _tick_labels(axis) -> list[Text]:
    """The tick labels the axis draws: visible, not empty, at a tick inside the view."""
    lo, hi = sorted(axis.get_view_interval())
    span = hi - lo
    out = []
    for tick in [*axis.get_major_ticks(), *axis.get_minor_ticks()]:
        loc = tick.get_loc()
        if loc is None or not tick.get_visible() or not lo - 1e-9 * span <= loc <= hi + 1e-9 * span:
            continue
        out += [t for t in (tick.label1, tick.label2) if _shown(t)]
    return out


def _axes(fig) -> list:
    return [ax for ax in fig.axes if ax.get_visible()]


def _legends(fig) -> list[tuple[str, object, object]]:
    """``(name, legend, parent axes or None)`` of every visible legend."""
    out = [(f"figure legend {i}", leg, None) for i, leg in enumerate(fig.legends) if leg.get_visible()]
    for i, ax in enumerate(_axes(fig)):
        leg = ax.get_legend()
        if leg is not None and leg.get_visible():
            out.append((f"legend of axes {i}", leg, ax))
    return out


def _labels(fig) -> list[tuple[str, Text]]:
    """The texts that name things: the figure's texts (suptitle), and each axes' titles, axis labels,
    tick labels and offset texts. Legends are handled as whole boxes."""
    out = [("figure text", t) for t in fig.texts if _shown(t)]
    for i, ax in enumerate(_axes(fig)):
        out += [(f"title of axes {i}", t) for t in (ax.title, ax._left_title, ax._right_title) if _shown(t)]
        if not ax.axison:
            continue
        for name, axis in (("x", ax.xaxis), ("y", ax.yaxis)):
            if _shown(axis.label):
                out.append((f"{name} label of axes {i}", axis.label))
            if _shown(axis.offsetText):
                out.append((f"{name} offset of axes {i}", axis.offsetText))
            out += [(f"{name} tick label of axes {i}", t) for t in _tick_labels(axis)]
    return out


def _notes(fig) -> list[tuple[str, Text]]:
    """Texts and annotations drawn on the axes (cell values of a heatmap, point labels)."""
    return [(f"text on axes {i}", t) for i, ax in enumerate(_axes(fig)) for t in ax.texts if _shown(t)]


def _handle_colour(h) -> str | None:
    if isinstance(h, Line2D):
        return to_hex(h.get_color())
    if isinstance(h, Patch):
        return to_hex(h.get_facecolor())
    if isinstance(h, Collection) and len(h.get_facecolor()):
        return to_hex(h.get_facecolor()[0])
    return None


#: how a legend entry names a pool: its label, or its short name at the start of an entry
POOL_NAMES: dict[str, str] = {**{label: pool for pool, label in POOL_LABELS.items()},
                              "In-house": "inhouse_fostering", "IFA": "ifa", "Kinship": "kinship",
                              "Staying put": "staying_put", "Waiting": "waiting"}


def _pool_named(label: str) -> str | None:
    """The pool a legend entry is about, from the longest pool name it starts with."""
    hits = [name for name in POOL_NAMES if re.match(re.escape(name) + r"(?!\w)", label)]
    return POOL_NAMES[max(hits, key=len)] if hits else None


def _number(text: str) -> float | None:
    t = text.replace("\u2212", "-").replace(",", "").replace("£", "").replace("%", "").strip()
    try:
        return float(t)
    except ValueError:
        return None


def layout_problems(fig) -> list[str]:
    """Everything wrong with the layout of ``fig``, drawn at its own size and resolution (those of
    its PNG), one line each (empty when fine)."""
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    page = fig.bbox
    problems: list[str] = []
    labels = _labels(fig)
    legends = _legends(fig)
    extents: dict[int, object] = {}

    def ext(artist):
        """The artist's extent in pixels as drawn (measured once)."""
        if id(artist) not in extents:
            extents[id(artist)] = artist.get_window_extent(r)
        return extents[id(artist)]

    # 1. every text inside the figure
    legend_texts = [(f"{name} entry", t) for name, leg, _ax in legends
                    for t in [*leg.get_texts(), leg.get_title()] if _shown(t)]
    for where, t in [*labels, *_notes(fig), *legend_texts]:
        bb = ext(t)
        if not _inside(bb, page):
            problems.append(f"cut by the edge: {where} {t.get_text()!r} at {_box(bb)}, figure {_box(page)}")
    for name, leg, _ax in legends:
        bb = ext(leg)
        if not _inside(bb, page):
            problems.append(f"cut by the edge: {name} box at {_box(bb)}, figure {_box(page)}")

    # 2. legends clear of every title, axis label and tick label, of each other and of other axes
    boxes = [(name, ext(leg), ax) for name, leg, ax in legends]
    for name, bb, parent in boxes:
        for where, t in labels:
            if _overlap(bb, ext(t)):
                problems.append(f"overlap: {name} is over the {where} {t.get_text()!r}")
        for i, ax in enumerate(_axes(fig)):
            if ax is not parent and _overlap(bb, ax.bbox):
                problems.append(f"overlap: {name} is over the plot of axes {i} ({ax.get_title()!r})")
    for (n1, b1, _), (n2, b2, _) in itertools.combinations(boxes, 2):
        if _overlap(b1, b2):
            problems.append(f"overlap: {n1} and {n2}")
    for name, bb, parent in boxes:  # a legend inside its axes covers none of the bars
        for bar in (parent.patches if parent is not None else []):
            if isinstance(bar, Rectangle) and bar.get_visible() and bar.get_height() and _overlap(bb, ext(bar)):
                problems.append(f"overlap: {name} is over a bar ({bar.get_label()!r})")

    # 3. titles, axis labels and tick labels clear of each other
    named = [(where, t, ext(t)) for where, t in labels]
    for (w1, t1, b1), (w2, t2, b2) in itertools.combinations(named, 2):
        if _overlap(b1, b2):
            problems.append(f"overlap: {w1} {t1.get_text()!r} and {w2} {t2.get_text()!r}")

    # 4. range lines (with their line caps), bands, bars, boxes and texts on the axes inside their axes
    for i, ax in enumerate(_axes(fig)):
        if ax.get_label() == "<colorbar>":
            continue
        area = ax.bbox
        shapes = []
        for ln in ax.lines:
            if not ln.get_visible() or not len(ln.get_xydata()):
                continue
            # a solid line's projecting cap reaches half its width past its end (axhline and axvline
            # span the axes exactly, so their caps are not counted)
            cap = ln.get_linewidth() * fig.dpi / 72 / 2 if (
                ln.get_solid_capstyle() == "projecting" and ln.get_linestyle() == "-" and ln.get_transform() == ax.transData) else 0.0
            xy = ln.get_transform().transform(ln.get_xydata())
            shapes.append((f"line {ln.get_label()!r}", xy, cap))
            # a range bar (a horizontal or vertical segment in data space) must visibly end inside its
            # axes: one that ends on the frame cannot be told from one cut by it
            data = ln.get_xydata()
            for k, name in ((0, "x"), (1, "y")):
                if ln.get_transform() == ax.transData and len(data) == 2 and data[0, 1 - k] == data[1, 1 - k] \
                        and data[0, k] != data[1, k]:
                    lo, hi = (area.x0, area.x1) if k == 0 else (area.y0, area.y1)
                    gap = min(xy[:, k].min() - cap - lo, hi - xy[:, k].max() - cap)
                    if gap < RANGE_GAP:
                        problems.append(f"outside its axes: range bar from {data[0, k]:g} to {data[1, k]:g} on axes {i} "
                                        f"({ax.get_title()!r}) ends {gap:.1f} px from the frame along {name}")
        shapes += [(f"band {c.get_label()!r}", c.get_transform().transform(p.vertices), 0.0)
                   for c in ax.collections if isinstance(c, PolyCollection) and c.get_visible() for p in c.get_paths()]
        shapes += [(f"patch {p.get_label()!r}", p.get_transform().transform(p.get_path().vertices), 0.0)
                   for p in ax.patches if p.get_visible()]
        for what, xy, pad in shapes:
            xy = xy[np.isfinite(xy).all(axis=1)]
            if not len(xy):
                continue
            lo, hi = xy.min(axis=0) - pad, xy.max(axis=0) + pad
            if not (lo[0] >= area.x0 - TOLERANCE and hi[0] <= area.x1 + TOLERANCE
                                and lo[1] >= area.y0 - TOLERANCE and hi[1] <= area.y1 + TOLERANCE):
                problems.append(f"outside its axes: {what} of axes {i} ({ax.get_title()!r}) spans "
                                f"[{lo[0]:.0f}, {lo[1]:.0f}, {hi[0]:.0f}, {hi[1]:.0f}], axes {_box(area)}")
        for t in ax.texts:
            if _shown(t) and not _inside(ext(t), area):
                problems.append(f"outside its axes: text {t.get_text()!r} on axes {i} at {_box(ext(t))}, "
                                f"axes {_box(area)}")

    # 5. a legend entry about a pool has that pool's colour
    for name, leg, _ax in legends:
        for handle, text in zip(leg.legend_handles, leg.get_texts()):
            pool = _pool_named(text.get_text())
            colour = _handle_colour(handle)
            if pool is not None and colour is not None and colour != to_hex(POOL_COLOURS[pool]):
                problems.append(f"colour: {name} entry {text.get_text()!r} is {colour}, but {pool} is "
                                f"{to_hex(POOL_COLOURS[pool])} everywhere")

    # 6. numeric tick labels in numeric order along each axis
    for i, ax in enumerate(_axes(fig)):
        for name, axis, k in (("x", ax.xaxis, 0), ("y", ax.yaxis, 1)):
            ticks = sorted(_tick_labels(axis), key=lambda t: ext(t).get_points().mean(axis=0)[k])
            values = [_number(t.get_text()) for t in ticks]
            if len(values) < 2 or any(v is None for v in values):
                continue
            if any(b <= a for a, b in zip(values, values[1:])):
                problems.append(f"order: {name} tick labels of axes {i} read {[t.get_text() for t in ticks]}")
    return problems


@contextmanager
def inspected():
    """Collect ``(dest, problems)`` of every figure saved inside the block."""
    seen: list[tuple[object, list[str]]] = []

    def hook(fig, dest):
        seen.append((dest, layout_problems(fig)))

    figure_style.after_save.append(hook)
    try:
        yield seen
    finally:
        figure_style.after_save.remove(hook)


# --------------------------------------------------------------------------- the inputs


@pytest.fixture(scope="module")
def runs():
    """Metrics of two short runs of the default authority: as it is, and with an 8-place IFA block."""
    s = Scenario.default().replace({"run.years": 3, "run.warmup_years": 1})
    base = run(s, replications=4).metrics
    alt = run(s.replace({"contracts.ifa.places": 8}), replications=4).metrics
    both = pd.concat([base.assign(scenario="base"), alt.assign(scenario="alt")], ignore_index=True)
    return {"base": base, "alt": alt, "both": both}


@pytest.fixture(scope="module")
def appraisal(runs):
    """An appraisal of two phases (ten options) built from the two runs' metrics, each option taking
    one of them: ``(table, metrics, phase titles)``, as write_appraisal_figures takes them."""
    options = [o for phase in APPRAISED for o in load_options(phase)]
    metrics = pd.concat([(runs["alt"] if i % 2 else runs["base"]).assign(scenario=o.id) for i, o in enumerate(options)],
                        ignore_index=True)
    return appraisal_table(metrics, options), metrics, {p: PHASES[p][0] for p in APPRAISED}


def made_up_register(places: list[int], retainers: list[float]):
    """The register of a made-up sweep over ``contracts.ifa.places`` (ints) x ``contracts.ifa.retainer``,
    in the experiment's order (places first); the numbers only need to look like a sweep's."""
    rng = np.random.default_rng(7)
    rows, scen = [], []
    for p, ret in itertools.product(places, retainers):
        sid = f"s{p}r{ret:g}"
        scen.append({"scenario": sid, "label": f"places={p}, retainer={ret:g}", "block_places": p,
                     "contracts.ifa.places": p, "contracts.ifa.retainer": ret})
        for rep, year in itertools.product(range(4), (2019, 2020, 2021)):
            util = min(1.0, 0.95 - 0.02 * p + rng.normal(0, 0.05))
            vals = {"spend_total": 9.1e6 - 2e4 * p * (1 - ret) + 3e4 * ret * p * (1 - util) + rng.normal(0, 1.5e5),
                    "spend_retainers": ret * p * (1 - util) * 40_000, "waiting_days": max(0.0, 400 - 12 * p + rng.normal(0, 30)),
                    "max_wait_days": max(0.0, 30 - p + rng.normal(0, 3)), "moves_per_child_year": 0.5 + rng.normal(0, 0.02),
                    "share_3plus_placements": 0.09 + rng.normal(0, 0.005)}
            rows += [(sid, rep, year, m, "all", v) for m, v in vals.items()]
            if p:
                rows.append((sid, rep, year, "block_utilisation", "ifa", util))
    metrics = pd.DataFrame(rows, columns=["scenario", "replication", "year", "metric", "pool", "value"])
    settings = RiskSettings(budget=9.0e6, appetite=(parse_constraint("waiting_days.p90 <= 330", "risk.appetite"),
                                                    parse_constraint("spend_over_budget.probability <= 0.8", "risk.appetite")))
    return register(metrics, pd.DataFrame(scen), settings, ["contracts.ifa.places", "contracts.ifa.retainer"])


# --------------------------------------------------------------------------- the figures


def _report_problems(seen, expected: set[str]) -> str:
    """One block per figure with problems; also a figure expected but not drawn, or drawn twice."""
    names = [getattr(dest, "name", dest) for dest, _p in seen]
    out = [f"{name}: not drawn" for name in sorted(expected - set(names))]
    out += [f"{name}: drawn {names.count(name)} times" for name in sorted(set(names)) if names.count(name) > 1]
    out += [f"{name}:\n    " + "\n    ".join(problems) for name, (_d, problems) in zip(names, seen) if problems]
    return "\n".join(out)


class Named(io.BytesIO):
    """A report figure's destination in memory, named for the failure message."""

    def __init__(self, name: str):
        super().__init__()
        self.name = name


RUN_FIGURES = {"children_by_pool.png", "spend_by_pool.png", "carer_pool.png", "step_flows.png", "siblings_together.png"}
APPRAISAL_FIGURES = {"appraisal_spend.png", "appraisal_stability.png", "appraisal_spend_by_cost.png",
                     "appraisal_blocks.png", *(f"appraisal_children_{p}.png" for p in APPRAISED)}
RISK_FIGURES = {"risk_heatmap_spend.png", "risk_heatmap_waiting.png", "risk_frontier.png", "risk_fan_spend.png"}


def test_every_figure_of_a_run(runs, tmp_path):
    """The five PNGs of ``placesim run``, as write_figures writes them."""
    with inspected() as seen:
        written = figures.write_figures(runs["base"], tmp_path)
    assert {p.name for p in written} == RUN_FIGURES
    problems = _report_problems(seen, RUN_FIGURES)
    assert not problems, "\n" + problems


@pytest.mark.parametrize("kind", ["run", "compare"])
def test_every_report_figure_of_a_run_and_of_a_comparison(kind, runs):
    """The four figures report.html embeds for a run (one scenario, with a block) and for a comparison
    (BASE and ALT): the fan chart, spend by cost type, block utilisation, stability."""
    if kind == "run":
        m, labels = runs["alt"], {"run": "default"}
    else:
        m, labels = runs["both"], {"base": "BASE: default", "alt": "ALT: default with an 8-place IFA block"}
    draws = {"children_fan": lambda b: report_figures.children_fan(m, labels, b),
             "spend_by_cost_type": lambda b: report_figures.spend_by_cost_type(m, labels, b),
             "block_utilisation": lambda b: report_figures.block_utilisation(m, labels, b, 0.7),
             "stability": lambda b: report_figures.stability(m, labels, b)}
    with inspected() as seen:
        drew = {name: draw(Named(name)) for name, draw in draws.items()}
    assert all(drew.values()), drew
    problems = _report_problems(seen, set(draws))
    assert not problems, "\n" + problems


def test_every_figure_of_an_appraisal(appraisal, tmp_path):
    """The appraisal's PNGs (the same figures report.html embeds) for two phases, ten options; option
    titles are shown whole (wrapped, never cut short)."""
    table, m, titles = appraisal
    texts: list[str] = []

    def words(fig, _dest):
        texts.extend(" ".join(t.get_text().split()) for ax in fig.axes for t in ax.get_yticklabels())

    figure_style.after_save.append(words)
    try:
        with inspected() as seen:
            written = report_figures.write_appraisal_figures(table, m, titles, tmp_path)
    finally:
        figure_style.after_save.remove(words)
    assert {p.name for p in written} == APPRAISAL_FIGURES
    problems = _report_problems(seen, APPRAISAL_FIGURES)
    assert not problems, "\n" + problems
    assert set(table.title) <= set(texts)


SWEEPS = {"small": ([0, 4, 8, 12, 16], [0.0, 0.5]), "large": (list(range(0, 18, 2)), [0.0, 0.25, 0.5])}


@pytest.mark.parametrize("size", list(SWEEPS))
def test_every_figure_of_a_sweep(size, tmp_path):
    """The risk register's PNGs (also embedded in report.html) for a 5 x 2 and a 9 x 3 sweep; the
    larger one has more scenarios than the fan chart shows, and says so in its title."""
    reg = made_up_register(*SWEEPS[size])
    suptitles: list[str] = []
    figure_style.after_save.append(lambda fig, dest: suptitles.extend(" ".join(t.get_text().split()) for t in fig.texts))
    try:
        with inspected() as seen:
            written = risk_figures.write_risk_figures(reg, tmp_path)
    finally:
        figure_style.after_save.pop()
    assert {p.name for p in written} == RISK_FIGURES
    problems = _report_problems(seen, RISK_FIGURES)
    assert not problems, "\n" + problems
    fan = next(t for t in suptitles if t.startswith("Yearly spend across replications"))
    assert (f"of {len(reg.wide)} scenarios: the first, the frontier and the picks" in fan) == (len(reg.wide) > risk_figures.MAX_FANS)


def test_heatmap_and_fan_chart_put_numeric_factor_values_in_numeric_order():
    """Block sizes read 0, 4, 12 along the heatmap, not as text (0, 12, 4), and the fan chart's
    panels follow the same order, whatever the order of the experiment's factor lists."""
    reg = made_up_register([12, 4, 0], [0.5, 0.0])
    assert reg.wide["contracts.ifa.places"].dtype.kind == "i"  # as a real sweep's scenario table holds them
    captured = []
    figure_style.after_save.append(lambda fig, dest: captured.append(fig))
    try:
        risk_figures.heatmap(reg, "spend", "p50", io.BytesIO())
        risk_figures.fan_chart(reg, io.BytesIO())
    finally:
        figure_style.after_save.pop()
    heat, fan = captured
    assert [t.get_text() for t in _tick_labels(heat.axes[0].xaxis)] == ["0", "4", "12"]
    assert [t.get_text() for t in _tick_labels(heat.axes[0].yaxis)] == ["0", "0.5"]
    assert [ax.get_title() for ax in fan.axes if ax.get_visible()] == [
        f"places={p}, retainer={r}" for p in (0, 4, 12) for r in ("0", "0.5")]


def test_stacked_spend_adds_up_to_the_total(runs, tmp_path):
    """Spend by cost type and spend by pool leave nothing out: each stack is the yearly ``spend_total``,
    and every cost type has its colour."""
    assert set(COST_COLOURS) == set(COST_TYPES)
    figs = []
    figure_style.after_save.append(lambda fig, dest: figs.append(
        [(p.get_x(), p.get_y(), p.get_width(), p.get_height()) for p in fig.axes[0].patches]))
    try:
        report_figures.spend_by_cost_type(runs["both"], {"base": "BASE", "alt": "ALT"}, io.BytesIO())
        figures.spend_by_pool(runs["base"], tmp_path / "spend_by_pool.png")
    finally:
        figure_style.after_save.pop()
    by_cost, by_pool = figs
    total = runs["both"][(runs["both"].metric == "spend_total") & (runs["both"].pool == "all")]
    per_scenario = total.groupby("scenario").value.mean() / 1e6
    rows = pd.DataFrame(by_cost, columns=["x", "y", "w", "h"]).assign(y=lambda d: (d.y + d.h / 2).round(6))
    stacked = rows.groupby("y").w.sum().sort_index(ascending=False)  # the first scenario is the top row
    assert stacked.to_numpy() == pytest.approx(per_scenario[["base", "alt"]].to_numpy(), rel=1e-9)
    base = runs["base"]
    per_year = base[(base.metric == "spend_total") & (base.pool == "all")].groupby("year").value.mean() / 1e6
    bars = pd.DataFrame(by_pool, columns=["x", "y", "w", "h"]).assign(year=lambda d: (d.x + d.w / 2).round(6))
    assert bars.groupby("year").h.sum().to_numpy() == pytest.approx(per_year.to_numpy(), rel=1e-9)


def test_the_checks_catch_a_cut_title_a_covered_label_and_a_bar_past_the_axes():
    """The checker itself: a figure with the faults the users reported fails each check."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 3), dpi=100)
    ax.plot([0, 1], [0, 1], color=POOL_COLOURS["ifa"], label="In-house fostering")
    ax.plot([0.5, 3.0], [0.5, 0.5], lw=3, label="range")
    ax.set_xlim(0, 1)
    ax.set_xticks([0, 0.5, 1], ["0", "12", "4"])
    ax.set_title("A title much too long to fit in a figure four inches wide, so it is cut at both ends")
    ax.set_xlabel("£ million per year")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.05))
    fig.tight_layout()
    problems = layout_problems(fig)
    plt.close(fig)
    text = "\n".join(problems)
    assert "cut by the edge: title of axes 0" in text
    assert "overlap: legend of axes 0 is over the x label of axes 0" in text
    assert "outside its axes: line 'range'" in text
    assert "outside its axes: range bar from 0.5 to 3" in text
    assert "colour: legend of axes 0 entry 'In-house fostering'" in text
    assert "order: x tick labels of axes 0 read ['0', '12', '4']" in text
