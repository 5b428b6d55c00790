"""Sibling groups: hand-checked sequences, a property, and a statistical check against household sizes."""

from __future__ import annotations

import numpy as np
from hypothesis import given

from models.scenario import Scenario
from results.metrics import replication_metrics
from simulation.cohort import Cohort
from simulation.engine import simulate
from tests.test_properties import FAST, scenarios

INF = np.inf


def tiny(changes: dict) -> Scenario:
    base = {
        "entries.enabled": False, "entries.initial_children": 0, "run.warmup_years": 0, "run.years": 1,
        "kinship.enabled": False, "move_on.enabled": False, "breakdowns.enabled": False,
        "recruitment.enabled": False, "turnover.enabled": False, "carers.out_of_area": 0.0,
        "siblings.together_wait_days": 10.0, "waiting.retry_days": 365.0,
        "spot.ifa.search_days": 0.0, "spot.ifa.out_of_area": 0.0,
        "policy.rules": [{"order": ["inhouse_fostering", "ifa_spot"]}],
    }
    base.update(changes)
    return Scenario.default().replace(base)


def log(s: Scenario) -> list[tuple]:
    cohort = Cohort.scripted(entry_day=[5, 5], age_days=[3000, 1500], exit_day=[INF, INF], group=[0, 0])
    ev = simulate(s, 0, cohort=cohort).events
    return [(d, e, c, o, r, k) for d, e, c, o, r, k in
            zip(ev.day, ev.event.astype(str), ev.child, ev.option.astype(str), ev.reason.astype(str), ev.carer)]


def test_a_group_is_placed_together_with_a_household_that_has_room_and_the_sibling_skill():
    """One household approved for 2 with the sibling skill. Day 5: both children enter, the group walks
    its order, in-house finds the household (2 free, sibling skill): both placed there, then group_placed."""
    s = tiny({"carers.households": 1, "carers.approval_shares": [0.0, 1.0, 0.0, 0.0], "carers.sibling_skill": 1.0,
              "carers.complex_skill": 1.0})
    assert log(s) == [
        (0, "carer_join", -1, "siblings+complex", "initial", 0),
        (5, "enter", 0, "", "entry", -1),
        (5, "enter", 1, "", "entry", -1),
        (5, "group", 0, "", "entry", -1),
        (5, "place", 0, "inhouse_fostering", "entry", 0),
        (5, "place", 1, "inhouse_fostering", "entry", 0),
        (5, "group_placed", 0, "inhouse_fostering", "together", -1),
    ]


def test_a_group_that_finds_no_placement_for_all_waits_then_splits():
    """Two households approved for 1 each (no room for both); the IFA market never has a place (tightness 1).
    day 5   both enter; in-house: no household takes 2; the group's spot search fails at once; the order
            ends, so both wait together (no retry before the horizon), and the split is due on day 15
    day 15  split: each child now searches alone and takes one household (0 then 1): wait ends 'search'"""
    s = tiny({"carers.households": 2, "carers.approval_shares": [1.0, 0.0, 0.0, 0.0], "carers.complex_skill": 0.0,
              "spot.ifa.tightness": 1.0})
    assert log(s) == [
        (0, "carer_join", -1, "general", "initial", 0),
        (0, "carer_join", -1, "general", "initial", 1),
        (5, "enter", 0, "", "entry", -1),
        (5, "enter", 1, "", "entry", -1),
        (5, "group", 0, "", "entry", -1),
        (5, "search", 0, "ifa_spot", "failed", -1),
        (5, "wait_start", 0, "", "entry", -1),
        (5, "wait_start", 1, "", "entry", -1),
        (15, "split", 0, "", "waited", -1),
        (15, "wait_end", 0, "", "search", -1),
        (15, "place", 0, "inhouse_fostering", "search", 0),
        (15, "wait_end", 1, "", "search", -1),
        (15, "place", 1, "inhouse_fostering", "search", 1),
    ]
    m = replication_metrics(simulate(s, 0, cohort=Cohort.scripted(entry_day=[5, 5], age_days=[3000, 1500], exit_day=[INF, INF],
                                                                  group=[0, 0])).events, s, 0)
    m = m.set_index(["metric", "pool"]).value
    assert m[("sibling_groups", "all")] == 1 and m[("share_together_at_entry", "all")] == 0
    assert m[("splits", "all")] == 1 and m[("sibling_waiting_days", "all")] == 20  # 2 children x 10 days


@FAST
@given(scenarios())
def test_siblings_placed_together_share_one_placement(s):
    ev = simulate(s, 0).events
    placed = ev[ev.event == "place"]
    for day, gid, size, option in zip(ev.day[ev.event == "group_placed"], ev.child[ev.event == "group_placed"],
                                      ev.value[ev.event == "group_placed"], ev.option[ev.event == "group_placed"].astype(str)):
        members = placed[(placed.day == day) & placed.child.between(gid, gid + int(size) - 1)]
        assert len(members) == int(size)
        assert set(members.option.astype(str)) == {option}
        assert members.carer.nunique() == 1


def test_fewer_large_households_place_fewer_groups_together():
    """Statistical check under common random numbers: removing households approved for 3-4 (and then for 2)
    lowers the share of sibling groups placed together. The IFA market is made tight so that in-house
    households matter; each step must exceed 3 standard errors of the paired difference over replications."""
    base = {"run.years": 4, "run.warmup_years": 2, "spot.ifa.tightness": 0.6, "carers.sibling_skill": 0.8}
    levels = [[0.3, 0.3, 0.3, 0.1], [0.5, 0.5, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0]]
    reps = 12
    shares = np.zeros((len(levels), reps))
    for i, approvals in enumerate(levels):
        s = Scenario.default().replace({**base, "carers.approval_shares": approvals})
        for r in range(reps):
            m = replication_metrics(simulate(s, r).events, s, r)
            shares[i, r] = m[m.metric == "share_together_at_entry"].value.mean()
    for hi, lo in ((0, 1), (1, 2)):
        d = shares[hi] - shares[lo]
        assert d.mean() > 3 * d.std(ddof=1) / np.sqrt(reps), (shares.mean(axis=1), d)
