"""Sibling groups: hand-checked sequences, a property, and a statistical check against household sizes."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from models.scenario import Scenario
from results.metrics import replication_metrics
from simulation.cohort import Cohort
from simulation.engine import simulate
from tests import test_properties as props
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
        "ifa_carers.enabled": False, "parent_child.enabled": False,  # the IFA market as plain spot searches
    }
    base.update(changes)
    return Scenario.default().replace(base)


def log(s: Scenario) -> list[tuple]:
    return _events(s, Cohort.scripted(entry_day=[5, 5], age_days=[3000, 1500], exit_day=[INF, INF], group=[0, 0]))


def _events(s: Scenario, cohort: Cohort) -> list[tuple]:
    """The log as (day, event, child, option, reason, carer) tuples."""
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


@st.composite
def sibling_scenarios(draw) -> Scenario:
    """Random scenarios with later siblings and reuniting switched on, households and entries to use them."""
    s = draw(scenarios())
    return s.replace({"siblings.enabled": True, "siblings.reunite": True, "entries.enabled": True,
                      "siblings.later_share": draw(st.sampled_from([0.5, 1.0])),
                      "siblings.group_shares": [0.2, 0.4, 0.3, 0.1], "entries.rate_per_year": draw(st.floats(20.0, 60.0)),
                      "carers.enabled": True, "carers.households": draw(st.integers(2, 8)),
                      "carers.sibling_skill": draw(st.sampled_from([0.5, 1.0])), "carers.approval_shares": [0.0, 0.4, 0.4, 0.2],
                      "exits.enabled": True})


@FAST
@given(sibling_scenarios())
def test_later_siblings_and_reuniting_keep_every_invariant(s):
    """The invariants of tests/test_properties.py hold with later siblings and reuniting, and a reunited
    family ends up in the one household its reunite event names."""
    for test in (props.test_children_are_conserved, props.test_households_never_hold_more_than_their_approval,
                 props.test_each_child_follows_a_legal_sequence_of_states, props.test_money_adds_up):
        test.hypothesis.inner_test(s)
    ev = simulate(s, 0).events
    place = ev[ev.event == "place"]
    for day, carer, moved in zip(ev.day[ev.event == "reunite"], ev.carer[ev.event == "reunite"], ev.value[ev.event == "reunite"]):
        moves = place[(place.day == day) & (place.reason == "reunite")]
        assert len(moves) >= int(moved) and carer in set(moves.carer)
        assert (moves[moves.carer == carer].option.astype(str) == "inhouse_fostering").all()
    for child, first in zip(ev.child[ev.event == "sibling_enter"], ev.value[ev.event == "sibling_enter"].astype(int)):
        joined = place[(place.child == child) & (place.reason == "sibling")]
        if len(joined):  # placed with a sibling's household (or kin) at that instant
            same = place[(place.day <= joined.day.iloc[0]) & (place.carer == joined.carer.iloc[0])] if joined.carer.iloc[0] >= 0 else None
            assert same is None or len(same) >= 2


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


def _split_then_free(reunite: bool) -> list[tuple]:
    """Two households approved for 2 with the sibling skill, one placement each; IFA spot always has a
    place for one child but never for a group; groups split at once."""
    s = tiny({"carers.households": 2, "carers.approval_shares": [0.0, 1.0, 0.0, 0.0], "carers.sibling_skill": 1.0,
              "carers.complex_skill": 1.0, "carers.max_placements": 1, "siblings.together_wait_days": 0.0,
              "siblings.spot_success_per_extra_child": 0.0, "spot.ifa.tightness": 0.0, "siblings.reunite": reunite})
    cohort = Cohort.scripted(entry_day=[1, 2, 5, 5], age_days=[3000] * 4, exit_day=[30, INF, INF, INF], group=[0, 1, 2, 2])
    return _events(s, cohort)


def test_a_split_group_is_reunited_when_a_household_with_room_for_both_frees_up():
    """day 1   child 0 takes household 0, day 2 child 1 takes household 1 (one placement each)
    day 5   children 2 and 3 enter together: no household is free, the group's spot search fails
            (no success for a group), so they wait, and split at once (wait 0): each finds an IFA spot place
    day 30  child 0 leaves care: household 0 (2 places, sibling skill) is free, nobody waits, so the
            family living apart moves there: both IFA placements end 'reunite', both are placed with
            household 0, then the reunite event (family 2, 2 children moved); the place is offered as it
            frees, so all this comes between child 0's placement end and its exit."""
    head = [
        (0, "carer_join", -1, "siblings+complex", "initial", 0),
        (0, "carer_join", -1, "siblings+complex", "initial", 1),
        (1, "enter", 0, "", "entry", -1),
        (1, "place", 0, "inhouse_fostering", "entry", 0),
        (2, "enter", 1, "", "entry", -1),
        (2, "place", 1, "inhouse_fostering", "entry", 1),
        (5, "enter", 2, "", "entry", -1),
        (5, "enter", 3, "", "entry", -1),
        (5, "group", 2, "", "entry", -1),
        (5, "search", 2, "ifa_spot", "failed", -1),
        (5, "wait_start", 2, "", "entry", -1),
        (5, "wait_start", 3, "", "entry", -1),
        (5, "split", 2, "", "waited", -1),
        (5, "search", 2, "ifa_spot", "found", -1),
        (5, "wait_end", 2, "", "search", -1),
        (5, "place", 2, "ifa_spot", "search", -1),
        (5, "search", 3, "ifa_spot", "found", -1),
        (5, "wait_end", 3, "", "search", -1),
        (5, "place", 3, "ifa_spot", "search", -1),
        (30, "end", 0, "inhouse_fostering", "exit", 0),
        (30, "exit", 0, "", "return_home", -1),
    ]
    assert _split_then_free(False) == head
    assert _split_then_free(True) == head[:-1] + [
        (30, "end", 2, "ifa_spot", "reunite", -1),
        (30, "place", 2, "inhouse_fostering", "reunite", 0),
        (30, "end", 3, "ifa_spot", "reunite", -1),
        (30, "place", 3, "inhouse_fostering", "reunite", 0),
        (30, "reunite", 2, "inhouse_fostering", "household", 0),
    ] + head[-1:]


def test_a_later_sibling_joins_its_siblings_household_or_kinship_carer():
    """Household 0 is approved for 2 with the sibling skill and takes one placement. Child 0 enters on
    day 1 and is placed there; child 1, its sibling, enters on day 40 and joins it (reason 'sibling',
    same household, same placement: no second placement is needed). Child 2 enters on day 50 with no
    sibling and finds the household full (one placement): IFA spot. With kinship, child 0 lives with kin
    and child 1 joins the kinship carer."""
    s = tiny({"carers.households": 1, "carers.approval_shares": [0.0, 1.0, 0.0, 0.0], "carers.sibling_skill": 1.0,
              "carers.complex_skill": 1.0, "carers.max_placements": 1})
    cohort = Cohort.scripted(entry_day=[1, 40, 50], age_days=[3000] * 3, exit_day=[INF] * 3, sibling_of=[-1, 0, -1])
    assert _events(s, cohort) == [
        (0, "carer_join", -1, "siblings+complex", "initial", 0),
        (1, "enter", 0, "", "entry", -1),
        (1, "place", 0, "inhouse_fostering", "entry", 0),
        (40, "enter", 1, "", "entry", -1),
        (40, "sibling_enter", 1, "", "later", -1),
        (40, "place", 1, "inhouse_fostering", "sibling", 0),
        (50, "enter", 2, "", "entry", -1),
        (50, "search", 2, "ifa_spot", "found", -1),
        (50, "place", 2, "ifa_spot", "entry", -1),
    ]
    kin = s.replace({"kinship.enabled": True, "policy.rules": [{"order": ["kinship", "inhouse_fostering", "ifa_spot"]}]})
    cohort = Cohort.scripted(entry_day=[1, 40], age_days=[3000] * 2, exit_day=[INF] * 2, sibling_of=[-1, 0], kin=[True, False])
    assert _events(kin, cohort) == [
        (0, "carer_join", -1, "siblings+complex", "initial", 0),
        (1, "enter", 0, "", "entry", -1),
        (1, "place", 0, "kinship", "entry", -1),
        (40, "enter", 1, "", "entry", -1),
        (40, "sibling_enter", 1, "", "later", -1),
        (40, "place", 1, "kinship", "sibling", -1),
    ]
