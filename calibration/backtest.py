"""Backtest: start a scenario from an observed stock, simulate forward, compare with what happened.

The scenario starts from the children in care on an early return's 31 March (their number and
ages, and, when the scenario sets ``entries.initial_pool_shares``, their mix across pools), with its
entry rate carried to that date by its own trend. The model places that whole stock on the first
day, so every placement starts new; the first simulated year lets placements settle
and is not scored. From the second year to the last return, each replication is turned into 903
returns in memory (:func:`calibration.export.run_episodes`) and measured exactly like the data
(:mod:`calibration.measures`): the observed value is compared with the simulated median and 90%
interval (5th to 95th percentile across replications). The coverage score is the share of observed
points inside their interval.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from calibration.clean import Episodes
from calibration.codes import CodeMap
from calibration.estimate import band_of
from calibration.export import run_episodes
from calibration.measures import in_care_on, yearly
from calibration.read903 import DataError, return_end, to_date
from models.catalogue import AGE_BANDS, DAYS_PER_YEAR, POOLS
from models.scenario import Scenario
from simulation.engine import simulate

#: the pools compared (``other``: placements placesim does not model, compared only within ``all``)
SCORED_POOLS = ("kinship", "inhouse_fostering", "ifa", "residential", "supported", "all")


def stock_on(eps: Episodes, day: int) -> tuple[int, tuple[float, ...]]:
    """Children in care on ``day`` and their age-band shares."""
    t = eps.table
    kids = t[in_care_on(t, day)].drop_duplicates("child")
    if kids.empty:
        return 0, tuple(1.0 / len(AGE_BANDS) for _ in AGE_BANDS)
    band = band_of(day - kids.dob.to_numpy())
    return len(kids), rounded_shares(np.bincount(band, minlength=len(AGE_BANDS)) / len(kids))


def rounded_shares(values, digits: int = 4) -> tuple[float, ...]:
    """Shares rounded to ``digits`` that still add up to exactly 1 (the largest absorbs the rest)."""
    v = np.round(np.asarray(values, dtype=float), digits)
    v[int(np.argmax(v))] += round(1.0 - float(v.sum()), digits)
    return tuple(float(round(x, digits)) for x in v)


def stock_pool_shares(stock: dict[str, int]) -> tuple[float, ...] | None:
    """Shares of a stock by pool over :data:`POOLS` (the ``other`` pool left out and the rest
    renormalised), rounded to add up to 1; None when no child is in a modelled pool."""
    counts = np.array([stock.get(p, 0) for p in POOLS], dtype=float)
    if counts.sum() == 0:
        return None
    return rounded_shares(counts / counts.sum())


def stock_by_pool(eps: Episodes, day: int) -> dict[str, int]:
    """Children in care on ``day`` by the pool of the episode they are in (``other`` included)."""
    t = eps.table
    pool = t.pool.to_numpy()[in_care_on(t, day)]
    return {p: int((pool == p).sum()) for p in POOLS + ("other",)}


def starting_from(scenario: Scenario, eps: Episodes, stock_year: int, last_year: int) -> Scenario:
    """``scenario`` started from the stock at 31 March ``stock_year``, with one settling year, to ``last_year``."""
    d0 = return_end(stock_year)
    n, ages = stock_on(eps, d0)
    start = to_date(return_end(stock_year + 1) + 1)
    shift = (start - scenario.run.start_date).days / DAYS_PER_YEAR
    rate = scenario.entries.rate_per_year * (1.0 + scenario.entries.trend) ** shift
    changes = {
        "run.start_date": start, "run.warmup_years": 1, "run.years": last_year - stock_year,
        "entries.initial_children": n, "entries.initial_age_shares": list(ages), "entries.rate_per_year": float(rate),
    }
    if scenario.entries.initial_pool_shares is not None:  # a scenario started in an observed mix starts in this one
        pools = stock_pool_shares(stock_by_pool(eps, d0))
        changes["entries.initial_pool_shares"] = list(pools) if pools is not None else None
    return scenario.replace(changes)


def simulated_histories(scenario: Scenario, eps: Episodes, stock_year: int, replications: int,
                        codes: CodeMap | None = None, progress=None):
    """Each replication of ``scenario`` started from the stock at ``stock_year``, as cleaned 903 episodes."""
    years = (stock_year + 2, eps.years[-1])
    s = starting_from(scenario, eps, stock_year, eps.years[-1])
    for r in range(replications):
        rep = simulate(s, r)
        yield run_episodes(rep.events, s.run.start_date, s.run.years * DAYS_PER_YEAR, s.run.seed, r, codes, years)
        if progress:
            progress(1)


@dataclass
class Backtest:
    table: pd.DataFrame  # year, measure, pool, observed, p5, p50, p95, inside
    stock_year: int
    replications: int

    @property
    def coverage(self) -> float:
        return float(self.table.inside.mean())

    def by_measure(self) -> pd.DataFrame:
        g = self.table.groupby("measure", sort=False).inside
        return pd.DataFrame({"points": g.size(), "inside": g.sum(), "coverage": g.mean()}).reset_index()


def backtest(scenario: Scenario, eps: Episodes, replications: int = 40, stock_year: int | None = None,
             codes: CodeMap | None = None, progress=None) -> Backtest:
    """Compare observed yearly measures with ``replications`` simulated from an early stock."""
    years = eps.years
    stock_year = years[0] if stock_year is None else stock_year
    if stock_year not in years:
        raise DataError("--start", f"no return for {stock_year} (returns: {years[0]}-{years[-1]})")
    if years[-1] - stock_year < 2:
        raise DataError("--start", f"a backtest needs two returns after the starting stock ({stock_year}); the last is {years[-1]}")
    scored = list(range(stock_year + 2, years[-1] + 1))
    observed = _scored(yearly(eps, scored))
    sims = [_scored(yearly(h, scored)).value.to_numpy()
            for h in simulated_histories(scenario, eps, stock_year, replications, codes, progress)]
    values = np.vstack(sims)
    table = observed.rename(columns={"value": "observed"}).copy()
    with np.errstate(all="ignore"):
        table["p5"], table["p50"], table["p95"] = (np.nanquantile(values, q, axis=0) for q in (0.05, 0.5, 0.95))
    table["inside"] = (table.observed >= table.p5 - 1e-9) & (table.observed <= table.p95 + 1e-9)
    return Backtest(table.reset_index(drop=True), stock_year, replications)


def _scored(m: pd.DataFrame) -> pd.DataFrame:
    keep = (m.measure != "stock") | m.pool.isin(SCORED_POOLS)
    return m[keep].reset_index(drop=True)


def format_backtest(bt: Backtest) -> str:
    t = bt.table
    lines = [f"Backtest: from the stock at 31 March {bt.stock_year}, {bt.replications} replications; "
             f"first simulated year settles and is not scored",
             f"{'year':>6}  {'measure':<12} {'pool':<18} {'observed':>9} {'sim P50':>9}   {'90% interval':<19} inside"]
    for r in t.itertuples():
        fmt = (lambda v: f"{v:.3f}") if r.measure == "share_3plus" else (lambda v: f"{v:.0f}")
        lines.append(f"{r.year:>6}  {r.measure:<12} {r.pool:<18} {fmt(r.observed):>9} {fmt(r.p50):>9}   "
                     f"{fmt(r.p5) + ' - ' + fmt(r.p95):<19} {'yes' if r.inside else 'NO'}")
    lines.append("")
    lines.append("Coverage by measure (observed points inside the simulated 90% interval)")
    for r in bt.by_measure().itertuples():
        lines.append(f"  {r.measure:<12} {r.inside:>3} of {r.points:<3} {r.coverage:6.1%}")
    lines.append(f"Overall coverage: {bt.coverage:.1%} of {len(t)} points")
    return "\n".join(lines)
