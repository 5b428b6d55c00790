"""The starting stock's placement mix (``entries.initial_pool_shares``) and its calibration.

A calibrated scenario starts from the children in care at the last return. Their number and ages
were always set; these tests check that their mix across pools is too: the stock is placed by the
drawn pools where there is room (checked by hand on tiny scenarios and statistically on a large
stock), falls back to the policy where there is not, leaves every other draw and the default
scenario untouched, and is written into the fitted scenario from the observed stock.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from calibration.backtest import starting_from, stock_by_pool, stock_pool_shares
from calibration.estimate import estimate
from calibration.export import run_episodes
from calibration.fit import fit, render
from calibration.read903 import return_end
from models.catalogue import DAYS_PER_YEAR, OPTIONS, POOLS
from models.scenario import Scenario, ScenarioError
from simulation.cohort import Cohort, draw_cohort
from simulation.engine import horizon_days, simulate
from simulation.streams import Streams

KEY = "entries.initial_pool_shares"
AGE = 10 * 365.0  # band 10-15
RESI = POOLS.index("residential")
KIN = POOLS.index("kinship")


def _quiet(changes: dict) -> Scenario:
    """Only the initial stock, nobody leaves or moves, so day 0 shows where the stock was placed."""
    base = {
        "entries.enabled": False, "run.warmup_years": 0, "run.years": 1, "exits.enabled": False,
        "breakdowns.enabled": False, "reviews.enabled": False, "escalation.enabled": False, "staying_put.enabled": False,
        "move_on.enabled": False, "siblings.enabled": False, "carers.enabled": False, "waiting.retry_days": 365.0,
        "ifa_carers.enabled": False, "parent_child.enabled": False,
    }
    base.update(changes)
    return Scenario.default().replace(base)


def _day0(rep) -> dict[int, str]:
    """child -> option of its placement on day 0."""
    ev = rep.events
    placed = ev[(ev.event == "place") & (ev.day == 0.0)]
    return dict(zip(placed.child.tolist(), placed.option.astype(str).tolist()))


def _rows(rep) -> list[tuple]:
    ev = rep.events
    return [(float(d), str(e), int(c), str(o), str(r)) for d, e, c, o, r in
            zip(ev.day, ev.event.astype(str), ev.child, ev.option.astype(str), ev.reason.astype(str))]


# --------------------------------------------------------------------------- hand-checked


def test_stock_drawn_into_residential_goes_there_while_places_last():
    # 12 children of 10-15 with standard need: the cascade offers kin, in-house fostering and IFAs before
    # residential care, and 200 plain in-house foster places are free. With every share on residential and
    # 8 in-house residential beds (no spot residential), children 0-7 take the beds in entry order, and
    # children 8-11 find no residential room and fall back to the policy (kin or in-house fostering).
    s = _quiet({"entries.initial_children": 12, "entries.initial_age_shares": [0, 0, 0, 1, 0], "entries.need_shares": [1, 0, 0, 0],
                "inhouse.fostering.places": 200, "inhouse.fostering.usable_share": 1.0, "inhouse.residential.places": 8,
                "spot.residential.enabled": False, KEY: [0, 0, 0, 1, 0]})
    placed = _day0(simulate(s, 0))
    assert sorted(placed) == list(range(12))
    assert all(placed[c] == "residential_inhouse" for c in range(8))
    assert all(OPTIONS[placed[c]][0] in ("kinship", "inhouse_fostering") for c in range(8, 12))
    # without the key the policy alone places them, and nobody starts in residential care
    off = _day0(simulate(s.replace({KEY: None}), 0))
    assert sorted(off) == list(range(12)) and not any(o.startswith("residential") for o in off.values())


def test_drawn_pools_exact_sequence_with_fallback_and_kinship():
    # order: kinship, in-house fostering (1 place), in-house residential (1 bed); nobody has a kin draw.
    # child 0, drawn residential: takes the bed.
    # child 1, drawn residential: no bed left; falls back to the order: no kin, so the foster place.
    # child 2, drawn kinship: placed with kin although its own kin draw said no connected carer.
    # child 3, no drawn pool (as with the key off): no kin, both places gone: waits.
    s = _quiet({"entries.initial_children": 0, "inhouse.fostering.places": 1, "inhouse.fostering.usable_share": 1.0,
                "inhouse.residential.places": 1, "inhouse.supported.places": 0,
                "policy.rules": [{"order": ["kinship", "inhouse_fostering", "residential_inhouse"]}]})
    cohort = Cohort.scripted(entry_day=[0] * 4, age_days=[AGE] * 4, exit_day=[math.inf] * 4, stock_pool=[RESI, RESI, KIN, -1])
    assert _rows(simulate(s, 0, cohort=cohort)) == [
        (0.0, "enter", 0, "", "stock"), (0.0, "place", 0, "residential_inhouse", "entry"),
        (0.0, "enter", 1, "", "stock"), (0.0, "place", 1, "inhouse_fostering", "entry"),
        (0.0, "enter", 2, "", "stock"), (0.0, "place", 2, "kinship", "entry"),
        (0.0, "enter", 3, "", "stock"), (0.0, "wait_start", 3, "", "entry"),
    ]


def test_a_stock_sibling_group_follows_its_first_childs_pool():
    # two groups of two; 2 in-house foster places (carers off: plain places) and 2 residential beds.
    # group 0 (first child drawn kinship, no kin draws) is placed together with kin; group 2 (first child
    # drawn residential) takes both beds. Without drawn pools, group 0 takes the foster places and
    # group 2 the beds only because fostering is full.
    s = _quiet({"entries.initial_children": 0, "siblings.enabled": True, "inhouse.fostering.places": 2,
                "inhouse.fostering.usable_share": 1.0, "inhouse.residential.places": 2, "spot.ifa.enabled": False,
                "spot.residential.enabled": False,
                "policy.rules": [{"order": ["kinship", "inhouse_fostering", "residential_inhouse"]}]})

    def run(pools):
        cohort = Cohort.scripted(entry_day=[0] * 4, age_days=[AGE] * 4, exit_day=[math.inf] * 4, group=[0, 0, 2, 2], stock_pool=pools)
        ev = simulate(s, 0, cohort=cohort).events
        together = ev[ev.event == "group_placed"]
        return dict(zip(together.child.tolist(), together.option.astype(str).tolist()))

    assert run([KIN, -1, RESI, -1]) == {0: "kinship", 2: "residential_inhouse"}
    assert run([-1, -1, -1, -1]) == {0: "inhouse_fostering", 2: "residential_inhouse"}
    assert run([-1, -1, RESI, -1]) == {0: "inhouse_fostering", 2: "residential_inhouse"}
    assert run([RESI, -1, -1, -1]) == {0: "residential_inhouse", 2: "inhouse_fostering"}


# --------------------------------------------------------------------------- statistical


def test_day0_mix_of_a_large_stock_matches_the_shares():
    # 400 young people of 16-17, whose cascade order offers every pool, and room everywhere: the day-0 count
    # in each pool is binomial(400, share), so it must lie within 4 standard errors of 400 x share.
    shares = (0.10, 0.30, 0.25, 0.15, 0.20)
    n = 400
    s = _quiet({"entries.initial_children": n, "entries.initial_age_shares": [0, 0, 0, 0, 1],
                "inhouse.fostering.places": 1000, "inhouse.fostering.usable_share": 1.0, "inhouse.residential.places": 1000,
                "inhouse.supported.places": 1000, "spot.ifa.tightness": 0.0, "spot.ifa.search_days": 0.0, KEY: list(shares)})
    for seed in (1, 2):
        placed = _day0(simulate(s.replace({"run.seed": seed}), 0))
        assert len(placed) == n
        counts = {p: sum(OPTIONS[o][0] == p for o in placed.values()) for p in POOLS}
        for p, share in zip(POOLS, shares):
            assert abs(counts[p] - n * share) <= 4 * math.sqrt(n * share * (1 - share)), (seed, p, counts)
    # the policy alone puts this stock somewhere else entirely (kin, then 16+ accommodation)
    off = _day0(simulate(s.replace({KEY: None, "run.seed": 1}), 0))
    assert sum(OPTIONS[o][0] in ("kinship", "supported") for o in off.values()) == n


def test_drawn_pools_change_no_other_draw():
    # the pools come from their own stream: every other column of the cohort is the same with the key on or off
    s = Scenario.default()
    offset, horizon = horizon_days(s)
    off = draw_cohort(s, Streams(s.run.seed, 3), horizon, offset)
    on = draw_cohort(s.replace({KEY: [0.1, 0.4, 0.3, 0.1, 0.1]}), Streams(s.run.seed, 3), horizon, offset)
    for field in Cohort.__dataclass_fields__:
        if field != "stock_pool":
            np.testing.assert_array_equal(getattr(on, field), getattr(off, field), err_msg=field)
    n0 = s.entries.initial_children
    assert (off.stock_pool == -1).all()
    assert (on.stock_pool[:n0] >= 0).all() and (on.stock_pool[n0:] == -1).all()
    # a pool with no share is never drawn
    zero = draw_cohort(s.replace({KEY: [0.5, 0, 0.5, 0, 0]}), Streams(s.run.seed, 3), horizon, offset)
    assert set(zero.stock_pool[:n0].tolist()) == {0, 2}


def test_default_scenario_is_unchanged_with_the_key_off():
    default = Scenario.default()
    assert default.entries.initial_pool_shares is None and "initial_pool_shares" not in default.to_dict()["entries"]
    for off in (None, []):
        s = default.replace({KEY: off})
        assert s == default
        for r in (0, 1):
            a, b = simulate(default, r).events, simulate(s, r).events
            assert a.equals(b)
    # and setting it does change where the stock starts
    on = simulate(default.replace({KEY: [0, 0, 0, 1, 0]}), 0).events
    assert not on.equals(simulate(default, 0).events)


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize("value, named, problem", [
    ([0.2, 0.2, 0.2, 0.2, 0.1], KEY, "add up to 1"),
    ([0.5, 0.5], KEY, "expected 5 values"),
    ([0.2, 0.2, 0.2, 0.2, 0.2, 0.0], KEY, "expected 5 values"),
    ([-0.1, 0.5, 0.6, 0.0, 0.0], f"{KEY}[0]", "at least 0"),
    ([0.0, 1.5, 0.0, 0.0, 0.0], f"{KEY}[1]", "at most 1"),
    ("residential", KEY, "expected a list of number"),
])
def test_bad_pool_shares_are_named(value, named, problem):
    with pytest.raises(ScenarioError) as info:
        Scenario.default().replace({KEY: value})
    assert info.value.key == named and str(info.value).startswith(f"{named}: ") and problem in str(info.value)


def test_bad_pool_shares_from_a_file_are_named():
    with pytest.raises(ScenarioError) as info:
        Scenario.from_toml("[entries]\ninitial_pool_shares = [0.3, 0.3, 0.3, 0.3, 0.3]\n")
    assert info.value.key == KEY
    s = Scenario.from_toml("[entries]\ninitial_pool_shares = [0.1, 0.2, 0.3, 0.2, 0.2]\n")
    assert s.entries.initial_pool_shares == (0.1, 0.2, 0.3, 0.2, 0.2)
    assert Scenario.from_toml(s.to_toml()) == s
    assert Scenario.from_toml("[entries]\ninitial_pool_shares = []\n").entries.initial_pool_shares is None


# --------------------------------------------------------------------------- calibration


def test_stock_pool_shares_leave_other_out_and_renormalise():
    stock = {"kinship": 1, "inhouse_fostering": 2, "ifa": 1, "residential": 0, "supported": 0, "other": 6, "all": 10}
    assert stock_pool_shares(stock) == (0.25, 0.5, 0.25, 0.0, 0.0)
    thirds = stock_pool_shares({"kinship": 1, "inhouse_fostering": 1, "ifa": 1, "residential": 0, "supported": 0})
    assert sum(thirds) == 1.0 and thirds[:3] == (0.3334, 0.3333, 0.3333)
    assert stock_pool_shares({"other": 5, "all": 5}) is None


@pytest.fixture(scope="module")
def observed():
    s = Scenario.default().replace({"run.seed": 11, "run.years": 4})
    rep = simulate(s, 0)
    return run_episodes(rep.events, s.run.start_date, s.run.years * DAYS_PER_YEAR, 11, 0)


def test_fitted_scenario_starts_in_the_observed_mix(observed):
    est = estimate(observed)
    s, notes = fit(est, Scenario.default(), observed, refine_replications=0)
    counts = np.array([est.stock[p] for p in POOLS], dtype=float)
    assert s.entries.initial_pool_shares == pytest.approx(tuple(counts / counts.sum()), abs=1e-4)
    assert sum(s.entries.initial_pool_shares) == pytest.approx(1.0, abs=1e-9)
    text = render(s, notes, "the default scenario")
    lines = text.splitlines()
    i = next(k for k, line in enumerate(lines) if line.startswith("initial_pool_shares = "))
    assert lines[i - 1].startswith("#   estimated (SSDA903 ") and "95% interval" in lines[i - 1] and "left out" in lines[i - 1]
    assert Scenario.from_toml(text) == s
    # the stock on the last return day, by pool, is the same count the estimate reports
    assert stock_by_pool(observed, observed.last_day) == {p: est.stock[p] for p in POOLS + ("other",)}


def test_backtest_starts_a_mixed_scenario_in_the_early_stocks_mix(observed):
    first = observed.years[0]
    on = Scenario.default().replace({KEY: [0.2] * 5})
    start = starting_from(on, observed, first, observed.years[-1])
    assert start.entries.initial_pool_shares == stock_pool_shares(stock_by_pool(observed, return_end(first)))
    assert starting_from(Scenario.default(), observed, first, observed.years[-1]).entries.initial_pool_shares is None
