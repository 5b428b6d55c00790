"""IFA carer households, carers moving from in-house to an IFA, later siblings in IFA households and
parent-and-child placements: hand-checked event sequences."""

from __future__ import annotations

import math

import numpy as np
import pytest

from models.catalogue import DAYS_PER_YEAR, IFA_BASE
from models.scenario import Scenario
from results.metrics import replication_metrics
from simulation.carer_service import _ATTRS, _TURNOVER_DRAWS
from simulation.cohort import Cohort
from simulation.engine import simulate
from simulation.streams import Streams
from tests.test_households import log

INF = np.inf
IFA = IFA_BASE  # the first IFA household


def market(changes: dict) -> Scenario:
    """Scripted children only; no kinship, breakdowns, reviews, move-on, recruitment or turnover.
    No in-house household unless asked; one IFA household approved for 1 child, with the complex skill,
    in area, never leaving; an agency never declines (tightness 0) and answers at once; no retry within the year."""
    base = {
        "entries.enabled": False, "entries.initial_children": 0, "run.warmup_years": 0, "run.years": 1,
        "kinship.enabled": False, "move_on.enabled": False, "breakdowns.enabled": False, "reviews.enabled": False,
        "carers.enabled": True, "carers.households": 0, "carers.approval_shares": [0.0, 1.0, 0.0, 0.0],
        "carers.sibling_skill": 0.0, "carers.complex_skill": 1.0, "carers.parent_child_skill": 0.0,
        "carers.out_of_area": 0.0, "carers.max_placements": 2,
        "recruitment.enabled": False, "turnover.enabled": False,
        "ifa_carers.enabled": True, "ifa_carers.households": 1, "ifa_carers.approval_shares": [1.0, 0.0, 0.0, 0.0],
        "ifa_carers.sibling_skill": 0.0, "ifa_carers.complex_skill": 1.0, "ifa_carers.parent_child_skill": 0.0,
        "ifa_carers.out_of_area": 0.0, "ifa_carers.max_placements": 2, "ifa_carers.deregistration": 0.0,
        "ifa_carers.approvals_per_year": 0.0, "ifa_carers.from_inhouse": 1.0,
        "spot.ifa.search_days": 0.0, "spot.ifa.tightness": 0.0, "spot.ifa.out_of_area": 0.0,
        "parent_child.enabled": False, "waiting.retry_days": 365.0,
        "policy.rules": [{"order": ["inhouse_fostering", "ifa_spot"]}],
    }
    base.update(changes)
    return Scenario.default().replace(base)


def metrics(s: Scenario, cohort: Cohort):
    """The replication's metrics (one reported year) indexed by (metric, pool)."""
    return replication_metrics(simulate(s, 0, cohort=cohort).events, s, 0).set_index(["metric", "pool"]).value


def test_a_spot_search_places_a_child_with_an_ifa_household_and_a_full_household_turns_the_next_away():
    """Hand check. IFA household 1,000,000 is approved for 1 (approval shares [1, 0, 0, 0]); there is no
    in-house household, so every child walks in-house (nobody) then the IFA spot market.
    day 0    the IFA household joins (skills 'complex')
    day 5    child 0 enters; the IFA search finds the household (room, skills) and the agency accepts
             (search draw 0 < 1 - tightness): placed with it, reason 'entry', carer 1,000,000
    day 10   child 1 enters; the household's one place is taken, so the search finds no household:
             'none_free'; the order runs out and the child waits (retry every 50 days)
    day 60   retry: still 'none_free'
    day 100  child 0 leaves care; its place frees, but IFA households keep no waiting list
    day 110  retry: the household has room again: found, the wait ends, placed (reason 'search')."""
    s = market({"waiting.retry_days": 50.0})
    cohort = Cohort.scripted(entry_day=[5, 10], age_days=[3000, 3000], exit_day=[100, INF])
    assert log(s, cohort) == [
        (0, "carer_join", -1, "complex", "initial", IFA),
        (5, "enter", 0, "", "entry", -1),
        (5, "search", 0, "ifa_spot", "found", -1),
        (5, "place", 0, "ifa_spot", "entry", IFA),
        (10, "enter", 1, "", "entry", -1),
        (10, "search", 1, "ifa_spot", "none_free", -1),
        (10, "wait_start", 1, "", "entry", -1),
        (60, "search", 1, "ifa_spot", "none_free", -1),
        (100, "end", 0, "ifa_spot", "exit", IFA),
        (100, "exit", 0, "", "return_home", -1),
        (110, "search", 1, "ifa_spot", "found", -1),
        (110, "wait_end", 1, "", "search", -1),
        (110, "place", 1, "ifa_spot", "search", IFA),
    ]
    m = metrics(s, cohort)
    assert m[("ifa_households_mean", "all")] == 1
    assert m[("ifa_carer_occupancy", "all")] == pytest.approx((95 + 255) / 365)  # child-days [5, 100) + [110, 365)
    assert m[("waiting_days", "all")] == 100  # day 10 to day 110


def test_none_free_uses_no_search_draw_and_the_walk_goes_on_down_the_order():
    """The agency's decline is drawn only when a household is free. Tightness 0.5 at the IFAs; residential
    spot answers at once with tightness 0.5 too. Child 0's first search draw 0.1 < 0.5: placed in IFA.
    Child 1 (draws 0.1 then 0.9): its IFA search finds no household ('none_free', no draw used), so the
    walk goes on to residential spot, whose search takes child 1's first draw, 0.1: found, placed at once.
    Were a draw spent on 'none_free', residential would see 0.9 and fail. The placement's out-of-area flag
    is the IFA household's (ifa_carers.out_of_area 1), not a draw against spot.ifa.out_of_area (0)."""
    s = market({"spot.ifa.tightness": 0.5, "ifa_carers.out_of_area": 1.0,
                 "spot.residential.search_days": 0.0, "spot.residential.tightness": 0.5, "spot.residential.out_of_area": 0.0,
                 "policy.rules": [{"order": ["inhouse_fostering", "ifa_spot", "residential_spot"]}]})
    cohort = Cohort.scripted(entry_day=[5, 10], age_days=[3000, 3000], exit_day=[INF, INF],
                             search_u=[[0.1], [0.1, 0.9]])
    assert log(s, cohort) == [
        (0, "carer_join", -1, "complex", "initial", IFA),
        (5, "enter", 0, "", "entry", -1),
        (5, "search", 0, "ifa_spot", "found", -1),
        (5, "place", 0, "ifa_spot", "entry", IFA),
        (10, "enter", 1, "", "entry", -1),
        (10, "search", 1, "ifa_spot", "none_free", -1),
        (10, "search", 1, "residential_spot", "found", -1),
        (10, "place", 1, "residential_spot", "entry", -1),
    ]
    ev = simulate(s, 0, cohort=cohort).events
    assert ev[ev.event == "place"].value.tolist() == [1.0, 0.0]  # out of area: the IFA household's; residential's draw


def _moving_carer(from_inhouse: float) -> Scenario:
    """One in-house household approved for 2 (complex skill) whose carer, 30 with no spread, retires in 37
    years; no deregistration but a fee gap of 1 at 1 move to an IFA a year per unit of gap: the household
    leaves at rate 1 a year, always for an IFA (ifa_share = 1). No IFA household at the start."""
    return market({"carers.households": 1, "ifa_carers.households": 0, "ifa_carers.from_inhouse": from_inhouse,
                   "turnover.enabled": True, "turnover.deregistration": 0.0, "turnover.fee_gap": 1.0,
                   "turnover.to_ifa_per_gap": 1.0, "turnover.carer_age_sd": 0.0, "turnover.carer_age_mean": 30.0,
                   "turnover.retirement_age": 67.0, "waiting.retry_days": 3.0})


def _leave_day(s: Scenario) -> float:
    """The household's first turnover uniform u (column _ATTRS of row 0 of its pool's stream) made an
    exponential at 1 a year: -ln(1 - u) x 365 days."""
    u = Streams(s.run.seed, 0).generator("household", 0).random((256, _ATTRS + _TURNOVER_DRAWS))[0, _ATTRS]
    return -math.log1p(-u) * DAYS_PER_YEAR


def test_an_inhouse_carer_moving_to_an_ifa_keeps_its_children_as_ifa_placements():
    """Hand check. Children 0 and 1 enter on days 1 and 2 and both take in-house household 0.
    day D    (D from the household's own draw, ~81 days) the carer leaves for an IFA: carer_leave 'to_ifa'.
             Its third draw < from_inhouse = 1, so the carer joins the IFA pool at once: carer_join
             'from_inhouse', household 1,000,000, same approval (2) and skills. Each child's in-house
             placement ends ('carer_left') and starts again with the same carer through the agency
             (option ifa_spot, reason 'to_ifa'), with no search and no wait: a move at IFA rates.
    With from_inhouse 0 the carer leaves for an agency that takes none of the council's children: no
    carer_join, and the children search, find no IFA household ('none_free') and wait on."""
    s = _moving_carer(1.0)
    cohort = Cohort.scripted(entry_day=[1, 2], age_days=[3000, 3000], exit_day=[INF, INF])
    d = _leave_day(s)
    assert 2 < d < 365 - 3
    events = log(s, cohort)
    assert events == [(round(x, 6), *rest) for x, *rest in [
        (0, "carer_join", -1, "complex", "initial", 0),
        (1, "enter", 0, "", "entry", -1),
        (1, "place", 0, "inhouse_fostering", "entry", 0),
        (2, "enter", 1, "", "entry", -1),
        (2, "place", 1, "inhouse_fostering", "entry", 0),
        (d, "carer_leave", -1, "complex", "to_ifa", 0),
        (d, "carer_join", -1, "complex", "from_inhouse", IFA),
        (d, "end", 0, "inhouse_fostering", "carer_left", 0),
        (d, "place", 0, "ifa_spot", "to_ifa", IFA),
        (d, "end", 1, "inhouse_fostering", "carer_left", 0),
        (d, "place", 1, "ifa_spot", "to_ifa", IFA),
    ]]
    ev = simulate(s, 0, cohort=cohort).events
    assert ev[ev.event.isin(["carer_join", "carer_leave"])].value.tolist() == [2, 2, 2]  # places; children it had; places
    m = metrics(s, cohort)
    assert m[("deregistrations", "to_ifa")] == 1 and m[("deregistrations", "all")] == 1
    assert m[("ifa_approvals", "from_inhouse")] == 1
    assert m[("carer_moves", "all")] == 2 and m[("moves", "all")] == 2
    assert m[("waiting_days", "all")] == 0
    assert m[("spend_total", "ifa")] == pytest.approx(2 * (365 - d) * s.spot.ifa.weekly_price / 7)

    stays = log(_moving_carer(0.0), cohort)
    assert stays[5] == (round(d, 6), "carer_leave", -1, "complex", "to_ifa", 0)
    assert not any(e == "carer_join" and r == "from_inhouse" for _, e, _, _, r, _ in stays)
    assert not any(e == "place" and o == "ifa_spot" for _, e, _, o, _, _ in stays)
    assert [r for day, e, c, _, r, _ in stays if e == "search" and c == 0][:2] == ["none_free", "none_free"]


def test_ifa_households_joining_include_the_carers_who_moved_from_inhouse():
    """The summary row 'Households joining' (ifa_approvals, all) has 'Of which from in-house'
    (ifa_approvals, from_inhouse) beneath it. One carer moved and the agencies approved nobody,
    so 1 household joined, of which 1 from in-house."""
    s = _moving_carer(1.0)
    m = metrics(s, Cohort.scripted(entry_day=[1, 2], age_days=[3000, 3000], exit_day=[INF, INF]))
    assert m[("ifa_approvals", "from_inhouse")] == 1
    assert m[("ifa_approvals", "all")] == 1


def test_a_later_sibling_joins_its_siblings_ifa_household():
    """Hand check. The IFA household is approved for 2 with the sibling skill and takes one placement
    at a time (max_placements 1).
    day 1   child 0 enters; the IFA search finds the household: placed, carer 1,000,000
    day 40  child 1, child 0's sibling, enters: it joins child 0's household as part of the same placement
            (no search, reason 'sibling'): the household has a free place and it is not a new placement
    day 50  child 2, unrelated, enters: the household's one placement is taken although a place is
            free, so the IFA search finds no household ('none_free') and child 2 waits."""
    s = market({"ifa_carers.approval_shares": [0.0, 1.0, 0.0, 0.0], "ifa_carers.sibling_skill": 1.0,
                "ifa_carers.max_placements": 1})
    cohort = Cohort.scripted(entry_day=[1, 40, 50], age_days=[3000] * 3, exit_day=[INF] * 3, sibling_of=[-1, 0, -1])
    assert log(s, cohort) == [
        (0, "carer_join", -1, "siblings+complex", "initial", IFA),
        (1, "enter", 0, "", "entry", -1),
        (1, "search", 0, "ifa_spot", "found", -1),
        (1, "place", 0, "ifa_spot", "entry", IFA),
        (40, "enter", 1, "", "entry", -1),
        (40, "sibling_enter", 1, "", "later", -1),
        (40, "place", 1, "ifa_spot", "sibling", IFA),
        (50, "enter", 2, "", "entry", -1),
        (50, "search", 2, "ifa_spot", "none_free", -1),
        (50, "wait_start", 2, "", "entry", -1),
    ]
    m = metrics(s, cohort)
    assert m[("later_siblings", "all")] == 1 and m[("share_later_joined", "all")] == 1
    assert m[("ifa_carer_occupancy", "all")] == pytest.approx((364 + 325) / (2 * 365))  # days [1, 365) + [40, 365), 2 places


def test_a_parent_and_child_placement_takes_the_household_whole_until_the_assessment_ends():
    """Hand check. One in-house household approved for 2, with the complex and parent-and-child skills,
    taking 2 placements at once; the order is in-house only; the assessment lasts 84 days.
    day 1   child 0, a baby with its parent, enters and takes the household whole (reason 'entry')
    day 10  child 1 enters: the household has a free place but is taken whole, so child 1 waits
            (queued for the household)
    day 85  the assessment ends (day 1 + 84): the baby's placement ends 'assessment_end' and the household
            is offered first to the waiting list: child 1 takes a place ('vacancy'); then the baby searches
            as an ordinary child and takes the household's other place (reason 'assessment_end'): the
            same carer, as a new placement (a move)."""
    s = market({"carers.households": 1, "carers.parent_child_skill": 1.0, "ifa_carers.households": 0,
                "parent_child.enabled": True, "parent_child.assessment_days": 84.0,
                "policy.rules": [{"order": ["inhouse_fostering"]}]})
    cohort = Cohort.scripted(entry_day=[1, 10], age_days=[100, 3000], exit_day=[INF, INF], parent_child=[True, False])
    assert log(s, cohort) == [
        (0, "carer_join", -1, "complex+parent_child", "initial", 0),
        (1, "enter", 0, "", "entry", -1),
        (1, "place", 0, "inhouse_fostering", "entry", 0),
        (10, "enter", 1, "", "entry", -1),
        (10, "wait_start", 1, "", "entry", -1),
        (85, "end", 0, "inhouse_fostering", "assessment_end", 0),
        (85, "wait_end", 1, "", "vacancy", -1),
        (85, "place", 1, "inhouse_fostering", "vacancy", 0),
        (85, "place", 0, "inhouse_fostering", "assessment_end", 0),
    ]
    m = metrics(s, cohort)
    assert m[("parent_child_entries", "all")] == 1
    assert m[("parent_child_placed", "inhouse_fostering")] == 1 and m[("parent_child_placed", "waiting")] == 0
    assert m[("parent_child_waiting_days", "all")] == 0
    assert m[("moves", "all")] == 1  # the baby's second placement
    assert m[("waiting_days", "all")] == 75  # child 1, day 10 to day 85
