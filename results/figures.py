"""Figures drawn from the tidy metrics table only (never from the engine).

Every pool keeps the same colour in every figure and every panel (``POOL_COLOURS``, Okabe-Ito,
colour-blind safe); the layout and saving are shared with the other figures (:mod:`results.figure_style`).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from matplotlib.colors import to_rgba

from models.catalogue import POOL_LABELS, POOLS
from results.figure_style import figure, save, year_axis
from results.palette import BLUE, ORANGE, POOL_COLOURS


def _band(metrics: pd.DataFrame, metric: str) -> pd.DataFrame:
    sub = metrics[metrics.metric == metric]
    g = sub.groupby(["pool", "year"], observed=True).value
    return pd.DataFrame({"mean": g.mean(), "p5": g.quantile(0.05), "p95": g.quantile(0.95)}).reset_index()


def _headroom(ax, top: float, entries: int) -> None:
    """Room above the tallest bar for a legend of ``entries`` lines inside the axes, so it covers no bar."""
    ax.set_ylim(0, max(top, 1e-9) * (1.12 + 0.09 * entries))


def children_by_pool(metrics: pd.DataFrame, path: Path, title: str = "") -> Path:
    data = _band(metrics, "children_mean")
    fig, ax = figure(figsize=(9.5, 4.5))
    for pool in POOLS + ("waiting",):
        d = data[data.pool == pool].sort_values("year")
        if d.empty:
            continue
        c = POOL_COLOURS[pool]
        ax.plot(d.year, d["mean"], color=c, marker="o", ms=3, label=POOL_LABELS[pool])
        ax.fill_between(d.year, d.p5, d.p95, color=c, alpha=0.18, lw=0)
    ax.set_title(title or "Children by pool (mean per year; band: 90% of replications)")
    ax.set_xlabel("Year starting")
    ax.set_ylabel("Children")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    year_axis(ax.xaxis)
    return save(fig, path, legend_beside=ax)


#: the pools whose spend adds up to the total, in stacking order, with their labels
SPEND_POOLS: dict[str, str] = {**{p: POOL_LABELS[p] for p in (*POOLS, "waiting")}, "staying_put": "Staying put (after 18)"}


def spend_by_pool(metrics: pd.DataFrame, path: Path, title: str = "") -> Path:
    """Yearly spend stacked by pool, staying put included, so that the stack is the authority's total."""
    sub = metrics[(metrics.metric == "spend_total") & (metrics.pool.isin(list(SPEND_POOLS)))]
    mean = sub.groupby(["year", "pool"], observed=True).value.mean().unstack("pool").fillna(0.0)
    fig, ax = figure(figsize=(9.5, 4.5))
    bottom = None
    for pool, label in SPEND_POOLS.items():
        if pool not in mean:
            continue
        vals = mean[pool] / 1e6
        ax.bar(mean.index, vals, bottom=bottom, color=POOL_COLOURS[pool], label=label, width=0.75)
        bottom = vals if bottom is None else bottom + vals
    ax.set_title(title or "Yearly spend by pool (mean across replications)")
    ax.set_xlabel("Year starting")
    ax.set_ylabel("£ million per year")
    ax.grid(alpha=0.3, axis="y")
    year_axis(ax.xaxis)
    return save(fig, path, legend_beside=ax)


def carer_pool(metrics: pd.DataFrame, path: Path) -> Path:
    """Carer households and approved places over time (in-house, and IFA where the agencies'
    households are modelled), and households joining against leaving each year.

    Both panels colour a pool by its pool colour; joining is a solid bar, leaving a hatched one."""
    pools = [("", "inhouse_fostering", "In-house")]
    if (metrics.metric == "ifa_households_mean").any():
        pools.append(("ifa_", "ifa", "IFA"))
    fig, (ax, ax2) = figure(1, 2, figsize=(11, 4.5))
    for prefix, pool, name in pools:
        colour = POOL_COLOURS[pool]
        for metric, label, style in (("households_mean", "households", "-"), ("approved_places_mean", "approved places", "--")):
            d = _band(metrics, prefix + metric)
            d = d[d.pool == "all"].sort_values("year")
            if d.empty:
                continue
            ax.plot(d.year, d["mean"], style, color=colour, marker="o", ms=3, label=f"{name} {label}")
            ax.fill_between(d.year, d.p5, d.p95, color=colour, alpha=0.15, lw=0)
    ax.set_title("Carer households (mean; band: 90% of replications)")
    ax.set_xlabel("Year starting")
    ax.set_ylabel("Households / places")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    year_axis(ax.xaxis)
    ax.legend(frameon=False, fontsize=8)
    width = 0.8 / (2 * len(pools))
    bars = [(prefix + flow, f"{name}: {word}", pool, hatched)
            for prefix, pool, name in pools
            for flow, word, hatched in (("approvals", "joined", False), ("deregistrations", "left", True))]
    flows = metrics[metrics.metric.isin([b[0] for b in bars]) & (metrics.pool == "all")]
    mean = flows.groupby(["year", "metric"]).value.mean().unstack("metric").fillna(0.0)
    for i, (metric, label, pool, hatched) in enumerate(bars):
        offset = (i - (len(bars) - 1) / 2) * width
        colour = POOL_COLOURS[pool]
        style = dict(facecolor=to_rgba(colour, 0.3), edgecolor=colour, hatch="////", lw=0.8) if hatched else dict(color=colour)
        ax2.bar(mean.index + offset, mean.get(metric, 0.0), width, label=label, **style)
    _headroom(ax2, float(mean.to_numpy().max()) if mean.size else 0.0, -(-len(bars) // 2))  # legend in two columns
    ax2.set_title("Households joining and leaving (mean per year)")
    ax2.set_xlabel("Year starting")
    ax2.set_ylabel("Households per year")
    ax2.grid(alpha=0.3, axis="y")
    year_axis(ax2.xaxis)
    ax2.legend(frameon=False, fontsize=8, loc="upper left", ncols=2)
    return save(fig, path)


def siblings_together(metrics: pd.DataFrame, path: Path) -> Path:
    """Share of sibling groups placed together at entry and still together a year later."""
    fig, ax = figure(figsize=(9.5, 4.5))
    for metric, label, colour in (("share_together_at_entry", "Placed together at entry", BLUE),
                                  ("share_together_1y", "Still together a year later", ORANGE)):
        d = _band(metrics, metric)
        d = d[d.pool == "all"].sort_values("year")
        ax.plot(d.year, 100 * d["mean"], color=colour, marker="o", ms=3, label=label)
        ax.fill_between(d.year, 100 * d.p5, 100 * d.p95, color=colour, alpha=0.18, lw=0)
    ax.set_title("Sibling groups placed together (mean; band: 90% of replications)")
    ax.set_xlabel("Year the group entered care")
    ax.set_ylabel("% of sibling groups")
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    year_axis(ax.xaxis)
    return save(fig, path, legend_beside=ax)


def step_flows(metrics: pd.DataFrame, path: Path) -> Path:
    """Flows between levels of care each year, and what step-downs save."""
    flows = (("step_downs", "all", "Step-downs: residential to fostering", POOL_COLOURS["inhouse_fostering"]),
             ("step_ups", "all", "Step-ups after repeated breakdowns", POOL_COLOURS["residential"]),
             ("staying_put_starts", "all", "Staying put at 18", POOL_COLOURS["staying_put"]))
    fig, (ax, ax2) = figure(1, 2, figsize=(11, 4.5))
    width = 0.27
    top = 0.0
    for i, (metric, pool, label, colour) in enumerate(flows):
        sub = metrics[(metrics.metric == metric) & (metrics.pool == pool)]
        mean = sub.groupby("year").value.mean()
        ax.bar(mean.index + (i - 1) * width, mean.to_numpy(), width, color=colour, label=label)
        top = max(top, float(mean.max()) if len(mean) else 0.0)
    _headroom(ax, top, len(flows))
    ax.set_title("Step-downs, step-ups and staying put (mean per year)")
    ax.set_xlabel("Year starting")
    ax.set_ylabel("Young people per year")
    ax.grid(alpha=0.3, axis="y")
    year_axis(ax.xaxis)
    ax.legend(frameon=False, fontsize=8, loc="upper left")
    d = _band(metrics, "step_down_savings")
    d = d[d.pool == "all"].sort_values("year")
    ax2.plot(d.year, d["mean"] / 1e3, color=POOL_COLOURS["inhouse_fostering"], marker="o", ms=3, label="Saved by step-downs")
    ax2.fill_between(d.year, d.p5 / 1e3, d.p95 / 1e3, color=POOL_COLOURS["inhouse_fostering"], alpha=0.18, lw=0)
    ax2.set_title("Saved by step-downs (mean; band: 90% of replications)")
    ax2.set_xlabel("Year starting")
    ax2.set_ylabel("£ thousand per year")
    low = float((d.p5 / 1e3).min()) if len(d) else 0.0
    ax2.set_ylim(bottom=0 if low >= 0 else 1.08 * low)  # a year's savings can be negative in some replications
    ax2.grid(alpha=0.3)
    year_axis(ax2.xaxis)
    ax2.legend(frameon=False, fontsize=8)
    return save(fig, path)


def write_figures(metrics: pd.DataFrame, out: Path) -> list[Path]:
    paths = [children_by_pool(metrics, out / "children_by_pool.png"), spend_by_pool(metrics, out / "spend_by_pool.png")]
    if (metrics.metric == "households_mean").any():
        paths.append(carer_pool(metrics, out / "carer_pool.png"))
    if (metrics.metric == "step_downs").any():
        paths.append(step_flows(metrics, out / "step_flows.png"))
    if (metrics.metric == "share_together_at_entry").any():
        paths.append(siblings_together(metrics, out / "siblings_together.png"))
    return paths
