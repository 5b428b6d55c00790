"""Carer households: hand-checked sequences, matching rules, and the funnel and turnover rates."""

from __future__ import annotations

from collections import deque
from types import SimpleNamespace

import numpy as np
import pytest
import simpy
from hypothesis import given, settings
from hypothesis import strategies as st

from models.catalogue import DAYS_PER_YEAR
from models.scenario import Scenario
from results.metrics import replication_metrics
from simulation.carer_service import CarerService
from simulation.cohort import Cohort
from simulation.engine import horizon_days, simulate
from simulation.cohort import draw_cohort
from simulation.log import EventLog
from simulation.market import Market
from simulation.streams import Streams

INF = np.inf


def households(changes: dict) -> Scenario:
    """Two scripted children, one household, an IFA spot market that always succeeds at once."""
    base = {
        "entries.enabled": False, "entries.initial_children": 0, "run.warmup_years": 0, "run.years": 1,
        "kinship.enabled": False, "move_on.enabled": False, "breakdowns.enabled": False,
        "carers.enabled": True, "carers.households": 1, "carers.approval_shares": [0.0, 1.0, 0.0, 0.0],
        "carers.sibling_skill": 0.0, "carers.complex_skill": 1.0, "carers.out_of_area": 0.0, "carers.max_placements": 2,
        "recruitment.enabled": False,
        "turnover.enabled": True, "turnover.deregistration": 0.0, "turnover.fee_gap": 0.0,
        "turnover.carer_age_sd": 0.0, "turnover.carer_age_mean": 66.9, "turnover.retirement_age": 67.0,
        "spot.ifa.search_days": 0.0, "spot.ifa.tightness": 0.0, "spot.ifa.out_of_area": 0.0,
        "policy.rules": [{"order": ["inhouse_fostering", "ifa_spot"]}],
        "ifa_carers.enabled": False, "parent_child.enabled": False,  # the IFA market as plain spot searches
    }
    base.update(changes)
    return Scenario.default().replace(base)


def log(s: Scenario, cohort: Cohort) -> list[tuple]:
    """The log as (day, event, child, option, reason, carer) tuples, days rounded to 1e-6."""
    ev = simulate(s, 0, cohort=cohort).events
    return [(round(d, 6), e, c, o, r, k) for d, e, c, o, r, k in
            zip(ev.day, ev.event.astype(str), ev.child, ev.option.astype(str), ev.reason.astype(str), ev.carer)]


def test_deregistering_carer_with_two_children_sends_both_back_to_the_search():
    """Hand check. The household is approved for 2, has the complex skill (no sibling skill, one place-one child).
    Its carer is 66.9 with no spread and retires at 67: day 0.1 x 365 = 36.5.
    day 0    household 0 joins; child 0 enters and is placed with it; child 1 enters and takes its 2nd place
    day 36.5 the carer retires with 2 children: both placements end ('carer_left') and each child
             walks its order again: in-house has no household, IFA spot succeeds at once (reason 'carer_left')
    day 100  child 0 leaves care from IFA; child 1 stays to the horizon."""
    s = households({})
    cohort = Cohort.scripted(entry_day=[0, 0], age_days=[3000, 3000], exit_day=[100, INF], exit_route=[0, 0])
    day = 0.1 * DAYS_PER_YEAR
    assert log(s, cohort) == [
        (0, "carer_join", -1, "complex", "initial", 0),
        (0, "enter", 0, "", "stock", -1),
        (0, "place", 0, "inhouse_fostering", "entry", 0),
        (0, "enter", 1, "", "stock", -1),
        (0, "place", 1, "inhouse_fostering", "entry", 0),
        (day, "carer_leave", -1, "complex", "retired", 0),
        (day, "end", 0, "inhouse_fostering", "carer_left", 0),
        (day, "search", 0, "ifa_spot", "found", -1),
        (day, "place", 0, "ifa_spot", "carer_left", -1),
        (day, "end", 1, "inhouse_fostering", "carer_left", 0),
        (day, "search", 1, "ifa_spot", "found", -1),
        (day, "place", 1, "ifa_spot", "carer_left", -1),
        (100, "end", 0, "ifa_spot", "exit", -1),
        (100, "exit", 0, "", "return_home", -1),
    ]
    m = replication_metrics(simulate(s, 0, cohort=cohort).events, s, 0).set_index(["metric", "pool"]).value
    assert m[("carer_moves", "all")] == 2
    assert m[("moves", "all")] == 2
    assert m[("deregistrations", "retired")] == 1


def test_max_placements_and_skills_decide_who_a_household_takes():
    """A household approved for 2 but taking one placement at a time turns the 2nd child away;
    a complex-needs child never goes to a household without the complex skill."""
    cohort = Cohort.scripted(entry_day=[0, 0], age_days=[3000, 3000], exit_day=[INF, INF], need=[0, 0])
    one_at_a_time = households({"carers.max_placements": 1, "turnover.enabled": False})
    placed = [(c, o) for _, e, c, o, _, _ in log(one_at_a_time, cohort) if e == "place"]
    assert placed == [(0, "inhouse_fostering"), (1, "ifa_spot")]
    complex_child = Cohort.scripted(entry_day=[0], age_days=[3000], exit_day=[INF], need=[3])
    unskilled = households({"carers.complex_skill": 0.0, "turnover.enabled": False})
    assert [o for _, e, _, o, _, _ in log(unskilled, complex_child) if e == "place"] == ["ifa_spot"]


def test_a_placement_outside_the_carers_skills_breaks_down_sooner():
    """High need with a carer without the complex skill is allowed ('high' in carers.mismatch) at x2 hazard.
    Rate 3.65/yr = 0.01/day, multiplier 2 -> 0.02/day; E = 1 gives day 50 (day 100 with the skill)."""
    cohort = Cohort.scripted(entry_day=[0], age_days=[3000], exit_day=[INF], need=[2], breakdown_e=[[1.0, INF]])
    changes = {"turnover.enabled": False, "breakdowns.enabled": True, "breakdowns.early_multiplier": 1.0,
               "breakdowns.inhouse_fostering": [3.65] * 4, "breakdowns.ifa": [0.0] * 4,
               "carers.mismatch": ["high"], "carers.mismatch_breakdown_multiplier": 2.0}
    ends = lambda s: [d for d, e, *_ in log(s, cohort) if e == "end"]  # noqa: E731
    assert ends(households({**changes, "carers.complex_skill": 0.0})) == [50.0]
    assert ends(households({**changes, "carers.complex_skill": 1.0})) == [100.0]


def _carer_only(changes: dict) -> Scenario:
    return Scenario.default().replace({
        "entries.enabled": False, "entries.initial_children": 0, "run.warmup_years": 0, "run.years": 20,
        "carers.households": 200, "turnover.carer_age_sd": 0.0, "turnover.carer_age_mean": 30.0,
        **changes})


def test_approvals_follow_the_funnel():
    """Applications are Poisson at enquiries x application rate; each is approved with the approval
    rate after the assessment. Over R replications x 20 years the count is Poisson, so the tolerance
    is 4 standard deviations of the total."""
    s = _carer_only({"turnover.enabled": False, "recruitment.enquiries_per_year": 500.0,
                     "recruitment.assessment_days": 0.0, "recruitment.assessment_capacity": 100})
    reps = 4
    approvals = sum(replication_metrics(simulate(s, r).events, s, r).query("metric == 'approvals'").value.sum() for r in range(reps))
    expected = reps * 20 * 500 * 0.064 * 0.51
    assert abs(approvals - expected) < 4 * np.sqrt(expected), (approvals, expected)


def test_assessment_capacity_limits_approvals():
    """With 2 assessments at a time of a year each, at most ~2 households can be approved a year,
    however many people apply."""
    s = _carer_only({"turnover.enabled": False, "recruitment.enquiries_per_year": 2000.0,
                     "recruitment.approval_rate": 1.0, "recruitment.assessment_days": 365.0, "recruitment.assessment_capacity": 2})
    m = replication_metrics(simulate(s, 0).events, s, 0)
    approvals = m.query("metric == 'approvals'").value.to_numpy()
    assert approvals.max() <= 2 and approvals[1:].sum() == 2 * 19


@settings(max_examples=60, deadline=None)
@given(gaps=st.lists(st.floats(0.0, 50.0), min_size=1, max_size=40), capacity=st.integers(1, 4),
       days=st.sampled_from([0.0, 7.0, 30.0, 210.0]))
def test_assessment_queue_matches_a_simpy_resource(gaps, capacity, days):
    """The assessment queue's closed form gives the same end days as a SimPy ``Resource`` of
    ``capacity`` places serving the same applications first come, first served."""
    arrivals = np.cumsum(gaps).tolist()
    env = simpy.Environment()
    slots = simpy.Resource(env, capacity=capacity)
    ends = {}

    def assess(k):
        with slots.request() as req:
            yield req
            yield env.timeout(days)
        ends[k] = env.now

    def apply():
        for k, day in enumerate(arrivals):
            yield env.timeout(day - env.now)
            env.process(assess(k))

    env.process(apply())
    env.run()
    service = SimpleNamespace(assessment_ends=deque(maxlen=capacity), r=SimpleNamespace(assessment_days=days))
    closed = [CarerService._assess(service, day) for day in arrivals]
    assert closed == pytest.approx([ends[k] for k in range(len(arrivals))], abs=1e-9)


@pytest.mark.parametrize("gap", [0.0, 1.0])
def test_deregistration_rate_matches_the_hazard(gap):
    """Without placements, households leave at deregistration + fee_gap x to_ifa_per_gap a year.
    The estimate leavers / household-years has relative standard error 1/sqrt(leavers)."""
    s = _carer_only({"recruitment.enabled": False, "turnover.deregistration": 0.1, "turnover.fee_gap": gap,
                     "turnover.to_ifa_per_gap": 0.1, "run.years": 10})
    m = replication_metrics(simulate(s, 0).events, s, 0).set_index(["metric", "pool", "year"]).value.sort_index()
    leavers = m.loc[("deregistrations", "all")].sum()
    exposure = m.loc[("households_mean", "all")].sum()
    rate = 0.1 + 0.1 * gap
    assert abs(leavers / exposure - rate) < 4 * rate / np.sqrt(leavers)
    to_ifa = m.loc[("deregistrations", "to_ifa")].sum()
    assert (to_ifa == 0) if gap == 0 else abs(to_ifa / leavers - 0.5) < 4 * 0.5 / np.sqrt(leavers)


def test_turnover_hazard_is_raised_for_a_window_after_a_breakdown():
    """A household whose hazard is raised k-fold for W days leaves within the window with probability
    1 - exp(-k b W); one that survives the window leaves an Exp(b) time after it. Checked over 4,000
    households' own draws, to 4 binomial / 4 standard errors."""
    s = _carer_only({"recruitment.enabled": False, "turnover.deregistration": 0.5, "turnover.fee_gap": 0.0,
                     "turnover.after_breakdown_multiplier": 4.0, "turnover.after_breakdown_days": 120.0,
                     "carers.households": 0})
    offset, horizon = horizon_days(s)
    streams = Streams(s.run.seed, 0)
    market = Market(s, draw_cohort(s, streams, horizon, offset), EventLog(), offset, horizon, streams)
    waits = []
    market.at = lambda delay, fn, h, token, route: waits.append((h.id, delay, route))
    svc = market.carers
    n, window = 4000, 120.0
    for _ in range(n):
        svc._create("initial")
    waits.clear()
    for h in svc.households:
        h.raised_until = window
        svc._schedule_turnover(h)
    delay = np.array([w[1] for w in waits])
    assert len(delay) == n and {w[2] for w in waits} == {"deregistered"}
    b = 0.5 / DAYS_PER_YEAR
    p = 1 - np.exp(-4.0 * b * window)
    inside = (delay <= window).mean()
    assert abs(inside - p) < 4 * np.sqrt(p * (1 - p) / n), (inside, p)
    after = delay[delay > window] - window
    assert abs(after.mean() * b - 1) < 4 / np.sqrt(len(after)), after.mean() * b
