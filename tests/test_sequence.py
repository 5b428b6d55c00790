"""Exact event sequences on tiny hand-checked scenarios.

Each test builds a scenario with almost everything switched off, a hand-made
cohort (:meth:`Cohort.scripted`), works out in comments the full list of
``(day, event, child, option, reason)`` the market must log, and compares it
with the log, row for row and in order.

Conventions of :meth:`Cohort.scripted` used below: a child entering on day 0 is
part of the initial stock (reason ``stock``); omitted breakdown draws are +inf
(no breakdown), omitted search uniforms are 0 (a spot search succeeds unless
tightness is 1), omitted out-of-area uniforms are 1 (never out of area).
Children are given an age of 10 years (band 10-15) and need 0 (standard); with
one catch-all policy rule the age band does not matter.

How a search is logged (simulation/market.py ``search``/``_walk``): the child walks
its placement order from the top. A free in-house/block/kinship place is taken at
once. A spot search with ``search_days == 0`` reports inline, at once: its
``search`` event (found/failed) is logged, and no zero-length
``wait_start``/``wait_end`` pair is. A placement made without waiting has the
reason the search started (``entry`` or ``breakdown``); a failed inline search
lets the walk continue. The child only starts waiting (``wait_start``, with the
reason the search started, and queued for every in-house/block option of its
order) when a spot search takes time (``search_days > 0``) or the order runs out
(a retry is then scheduled after ``waiting.retry_days``, unless that falls at or
after the horizon). A waiting child's placement has reason ``search`` (a spot
search after a delay or a retry) or ``vacancy`` (a freed place from the queue),
after a ``wait_end`` with the same reason; a child leaving care while waiting
logs ``wait_end`` ``exit``.
"""

from __future__ import annotations

import math

import pytest

from models.scenario import Scenario
from results.metrics import replication_metrics
from simulation.cohort import Cohort
from simulation.engine import simulate

INF = math.inf
AGE = 10 * 365.0  # band 10-15
IH, SPOT, BLOCK = "inhouse_fostering", "ifa_spot", "ifa_block"
SUP, RESI_SPOT = "supported_inhouse", "residential_spot"


def tiny(changes: dict | None = None, order=(IH, SPOT)) -> Scenario:
    """One in-house foster place, an IFA spot market whose searches take no time, nothing else."""
    base = {
        "entries.enabled": False,
        "entries.initial_children": 0,
        "run.warmup_years": 0,
        "run.years": 1,  # horizon: engine day 365
        "kinship.enabled": False,
        "carers.enabled": False,  # plain in-house places (households have their own tests)
        "ifa_carers.enabled": False, "parent_child.enabled": False,
        "siblings.enabled": False, "reviews.enabled": False, "escalation.enabled": False, "staying_put.enabled": False,
        "move_on.enabled": False,
        "breakdowns.early_multiplier": 1.0,
        "inhouse.fostering.places": 1,
        "inhouse.fostering.usable_share": 1.0,
        "inhouse.residential.places": 0,
        "inhouse.supported.places": 0,
        "spot.ifa.search_days": 0.0,
        "spot.ifa.tightness": 0.0,
        "waiting.retry_days": 365.0,  # a retry would fall at or after the horizon: never scheduled
        "policy.rules": [{"order": list(order)}],
    }
    base.update(changes or {})
    return Scenario.default().replace(base)


def run(scenario: Scenario, entry_day, exit_day, **draws):
    cohort = Cohort.scripted(entry_day=entry_day, age_days=[AGE] * len(entry_day), exit_day=exit_day, **draws)
    return simulate(scenario, 0, cohort=cohort)


def events(rep) -> list[tuple]:
    ev = rep.events
    return [(round(float(d), 9), str(e), int(c), str(o), str(r))
            for d, e, c, o, r in zip(ev.day, ev.event, ev.child, ev.option, ev.reason)]


def values(rep, event: str) -> list[float]:
    ev = rep.events
    return [float(v) for v in ev.value[ev.event == event]]


# --------------------------------------------------------------------------- (a)


def test_a_second_child_goes_to_spot_and_keeps_it_when_the_place_frees():
    """Two children, one in-house place; IFA spot searches take 2 days, so child 1 really waits
    (and is queued for the in-house place) while its search runs.

    Child 0 (stock, day 0) takes the in-house place; it leaves care on day 100 (route 1: adoption).
    Child 1 enters on day 10: the in-house place is taken; the IFA spot search takes 2 days, so it
    starts waiting (wait_start 'entry') and is queued for the in-house place, the only in-house
    option in its order. Day 12: the search reports (u = 0 < 1 - 0.2: found): wait_end 'search',
    place at spot IFA 'search'; its out-of-area uniform 0.1 < out_of_area 0.4, so that placement
    is out of area (value 1).
    Child 1 is still in the in-house queue from its wait, but it is placed (its wait is over), so
    when child 0 leaves the freed place is NOT given to it: day 100 shows only child 0's end and exit.
    Child 2 enters on day 150 and finds the in-house place free (it was returned, not consumed).
    """
    s = tiny({"spot.ifa.tightness": 0.2, "spot.ifa.out_of_area": 0.4, "spot.ifa.search_days": 2.0})
    rep = run(s, entry_day=[0, 10, 150], exit_day=[100, INF, INF], exit_route=[1, 0, 0],
              ooa_u=[[1.0], [0.1], [1.0]])
    assert events(rep) == [
        (0, "enter", 0, "", "stock"),
        (0, "place", 0, IH, "entry"),
        (10, "enter", 1, "", "entry"),
        (10, "wait_start", 1, "", "entry"),
        (12, "search", 1, SPOT, "found"),
        (12, "wait_end", 1, "", "search"),
        (12, "place", 1, SPOT, "search"),
        (100, "end", 0, IH, "exit"),
        (100, "exit", 0, "", "adoption"),
        (150, "enter", 2, "", "entry"),
        (150, "place", 2, IH, "entry"),
    ]
    assert values(rep, "place") == [0.0, 1.0, 0.0]  # out of area flags
    assert values(rep, "enter") == [AGE] * 3


def test_a_spot_search_without_delay_places_at_once_without_a_wait():
    """search_days 0: the search reports inline on the entry day, with no wait at all.

    day 0   child 0 (stock) takes the in-house place; it leaves on day 100.
    day 10  child 1 enters; in-house is full; the IFA spot search reports at once (u = 0 < 1 - 0.2:
            found) and child 1 is placed at spot IFA with the reason its search started, 'entry'.
            It never waited, so it was never queued for the in-house place.
    day 100 child 0 leaves: the freed in-house place has nobody to go to.
    day 150 child 2 enters and takes the free in-house place.
    No wait_start/wait_end anywhere, so no waiting days.
    """
    s = tiny({"spot.ifa.tightness": 0.2})
    rep = run(s, entry_day=[0, 10, 150], exit_day=[100, INF, INF])
    assert events(rep) == [
        (0, "enter", 0, "", "stock"),
        (0, "place", 0, IH, "entry"),
        (10, "enter", 1, "", "entry"),
        (10, "search", 1, SPOT, "found"),
        (10, "place", 1, SPOT, "entry"),
        (100, "end", 0, IH, "exit"),
        (100, "exit", 0, "", "return_home"),
        (150, "enter", 2, "", "entry"),
        (150, "place", 2, IH, "entry"),
    ]
    m = replication_metrics(rep.events, s).set_index(["metric", "pool"]).value
    assert m["children_waited", "all"] == 0


def test_a_failed_inline_search_continues_down_the_order():
    """Order (IFA spot, in-house): the IFA spot search (search_days 0, tightness 1) fails inline and
    the walk goes on to the free in-house place, taken with reason 'entry' and no wait."""
    s = tiny({"spot.ifa.tightness": 1.0}, order=(SPOT, IH))
    rep = run(s, entry_day=[5], exit_day=[INF])
    assert events(rep) == [
        (5, "enter", 0, "", "entry"),
        (5, "search", 0, SPOT, "failed"),
        (5, "place", 0, IH, "entry"),
    ]


def test_a_failed_inline_search_then_a_delayed_search_starts_the_wait():
    """Order (in-house, IFA spot, residential spot); in-house held by child 0.

    day 10  child 1 enters; in-house full; IFA spot (search_days 0, tightness 1): its first search
            uniform 0 fails inline ('search failed', no wait); residential spot takes 3 days, so
            only now does child 1 start waiting (wait_start 'entry', queued for in-house).
    day 13  the residential search reports: second search uniform 0 < 1 - 0: found; wait_end
            'search', place at residential spot 'search'.
    """
    s = tiny({"spot.ifa.tightness": 1.0, "spot.residential.search_days": 3.0, "spot.residential.tightness": 0.0},
             order=(IH, SPOT, RESI_SPOT))
    rep = run(s, entry_day=[0, 10], exit_day=[INF, INF])
    assert events(rep) == [
        (0, "enter", 0, "", "stock"),
        (0, "place", 0, IH, "entry"),
        (10, "enter", 1, "", "entry"),
        (10, "search", 1, SPOT, "failed"),
        (10, "wait_start", 1, "", "entry"),
        (13, "search", 1, RESI_SPOT, "found"),
        (13, "wait_end", 1, "", "search"),
        (13, "place", 1, RESI_SPOT, "search"),
    ]


def test_a_spot_search_takes_search_days():
    """A spot search with search_days 2 makes the child wait: wait_start on entry (day 10), the
    search reports on day 12 (found), wait_end 'search' and place 'search': a 2-day wait."""
    s = tiny({"spot.ifa.search_days": 2.0})
    rep = run(s, entry_day=[0, 10], exit_day=[INF, INF])
    assert events(rep) == [
        (0, "enter", 0, "", "stock"),
        (0, "place", 0, IH, "entry"),
        (10, "enter", 1, "", "entry"),
        (10, "wait_start", 1, "", "entry"),
        (12, "search", 1, SPOT, "found"),
        (12, "wait_end", 1, "", "search"),
        (12, "place", 1, SPOT, "search"),
    ]


# --------------------------------------------------------------------------- (b)


def test_b_child_waits_on_a_tight_market_and_takes_the_freed_place():
    """Spot tightness 1: every search fails (u < 1 - 1 = 0 is impossible). Retries every 4 days.

    day 0   child 0 (stock) takes the in-house place; it will leave on day 10.
    day 1   child 1 enters, in-house full; the spot search (search_days 0) reports at once: failed;
            the order is exhausted, so only now does it start waiting (wait_start 'entry', queued
            for the in-house place), and a retry is scheduled for day 1 + 4 = 5.
    day 5   retry: in-house still full, search failed (already waiting: no new wait_start);
            next retry day 9.
    day 9   retry: search failed; next retry day 13.
    day 10  child 0 leaves: its placement ends, the freed place is offered to the queue, child 1
            takes it (wait_end 'vacancy', place 'vacancy'), then child 0's exit is logged.
    day 13  the retry finds child 1 placed and does nothing.
    Waiting spell: day 1 to day 10, 9 days.
    """
    s = tiny({"spot.ifa.tightness": 1.0, "waiting.retry_days": 4.0})
    rep = run(s, entry_day=[0, 1], exit_day=[10, INF])
    assert events(rep) == [
        (0, "enter", 0, "", "stock"),
        (0, "place", 0, IH, "entry"),
        (1, "enter", 1, "", "entry"),
        (1, "search", 1, SPOT, "failed"),
        (1, "wait_start", 1, "", "entry"),
        (5, "search", 1, SPOT, "failed"),
        (9, "search", 1, SPOT, "failed"),
        (10, "end", 0, IH, "exit"),
        (10, "wait_end", 1, "", "vacancy"),
        (10, "place", 1, IH, "vacancy"),
        (10, "exit", 0, "", "return_home"),
    ]
    m = replication_metrics(rep.events, s).set_index(["metric", "pool"]).value
    assert m["waiting_days", "all"] == pytest.approx(9.0)
    assert m["children_waited", "all"] == 1
    assert m["spend_emergency", "waiting"] == pytest.approx(9.0 * s.waiting.weekly_cost / 7.0)


def test_b_retry_finds_a_spot_place_after_waiting():
    """Tightness 0.5, retries every 4 days; child 1's search uniforms are 0.9, then 0.1.

    day 3   child 1 enters, in-house full; search 1: 0.9 >= 1 - 0.5: failed (inline); the order is
            exhausted: wait_start 'entry', retry on day 7.
    day 7   retry: search 2: 0.1 < 0.5: found; the child was waiting, so wait_end 'search' and
            place 'search'.
    """
    s = tiny({"spot.ifa.tightness": 0.5, "waiting.retry_days": 4.0})
    rep = run(s, entry_day=[0, 3], exit_day=[INF, INF], search_u=[[], [0.9, 0.1]])
    assert events(rep) == [
        (0, "enter", 0, "", "stock"),
        (0, "place", 0, IH, "entry"),
        (3, "enter", 1, "", "entry"),
        (3, "search", 1, SPOT, "failed"),
        (3, "wait_start", 1, "", "entry"),
        (7, "search", 1, SPOT, "found"),
        (7, "wait_end", 1, "", "search"),
        (7, "place", 1, SPOT, "search"),
    ]


def test_b_longest_waiting_child_gets_the_freed_place_first():
    """FIFO: children 1 (day 2) and 2 (day 3) both fail their inline spot search and wait (queued
    for the in-house place in that order; retries would fall past the horizon); the place freed on
    day 20 goes to child 1, the place freed when child 1 itself leaves (day 30) goes to child 2."""
    s = tiny({"spot.ifa.tightness": 1.0})
    rep = run(s, entry_day=[0, 2, 3], exit_day=[20, 30, INF])
    assert events(rep) == [
        (0, "enter", 0, "", "stock"),
        (0, "place", 0, IH, "entry"),
        (2, "enter", 1, "", "entry"),
        (2, "search", 1, SPOT, "failed"),
        (2, "wait_start", 1, "", "entry"),
        (3, "enter", 2, "", "entry"),
        (3, "search", 2, SPOT, "failed"),
        (3, "wait_start", 2, "", "entry"),
        (20, "end", 0, IH, "exit"),
        (20, "wait_end", 1, "", "vacancy"),
        (20, "place", 1, IH, "vacancy"),
        (20, "exit", 0, "", "return_home"),
        (30, "end", 1, IH, "exit"),
        (30, "wait_end", 2, "", "vacancy"),
        (30, "place", 2, IH, "vacancy"),
        (30, "exit", 1, "", "return_home"),
    ]


def test_b_child_leaving_care_while_waiting():
    """A waiting child who leaves care ends its wait with reason 'exit' and never takes a place.

    day 5   child 1 enters: in-house full, inline spot search failed, wait_start 'entry'.
    day 40  child 1 leaves while waiting: wait_end 'exit', exit.
    day 50  child 0 leaves: the freed place is offered to the queue, but child 1's entry there is
            stale (it no longer waits): nobody is placed.
    """
    s = tiny({"spot.ifa.tightness": 1.0})
    rep = run(s, entry_day=[0, 5], exit_day=[50, 40])
    assert events(rep) == [
        (0, "enter", 0, "", "stock"),
        (0, "place", 0, IH, "entry"),
        (5, "enter", 1, "", "entry"),
        (5, "search", 1, SPOT, "failed"),
        (5, "wait_start", 1, "", "entry"),
        (40, "wait_end", 1, "", "exit"),
        (40, "exit", 1, "", "return_home"),
        (50, "end", 0, IH, "exit"),
        (50, "exit", 0, "", "return_home"),
    ]


def test_b_retry_after_an_age_band_change_queues_for_the_new_order():
    """A child crossing into the 16-17 band while waiting is queued for the in-house/block options
    of its new order at the next retry.

    Rules: 16-17: (supported in-house, in-house fostering, IFA spot); everyone else: (in-house
    fostering, IFA spot). One supported place, one in-house foster place; tightness 1 (every spot
    search fails); retries every 4 days.
    day 0   child 0 (stock, 17) takes the supported place (leaves day 20); child 1 (stock, 10)
            takes the in-house foster place.
    day 1   child 2 enters aged 16 years less 3 days (band 10-15): in-house full, spot failed,
            wait_start 'entry', queued for in-house fostering only; retry day 5.
    day 5   retry: aged 16 years + 1 day: band 16-17, a new order; child 2 is additionally queued
            for supported in-house. Walk: supported full, in-house full, spot failed; retry day 9.
    day 9, 13, 17: retries, spot failed (next retry day 21).
    day 20  child 0 leaves: the freed supported place goes to child 2 from the queue (wait_end
            'vacancy', place 'vacancy'), before child 0's exit. (Without the extra queueing it
            would only get it at the day-21 retry, with reason 'search'.)
    """
    s = tiny({
        "spot.ifa.tightness": 1.0,
        "waiting.retry_days": 4.0,
        "inhouse.supported.places": 1,
        "inhouse.supported.usable_share": 1.0,
        "policy.rules": [{"ages": ["16-17"], "order": [SUP, IH, SPOT]}, {"order": [IH, SPOT]}],
    })
    cohort = Cohort.scripted(entry_day=[0, 0, 1], age_days=[17 * 365.0, AGE, 16 * 365.0 - 3],
                             exit_day=[20, INF, INF])
    rep = simulate(s, 0, cohort=cohort)
    assert events(rep) == [
        (0, "enter", 0, "", "stock"),
        (0, "place", 0, SUP, "entry"),
        (0, "enter", 1, "", "stock"),
        (0, "place", 1, IH, "entry"),
        (1, "enter", 2, "", "entry"),
        (1, "search", 2, SPOT, "failed"),
        (1, "wait_start", 2, "", "entry"),
        (5, "search", 2, SPOT, "failed"),
        (9, "search", 2, SPOT, "failed"),
        (13, "search", 2, SPOT, "failed"),
        (17, "search", 2, SPOT, "failed"),
        (20, "end", 0, SUP, "exit"),
        (20, "wait_end", 2, "", "vacancy"),
        (20, "place", 2, SUP, "vacancy"),
        (20, "exit", 0, "", "return_home"),
    ]


# --------------------------------------------------------------------------- (c)

# In-house hazard 3.65 a year = 0.01 a day for every need; early_multiplier 1: constant hazard,
# so a placement with unit exponential E breaks down E / 0.01 = 100 E days after it starts.
_HAZ = {"breakdowns.inhouse_fostering": [3.65] * 4, "breakdowns.ifa": [0.0] * 4}


def test_c_breakdown_sends_the_child_back_to_the_search():
    """day 0   child 0 (stock) in-house; its E = 0.5 -> breakdown on day 0.5 / 0.01 = 50.
    day 10  child 1 enters: in-house full, spot search failed at once (tightness 1), the order is
            exhausted: wait_start 'entry', queued for in-house (no retry before the horizon).
    day 50  child 0's placement breaks down: end 'breakdown'; the freed place is offered to the
            queue first, so child 1 takes it ('vacancy'); then child 0 searches again: in-house is
            full, spot search failed, so it waits: wait_start 'breakdown'.
    Child 1's draw is +inf (no breakdown)."""
    s = tiny({"spot.ifa.tightness": 1.0, **_HAZ})
    rep = run(s, entry_day=[0, 10], exit_day=[INF, INF], breakdown_e=[[0.5], [INF]])
    assert events(rep) == [
        (0, "enter", 0, "", "stock"),
        (0, "place", 0, IH, "entry"),
        (10, "enter", 1, "", "entry"),
        (10, "search", 1, SPOT, "failed"),
        (10, "wait_start", 1, "", "entry"),
        (50, "end", 0, IH, "breakdown"),
        (50, "wait_end", 1, "", "vacancy"),
        (50, "place", 1, IH, "vacancy"),
        (50, "search", 0, SPOT, "failed"),
        (50, "wait_start", 0, "", "breakdown"),
    ]


def test_c_successive_breakdowns_use_successive_draws():
    """One child, one in-house place. Draws E = 0.5, 1.2, then 2.0 (early_days 120 with multiplier
    1 changes nothing). Placement k starts at t_k and breaks down at t_k + 100 E_k:
    0 -> 50 (in-house), 50 -> 170 (in-house again: the place it just left is free), then at 170
    it is placed again and E = 2.0 gives 370, past the horizon (365): no third breakdown.
    After a breakdown the search finds the free in-house place directly: no wait."""
    s = tiny(_HAZ)
    rep = run(s, entry_day=[0], exit_day=[INF], breakdown_e=[[0.5, 1.2, 2.0]])
    assert events(rep) == [
        (0, "enter", 0, "", "stock"),
        (0, "place", 0, IH, "entry"),
        (50, "end", 0, IH, "breakdown"),
        (50, "place", 0, IH, "breakdown"),
        (170, "end", 0, IH, "breakdown"),
        (170, "place", 0, IH, "breakdown"),
    ]


def test_c_breakdown_of_a_spot_placement_does_not_touch_inhouse_places():
    """Child 0 holds the in-house place; child 1 finds spot IFA at once on day 10 (search_days 0:
    no wait, reason 'entry'). At spot (hazard 7.3/yr = 0.02/day) its E = 1 -> breaks down 50 days
    later, on day 60: the in-house place stays with child 0 (no place is freed or offered); the
    new search finds spot IFA again at once, placed with reason 'breakdown' (its second
    breakdown draw is +inf)."""
    s = tiny({"breakdowns.inhouse_fostering": [0.0] * 4, "breakdowns.ifa": [7.3] * 4})
    rep = run(s, entry_day=[0, 10], exit_day=[INF, INF], breakdown_e=[[], [1.0]])
    assert events(rep) == [
        (0, "enter", 0, "", "stock"),
        (0, "place", 0, IH, "entry"),
        (10, "enter", 1, "", "entry"),
        (10, "search", 1, SPOT, "found"),
        (10, "place", 1, SPOT, "entry"),
        (60, "end", 1, SPOT, "breakdown"),
        (60, "search", 1, SPOT, "found"),
        (60, "place", 1, SPOT, "breakdown"),
    ]


def test_c_breakdown_of_a_spot_placement_with_a_delayed_search_waits():
    """As above with search_days 3, so every spot search makes the child wait.

    day 10  child 1 enters: in-house full; the spot search takes 3 days: wait_start 'entry'.
    day 13  found: wait_end 'search', place at spot 'search'; E = 1 -> breakdown 50 days on, day 63.
    day 63  end 'breakdown' (the in-house place stays with child 0: nothing freed or offered); the
            new search takes 3 days: wait_start 'breakdown'.
    day 66  found: wait_end 'search', place 'search' (second breakdown draw +inf).
    """
    s = tiny({"breakdowns.inhouse_fostering": [0.0] * 4, "breakdowns.ifa": [7.3] * 4, "spot.ifa.search_days": 3.0})
    rep = run(s, entry_day=[0, 10], exit_day=[INF, INF], breakdown_e=[[], [1.0]])
    assert events(rep) == [
        (0, "enter", 0, "", "stock"),
        (0, "place", 0, IH, "entry"),
        (10, "enter", 1, "", "entry"),
        (10, "wait_start", 1, "", "entry"),
        (13, "search", 1, SPOT, "found"),
        (13, "wait_end", 1, "", "search"),
        (13, "place", 1, SPOT, "search"),
        (63, "end", 1, SPOT, "breakdown"),
        (63, "wait_start", 1, "", "breakdown"),
        (66, "search", 1, SPOT, "found"),
        (66, "wait_end", 1, "", "search"),
        (66, "place", 1, SPOT, "search"),
    ]


def test_c_breakdown_after_leaving_care_is_ignored():
    """E = 0.5 would break the placement down on day 50, but the child leaves on day 30."""
    s = tiny(_HAZ)
    rep = run(s, entry_day=[0], exit_day=[30], breakdown_e=[[0.5]])
    assert events(rep) == [
        (0, "enter", 0, "", "stock"),
        (0, "place", 0, IH, "entry"),
        (30, "end", 0, IH, "exit"),
        (30, "exit", 0, "", "return_home"),
    ]


# --------------------------------------------------------------------------- (d)


def test_d_block_contract_opening_after_the_start_places_a_waiting_child():
    """IFA block of 1 place from 2019-05-01 (engine day 30) to 2019-06-30 (day 90); run starts
    2019-04-01. Policy: block, then spot; the spot market always fails (search_days 0: inline).

    day 5   child 0 enters; block not open yet (skipped); spot search failed; the order is
            exhausted: wait_start 'entry', queued for the block (no retry before the horizon).
    day 30  contract_open (value: 1 place); child 0, queued for the block, takes it ('vacancy').
    day 40  child 1 enters; block full; search failed; wait_start 'entry', queued for the block.
    day 60  child 0 leaves: block place freed and given to child 1; then child 0's exit.
    day 90  contract_close: the block stops taking children.
    day 100 child 2 enters: block closed, search failed, wait_start 'entry'.
    day 120 child 1 leaves: a block place is freed, but the contract is closed: child 2 keeps waiting.
    """
    s = tiny({
        "spot.ifa.tightness": 1.0,
        "contracts.ifa.places": 1,
        "contracts.ifa.start": "2019-05-01",
        "contracts.ifa.end": "2019-06-30",
    }, order=(BLOCK, SPOT))
    assert s.run.start_date.isoformat() == "2019-04-01"
    rep = run(s, entry_day=[5, 40, 100], exit_day=[60, 120, INF])
    assert events(rep) == [
        (5, "enter", 0, "", "entry"),
        (5, "search", 0, SPOT, "failed"),
        (5, "wait_start", 0, "", "entry"),
        (30, "contract_open", -1, BLOCK, "ifa"),
        (30, "wait_end", 0, "", "vacancy"),
        (30, "place", 0, BLOCK, "vacancy"),
        (40, "enter", 1, "", "entry"),
        (40, "search", 1, SPOT, "failed"),
        (40, "wait_start", 1, "", "entry"),
        (60, "end", 0, BLOCK, "exit"),
        (60, "wait_end", 1, "", "vacancy"),
        (60, "place", 1, BLOCK, "vacancy"),
        (60, "exit", 0, "", "return_home"),
        (90, "contract_close", -1, BLOCK, "ifa"),
        (100, "enter", 2, "", "entry"),
        (100, "search", 2, SPOT, "failed"),
        (100, "wait_start", 2, "", "entry"),
        (120, "end", 1, BLOCK, "exit"),
        (120, "exit", 1, "", "return_home"),
    ]
    assert values(rep, "contract_open") == [1.0]


def test_d_block_only_takes_its_needs():
    """A block (2 places, open from day 10) for 'complex' needs only.

    day 20  a standard-need child skips the block and goes to spot: search found at once, placed
            'entry' (no wait).
    day 25  a complex-need child takes a block place at entry.
    """
    s = tiny({"contracts.ifa.places": 2, "contracts.ifa.start": "2019-04-11", "contracts.ifa.needs": ["complex"]},
             order=(BLOCK, SPOT))
    rep = run(s, entry_day=[20, 25], exit_day=[INF, INF], need=[0, 3])
    assert events(rep) == [
        (10, "contract_open", -1, BLOCK, "ifa"),
        (20, "enter", 0, "", "entry"),
        (20, "search", 0, SPOT, "found"),
        (20, "place", 0, SPOT, "entry"),
        (25, "enter", 1, "", "entry"),
        (25, "place", 1, BLOCK, "entry"),
    ]


def test_d_waiting_child_is_not_queued_for_a_block_that_does_not_take_its_needs():
    """The block (1 place, 'complex' only) is full of child 0 until day 50; spot searches take
    5 days and always fail, retries would fall past the horizon.

    day 10  child 1 (standard) enters: block does not take it; spot search takes 5 days:
            wait_start 'entry' - queued for nothing (the block does not accept its need).
    day 15  search failed; order exhausted: keeps waiting.
    day 20  child 2 (complex) enters: block full; wait_start 'entry', queued for the block.
    day 25  child 2's search failed.
    day 50  child 0 leaves: the freed block place goes to child 2 (the only one queued), although
            child 1 has waited longer.
    """
    s = tiny({"contracts.ifa.places": 1, "contracts.ifa.needs": ["complex"], "spot.ifa.tightness": 1.0,
              "spot.ifa.search_days": 5.0}, order=(BLOCK, SPOT))
    rep = run(s, entry_day=[0, 10, 20], exit_day=[50, INF, INF], need=[3, 0, 3])
    assert events(rep) == [
        (0, "contract_open", -1, BLOCK, "ifa"),
        (0, "enter", 0, "", "stock"),
        (0, "place", 0, BLOCK, "entry"),
        (10, "enter", 1, "", "entry"),
        (10, "wait_start", 1, "", "entry"),
        (15, "search", 1, SPOT, "failed"),
        (20, "enter", 2, "", "entry"),
        (20, "wait_start", 2, "", "entry"),
        (25, "search", 2, SPOT, "failed"),
        (50, "end", 0, BLOCK, "exit"),
        (50, "wait_end", 2, "", "vacancy"),
        (50, "place", 2, BLOCK, "vacancy"),
        (50, "exit", 0, "", "return_home"),
    ]


@pytest.mark.parametrize("start, day", [("2019-04-01", 0), ("2019-05-01", 30)], ids=["run-start", "later"])
def test_d_child_entering_on_the_opening_day_is_placed_at_entry(start, day):
    """The contract processes start before the arrivals process, so on the opening day the
    contract opens first (contract_open), then the child enters and takes the block place at once
    (reason 'entry', no wait): at the run start (a day-0 stock child) and on a later opening day."""
    s = tiny({"spot.ifa.tightness": 1.0, "contracts.ifa.places": 1, "contracts.ifa.start": start},
             order=(BLOCK, SPOT))
    rep = run(s, entry_day=[day], exit_day=[INF])
    assert events(rep) == [
        (day, "contract_open", -1, BLOCK, "ifa"),
        (day, "enter", 0, "", "stock" if day == 0 else "entry"),
        (day, "place", 0, BLOCK, "entry"),
    ]


def test_scripted_cohort_needs_entry_days_in_increasing_order():
    """Children are numbered by entry: a scripted cohort whose entry days go back is refused;
    equal entry days are fine."""
    with pytest.raises(ValueError, match="increasing order"):
        Cohort.scripted(entry_day=[0, 10, 5], age_days=[AGE] * 3, exit_day=[INF] * 3)
    cohort = Cohort.scripted(entry_day=[0, 0, 7, 7], age_days=[AGE] * 4, exit_day=[INF] * 4)
    assert cohort.entry_day.tolist() == [0.0, 0.0, 7.0, 7.0]
    assert cohort.stock.tolist() == [True, True, False, False]


# --------------------------------------------------------------------------- (e)


def _cumulative_hazard(t: float, rate: float, multiplier: float, early_days: float) -> float:
    return multiplier * rate * min(t, early_days) + rate * max(t - early_days, 0.0)


@pytest.mark.parametrize("multiplier, early_days, draws, breakdown_days", [
    # rate 0.01/day, x4 = 0.04/day for the first 100 days (cumulative 4.0 at day 100):
    #   E=2: 2 / 0.04 = 50                  -> day 50
    #   E=6: 100 + (6 - 4) / 0.01 = 300     -> day 50 + 300 = 350
    #   E=4: exactly the early cumulative: 100 + 0 = 100 -> day 450
    #   E=1: 1 / 0.04 = 25                  -> day 475
    (4.0, 100.0, [2.0, 6.0, 4.0, 1.0], [50.0, 350.0, 450.0, 475.0]),
    # multiplier 0: no breakdowns in the first 60 days, then 0.01/day: E=0.5 -> 60 + 50 = 110
    #   E=0.1 -> 60 + 10 = 70 -> day 180; E=3 -> 60 + 300 = 360 -> day 540
    (0.0, 60.0, [0.5, 0.1, 3.0], [110.0, 180.0, 540.0]),
    # multiplier 0.5 for 200 days (0.005/day, cumulative 1.0): E=0.25 -> 50; E=1.5 -> 200 + 50 = 250 -> 300
    (0.5, 200.0, [0.25, 1.5], [50.0, 300.0]),
    # multiplier 1 with early_days 120: the two phases join up: E=2 -> 120 + (2 - 1.2)/0.01 = 200
    (1.0, 120.0, [2.0], [200.0]),
    # early_days 0: constant hazard from the start: E=0.3 -> 30
    (10.0, 0.0, [0.3], [30.0]),
])
def test_e_two_phase_breakdown_hazard_is_inverted(multiplier, early_days, draws, breakdown_days):
    s = tiny({**_HAZ, "run.years": 2, "breakdowns.early_multiplier": multiplier,
              "breakdowns.early_days": early_days})  # horizon 730
    rep = run(s, entry_day=[0], exit_day=[INF], breakdown_e=[draws])
    expected = [(0, "enter", 0, "", "stock"), (0, "place", 0, IH, "entry")]
    for d in breakdown_days:
        expected += [(d, "end", 0, IH, "breakdown"), (d, "place", 0, IH, "breakdown")]
    assert events(rep) == expected
    # the hand-computed durations really solve H(t) = E
    starts = [0.0] + breakdown_days[:-1]
    for e, a, b in zip(draws, starts, breakdown_days):
        assert _cumulative_hazard(b - a, 0.01, multiplier, early_days) == pytest.approx(e)
