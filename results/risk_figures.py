"""Figures of the risk register, drawn from the register's tables only.

Colours are colour-blind safe: Okabe-Ito for categories, cividis for heatmaps,
and shades of one blue for the fan charts. Numeric factor values are ordered as numbers
(0, 4, 8, 12, 16), on the heatmaps' axes and in the order of the fan chart's panels.
"""

from __future__ import annotations

import numbers
from pathlib import Path

import numpy as np

from results.figure_style import Dest, figure, legend_below, save, year_axis
from results.palette import BLACK, BLUE, FAN, GREY, ORANGE, SEQUENTIAL, VERMILION
from results.risk import MEASURES, Register, short_names

MAX_FANS = 12
#: how the figures name a measure where the register's own label is too terse on an axis
FIGURE_NAMES = {"spend": "yearly spend"}
#: the register's flags that pick one scenario each, under either of their names
PICK_FLAGS = ("recommended", "smallest_block")


def _scale_name(measure: str) -> str:
    unit = MEASURES[measure][3]
    return {"GBP/year": "£ million per year", "share": "%", "days/year": "days per year", "days": "days"}.get(unit, unit)


def _axis_label(measure: str, statistic: str) -> str:
    name = FIGURE_NAMES.get(measure, MEASURES[measure][0].lower())
    return f"{statistic.upper()} {name} ({_scale_name(measure)})"


def _scaled(measure: str, values):
    unit = MEASURES[measure][3]
    values = np.asarray(values, dtype=float)
    if unit == "GBP/year":
        return values / 1e6
    if unit == "share":
        return values * 100
    return values


def heatmap(reg: Register, measure: str, statistic: str, path: Dest) -> Dest | None:
    """``measure.statistic`` over the first factor (x) and the second (y); only for two factors."""
    if len(reg.factors) != 2:
        return None
    fx, fy = reg.factors
    col = f"{measure}.{statistic}"
    w = reg.wide
    if col not in w:
        return None
    xs = sorted(w[fx].unique(), key=_sort_key)
    ys = sorted(w[fy].unique(), key=_sort_key)
    grid = np.full((len(ys), len(xs)), np.nan)
    for d in w.to_dict("records"):
        grid[ys.index(d[fy]), xs.index(d[fx])] = _scaled(measure, [d[col]])[0]
    fig, ax = figure(figsize=(max(6.5, 2.5 + 0.8 * len(xs)), max(3.8, 1.8 + 0.5 * len(ys))))
    im = ax.imshow(grid, cmap=SEQUENTIAL, origin="lower", aspect="auto")
    finite = grid[np.isfinite(grid)]
    mid = (finite.min() + finite.max()) / 2 if finite.size else 0
    fmt = "{:.2f}" if MEASURES[measure][3] == "GBP/year" else "{:.1f}"
    for i in range(len(ys)):
        for j in range(len(xs)):
            if np.isfinite(grid[i, j]):
                ax.text(j, i, fmt.format(grid[i, j]), ha="center", va="center", fontsize=7,
                        color="black" if grid[i, j] > mid else "white")
    ax.set_xticks(range(len(xs)), [_tick(v) for v in xs])
    ax.set_yticks(range(len(ys)), [_tick(v) for v in ys])
    ax.set_xlabel(factor_label(fx), fontsize=8)
    ax.set_ylabel(factor_label(fy), fontsize=8)
    bar = fig.colorbar(im, ax=ax)
    bar.set_label(f"{statistic.upper()}, {_scale_name(measure)}")
    names = short_names([fx, fy])
    ax.set_title(f"{_axis_label(measure, statistic)},\nacross replications, by {names[fx]} and {names[fy]}", fontsize=10)
    return save(fig, path)


def factor_label(key: str) -> str:
    """The dotted key, with its unit, or its meaning from the scenario schema on a second line."""
    import dataclasses
    import textwrap
    import typing

    from models.scenario import Scenario

    cls, meta = Scenario, {}
    for part in key.split("."):
        fields = {f.name: f for f in dataclasses.fields(cls)} if dataclasses.is_dataclass(cls) else {}
        if part not in fields:
            return key
        meta = fields[part].metadata
        cls = typing.get_type_hints(cls).get(part)
    if meta.get("unit"):
        return f"{key} ({meta['unit']})"
    doc = meta.get("doc", "")
    return f"{key}\n{textwrap.shorten(doc, 60, placeholder='...')}" if doc else key


def _number(v) -> float | None:
    """``v`` as a number, if it is one (numpy integers and floats too, and numbers held as text)."""
    if isinstance(v, bool) or v is None:
        return None
    if isinstance(v, numbers.Real):
        return None if np.isnan(float(v)) else float(v)
    try:
        return float(str(v).strip())
    except ValueError:
        return None


def _sort_key(v):
    """Numbers first, in numeric order (4 before 12), then text in alphabetical order, then missing values."""
    x = _number(v)
    if x is not None:
        return (0, x, "")
    return (2, 0.0, "") if v is None or (isinstance(v, float) and np.isnan(v)) else (1, 0.0, str(v))


def _tick(v) -> str:
    x = _number(v)
    if x is not None and not isinstance(v, str):
        return f"{x:g}"
    return str(v)


def _in_factor_order(w, factors: list[str]) -> list[str]:
    """The scenarios of ``w`` ordered by their factor values, each factor in :func:`_sort_key` order."""
    rows = w.to_dict("records")
    ranked = sorted(range(len(rows)), key=lambda i: tuple(_sort_key(rows[i].get(f)) for f in factors))
    return [rows[i]["scenario"] for i in ranked]


def frontier(reg: Register, path: Dest) -> Dest:
    """Every scenario on the first two frontier measures; the frontier joined up; the picks marked."""
    (mx, sx), (my, sy) = reg.settings.frontier[:2]
    w = reg.wide
    cx, cy = f"{mx}.{sx}", f"{my}.{sy}"
    x = _scaled(mx, w[cx]) if cx in w else np.full(len(w), np.nan)
    y = _scaled(my, w[cy]) if cy in w else np.full(len(w), np.nan)
    fig, ax = figure(figsize=(9.5, 5.4))
    on = w.on_frontier.to_numpy(dtype=bool)
    ax.scatter(x[~on], y[~on], s=22, color=GREY, label="scenario", zorder=2)
    order = np.argsort(x[on], kind="stable")
    ax.plot(x[on][order], y[on][order], color=BLUE, marker="o", ms=6, lw=1.5, label="on the frontier", zorder=3)
    ax.margins(0.08)
    finite = np.isfinite(x) & np.isfinite(y)
    mid_x = (np.nanmin(x[finite]) + np.nanmax(x[finite])) / 2 if finite.any() else 0.0
    mid_y = (np.nanmin(y[finite]) + np.nanmax(y[finite])) / 2 if finite.any() else 0.0
    for xi, yi, label in zip(x[on], y[on], w.label[on]):
        # labels point into the plot, so that none runs past the axes
        right, up = xi <= mid_x, yi <= mid_y
        ax.annotate(label, (xi, yi), textcoords="offset points", xytext=(6 if right else -6, 5 if up else -5),
                    ha="left" if right else "right", va="bottom" if up else "top", fontsize=7, color=BLUE)
    if reg.settings.appetite:
        meets = w.meets_appetite.to_numpy(dtype=bool)
        ax.scatter(x[meets], y[meets], s=70, facecolors="none", edgecolors=BLACK, lw=0.8,
                   label="meets the risk appetite", zorder=4)
        for c in reg.settings.appetite:
            if (c.measure, c.statistic) == (my, sy):
                ax.axhline(_scaled(my, [c.limit])[0], color=VERMILION, ls="--", lw=1, label=f"appetite: {c}")
            if (c.measure, c.statistic) == (mx, sx):
                ax.axvline(_scaled(mx, [c.limit])[0], color=VERMILION, ls="--", lw=1, label=f"appetite: {c}")
    rec = w.recommended.to_numpy(dtype=bool)
    if rec.any():
        ax.scatter(x[rec], y[rec], s=200, marker="*", color=ORANGE, edgecolors=BLACK, lw=0.6,
                   label="recommended: " + w.label[rec].iloc[0], zorder=5)
    ax.set_xlabel(_axis_label(mx, sx))
    ax.set_ylabel(_axis_label(my, sy))
    ax.set_title("Stability-spend frontier: lower is better on both axes")
    ax.grid(alpha=0.3)
    return save(fig, path, legend_beside=ax)


def fan_chart(reg: Register, path: Dest) -> Dest | None:
    """Yearly spend over the years, P5-P95 / P10-P90 bands and the median, one panel per scenario.

    With more than :data:`MAX_FANS` scenarios, the panels show the frontier and the picks.
    """
    data = reg.yearly[reg.yearly.measure == "spend"]
    if data.empty:
        return None
    w = reg.wide
    chosen = list(w.scenario)
    note = ""
    if len(chosen) > MAX_FANS:
        picked = w.on_frontier.astype(bool)
        for flag in PICK_FLAGS:
            if flag in w:
                picked |= w[flag].astype(bool)
        chosen = list(dict.fromkeys([w.scenario.iloc[0], *w.scenario[picked]]))[:MAX_FANS]
        note = f" ({len(chosen)} of {len(w)} scenarios: the first, the frontier and the picks)"
    order = _in_factor_order(w, [f for f in reg.factors if f in w])
    chosen = sorted(chosen, key=order.index)
    n = len(chosen)
    cols = min(n, 4)
    rows = int(np.ceil(n / cols))
    fig, axes = figure(rows, cols, figsize=(max(7.0, 3.2 * cols + 0.6), 2.6 * rows + 1.3),
                       sharex=True, sharey=True, squeeze=False)
    for ax, sid in zip(axes.flat, chosen):
        d = data[data.scenario == sid].pivot(index="year", columns="statistic", values="value").sort_index() / 1e6
        years = d.index.to_numpy()
        ax.fill_between(years, d.p5, d.p95, color=FAN[0], lw=0, label="P5–P95")
        ax.fill_between(years, d.p10, d.p90, color=FAN[1], lw=0, label="P10–P90")
        ax.plot(years, d.p50, color=FAN[2], lw=1.8, label="P50")
        if reg.settings.budget is not None:
            ax.axhline(reg.settings.budget / 1e6, color=VERMILION, ls="--", lw=1, label="budget")
        ax.set_title(w.loc[w.scenario == sid, "label"].iloc[0], fontsize=8)
        ax.grid(alpha=0.3)
        year_axis(ax.xaxis)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    for ax in axes[:, 0]:
        ax.set_ylabel("£ million per year")
    for c in range(cols):  # the lowest visible panel of each column shows the years
        shown = [ax for ax in axes[:, c] if ax.get_visible()]
        if shown:
            shown[-1].xaxis.set_tick_params(labelbottom=True)
            shown[-1].set_xlabel("Year starting")
    fig.suptitle("Yearly spend across replications" + note, fontsize=10)
    legend_below(fig, axes.flat[0].get_legend_handles_labels()[0])
    return save(fig, path)


def write_risk_figures(reg: Register, out: Path) -> list[Path]:
    """Write the figures that the register supports; returns the files written."""
    out = Path(out)
    written = [
        heatmap(reg, "spend", "p50", out / "risk_heatmap_spend.png"),
        heatmap(reg, "waiting_days", "p90", out / "risk_heatmap_waiting.png"),
        frontier(reg, out / "risk_frontier.png") if len(reg.wide) else None,
        fan_chart(reg, out / "risk_fan_spend.png"),
    ]
    return [p for p in written if p is not None]
