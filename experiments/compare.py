"""Paired what-if comparison of two scenarios under common random numbers.

Replication k of both scenarios uses the same seeds, so both meet the same
children (arrival times, ages, needs, personal hazards) wherever the policy does
not change them. The paired difference ALT - BASE of each replication's yearly
mean then carries far less noise than a difference between independent runs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from experiments.runner import RunResult, run
from models.scenario import Scenario

#: (label, metric, pool, unit) compared by default
MEASURES: list[tuple[str, str, str, str]] = [
    ("Yearly spend", "spend_total", "all", "GBP/year"),
    ("Placement spend", "spend_placements", "all", "GBP/year"),
    ("Retainers on empty block places (voids)", "spend_retainers", "all", "GBP/year"),
    ("Emergency placement spend", "spend_emergency", "all", "GBP/year"),
    ("Placement moves per child-year", "moves_per_child_year", "all", "moves"),
    ("Children with 3+ placements in the year", "share_3plus_placements", "all", "share"),
    ("Days waiting without a suitable placement", "waiting_days", "all", "days/year"),
    ("Children who waited", "share_waited", "all", "share"),
    ("Placement days out of area", "share_out_of_area", "all", "share"),
]


@dataclass
class Comparison:
    base: RunResult
    alt: RunResult
    table: pd.DataFrame  # one row per measure: base, alt, difference and its 90% interval


def per_replication(metrics: pd.DataFrame, metric: str, pool: str) -> pd.Series:
    """Each replication's mean over the reported years."""
    sub = metrics[(metrics.metric == metric) & (metrics.pool == pool)]
    return sub.groupby("replication").value.mean()


def paired_table(base: pd.DataFrame, alt: pd.DataFrame, level: float = 0.90) -> pd.DataFrame:
    """Mean paired difference ALT - BASE with its ``level`` confidence interval (Student t)."""
    rows = []
    for label, metric, pool, unit in MEASURES:
        a, b = per_replication(base, metric, pool), per_replication(alt, metric, pool)
        both = pd.concat({"base": a, "alt": b}, axis=1).dropna()
        if both.empty:
            continue
        d = (both.alt - both.base).to_numpy()
        n = len(d)
        half = stats.t.ppf(0.5 + level / 2, n - 1) * d.std(ddof=1) / np.sqrt(n) if n > 1 else np.nan
        rows.append({"measure": label, "metric": metric, "pool": pool, "unit": unit,
                     "base": both.base.mean(), "alt": both.alt.mean(), "difference": d.mean(),
                     "lo": d.mean() - half, "hi": d.mean() + half, "replications": n})
    return pd.DataFrame(rows)


def compare(base: Scenario, alt: Scenario, replications: int, progress=None) -> Comparison:
    """Run both scenarios with the same seed and replication numbers, and pair them."""
    if alt.run.seed != base.run.seed:
        alt = alt.replace({"run.seed": base.run.seed})
    rb = run(base, replications, progress=progress)
    ra = run(alt, replications, progress=progress)
    return Comparison(rb, ra, paired_table(rb.metrics, ra.metrics))


def _fmt(x: float, unit: str, signed: bool = False) -> str:
    sign = "+" if signed else ""
    if unit == "GBP/year":
        return f"{'-' if x < 0 else ('+' if signed else '')}£{abs(x):,.0f}"
    if unit == "share":
        return f"{100 * x:{sign}.2f}%" if signed else f"{100 * x:.1f}%"
    return f"{x:{sign},.2f}"


def format_comparison(table: pd.DataFrame, base_name: str, alt_name: str) -> str:
    width = max(len(m) for m in table.measure) + 2
    lines = [f"ALT '{alt_name}' - BASE '{base_name}', paired under common random numbers "
             f"({int(table.replications.max())} replications; interval: 90% confidence for the mean difference)", "",
             f"  {'':{width}}{'base':>14}{'alt':>14}{'difference':>14}   90% interval"]
    for r in table.itertuples():
        lines.append(f"  {r.measure:{width}}{_fmt(r.base, r.unit):>14}{_fmt(r.alt, r.unit):>14}"
                     f"{_fmt(r.difference, r.unit, True):>14}   {_fmt(r.lo, r.unit, True)} to {_fmt(r.hi, r.unit, True)}")
    return "\n".join(lines)
