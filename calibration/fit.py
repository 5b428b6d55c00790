"""From estimates to a scenario: which key each estimate sets, and the commented TOML that says so.

=================================  ===================================================================
scenario key                       from
=================================  ===================================================================
run.start_date                     the day after the last return
run.warmup_years                   0: the run starts from the observed stock
entries.rate_per_year, trend       the Poisson trend fit, carried to the year after the last return
entries.age_shares                 ages at entry
entries.uasc_share_by_age          UASC share of entrants (header UASC column) over the share entering alone
entries.initial_children,          the children in care at the last return, and their ages
initial_age_shares
entries.initial_pool_shares        their placements by pool at the last return ("other" left out, shares renormalised)
exits.return_home, adoption,       exit hazards by age band (events over time at risk)
special_guardianship, other
kinship.probability_by_age         share of non-UASC entrants whose first placement is with kin
breakdowns.<pool>                  the base scenario's hazards by need, scaled per pool until simulated
                                   unplanned endings per placement-year match the observed ones
=================================  ===================================================================

Everything else (carers, prices, capacities, contracts, policy, needs) cannot be seen in 903 data and
is the base scenario's, marked as such in the file.
"""

from __future__ import annotations

import re

import numpy as np

from calibration.backtest import rounded_shares, simulated_histories, stock_pool_shares
from calibration.clean import Episodes
from calibration.codes import CodeMap
from calibration.estimate import Estimate, Estimates, move_rates, share
from calibration.read903 import return_end, to_date
from models.catalogue import AGE_BANDS, EXIT_ROUTES, POOLS
from models.scenario import Scenario


def _interval(e: Estimate, digits: int = 3) -> str:
    return e.text(digits)


def _listed(es, digits: int = 3) -> str:
    return "; ".join(f"{b}: {e.text(digits) if e is not None else 'base (no data)'}" for b, e in zip(AGE_BANDS, es))


def fit(est: Estimates, base: Scenario, eps: Episodes, codes: CodeMap | None = None, refine_replications: int = 6,
        refine_rounds: int = 2) -> tuple[Scenario, dict[str, str]]:
    """The fitted scenario and, for each key set from the data, a note with its source and interval."""
    codes = codes or CodeMap()
    span = f"SSDA903 {est.years[0]}-{est.years[-1]}"
    notes: dict[str, str] = {}
    changes: dict[str, object] = {}
    start = to_date(return_end(est.years[-1]) + 1)
    changes["run.start_date"] = start
    notes["run.start_date"] = f"the day after the last return ({span})"
    changes["run.warmup_years"] = 0
    notes["run.warmup_years"] = "0: the run starts from the stock observed at the last return"

    # entries: the fitted count in the year after the last return, as the rate at its start
    g = np.log1p(est.trend.value) if np.isfinite(est.trend.value) else 0.0
    factor = g / np.expm1(g) if abs(g) > 1e-12 else 1.0
    changes["entries.rate_per_year"] = float(round(est.entry_rate.value * factor, 2))
    notes["entries.rate_per_year"] = (f"estimated ({span}): fitted entries in the year after the last return "
                                      f"{_interval(est.entry_rate, 4)} (95% interval, quasi-Poisson trend fit); "
                                      f"mean over the returns {_interval(est.entry_mean, 4)}")
    if np.isfinite(est.trend.lo):
        changes["entries.trend"] = float(round(est.trend.value, 4))
        notes["entries.trend"] = f"estimated ({span}): {_interval(est.trend)} (95% interval)"
    changes["entries.age_shares"] = list(rounded_shares([e.value for e in est.age_shares]))
    notes["entries.age_shares"] = f"estimated ({span}, {int(est.counts['entries'])} entries), 95% intervals: {_listed(est.age_shares)}"
    if est.uasc_share is not None:
        sib = base.siblings
        alone = sib.group_shares[0] / sib.mean_size if sib.enabled else 1.0
        values = [min(1.0, e.value / alone) if np.isfinite(e.value) else b
                  for e, b in zip(est.uasc_share, base.entries.uasc_share_by_age)]
        changes["entries.uasc_share_by_age"] = [round(v, 4) for v in values]
        notes["entries.uasc_share_by_age"] = (f"estimated ({span}): UASC share of all entrants {_listed(est.uasc_share)}, "
                                              f"divided by the base scenario's share of children entering alone ({alone:.3f})")
    changes["entries.initial_children"] = int(est.stock["all"])
    changes["entries.initial_age_shares"] = list(rounded_shares(est.stock_ages))
    pools = ", ".join(f"{p} {n}" for p, n in est.stock.items() if p != "all")
    notes["entries.initial_children"] = f"children in care at 31 March {est.years[-1]} ({span}); by pool: {pools}"
    notes["entries.initial_age_shares"] = f"ages of the children in care at 31 March {est.years[-1]} ({span})"
    pool_shares = stock_pool_shares(est.stock)
    if pool_shares is not None:
        changes["entries.initial_pool_shares"] = list(pool_shares)
        modelled = sum(est.stock[p] for p in POOLS)
        notes["entries.initial_pool_shares"] = (f"estimated ({span}): placements of the {modelled} children in care at 31 March "
                                                f"{est.years[-1]} in a modelled pool ({est.stock.get('other', 0)} elsewhere left out), "
                                                f"95% intervals: " + "; ".join(f"{p}: {e.text(3)}" for p, e in
                                                                               zip(POOLS, _stock_share_intervals(est.stock))))

    for route in EXIT_ROUTES:
        es = est.exit_hazards[route]
        values = [round(e.value, 4) if e is not None else b for e, b in zip(es, getattr(base.exits, route))]
        changes[f"exits.{route}"] = values
        notes[f"exits.{route}"] = f"estimated ({span}): exits / years in care at each age, 95% intervals: {_listed(es)}"
    kin = [round(e.value, 4) if e is not None else b for e, b in zip(est.kin_by_age, base.kinship.probability_by_age)]
    changes["kinship.probability_by_age"] = kin
    notes["kinship.probability_by_age"] = f"estimated ({span}): first placement with kin, non-UASC entrants, 95% intervals: {_listed(est.kin_by_age)}"

    # breakdowns: scale the base profile by need so that the model's unplanned endings match the data
    b = base.breakdowns
    weights = np.asarray(base.entries.need_shares)
    for p in POOLS:
        r = est.unplanned[p]
        profile = np.asarray(b.for_pool(p))
        mean = float(weights @ profile) * (1.0 + (b.early_multiplier - 1.0) * est.early_share.get(p, 0.0))
        if np.isfinite(r.value) and r.exposure > 0 and mean > 0:
            changes[f"breakdowns.{p}"] = [round(float(h), 4) for h in profile * min(r.value / mean, 50.0 / profile.max())]
    scenario = base.replace(changes)
    if refine_replications > 0 and len(eps.years) >= 3:
        scenario = _refine(scenario, est, eps, codes, refine_replications, refine_rounds)
    for p in POOLS:
        if f"breakdowns.{p}" in changes:
            r = est.unplanned[p]
            notes[f"breakdowns.{p}"] = (f"fitted ({span}): the base hazards by need {list(b.for_pool(p))} scaled so that simulated "
                                        f"unplanned endings match the observed {_interval(r)} a placement-year "
                                        f"({int(r.n)} endings, 95% interval, clustered by child; REASON_PLACE_CHANGE in {', '.join(codes.unplanned)})")
    return scenario.replace(name=f"{base.name}, calibrated to {span}"), notes


def _stock_share_intervals(stock: dict[str, int]) -> list[Estimate]:
    """Wilson intervals of each pool's share of the stock in modelled pools."""
    total = float(sum(stock.get(p, 0) for p in POOLS))
    return [share(float(stock.get(p, 0)), total) for p in POOLS]


def _refine(scenario: Scenario, est: Estimates, eps: Episodes, codes: CodeMap, replications: int, rounds: int) -> Scenario:
    """Rescale each pool's breakdown hazards by observed / simulated unplanned endings, ``rounds`` times."""
    for _ in range(rounds):
        histories = list(simulated_histories(scenario, eps, eps.years[0], replications, codes))
        sim_events = {p: 0.0 for p in POOLS}
        sim_years = {p: 0.0 for p in POOLS}
        for h in histories:
            _moves, unpl, _early, _trans = move_rates(h.table, h.first_day, h.last_day + 1, codes)
            for p in POOLS:
                sim_events[p] += unpl[p].n
                sim_years[p] += unpl[p].exposure
        changes = {}
        for p in POOLS:
            r = est.unplanned[p]
            if sim_events[p] > 0 and np.isfinite(r.value) and r.exposure > 0:
                ratio = float(np.clip(r.value / (sim_events[p] / sim_years[p]), 0.2, 5.0))
                current = np.asarray(scenario.breakdowns.for_pool(p))
                changes[f"breakdowns.{p}"] = [round(float(h), 4) for h in np.minimum(current * ratio, 50.0)]
        scenario = scenario.replace(changes)
    return scenario


def render(scenario: Scenario, notes: dict[str, str], base_label: str) -> str:
    """Commented TOML: every estimated key carries its source and interval; every other key is marked as the base's."""
    text = scenario.to_toml()
    out, table = [], ""
    for line in text.splitlines():
        m = re.match(r"^\[\[?([^\]]+)\]\]?$", line)
        if m:
            table = m.group(1)
        k = re.match(r"^(?:# )?([A-Za-z_0-9]+) = ", line)
        if k and not line.startswith("#   "):
            key = f"{table}.{k.group(1)}" if table else k.group(1)
            note = notes.get(key)
            if note and out and out[-1].startswith("#   source: "):
                out.pop()  # the default's source no longer applies
            out.append(f"#   {note}" if note else f"#   from the base scenario ({base_label}): not shown by SSDA903 data")
        out.append(line)
    head = (f"# Calibrated to SSDA903 returns. Keys marked 'estimated' or 'fitted' come from the data, with 95% intervals;\n"
            f"# keys marked 'from the base scenario' could not be estimated from 903 data and come from {base_label}.\n")
    return head + "\n".join(out) + "\n"

