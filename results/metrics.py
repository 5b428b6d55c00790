"""Metrics derived from the event log, as a tidy table.

Every number placesim reports is computed here from the events alone, after the
run: the market never counts anything itself. The output has one row per
(replication, year, metric, pool) with a ``value``. Years are 365-day years
counted from the scenario's ``run.start_date`` and labelled by the calendar year
they start in (2019 is the year from 1 April 2019 for the default start).

The definitions (also in the README):

===========================  =====================================================================
metric                       definition
===========================  =====================================================================
children_mean                mean number of children in the pool over the year (``waiting``: in emergency placements; ``all``: in care)
children_end                 children in care (``all``) or in the pool on the last day of the year
entries / exits              children entering care / leaving care (pool = exit route) in the year
spend_placements             cost of occupied placement days: days x weekly price / 7 (spot prices inflated yearly)
spend_retainers              empty block place-days x retainer per day, while the contract runs
spend_fixed                  fixed weekly costs of in-house capacity
spend_emergency              waiting days x emergency weekly cost / 7
spend_total                  placements + retainers + fixed + emergency + staying put (pool ``all``); by pool for the pools
block_utilisation            occupied / reserved block place-days while the contract runs
block_placements             placements started in the block in the year (results/block_metrics.py)
block_intended_share         occupied block place-days held by children of the contract's need bands / all
void_days                    empty block place-days while the contract runs
moves                        placements started in the year that were not a child's first placement
moves_per_child_year         moves / child-years in care
share_3plus_placements       of children in care at year end, the share with 3+ placements during the year (NI 62)
share_stable_2y              of under-16s at year end in care 2.5+ years, the share in the same placement for 2+ years (NI 63)
waiting_days                 days spent waiting in emergency placements in the year
children_waited              distinct children who waited at some point in the year
share_waited                 children_waited / children in care at some point in the year
share_out_of_area            out-of-area placement days / all placement days
child_years                  days in care / 365
===========================  =====================================================================
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from models.catalogue import (AGE_BANDS, AGE_EDGES_YEARS, DAYS_PER_YEAR, INHOUSE, MARKETS, OPTION_NAMES, OPTIONS, POOLS,
                              weekly_to_daily)
from models.scenario import Scenario
from results.block_metrics import intended_days
from results.cost_metrics import cost_metrics
from results.measures import AGE_METRIC, age_metric_pool
from results.carer_metrics import carer_metrics, parent_child_metrics
from results.sibling_metrics import sibling_metrics
from results.transition_metrics import transition_metrics
from results.intervals import ByKind, overlap, pairs

METRIC_COLUMNS = ["replication", "year", "metric", "pool", "value"]
STABLE_CARE_DAYS = 2.5 * DAYS_PER_YEAR
STABLE_PLACEMENT_DAYS = 2.0 * DAYS_PER_YEAR


def _by(keys: np.ndarray, names, weights: np.ndarray) -> dict:
    """Sum rows of ``weights`` (n, years) by key."""
    return {name: weights[keys == name].sum(axis=0) for name in names}


#: the cost types a pool's spend is made of (emergency and staying put have pools of their own)
POOL_COST_TYPES = ("spend_placements", "spend_fee_uplift", "spend_retainers", "spend_fixed", "spend_recruitment",
                   "spend_capital")


def _prices(s: Scenario, years: int) -> dict[str, np.ndarray]:
    """Daily price of each option in each reported year (in-house: the part paid per occupied place;
    the fixed part is in ``spend_fixed``)."""
    k = np.arange(years)
    out = {"kinship": np.full(years, weekly_to_daily(s.kinship.weekly_cost))}
    for section, opt in INHOUSE.items():
        cap = getattr(s.inhouse, section)
        share = 0.0 if (section == "fostering" and s.carers.enabled) else cap.fixed_share
        out[opt] = np.full(years, weekly_to_daily(cap.weekly_cost * (1.0 - share)))
    for m in MARKETS:
        spot = getattr(s.spot, m)
        out[f"{m}_spot"] = weekly_to_daily(spot.weekly_price) * (1.0 + spot.inflation) ** k
        out[f"{m}_block"] = np.full(years, weekly_to_daily(getattr(s.contracts, m).weekly_price))
    return out


def replication_metrics(events: pd.DataFrame, scenario: Scenario, replication: int = 0) -> pd.DataFrame:
    """All metrics of one replication's event log, for each reported year."""
    s = scenario
    years = s.run.years
    edges = np.arange(years + 1) * DAYS_PER_YEAR
    horizon = edges[-1]
    labels = s.run.start_date.year + np.arange(years)
    rows: list[tuple] = []

    def put(metric: str, pool: str, values) -> None:
        values = np.broadcast_to(np.asarray(values, dtype=float), (years,))
        rows.extend((replication, int(y), metric, pool, float(v)) for y, v in zip(labels, values))

    ev = ByKind(events)
    place = pairs(ev, "place", "end", horizon)
    wait = pairs(ev, "wait_start", "wait_end", horizon)
    care = pairs(ev, "enter", "exit", horizon)
    option = place.option.astype(str).to_numpy()
    pool = np.array([OPTIONS[o][0] for o in option]) if len(option) else np.array([], dtype=str)

    p_days = overlap(place.start.to_numpy(), place.stop.to_numpy(), edges)
    w_days = overlap(wait.start.to_numpy(), wait.stop.to_numpy(), edges)
    c_days = overlap(care.start.to_numpy(), care.stop.to_numpy(), edges)

    # --- population
    by_pool = _by(pool, POOLS, p_days)
    ends = edges[1:]
    in_end = lambda start, stop: (start[:, None] <= ends[None, :] - 1e-9) & (stop[:, None] > ends[None, :] - 1e-9)  # noqa: E731
    p_end = in_end(place.start.to_numpy(), place.stop.to_numpy())
    c_end = in_end(care.start.to_numpy(), care.stop.to_numpy())
    for name in POOLS:
        put("children_mean", name, by_pool[name] / DAYS_PER_YEAR)
        put("children_end", name, p_end[pool == name].sum(axis=0))
    put("children_mean", "waiting", w_days.sum(axis=0) / DAYS_PER_YEAR)
    put("children_mean", "all", c_days.sum(axis=0) / DAYS_PER_YEAR)
    put("children_end", "all", c_end.sum(axis=0))
    child_years = c_days.sum(axis=0) / DAYS_PER_YEAR
    put("child_years", "all", child_years)

    enter = ev["enter"][ev["enter"].reason == "entry"]
    put("entries", "all", np.histogram(enter.day, edges)[0])
    exits = ev["exit"]
    for route in sorted(exits.reason.astype(str).unique()):
        put("exits", route, np.histogram(exits.day[exits.reason == route], edges)[0])
    put("exits", "all", np.histogram(exits.day, edges)[0])

    # --- money
    prices = _prices(s, years)
    placement_spend = {name: np.zeros(years) for name in POOLS}
    for opt in OPTION_NAMES:
        mask = option == opt
        if mask.any():
            placement_spend[OPTIONS[opt][0]] += p_days[mask].sum(axis=0) * prices[opt]
    retainer = {name: np.zeros(years) for name in POOLS}
    for m in MARKETS:
        block = getattr(s.contracts, m)
        if block.places == 0:
            continue
        opt = f"{m}_block"
        a = (block.start - s.run.start_date).days
        b = (block.end_date - s.run.start_date).days
        active = overlap(np.array([float(a)]), np.array([float(b)]), edges)[0]
        mask = option == opt
        occupied = overlap(np.maximum(place.start.to_numpy()[mask], a), np.minimum(place.stop.to_numpy()[mask], b), edges).sum(axis=0)
        reserved = active * block.places
        void = np.clip(reserved - occupied, 0.0, None)
        retainer[m] += void * weekly_to_daily(block.retainer_weekly_cost)
        put("void_days", m, void)
        with np.errstate(invalid="ignore", divide="ignore"):
            put("block_utilisation", m, np.where(reserved > 0, occupied / np.where(reserved > 0, reserved, 1), np.nan))
        put("block_placements", m, np.histogram(place.start.to_numpy()[mask], edges)[0])
        held = intended_days(place[mask], ev["need_change"], block.needs, a, b, edges)
        with np.errstate(invalid="ignore", divide="ignore"):
            put("block_intended_share", m, np.where(occupied > 0, held / np.where(occupied > 0, occupied, 1), np.nan))
    lines = {"spend_placements": placement_spend, "spend_retainers": retainer,
             **cost_metrics(ev, place, option, p_days, s, edges, put)}
    emergency = w_days.sum(axis=0) * weekly_to_daily(s.waiting.weekly_cost)
    total = np.zeros(years)
    zero = np.zeros(years)
    for name in POOLS:
        pool_total = np.zeros(years)
        for cost_type in POOL_COST_TYPES:
            v = lines[cost_type].get(name, zero)
            put(cost_type, name, v)
            pool_total = pool_total + v
        put("spend_total", name, pool_total)
        total += pool_total
    put("spend_emergency", "waiting", emergency)
    put("spend_total", "waiting", emergency)
    for cost_type in POOL_COST_TYPES:
        put(cost_type, "all", sum(lines[cost_type].values(), zero))
    put("spend_emergency", "all", emergency)
    staying_put = transition_metrics(ev, place, prices, s.staying_put.weekly_cost, edges, put)
    put("spend_total", "staying_put", staying_put)
    put("spend_total", "all", total + emergency + staying_put)

    # --- stability
    first = place.k.to_numpy() == 0
    moves = np.histogram(place.start.to_numpy()[~first], edges)[0]
    put("moves", "all", moves)
    with np.errstate(invalid="ignore", divide="ignore"):
        put("moves_per_child_year", "all", np.where(child_years > 0, moves / np.where(child_years > 0, child_years, 1), np.nan))
    touched = (p_days > 0) | ((place.start.to_numpy()[:, None] >= edges[None, :-1]) & (place.start.to_numpy()[:, None] < edges[None, 1:]))
    n_child = int(care.child.max()) + 1 if len(care) else 0
    counts = np.zeros((n_child, years))
    np.add.at(counts, place.child.to_numpy(), touched.astype(float))
    at_end = np.zeros((n_child, years), dtype=bool)
    at_end[care.child.to_numpy()] = c_end
    with np.errstate(invalid="ignore", divide="ignore"):
        share3 = ((counts >= 3) & at_end).sum(axis=0) / at_end.sum(axis=0)
    put("share_3plus_placements", "all", share3)

    enter_all = ev["enter"]
    entry_day = np.full(n_child, np.nan)
    entry_age = np.full(n_child, np.nan)
    entry_day[enter_all.child.to_numpy()] = enter_all.day.to_numpy()
    entry_age[enter_all.child.to_numpy()] = enter_all.value.to_numpy()
    cur_start = np.full((n_child, years), np.nan)
    for y in range(years):
        m = p_end[:, y]
        cur_start[place.child.to_numpy()[m], y] = place.start.to_numpy()[m]
    age_end = entry_age[:, None] + (ends[None, :] - entry_day[:, None])
    eligible = at_end & (age_end < 16 * DAYS_PER_YEAR) & (ends[None, :] - entry_day[:, None] >= STABLE_CARE_DAYS)
    stable = eligible & (ends[None, :] - cur_start >= STABLE_PLACEMENT_DAYS)
    with np.errstate(invalid="ignore", divide="ignore"):
        put("share_stable_2y", "all", stable.sum(axis=0) / eligible.sum(axis=0))

    # --- children in care at each year end by age band and pool (as DfE's 31 March tables)
    band_edges = np.asarray(AGE_EDGES_YEARS[1:-1]) * DAYS_PER_YEAR
    band_end = np.searchsorted(band_edges, age_end, side="right")  # (n_child, years)
    w_end = in_end(wait.start.to_numpy(), wait.stop.to_numpy())
    holders = [(name, place.child.to_numpy()[pool == name], p_end[pool == name]) for name in POOLS]
    holders += [("waiting", wait.child.to_numpy(), w_end), ("all", care.child.to_numpy(), c_end)]
    for name, who, present in holders:
        bands = band_end[who] if len(who) else np.zeros((0, years), dtype=np.int64)
        for b, label in enumerate(AGE_BANDS):
            put(AGE_METRIC, age_metric_pool(name, label), ((bands == b) & present).sum(axis=0))
    entry_band = np.searchsorted(band_edges, enter.value.to_numpy(), side="right")
    for b, label in enumerate(AGE_BANDS):
        put("entries_by_age", label, np.histogram(enter.day.to_numpy()[entry_band == b], edges)[0])

    put("waiting_days", "all", w_days.sum(axis=0))
    waited = np.zeros((n_child, years), dtype=bool)
    np.logical_or.at(waited, wait.child.to_numpy(), w_days > 0)
    in_year = np.zeros((n_child, years), dtype=bool)
    np.logical_or.at(in_year, care.child.to_numpy(), c_days > 0)
    put("children_waited", "all", waited.sum(axis=0))
    with np.errstate(invalid="ignore", divide="ignore"):
        put("share_waited", "all", waited.sum(axis=0) / in_year.sum(axis=0))
        ooa = (p_days * place.value.to_numpy()[:, None]).sum(axis=0)
        put("share_out_of_area", "all", ooa / p_days.sum(axis=0))

    # max_wait_days: the longest single waiting spell under way in the year, counted whole
    # (wait_start to wait_end, or to the end of the run if still open); 0 if nobody waited
    spell = (wait.stop - wait.start).to_numpy(dtype=float)
    longest = np.where(w_days > 0, spell[:, None], 0.0).max(axis=0) if len(wait) else np.zeros(years)
    put("max_wait_days", "all", longest)
    carer_metrics(ev, place, edges, put)
    parent_child_metrics(ev, place, wait, edges, put)
    sibling_metrics(ev, place, wait, care, edges, put)
    out = pd.DataFrame(rows, columns=METRIC_COLUMNS)
    infinite = np.isinf(out.value.to_numpy())
    if infinite.any():  # never written: the schema's limits keep every input finite, so this is a fault
        bad = out[infinite].iloc[0]
        raise ArithmeticError(f"metric {bad.metric} ({bad.pool}, {bad.year}) is not finite; nothing was written")
    return out
