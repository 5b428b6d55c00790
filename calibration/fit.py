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

**A fit always gives a scenario.** A fitted value outside the limits the scenario schema sets for its
key (``entries.trend`` at least -0.5, shares between 0 and 1, ...) is held at the limit, and a
warning names the key, the fitted value and the limit; a value the scenario still refuses (a rule
between keys) is left at the base's, with a warning. The fit also warns when it should not be
trusted far: a steep entry trend, a rate resting on fewer than :data:`FEW_EVENTS` events (that could
still matter: its upper bound above :data:`FEW_MATTERS` a year), and a code
mapping that sends more than :data:`OTHER_SHARE` of placement-days to placements placesim does not model.
"""

from __future__ import annotations

import dataclasses
import re
import typing

import numpy as np
import pandas as pd

from calibration.backtest import rounded_shares, simulated_histories, stock_pool_shares
from calibration.clean import Episodes
from calibration.codes import CodeMap
from calibration.estimate import Estimate, Estimates, move_rates, share
from calibration.read903 import Warning903, return_end, to_date
from models.catalogue import AGE_BANDS, EXIT_ROUTES, POOLS
from models.scenario import Scenario
from models.schema import ScenarioError

#: a yearly entry trend steeper than this (either way) is warned about
STEEP_TREND = 0.15
#: a rate resting on fewer events than this is warned about (its interval spans several-fold)
FEW_EVENTS = 5
#: ... unless even its 95% upper bound is below this yearly rate, too small to matter to a projection
FEW_MATTERS = 0.05
#: a share of placement-days in placements placesim does not model above this is warned about
OTHER_SHARE = 0.10


def _interval(e: Estimate, digits: int = 3) -> str:
    return e.text(digits)


def _listed(es, digits: int = 3) -> str:
    return "; ".join(f"{b}: {e.text(digits) if e is not None else 'base (no data)'}" for b, e in zip(AGE_BANDS, es))


def fit(est: Estimates, base: Scenario, eps: Episodes, codes: CodeMap | None = None, refine_replications: int = 6,
        refine_rounds: int = 2, warnings: list[Warning903] | None = None) -> tuple[Scenario, dict[str, str]]:
    """The fitted scenario and, for each key set from the data, a note with its source and interval.

    Never fails on its own values (module docstring); what it had to hold or could not trust is appended
    to ``warnings`` when a list is given."""
    codes = codes or CodeMap()
    span = f"SSDA903 {est.years[0]}-{est.years[-1]}"
    notes: dict[str, str] = {}
    changes: dict[str, object] = {}
    start = to_date(return_end(est.years[-1]) + 1)
    changes["run.start_date"] = start
    notes["run.start_date"] = f"the day after the last return ({span})"
    changes["run.warmup_years"] = 0
    notes["run.warmup_years"] = "0: the run starts from the stock observed at the last return"

    warn = warnings if warnings is not None else []
    trend = float(est.trend.value) if np.isfinite(est.trend.value) else 0.0
    if np.isfinite(est.trend.lo):
        trend = _held(base, "entries.trend", round(trend, 4), warn, notes)
    # entries: the fitted count in the year after the last return, as the rate at its start
    g = np.log1p(trend)
    factor = g / np.expm1(g) if abs(g) > 1e-12 else 1.0
    changes["entries.rate_per_year"] = float(round(est.entry_rate.value * factor, 2))
    notes["entries.rate_per_year"] = (f"estimated ({span}): fitted entries in the year after the last return "
                                      f"{_interval(est.entry_rate, 4)} (95% interval, quasi-Poisson trend fit); "
                                      f"mean over the returns {_interval(est.entry_mean, 4)}")
    if np.isfinite(est.trend.lo):
        changes["entries.trend"] = float(trend)
        held = notes.pop("entries.trend", "")
        notes["entries.trend"] = f"estimated ({span}): {_interval(est.trend)} (95% interval){held}"
        if base.entries.forecast or base.entries.growth is not None:  # the data's trend replaces the base's plan
            changes["entries.forecast"], changes["entries.growth"] = [], None
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
    changes = _within_limits(base, changes, warn, notes)
    scenario = _replace_or_keep(base, changes, warn, notes)
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
        scenario = _replace_or_keep(scenario, _within_limits(scenario, changes, [], {}), [], {})
    return scenario


def render(scenario: Scenario, notes: dict[str, str], base_label: str, warnings=()) -> str:
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
    for w in warnings:
        head += f"# WARNING {w.kind}: {w.message}\n"
    return head + "\n".join(out) + "\n"



# --------------------------------------------------------------------------- limits and warnings


def _meta(key: str) -> dict:
    """The schema metadata (doc, source, ge, le, gt, ...) of a dotted scenario key; {} if unknown."""
    cls: typing.Any = Scenario
    parts = key.split(".")
    for i, name in enumerate(parts):
        if not dataclasses.is_dataclass(cls):
            return {}
        fields = {f.name: f for f in dataclasses.fields(cls)}
        if name not in fields:
            return {}
        if i == len(parts) - 1:
            return dict(fields[name].metadata)
        cls = typing.get_type_hints(cls)[name]
    return {}


def _clamp(value, meta: dict):
    lo = meta.get("ge")
    if meta.get("gt") is not None:
        lo = max(lo if lo is not None else -np.inf, meta["gt"] + 1e-4)
    hi = meta.get("le")
    if isinstance(value, (list, tuple)):
        return [_clamp(v, meta) for v in value]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value is None:
        return value
    v = value
    if lo is not None and v < lo:
        v = type(value)(lo) if isinstance(value, int) else float(lo)
    if hi is not None and v > hi:
        v = type(value)(hi) if isinstance(value, int) else float(hi)
    return v


def _limits_text(meta: dict) -> str:
    lo = meta.get("ge") if meta.get("ge") is not None else meta.get("gt")
    parts = [f"at least {lo:g}" if meta.get("ge") is not None else (f"more than {lo:g}" if lo is not None else "")]
    parts.append(f"at most {meta['le']:g}" if meta.get("le") is not None else "")
    return " and ".join(p for p in parts if p)


def _held(base: Scenario, key: str, value, warn: list, notes: dict):
    """``value`` held inside the schema's limits for ``key``; a warning and a note when it had to be."""
    meta = _meta(key)
    held = _clamp(value, meta)
    if held != value and not (isinstance(value, (list, tuple)) and list(held) == list(value)):
        shown = (lambda v: f"{v:g}") if not isinstance(value, (list, tuple)) else (lambda v: "[" + ", ".join(f"{x:g}" for x in v) + "]")
        warn.append(Warning903("value held at a limit", f"{key}: the fit gave {shown(value)}, outside the scenario's limit "
                               f"({_limits_text(meta)}); held at {shown(held)}. Projections with it understate the "
                               f"change the data shows", 1, [key]))
        notes[key] = f"; the fit gave {shown(value)}, HELD at the scenario's limit ({_limits_text(meta)})"
    return held


def _within_limits(base: Scenario, changes: dict, warn: list, notes: dict) -> dict:
    """Every numeric value of ``changes`` held inside its key's limits (:func:`_held`), its note saying so."""
    out = {}
    for key, value in changes.items():
        if isinstance(value, (int, float, list, tuple)) and not isinstance(value, bool):
            said: dict[str, str] = {}
            out[key] = _held(base, key, value, warn, said)
            if key in said:
                notes[key] = notes.get(key, "") + said[key]
        else:
            out[key] = value
    return out


def _replace_or_keep(base: Scenario, changes: dict, warn: list, notes: dict) -> Scenario:
    """``base.replace(changes)``, leaving at the base's value any key the scenario still refuses (with a warning)."""
    changes = dict(changes)
    for _ in range(len(changes) + 1):
        try:
            return base.replace(changes)
        except ScenarioError as e:
            key = next((k for k in changes if e.key == k or e.key.startswith(k + "[") or k.startswith(e.key)), None)
            if key is None:
                raise
            warn.append(Warning903("value not used", f"{key}: the scenario refused the fitted value ({e.problem}); "
                                   "the base scenario's value is kept", 1, [key]))
            changes.pop(key)
            notes.pop(key, None)
    return base.replace(changes)


def fit_warnings(est: Estimates, eps: Episodes, codes: CodeMap | None = None) -> list[Warning903]:
    """Warnings about how far the estimates can be trusted: a steep trend, rates on few events, many rows in 'other'."""
    codes = codes or CodeMap()
    out: list[Warning903] = []
    t = est.trend
    if np.isfinite(t.value) and abs(t.value) > STEEP_TREND:
        counts = ", ".join(f"{y}: {n}" for y, n in est.entries_by_year.items())
        way = "fall" if t.value < 0 else "rise"
        halving = np.log(0.5) / np.log1p(t.value) if t.value < 0 else np.log(2.0) / np.log1p(t.value)
        out.append(Warning903("steep trend", f"entries {way} {abs(t.value):.0%} a year over the returns ({counts}): "
                              f"projected forward they {'halve' if t.value < 0 else 'double'} every {halving:.1f} years. "
                              "A first or last return that is incomplete, or a year read into the wrong return, is the "
                              "usual cause; check the yearly counts before projecting", 1, ["entries.trend"]))
    few = []
    for route, es in est.exit_hazards.items():
        for band, e in zip(AGE_BANDS, es):
            if e is not None and e.n < FEW_EVENTS and e.exposure > 0 and e.hi > FEW_MATTERS:
                few.append(f"exits.{route} {band}: {int(e.n)} exits")
    for p, e in est.unplanned.items():
        if np.isfinite(e.exposure) and e.exposure > 0 and e.n < FEW_EVENTS and e.hi > FEW_MATTERS:
            few.append(f"breakdowns.{p}: {int(e.n)} unplanned endings")
    for band, e in zip(AGE_BANDS, est.kin_by_age):
        if e is not None and e.n < 2 * FEW_EVENTS:
            few.append(f"kinship.probability_by_age {band}: {int(e.n)} entrants")
    if est.counts.get("entries", 0) < 4 * FEW_EVENTS:
        few.append(f"entries.age_shares: {int(est.counts.get('entries', 0))} entrants")
    if few:
        out.append(Warning903("too few children", f"{len(few)} fitted {'value rests' if len(few) == 1 else 'values rest'} on fewer than {FEW_EVENTS} events (or "
                              f"{2 * FEW_EVENTS} entrants for a share) with a 95% upper bound above {FEW_MATTERS:g} a year: "
                              "the 95% intervals in the scenario file span several-fold, so treat them as rough", len(few), few))
    tab = eps.table
    days = (np.minimum(tab.stop.to_numpy(), eps.last_day + 1) - np.maximum(tab.start.to_numpy(), eps.first_day)).clip(0)
    total = float(days.sum())
    other = tab.pool.to_numpy() == "other"
    if total > 0 and days[other].sum() / total > OTHER_SHARE:
        by = pd.Series(days[other]).groupby(tab.place.to_numpy()[other]).sum().sort_values(ascending=False)
        top = [f"{c} {d / total:.0%}" for c, d in by.head(5).items()]
        out.append(Warning903("mapped to other", f"{days[other].sum() / total:.0%} of placement-days are in placements "
                              "placesim does not model ('other'), left out of the pools' rates and the starting mix. If a "
                              "code is really one of placesim's pools, map it with --codes (e.g. [pools] K3 = \"supported\")",
                              int(other.sum()), top))
    return out
