"""Paired what-if comparison of two scenarios under common random numbers.

Replication k of both scenarios uses the same seeds, so both meet the same
children (arrival times, ages, needs, personal hazards) wherever the policy does
not change them. The paired difference ALT - BASE of each replication's yearly
mean then carries far less noise than a difference between independent runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from experiments.runner import RunResult, run
from simulation.budget import check_workload
from models.scenario import Scenario, ScenarioError
from results.formatting import fmt
from results.measures import COMPARE, measures

@dataclass
class Comparison:
    base: RunResult
    alt: RunResult
    table: pd.DataFrame  # one row per measure: base, alt, difference and its 90% interval
    by_year: pd.DataFrame | None = None  # the paired difference of the headline measures, year by year


def per_replication(metrics: pd.DataFrame, metric: str, pool: str) -> pd.Series:
    """Each replication's mean over the reported years."""
    sub = metrics[(metrics.metric == metric) & (metrics.pool == pool)]
    return sub.groupby("replication").value.mean()


def paired_by_year(base: pd.DataFrame, alt: pd.DataFrame, keys: tuple[str, ...] = ("spend", "waiting_days", "children"),
                   level: float = 0.90, start_month: int = 4) -> pd.DataFrame:
    """The paired difference ALT - BASE year by year ("what happens in year 5"): ``year, financial_year``
    and the columns of :func:`paired_table`, for a few headline measures."""
    from results.measures import financial_year

    wanted = {(m.metric, m.pool) for m in measures(keys)}
    pick = lambda m: m[[(a, b) in wanted for a, b in zip(m.metric, m.pool)]]  # noqa: E731
    b, a = pick(base), pick(alt)
    parts = []
    for year in sorted(set(b.year) & set(a.year)):
        t = paired_table(b[b.year == year], a[a.year == year], level, keys)
        parts.append(t.assign(year=int(year), financial_year=financial_year(int(year), start_month)))
    if not parts:
        return pd.DataFrame()
    out = pd.concat(parts, ignore_index=True)
    return out[["year", "financial_year", *[c for c in out.columns if c not in ("year", "financial_year")]]]


def paired_table(base: pd.DataFrame, alt: pd.DataFrame, level: float = 0.90,
                 keys: tuple[str, ...] = COMPARE) -> pd.DataFrame:
    """Mean paired difference ALT - BASE with its ``level`` confidence interval (Student t)."""
    rows = []
    for m in measures(keys):
        label, metric, pool, unit = m.label, m.metric, m.pool, m.unit
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


#: run settings two scenarios must share to be compared year for year
LIKE_FOR_LIKE: tuple[str, ...] = ("run.start_date", "run.years", "run.warmup_years")


def check_like_for_like(base: Scenario, alt: Scenario, base_name: str = "BASE", alt_name: str = "ALT") -> None:
    """Refuse to pair scenarios whose reported periods differ: a yearly mean over 10 years and one over
    5 years measure different things (a trend, a contract ending), so their difference is no answer."""
    for key in LIKE_FOR_LIKE:
        a, b = _get(base, key), _get(alt, key)
        if a != b:
            raise ScenarioError(key, f"{base_name} has {a} and {alt_name} has {b}: compare scenarios over the same "
                                     f"period (set it for both, e.g. --set {key}={b} or --years)")


def side_name(arg: str, scenario: Scenario, assignments: tuple[str, ...] = ()) -> str:
    """How a report names one side: the scenario's own ``name`` (or its file name when the file
    leaves the name at "default"), followed by the values changed for this side only."""
    if arg == "default":
        name = scenario.name
    else:
        name = scenario.name if scenario.name != "default" else Path(arg).stem
    if assignments:
        name += " with " + ", ".join(a.strip() for a in assignments)
    return name


def _get(s: Scenario, key: str):
    obj = s
    for part in key.split("."):
        obj = getattr(obj, part)
    return obj


def compare(base: Scenario, alt: Scenario, replications: int, progress=None, force: bool = False) -> Comparison:
    """Run both scenarios with the same seed and replication numbers, and pair them.

    Raises :class:`ScenarioError` when the two reported periods differ (:func:`check_like_for_like`).
    ALT takes BASE's seed, so replication k of both meets the same children."""
    check_like_for_like(base, alt)
    if alt.run.seed != base.run.seed:
        alt = alt.replace({"run.seed": base.run.seed})
    check_workload(base, force=force)
    check_workload(alt, force=force)  # both refused before either runs, so run() need not estimate again
    rb = run(base, replications, progress=progress, force=True)
    ra = run(alt, replications, progress=progress, force=True)
    return Comparison(rb, ra, paired_table(rb.metrics, ra.metrics),
                      paired_by_year(rb.metrics, ra.metrics, start_month=base.run.start_date.month))


def format_comparison(table: pd.DataFrame, base_name: str, alt_name: str, by_year: pd.DataFrame | None = None) -> str:
    width = max(len(m) for m in table.measure) + 2
    lines = [f"ALT '{alt_name}' - BASE '{base_name}', paired under common random numbers "
             f"({int(table.replications.max())} replications; interval: 90% confidence for the mean difference)", "",
             "base and alt: means across replications of each replication's yearly mean; difference: mean of the "
             "paired differences ALT - BASE (percentage points, pp, for shares)", "",
             f"  {'':{width}}{'base':>14}{'alt':>14}{'difference':>14}   90% interval"]
    for r in table.itertuples():
        if r.base == 0 and r.alt == 0 and r.lo == 0 and r.hi == 0:
            continue  # a cost line neither scenario has (no fee uplift, no new capacity, ...)
        lines.append(f"  {r.measure:{width}}{fmt(r.base, r.unit):>14}{fmt(r.alt, r.unit):>14}"
                     f"{fmt(r.difference, r.unit, True):>14}   {fmt(r.lo, r.unit, True)} to {fmt(r.hi, r.unit, True)}")
    if by_year is not None and not by_year.empty:
        lines += ["", "Year by year (means across replications; difference ALT - BASE with its 90% interval):"]
        for label, g in by_year.groupby("measure", sort=False):
            lines.append(f"  {label}")
            for r in g.itertuples():
                lines.append(f"    {r.financial_year:<9}{fmt(r.base, r.unit):>14}{fmt(r.alt, r.unit):>14}"
                             f"{fmt(r.difference, r.unit, True):>14}   {fmt(r.lo, r.unit, True)} to {fmt(r.hi, r.unit, True)}")
    return "\n".join(lines)
