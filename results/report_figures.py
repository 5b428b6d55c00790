"""The report's figures, drawn from tidy tables only (metrics with a ``scenario`` column, the appraisal table).

Each function takes the table, the scenarios to draw with their labels (``{scenario: label}``,
in drawing order) and a destination (a path or a binary file object), and returns True when
it drew something. Every figure has a title, axis labels with units and a legend; colours come
from :mod:`results.palette`, so a pool has the same colour everywhere. Layout, legends below the
plots and saving are shared with the other figures (:mod:`results.figure_style`): long titles
wrap and legends take as many rows as they need, so nothing is cut at the sizes report.html shows.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from models.catalogue import MARKETS, POOL_LABELS, POOLS
from results.figure_style import Dest, figure, legend_below, save, wrap_label, year_axis
from results.measures import COST_TYPES, MIN_UTILISATION
from results.palette import (BLACK, COST_COLOURS, COST_HATCHES, GREY, MARKET_COLOURS, OPTION_COLOURS, POOL_COLOURS,
                             scenario_colour)

MAX_PANELS = 6
#: characters per line of a scenario or option name used as a tick label
LABEL_CHARS = 40


def _with_scenario(metrics: pd.DataFrame) -> pd.DataFrame:
    return metrics if "scenario" in metrics else metrics.assign(scenario="run")


def _per_rep(metrics: pd.DataFrame, metric: str, pool: str = "all") -> pd.DataFrame:
    """``scenario, replication, value``: each replication's mean over the reported years."""
    sub = metrics[(metrics.metric == metric) & (metrics.pool == pool) & metrics.value.notna()]
    return sub.groupby(["scenario", "replication"], observed=True).value.mean().reset_index()


def _ticks(labels: list[str]) -> list[str]:
    return [wrap_label(x, LABEL_CHARS) for x in labels]


def _range_limits(ax, lo: float, hi: float) -> None:
    """x limits from 0 (or below the lowest value, if negative) to a little past the highest, so a
    range bar never reaches the axes' edge."""
    lo, hi = min(0.0, lo), max(hi, 0.0)
    span = (hi - lo) or 1.0
    ax.set_xlim(lo - (0.06 * span if lo < 0 else 0.0), hi + 0.08 * span)


def children_fan(metrics: pd.DataFrame, labels: dict[str, str], dest: Dest, title: str = "") -> bool:
    """Children in each pool year by year, one panel per scenario: median line, P10-P90 band, P5-P95 band."""
    m = _with_scenario(metrics)
    m = m[(m.metric == "children_mean") & m.pool.isin([*POOLS, "waiting"])]
    scenarios = [s for s in labels if s in set(m.scenario)][:MAX_PANELS]
    if not scenarios:
        return False
    n = len(scenarios)
    cols = min(n, 3)
    rows = int(np.ceil(n / cols))
    fig, axes = figure(rows, cols, figsize=(max(8.0, 4.2 * cols + 0.6), 3.2 * rows + 1.5), squeeze=False)
    top = 0.0
    for ax, s in zip(axes.flat, scenarios):
        d = m[m.scenario == s]
        g = d.groupby(["pool", "year"], observed=True).value
        q = pd.DataFrame({k: g.quantile(v) for k, v in (("p5", .05), ("p10", .1), ("p50", .5), ("p90", .9), ("p95", .95))}).reset_index()
        for pool in [*POOLS, "waiting"]:
            p = q[q.pool == pool].sort_values("year")
            if p.empty:
                continue
            c = POOL_COLOURS[pool]
            ax.fill_between(p.year, p.p5, p.p95, color=c, alpha=0.10, lw=0)
            ax.fill_between(p.year, p.p10, p.p90, color=c, alpha=0.25, lw=0)
            ax.plot(p.year, p.p50, color=c, marker="o", ms=3, lw=1.6)
            top = max(top, float(p.p95.max()))
        ax.set_title(labels[s], fontsize=9)
        ax.set_xlabel("Year starting April")
        ax.grid(alpha=0.3)
        year_axis(ax.xaxis)
    for ax in axes.flat:
        ax.set_ylim(0, 1.05 * top if top > 0 else 1)
    for ax in axes[:, 0]:
        ax.set_ylabel("Children (mean over the year)")
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    handles = [Line2D([], [], color=POOL_COLOURS[p], marker="o", ms=3, label=POOL_LABELS[p]) for p in [*POOLS, "waiting"]]
    handles += [Patch(color=GREY, alpha=0.45, label="P10–P90"), Patch(color=GREY, alpha=0.2, label="P5–P95")]
    fig.suptitle(title or "Children by pool over time (median and spread across replications)", fontsize=11)
    legend_below(fig, handles)
    save(fig, dest)
    return True


def spend_by_cost_type(metrics: pd.DataFrame, labels: dict[str, str], dest: Dest, title: str = "") -> bool:
    """Mean yearly spend of each scenario split by cost type (every part of ``spend_total``), as
    stacked horizontal bars."""
    m = _with_scenario(metrics)
    m = m[m.metric.isin(list(COST_TYPES)) & (m.pool == "all")]
    scenarios = [s for s in labels if s in set(m.scenario)]
    if not scenarios:
        return False
    mean = m.groupby(["scenario", "metric"], observed=True).value.mean().unstack("metric").reindex(scenarios).fillna(0.0)
    fig, ax = figure(figsize=(9.5, 2.2 + 0.42 * len(scenarios)))
    y = np.arange(len(scenarios))[::-1]
    left = np.zeros(len(scenarios))
    for cost, label in COST_TYPES.items():
        if cost not in mean or not mean[cost].any():
            continue
        vals = mean[cost].to_numpy() / 1e6
        hatch = COST_HATCHES.get(cost)
        ax.barh(y, vals, left=left, color=COST_COLOURS[cost], label=label, height=0.65,
                **({"hatch": hatch, "edgecolor": "white", "lw": 0} if hatch else {}))
        left += vals
    ax.set_yticks(y, _ticks([labels[s] for s in scenarios]), fontsize=8)
    ax.set_xlabel("£ million per year (mean across replications and years)")
    ax.set_title(title or "Yearly spend by cost type")
    ax.grid(alpha=0.3, axis="x")
    legend_below(fig, ax.get_legend_handles_labels()[0])
    save(fig, dest)
    return True


def block_utilisation(metrics: pd.DataFrame, labels: dict[str, str], dest: Dest, min_utilisation: float = MIN_UTILISATION,
                      title: str = "") -> bool:
    """Yearly utilisation of each block contract across replication-years (boxes), with the minimum marked."""
    m = _with_scenario(metrics)
    m = m[(m.metric == "block_utilisation") & m.value.notna()]
    groups = [(s, mk) for s in labels for mk in MARKETS if ((m.scenario == s) & (m.pool == mk)).any()]
    if not groups:
        return False
    fig, ax = figure(figsize=(9.5, 2.3 + 0.45 * len(groups)))
    data = [100 * m[(m.scenario == s) & (m.pool == mk)].value.to_numpy() for s, mk in groups]
    y = np.arange(len(groups))[::-1]
    box = ax.boxplot(data, positions=y, orientation="horizontal", widths=0.55, patch_artist=True, whis=(5, 95), showfliers=False)
    for patch, (_s, mk) in zip(box["boxes"], groups):
        patch.set_facecolor(MARKET_COLOURS[mk])
        patch.set_alpha(0.75)
    for med in box["medians"]:
        med.set_color(BLACK)
    ax.axvline(100 * min_utilisation, color=BLACK, ls="--", lw=1)
    ax.set_yticks(y, _ticks([f"{labels[s]} – {POOL_LABELS[mk]} block" for s, mk in groups]), fontsize=8)
    ax.set_xlim(0, 104)
    ax.set_xlabel("Block places occupied in the year (%)")
    ax.set_title(title or "Block utilisation (box: P25–P75, whiskers: P5–P95 of replication-years)")
    ax.grid(alpha=0.3, axis="x")
    handles = [Patch(color=MARKET_COLOURS[mk], alpha=0.75, label=f"{POOL_LABELS[mk]} block") for mk in MARKETS
               if any(g[1] == mk for g in groups)]
    handles.append(Line2D([], [], color=BLACK, ls="--", label=f"{100 * min_utilisation:.0f}% (more than {100 - 100 * min_utilisation:.0f}% empty below)"))
    legend_below(fig, handles)
    save(fig, dest)
    return True


STABILITY: tuple[tuple[str, str, float, str], ...] = (
    ("moves_per_child_year", "Placement moves", 1.0, "moves per child-year"),
    ("share_3plus_placements", "Children with 3+ placements in the year", 100.0, "% of children in care"),
    ("waiting_days", "Days waiting for a suitable placement", 1.0, "days per year"),
    ("share_out_of_area", "Placement days out of area", 100.0, "% of placement days"),
)


def stability(metrics: pd.DataFrame, labels: dict[str, str], dest: Dest, title: str = "",
              colours: dict[str, str] | None = None) -> bool:
    """Stability and sufficiency measures per scenario: median and P10-P90 across replications."""
    m = _with_scenario(metrics)
    scenarios = [s for s in labels if s in set(m.scenario)]
    if not scenarios:
        return False
    colours = colours or {s: scenario_colour(i) for i, s in enumerate(scenarios)}
    fig, axes = figure(2, 2, figsize=(10, 2.8 + 0.56 * len(scenarios) + 0.6))
    y = np.arange(len(scenarios))[::-1]
    for ax, (metric, name, scale, unit) in zip(axes.flat, STABILITY):
        per = _per_rep(m, metric)
        lo, hi = 0.0, 0.0
        for yi, s in zip(y, scenarios):
            v = scale * per[per.scenario == s].value.to_numpy()
            if len(v) == 0:
                continue
            p10, p50, p90 = np.percentile(v, [10, 50, 90])
            ax.plot([p10, p90], [yi, yi], color=colours[s], lw=2.5, alpha=0.6, solid_capstyle="butt")
            ax.plot([p50], [yi], "o", color=colours[s], ms=6)
            lo, hi = min(lo, p10), max(hi, p90)
        ax.set_yticks(y, _ticks([labels[s] for s in scenarios]), fontsize=7)
        ax.set_ylim(y.min() - 0.6, y.max() + 0.6)
        ax.set_title(name, fontsize=9)
        ax.set_xlabel(unit)
        _range_limits(ax, lo, hi)
        ax.grid(alpha=0.3, axis="x")
    for ax in axes[:, 1]:
        ax.set_yticklabels([])
    handles = [Line2D([], [], color=GREY, marker="o", lw=0, label="P50 (median replication)"),
               Line2D([], [], color=GREY, lw=2.5, alpha=0.6, label="P10–P90 across replications")]
    fig.suptitle(title or "Stability and sufficiency (yearly means, whole authority)", fontsize=11)
    legend_below(fig, handles)
    save(fig, dest)
    return True


# --------------------------------------------------------------------------- appraisal


def appraisal_spend(table: pd.DataFrame, phase_titles: dict[str, str], dest: Dest) -> bool:
    """Per phase: each option's static check against its simulated spend (P10-P90 bar, P50 dot)."""
    phases = [p for p in phase_titles if p in set(table.phase)]
    if not phases:
        return False
    w = table.assign(col=table.measure + "." + table.statistic).pivot_table(
        index=["phase", "option", "letter", "title"], columns="col", values="value", aggfunc="first").reset_index()
    fig, axes = figure(len(phases), 1, figsize=(9.5, 1.6 + 2.5 * len(phases)), squeeze=False)
    for ax, phase in zip(axes[:, 0], phases):
        d = w[w.phase == phase].sort_values("letter")
        y = np.arange(len(d))[::-1]
        for yi, r in zip(y, d.to_dict("records")):
            c = OPTION_COLOURS.get(r["letter"], GREY)
            ax.plot([r["phase_spend.p10"] / 1e6, r["phase_spend.p90"] / 1e6], [yi, yi], color=c, lw=7, alpha=0.55,
                    solid_capstyle="butt")
            ax.plot([r["phase_spend.p50"] / 1e6], [yi], "o", color=c, ms=7, mec=BLACK, mew=0.6)
            ax.plot([r["static_cost.value"] / 1e6], [yi], "D", color="white", mec=BLACK, mew=1.2, ms=7)
        ax.set_yticks(y, _ticks(list(d.title)), fontsize=8)
        ax.set_ylim(y.min() - 0.6, y.max() + 0.6)
        ax.margins(x=0.06)
        ax.set_title(phase_titles[phase], fontsize=10)
        ax.set_xlabel("£ million per year (spend of this phase's pools)")
        ax.grid(alpha=0.3, axis="x")
        ax.xaxis.set_major_locator(MaxNLocator(nbins=8))
    handles = [Line2D([], [], color=GREY, lw=7, alpha=0.55, label="Simulated P10–P90"),
               Line2D([], [], color=GREY, marker="o", lw=0, mec=BLACK, label="Simulated P50"),
               Line2D([], [], color="white", marker="D", lw=0, mec=BLACK, label="The appraisal's figure (its own arithmetic)")]
    fig.suptitle("Options appraisal: the static check against simulated yearly spend", fontsize=11)
    legend_below(fig, handles)
    save(fig, dest)
    return True


def option_labels(table: pd.DataFrame, phase: str | None = None) -> dict[str, str]:
    """``{option id: title}`` in table order, optionally of one phase."""
    t = table.drop_duplicates("option")
    if phase is not None:
        t = t[t.phase == phase]
    return dict(zip(t.option, t.title))


def option_colours(table: pd.DataFrame) -> dict[str, str]:
    t = table.drop_duplicates("option")
    return {o: OPTION_COLOURS.get(letter, GREY) for o, letter in zip(t.option, t.letter)}


#: the appraisal folder's figure files
APPRAISAL_FIGURES = {
    "appraisal_spend.png": "static check against simulated spend (P10, P50, P90), by phase and option",
    "appraisal_stability.png": "moves, 3+ placements, waiting days and out-of-area share, by option",
    "appraisal_spend_by_cost.png": "yearly spend by cost type, by option",
    "appraisal_blocks.png": "utilisation of each option's block contracts",
    "appraisal_children_<phase>.png": "children by pool over time (fan chart), one panel per option of the phase",
}


def write_appraisal_figures(table: pd.DataFrame, metrics: pd.DataFrame, phase_titles: dict[str, str],
                            out: Path, min_utilisation: float = MIN_UTILISATION) -> list[Path]:
    """Write the appraisal's figures (see APPRAISAL_FIGURES) into ``out``."""
    out = Path(out)
    labels = option_labels(table)
    colours = option_colours(table)
    written = []
    jobs = [("appraisal_spend.png", lambda p: appraisal_spend(table, phase_titles, p)),
            ("appraisal_stability.png", lambda p: stability(metrics, labels, p, colours=colours,
                                                            title="Stability and sufficiency by option (yearly means, whole authority)")),
            ("appraisal_spend_by_cost.png", lambda p: spend_by_cost_type(metrics, labels, p, title="Yearly spend by cost type and option (whole authority)")),
            ("appraisal_blocks.png", lambda p: block_utilisation(metrics, labels, p, min_utilisation))]
    for phase, ptitle in phase_titles.items():
        pl = option_labels(table, phase)
        if pl:
            jobs.append((f"appraisal_children_{phase}.png",
                         lambda p, pl=pl, ptitle=ptitle: children_fan(metrics, pl, p, title=f"{ptitle} options: children by pool over time (median, P10–P90, P5–P95)")))
    for name, draw in jobs:
        if draw(out / name):
            written.append(out / name)
    return written
