"""The headline table: each measure's distribution across replications, and the tables by year and by age.

A replication's value of a measure is its mean over the reported years (a yearly
figure). The summary gives, across replications, the mean, the median (P50), P10
and P90, and P5 and P95, so the interval describes the spread of a typical year's
outcome between replications. The measures, their labels and units come from the
one catalogue, :mod:`results.measures`.

:func:`by_year` gives the same statistics year by year, labelled by financial year
(2019/20, ...); :func:`by_age` gives the children in care at the end of each year
(31 March for the default start) by age band and pool.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from models.catalogue import AGE_BANDS, POOL_LABELS
from results.formatting import fmt
from results.measures import (AGE_BAND_LABELS, AGE_METRIC, AGE_POOLS, BY_YEAR, QUANTILES, SUMMARY, age_metric_pool,
                              financial_year, measures)

SUMMARY_COLUMNS = ["section", "measure", "metric", "pool", "unit", "mean", "p50", "p10", "p90", "p5", "p95", "replications"]
BY_YEAR_COLUMNS = ["year", "financial_year", "section", "measure", "metric", "pool", "unit", "mean", "p10", "p50", "p90", "replications"]
BY_AGE_COLUMNS = ["year", "financial_year", "age_band", "pool", "pool_label", "mean", "p10", "p50", "p90", "replications"]


def _stats(v: np.ndarray) -> dict:
    out = {"mean": float(v.mean())}
    out.update({name: float(np.percentile(v, q)) for name, q in QUANTILES.items()})
    return out


def summarise(metrics: pd.DataFrame) -> pd.DataFrame:
    """One row per catalogue measure present in ``metrics``: mean, P50, P10, P90, P5, P95 across replications."""
    per_rep = metrics.groupby(["metric", "pool", "replication"], observed=True).value.mean()
    present = set(per_rep.index.droplevel("replication"))
    rows = []
    for m in SUMMARY:
        if (m.metric, m.pool) not in present:
            continue
        v = per_rep.loc[(m.metric, m.pool)].to_numpy(dtype=float)
        v = v[~np.isnan(v)]
        if len(v) == 0:
            continue
        rows.append({"section": m.section, "measure": m.label, "metric": m.metric, "pool": m.pool, "unit": m.unit,
                     **_stats(v), "replications": len(v)})
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


def _per_scenario(fn, metrics: pd.DataFrame, start_month: int, columns: list[str]) -> pd.DataFrame:
    """``fn`` for each scenario of a table with a ``scenario`` column (comparisons, sweeps,
    appraisals), with ``scenario`` first; ``fn`` itself for a single run."""
    if "scenario" not in metrics.columns:
        return fn(metrics, start_month)
    parts = [fn(g.drop(columns="scenario"), start_month).assign(scenario=sid)
             for sid, g in metrics.groupby("scenario", sort=False, observed=True)]
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns + ["scenario"])
    return out[["scenario", *columns]]


def by_year(metrics: pd.DataFrame, start_month: int = 4) -> pd.DataFrame:
    """The yearly table: for each reported year and measure of :data:`results.measures.BY_YEAR`,
    the mean, P10, P50 and P90 across replications (per scenario, if ``metrics`` has a ``scenario`` column)."""
    return _per_scenario(_by_year, metrics, start_month, BY_YEAR_COLUMNS)


def by_age(metrics: pd.DataFrame, start_month: int = 4) -> pd.DataFrame:
    """Children in care at the end of each reported year by age band and pool: mean, P10, P50, P90
    (per scenario, if ``metrics`` has a ``scenario`` column)."""
    return _per_scenario(_by_age, metrics, start_month, BY_AGE_COLUMNS)


def _by_year(metrics: pd.DataFrame, start_month: int = 4) -> pd.DataFrame:
    wanted = measures(BY_YEAR)
    keys = {(m.metric, m.pool) for m in wanted}
    sub = metrics[[(a, b) in keys for a, b in zip(metrics.metric, metrics.pool)]] if len(metrics) else metrics
    groups = {k: g.value.to_numpy(dtype=float) for k, g in sub.groupby(["metric", "pool", "year"], observed=True)}
    years = sorted(int(y) for y in metrics.year.unique()) if len(metrics) else []
    rows = []
    for y in years:
        for m in wanted:
            v = groups.get((m.metric, m.pool, y))
            if v is None:
                continue
            v = v[~np.isnan(v)]
            if len(v) == 0:
                continue
            s = _stats(v)
            section = "Spend by pool, per year" if m.key == "spend" else m.section  # the total under its pools
            rows.append({"year": y, "financial_year": financial_year(y, start_month), "section": section,
                         "measure": m.label, "metric": m.metric,
                         "pool": m.pool, "unit": m.unit, "mean": s["mean"], "p10": s["p10"], "p50": s["p50"], "p90": s["p90"],
                         "replications": len(v)})
    return pd.DataFrame(rows, columns=BY_YEAR_COLUMNS)


def _by_age(metrics: pd.DataFrame, start_month: int = 4) -> pd.DataFrame:
    sub = metrics[metrics.metric == AGE_METRIC] if len(metrics) else metrics
    groups = {(int(y), p): g.value.to_numpy(dtype=float) for (y, p), g in sub.groupby(["year", "pool"], observed=True)}
    rows = []
    for y in sorted({y for y, _ in groups}):
        for pool in AGE_POOLS:
            for band in AGE_BANDS:
                v = groups.get((y, age_metric_pool(pool, band)))
                if v is None:
                    continue
                s = _stats(v)
                rows.append({"year": y, "financial_year": financial_year(y, start_month), "age_band": AGE_BAND_LABELS[band],
                             "pool": pool, "pool_label": POOL_LABELS.get(pool, "All in care"), "mean": s["mean"],
                             "p10": s["p10"], "p50": s["p50"], "p90": s["p90"], "replications": len(v)})
    return pd.DataFrame(rows, columns=BY_AGE_COLUMNS)


def format_summary(table: pd.DataFrame, title: str = "") -> str:
    """Plain-text table for the terminal: the median (P50), the P10-P90 range and the mean of each measure."""
    lines = [title] if title else []
    lines.append("Each measure is a yearly figure (its mean over the reported years in one replication); "
                 "P50 is the median across replications, P10-P90 the range that holds 80% of them, mean their mean.")
    width = max((len(m) for m in table.measure), default=10) + 2
    section = None
    for r in table.itertuples():
        if r.section != section:
            section = r.section
            lines += ["", f"{section:{width + 2}}{'P50':>14}   {'P10 – P90':<27}{'mean':>14}"]
        interval = f"{fmt(r.p10, r.unit)} – {fmt(r.p90, r.unit)}"
        lines.append(f"  {r.measure:{width}}{fmt(r.p50, r.unit):>14}   {interval:<27}{fmt(r.mean, r.unit):>14}")
    if not (table.metric == "block_utilisation").any():
        lines += ["", "Block contracts: none in this scenario (set contracts.<ifa|residential|supported>.places)"]
    return "\n".join(lines)


def format_by_year(table: pd.DataFrame) -> str:
    """The yearly table as text: one row per measure, one column per financial year (P50, with P10-P90 below)."""
    if table.empty:
        return ""
    years = list(dict.fromkeys(table.financial_year))
    width = max(len(m) for m in table.measure) + 2
    col = 20
    lines = ["By financial year: P50 across replications, with P10 – P90 beneath (80% of replications lie between)"]
    section = None
    for (sect, label, metric, pool), g in table.groupby(["section", "measure", "metric", "pool"], sort=False):
        if sect != section:
            section = sect
            lines += ["", f"{sect:{width + 2}}" + "".join(f"{y:>{col}}" for y in years)]
        g = g.set_index("financial_year")
        unit = g.unit.iloc[0]
        lines.append(f"  {label:{width}}" + "".join(f"{fmt(g.p50.get(y), unit, compact=True):>{col}}" for y in years))
        lines.append(f"  {'':{width}}" + "".join(
            f"{fmt(g.p10.get(y), unit, compact=True) + ' – ' + fmt(g.p90.get(y), unit, compact=True):>{col}}" for y in years))
    return "\n".join(lines)
