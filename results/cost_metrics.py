"""What the council's own levers cost: fixed costs of open places, the carer fee uplift, recruitment
and one-off opening costs.

Each is its own cost line (a metric with pools, summed into ``spend_total``), so a lever's
cost is shown beside what it saves:

================== ==================================================================================
spend_fixed        open in-house place-days x weekly_cost x fixed_share / 7 (a place that closed
                   while a child lived there counts until the child leaves), plus fixed_weekly
spend_fee_uplift   in-house fostering placement days x weekly_cost x fee_share x fee_uplift / 7
spend_recruitment  team_yearly while recruitment runs, cost_per_enquiry x expected enquiries,
                   cost_per_assessment x applications (each is assessed), campaign costs spread
                   evenly over their days
spend_capital      capital_cost (or places x capital_per_place) of each opening, in the year it opens
places_mean        in-house places open on average (scheduled, from capacity_open/close events)
enquiries          expected enquiries in the year (enquiries are thinned to applications, so they
                   are not drawn one by one)
================== ==================================================================================
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd

from models.catalogue import DAYS_PER_YEAR, INHOUSE, OPTIONS, weekly_to_daily
from models.scenario import Scenario
from results.intervals import ByKind, overlap


def _step_integral(days: np.ndarray, levels: np.ndarray, initial: float, edges: np.ndarray) -> np.ndarray:
    """Integral over each year of a step function: ``initial`` before the first of ``days`` (sorted),
    ``levels[i]`` from ``days[i]`` on."""
    pts = np.concatenate([[-np.inf], days, [np.inf]])
    lv = np.concatenate([[initial], levels])
    lo, hi = np.clip(pts[:-1], edges[0], edges[-1]), np.clip(pts[1:], edges[0], edges[-1])
    return overlap(lo, hi, edges).T @ lv


def _open_and_used(cap_days: np.ndarray, cap_deltas: np.ndarray, places: int, starts: np.ndarray,
                   stops: np.ndarray, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(scheduled open place-days, place-days paid for: the larger of open and occupied) per year.

    A place that closes while a child lives there is paid for until the child leaves."""
    n_cap, n = len(cap_days), len(starts)
    days = np.concatenate([cap_days, starts, stops])
    d_cap = np.concatenate([cap_deltas, np.zeros(2 * n)])
    d_occ = np.concatenate([np.zeros(n_cap), np.ones(n), -np.ones(n)])
    order = np.argsort(days, kind="stable")
    days = days[order]
    cap = places + np.cumsum(d_cap[order])
    occ = np.cumsum(d_occ[order])
    return (_step_integral(days, cap, float(places), edges),
            _step_integral(days, np.maximum(cap, occ), float(places), edges))


def expected_enquiries(s: Scenario, edges: np.ndarray) -> np.ndarray:
    """Expected enquiries in each reported year: the usual rate, raised during campaigns."""
    r = s.recruitment
    base = r.enquiries_per_year / DAYS_PER_YEAR
    out = base * np.diff(edges)
    for camp in r.campaigns:
        a = float((camp.start - s.run.start_date).days)
        b = float((camp.end - s.run.start_date).days) + 1.0
        out += base * (camp.enquiry_multiplier - 1.0) * overlap(np.array([a]), np.array([b]), edges)[0]
    return out


def _campaign_costs(s: Scenario, edges: np.ndarray) -> np.ndarray:
    out = np.zeros(len(edges) - 1)
    for camp in s.recruitment.campaigns:
        a = float((camp.start - s.run.start_date).days)
        b = float((camp.end - s.run.start_date).days) + 1.0
        out += camp.cost / (b - a) * overlap(np.array([a]), np.array([b]), edges)[0]
    return out


def cost_metrics(ev: ByKind, place: pd.DataFrame, option: np.ndarray, p_days: np.ndarray, s: Scenario,
                 edges: np.ndarray, put: Callable) -> dict[str, dict[str, np.ndarray]]:
    """Put ``places_mean`` and ``enquiries``; return the cost lines by cost type and pool."""
    years = len(edges) - 1
    zeros = lambda: np.zeros(years)  # noqa: E731
    fixed: dict[str, np.ndarray] = {}
    capital: dict[str, np.ndarray] = {}
    opened, closed = ev["capacity_open"], ev["capacity_close"]
    for section, opt in INHOUSE.items():
        cap = getattr(s.inhouse, section)
        pool = OPTIONS[opt][0]
        f = np.full(years, weekly_to_daily(cap.fixed_weekly) * DAYS_PER_YEAR)
        plain = not (section == "fostering" and s.carers.enabled)  # households are not places
        if plain:
            o_mask, c_mask = opened.option.astype(str).to_numpy() == opt, closed.option.astype(str).to_numpy() == opt
            days = np.concatenate([opened.day.to_numpy()[o_mask], closed.day.to_numpy()[c_mask]])
            deltas = np.concatenate([opened.value.to_numpy()[o_mask], -closed.value.to_numpy()[c_mask]])
            mine = option == opt
            scheduled, paid = _open_and_used(days, deltas, cap.places, place.start.to_numpy()[mine],
                                             place.stop.to_numpy()[mine], edges)
            f = f + paid * weekly_to_daily(cap.weekly_cost * cap.fixed_share)
            put("places_mean", pool, scheduled / np.diff(edges))
        fixed[pool] = fixed.get(pool, zeros()) + f
        c = zeros()
        for op in cap.openings:
            day = (op.start - s.run.start_date).days
            k = int(np.searchsorted(edges, day, side="right") - 1)
            if 0 <= k < years:
                c[k] += op.capital_cost if op.capital_cost is not None else op.places * cap.capital_per_place
        capital[pool] = capital.get(pool, zeros()) + c

    fee = zeros()
    r = s.recruitment
    ih = option == INHOUSE["fostering"]
    if r.fee_uplift != 0 and ih.any():
        f = s.inhouse.fostering
        fee = p_days[ih].sum(axis=0) * weekly_to_daily(f.weekly_cost * f.fee_share * r.fee_uplift)

    recruit = zeros()
    if r.enabled and s.carers.enabled:
        enquiries = expected_enquiries(s, edges)
        put("enquiries", "all", enquiries)
        applications = np.histogram(ev["carer_application"].day, edges)[0]
        recruit = (r.team_yearly * np.diff(edges) / DAYS_PER_YEAR + r.cost_per_enquiry * enquiries
                   + r.cost_per_assessment * applications + _campaign_costs(s, edges))
    return {"spend_fixed": fixed, "spend_capital": capital, "spend_fee_uplift": {"inhouse_fostering": fee},
            "spend_recruitment": {"inhouse_fostering": recruit}}
