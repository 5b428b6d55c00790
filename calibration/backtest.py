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


#: the likely reason an observed measure falls above or below its simulated band
LIKELY: dict[tuple[str, str], str] = {
    ("stock", "above"): "more children in care than simulated: they stay longer than the fitted exit hazards say, "
                        "or enter faster than the scenario's rate and trend",
    ("stock", "below"): "fewer children in care than simulated: they leave faster than the fitted exit hazards say, "
                        "or enter more slowly than the scenario's rate and trend",
    ("pool", "above"): "more children in this pool than simulated: the base scenario's capacity or placement policy "
                       "for it is too small, or the code mapping sends other placements here",
    ("pool", "below"): "fewer children in this pool than simulated: the base scenario's capacity or placement policy "
                       "for it is too large, or the code mapping sends some of its placements elsewhere",
    ("entries", "above"): "more entries than the scenario's rate and trend: the trend is held at a limit or changed "
                          "over the years, or an early return is incomplete",
    ("entries", "below"): "fewer entries than the scenario's rate and trend: the trend is held at a limit or changed "
                          "over the years, or a late return is incomplete",
    ("exits", "above"): "more exits than simulated: time in care is shorter than the fitted hazards, or a cohort left "
                        "together (adoptions, 18th birthdays)",
    ("exits", "below"): "fewer exits than simulated: time in care is longer than the fitted hazards",
    ("moves", "above"): "more moves than simulated: breakdowns above the fitted hazards, or planned moves placesim "
                        "does not model",
    ("moves", "below"): "fewer moves than simulated: breakdowns below the fitted hazards, or reasons for change "
                        "counted as unplanned that are planned",
    ("share_3plus", "above"): "more children with 3+ placements than simulated: moves concentrate on fewer children "
                              "than the model's hazards spread them",
    ("share_3plus", "below"): "fewer children with 3+ placements than simulated: moves are spread more evenly than in "
                              "the model",
}


def explain(bt: Backtest) -> list[str]:
    """In words: which measures fall outside their bands, in which years and which way, and the likely reason."""
    t = bt.table
    out = t[~t.inside]
    lines = []
    cov = bt.coverage
    verdict = ("reproduces the history well" if cov >= 0.8 else
               "reproduces the history only in part: read its projections with the misses below in mind" if cov >= 0.6 else
               "does not reproduce the history: treat its projections as indicative only")
    lines.append(f"{len(out)} of {len(t)} observed points fall outside the simulated 90% band; the scenario {verdict}.")
    order = list(dict.fromkeys(zip(t.measure, t.pool)))  # measures in the table's order
    groups = dict(list(out.groupby(["measure", "pool"], sort=False)))
    for measure, pool in (k for k in order if k in groups):
        g = groups[(measure, pool)]
        above = g.observed > g.p95
        for way, sel in (("above", above), ("below", ~above)):
            years = sorted(int(y) for y in g.year[sel])
            if not years:
                continue
            run = max(len(list(grp)) for grp in _runs(years))
            drift = " (consecutive years: a drift the scenario does not follow)" if run >= 3 else ""
            key = ("pool" if measure == "stock" and pool != "all" else measure, way)
            label = measure if pool == "all" else f"{measure}, {pool}"
            lines.append(f"  {label}: observed {way} the band in {', '.join(map(str, years))}{drift}. "
                         f"Likely: {LIKELY.get(key, 'the scenario differs from the data here')}.")
    return lines


def _runs(years: list[int]):
    run = [years[0]]
    for y in years[1:]:
        if y == run[-1] + 1:
            run.append(y)
        else:
            yield run
            run = [y]
    yield run


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
    lines.append("")
    lines.append("Outside the bands, in words")
    lines += explain(bt)
    return "\n".join(lines)
