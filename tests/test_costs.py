"""Every lever has its cost: fee uplift, fixed costs of homes, recruitment, opening new places;
and schedules: capacity with opening and closing dates, entries by forecast or growth.

The hand-checked cases reuse the tiny scenarios of tests/test_sequence.py: one reported year of
365 days, scripted children, nothing random.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from models.scenario import Scenario, ScenarioError
from results.metrics import replication_metrics
from simulation.cohort import arrival_days
from simulation.engine import horizon_days, simulate
from simulation.streams import Streams
from tests.test_sequence import events, run, tiny

START = dt.date(2019, 4, 1)


def value(m, metric: str, pool: str, year: int = 0) -> float:
    rows = m[(m.metric == metric) & (m.pool == pool)].sort_values("year")
    return float(rows.value.iloc[year])


def metrics(s: Scenario, entry, exit_, **draws):
    rep = run(s, entry, exit_, **draws)
    return rep, replication_metrics(rep.events, s, 0)


# --------------------------------------------------------------------------- the carer fee


def test_fee_uplift_raises_inhouse_placement_spend_by_uplift_times_fee_share():
    """One child in the one in-house place all year at GBP 357 a week, half of it the carer's fee.
    A 20% fee uplift costs 0.2 x 0.5 x 357 / 7 a day more: exactly 10% more in-house spend."""
    base = tiny({"inhouse.fostering.weekly_cost": 357.0, "inhouse.fostering.fee_share": 0.5})
    uplift = base.replace({"recruitment.fee_uplift": 0.2})
    _, m0 = metrics(base, [0.0], [1000.0])
    _, m1 = metrics(uplift, [0.0], [1000.0])
    plain = 365 * 357.0 / 7
    assert value(m0, "spend_placements", "inhouse_fostering") == pytest.approx(plain)
    assert value(m0, "spend_fee_uplift", "inhouse_fostering") == 0.0
    assert value(m1, "spend_placements", "inhouse_fostering") == pytest.approx(plain)  # the allowance and the old fee
    assert value(m1, "spend_fee_uplift", "inhouse_fostering") == pytest.approx(plain * 0.2 * 0.5)
    assert value(m1, "spend_total", "inhouse_fostering") - value(m0, "spend_total", "inhouse_fostering") == \
        pytest.approx(0.2 * 0.5 * plain)
    assert value(m1, "spend_fee_uplift", "all") == pytest.approx(plain * 0.1)
    assert value(m1, "spend_total", "all") == pytest.approx(value(m0, "spend_total", "all") + plain * 0.1)


def test_fee_uplift_is_not_paid_on_kinship_or_ifa_placements():
    s = tiny({"kinship.enabled": True, "recruitment.fee_uplift": 0.5}, order=("kinship", "ifa_spot"))
    _, m = metrics(s, [0.0, 0.0], [1000.0, 1000.0], kin=[True, False])
    assert value(m, "spend_placements", "kinship") > 0 and value(m, "spend_placements", "ifa") > 0
    assert value(m, "spend_fee_uplift", "all") == 0.0


# --------------------------------------------------------------------------- fixed costs


RESI = {"inhouse.residential.places": 2, "inhouse.residential.weekly_cost": 1918.0,
        "inhouse.residential.fixed_share": 0.8}


def test_fixed_costs_are_paid_for_empty_beds():
    """A two-bed home at GBP 1,918 a bed-week, 80% of it staff and building: with nobody placed it still
    costs 2 x 0.8 x 1,918 a week; one child placed all year adds only the other 20% of one bed."""
    s = tiny(RESI, order=("residential_inhouse", "ifa_spot"))
    _, empty = metrics(s, [], [])
    fixed = 2 * 0.8 * 1918.0 * 365 / 7
    assert value(empty, "spend_fixed", "residential") == pytest.approx(fixed)
    assert value(empty, "spend_placements", "residential") == 0.0
    assert value(empty, "spend_total", "all") == pytest.approx(fixed)
    assert value(empty, "places_mean", "residential") == pytest.approx(2.0)
    _, one = metrics(s, [0.0], [1000.0])
    assert value(one, "spend_fixed", "residential") == pytest.approx(fixed)
    assert value(one, "spend_placements", "residential") == pytest.approx(0.2 * 1918.0 * 365 / 7)
    assert value(one, "spend_total", "residential") == pytest.approx(fixed + 0.2 * 1918.0 * 365 / 7)


def test_a_full_home_costs_its_weekly_price_per_bed_whatever_the_fixed_share():
    """The split only matters for empty beds: a full home costs places x weekly_cost."""
    totals = []
    for share in (0.0, 0.5, 0.8, 1.0):
        s = tiny({**RESI, "inhouse.residential.fixed_share": share}, order=("residential_inhouse",))
        _, m = metrics(s, [0.0, 0.0], [1000.0, 1000.0])
        totals.append(value(m, "spend_total", "residential"))
    np.testing.assert_allclose(totals, 2 * 1918.0 * 365 / 7)


# --------------------------------------------------------------------------- dated capacity


def test_a_home_that_opens_on_a_date_takes_no_child_before_it():
    """A one-bed home opens on day 100 (10 July 2019), with its opening cost. Child 0 enters on day 10:
    the home is not open and its order holds nothing else, so it waits, queued for the home; on day 100
    the bed opens and is offered to it at once."""
    s = tiny({"inhouse.residential.places": 0, "inhouse.residential.weekly_cost": 1918.0,
              "inhouse.residential.fixed_share": 0.8,
              "inhouse.residential.openings": [{"start": START + dt.timedelta(days=100), "places": 1,
                                                 "capital_cost": 1_000_000.0}]},
             order=("residential_inhouse",))
    rep, m = metrics(s, [10.0], [1000.0])
    assert events(rep) == [
        (10.0, "enter", 0, "", "entry"),
        (10.0, "wait_start", 0, "", "entry"),
        (100.0, "capacity_open", -1, "residential_inhouse", "residential"),
        (100.0, "wait_end", 0, "", "vacancy"),
        (100.0, "place", 0, "residential_inhouse", "vacancy"),
    ]
    placed = rep.events[(rep.events.event == "place") & (rep.events.option == "residential_inhouse")]
    assert (placed.day >= 100).all()
    assert value(m, "spend_capital", "residential") == 1_000_000.0
    assert value(m, "places_mean", "residential") == pytest.approx(265 / 365)
    assert value(m, "spend_fixed", "residential") == pytest.approx(265 * 0.8 * 1918.0 / 7)
    assert value(m, "waiting_days", "all") == pytest.approx(90.0)


def test_opening_cost_defaults_to_places_times_capital_per_place():
    s = tiny({"inhouse.residential.capital_per_place": 250_000.0,
              "inhouse.residential.openings": [{"start": START + dt.timedelta(days=30), "places": 4}]})
    _, m = metrics(s, [], [])
    assert value(m, "spend_capital", "all") == pytest.approx(1_000_000.0)


def test_a_closed_place_takes_nobody_and_is_paid_for_until_its_child_leaves():
    """The one bed closes after day 50 (its last day is 21 May 2019). Child 0 lives there until day 200:
    it is not moved, and the bed's fixed cost runs until it leaves. Child 1 enters on day 220 and
    finds the home closed; with nothing else in its order it waits for the rest of the year."""
    s = tiny({**RESI, "inhouse.residential.places": 1, "inhouse.residential.end": START + dt.timedelta(days=50)},
             order=("residential_inhouse",))
    rep, m = metrics(s, [0.0, 220.0], [200.0, 1000.0])
    assert events(rep) == [
        (0.0, "enter", 0, "", "stock"),
        (0.0, "place", 0, "residential_inhouse", "entry"),
        (51.0, "capacity_close", -1, "residential_inhouse", "residential"),
        (200.0, "end", 0, "residential_inhouse", "exit"),
        (200.0, "exit", 0, "", "return_home"),  # the scripted default route
        (220.0, "enter", 1, "", "entry"),
        (220.0, "wait_start", 1, "", "entry"),
    ]
    assert value(m, "places_mean", "residential") == pytest.approx(51 / 365)
    assert value(m, "spend_fixed", "residential") == pytest.approx(200 * 0.8 * 1918.0 / 7)


def test_schedules_are_validated_with_the_key_named():
    with pytest.raises(ScenarioError, match=r"inhouse\.residential\.openings\[0\]\.end: places close"):
        Scenario.default().replace({"inhouse.residential.openings": [
            {"start": dt.date(2021, 4, 1), "end": dt.date(2020, 4, 1), "places": 4}]})
    with pytest.raises(ScenarioError, match=r"inhouse\.residential\.openings\[0\]\.start: .* after the reported period"):
        Scenario.default().replace({"run.years": 2, "inhouse.residential.openings": [{"start": dt.date(2030, 4, 1)}]})
    with pytest.raises(ScenarioError, match=r"inhouse\.fostering\.openings: in-house fostering is made of carer households"):
        Scenario.default().replace({"inhouse.fostering.openings": [{"start": dt.date(2021, 4, 1)}]})
    with pytest.raises(ScenarioError, match=r"inhouse\.residential\.openings\[0\]\.places: must be at least 1"):
        Scenario.default().replace({"inhouse.residential.openings": [{"start": dt.date(2021, 4, 1), "places": 0}]})


# --------------------------------------------------------------------------- recruitment


def test_recruitment_costs_are_the_team_the_enquiries_the_assessments_and_the_campaigns():
    """Two reported years; a campaign over the first 100 days of year 2 doubles enquiries and costs
    GBP 40,000. Each year: the team, 400 enquiries (500 in year 2) at GBP 100, and GBP 6,000 for each
    application logged (every application is assessed)."""
    s = Scenario.default().replace({
        "run.years": 2, "run.warmup_years": 0, "entries.enabled": False, "entries.initial_children": 0,
        "recruitment.enquiries_per_year": 365.0 * 400 / 365, "recruitment.cost_per_enquiry": 100.0,
        "recruitment.cost_per_assessment": 6000.0, "recruitment.team_yearly": 120_000.0,
        "recruitment.campaigns": [{"start": START + dt.timedelta(days=365), "end": START + dt.timedelta(days=464),
                                   "enquiry_multiplier": 2.0, "cost": 40_000.0}]})
    ev = simulate(s, 0).events
    m = replication_metrics(ev, s, 0)
    apps = ev[ev.event == "carer_application"]
    per_year = [int(((apps.day >= 365 * k) & (apps.day < 365 * (k + 1))).sum()) for k in range(2)]
    assert value(m, "enquiries", "all", 0) == pytest.approx(400.0)
    assert value(m, "enquiries", "all", 1) == pytest.approx(400.0 + 400.0 * 100 / 365)
    for k, extra in ((0, 0.0), (1, 40_000.0 + 100 * 400.0 * 100 / 365)):
        expected = 120_000.0 + 100 * 400.0 + 6000.0 * per_year[k] + extra
        assert value(m, "spend_recruitment", "inhouse_fostering", k) == pytest.approx(expected)
    off = s.replace({"recruitment.enabled": False})
    assert value(replication_metrics(simulate(off, 0).events, off, 0), "spend_recruitment", "all") == 0.0


# --------------------------------------------------------------------------- entries by forecast or growth


def _entries_by_year(s: Scenario, replications: int) -> np.ndarray:
    offset, horizon = horizon_days(s)
    counts = []
    for r in range(replications):
        days = arrival_days(s, Streams(s.run.seed, r), horizon, offset) - offset
        counts.append(np.histogram(days, np.arange(s.run.years + 1) * 365.0)[0])
    return np.asarray(counts, dtype=float)


@pytest.mark.parametrize("change, expected", [
    ({"entries.growth": {"by": 0.2, "years": 5}}, [100 * 1.2 ** (k / 4) for k in range(5)] + [120.0]),
    ({"entries.forecast": [100.0, 130.0, 90.0]}, [100.0, 130.0, 90.0, 90.0, 90.0, 90.0]),
    ({"entries.trend": 0.1}, [100 * (1.1 ** (k + 1) - 1.1 ** k) / np.log(1.1) for k in range(6)]),
])
def test_entries_follow_the_forecast_or_growth_year_by_year(change, expected):
    """Poisson arrivals (children arriving alone): the mean count of each year within 4 standard errors
    of its expectation. "+20% over 5 years" puts reported year 5 exactly 20% above year 1."""
    s = Scenario.default().replace({"siblings.enabled": False, "run.years": 6, "entries.rate_per_year": 100.0, **change})
    n = 300
    counts = _entries_by_year(s, n)
    mean = counts.mean(axis=0)
    se = np.sqrt(np.asarray(expected) / n)
    assert np.all(np.abs(mean - expected) < 4 * se), (mean, expected)


def test_growth_reads_as_one_line_and_conflicts_are_named():
    s = Scenario.from_toml("[entries]\ngrowth = { by = 0.2, years = 5 }\n")
    assert s.entries.yearly_rate(4) == pytest.approx(1.2 * s.entries.rate_per_year)
    assert s.entries.yearly_rate(9) == pytest.approx(1.2 * s.entries.rate_per_year)
    with pytest.raises(ScenarioError, match=r"^entries\.growth: give growth or forecast, not both"):
        Scenario.from_toml("[entries]\ngrowth = { by = 0.2, years = 5 }\nforecast = [100.0]\n")
    with pytest.raises(ScenarioError, match=r"^entries\.trend: a trend cannot be combined"):
        Scenario.from_toml("[entries]\ntrend = 0.05\nforecast = [100.0]\n")
    with pytest.raises(ScenarioError, match=r"^entries\.growth\.years: must be at least 2"):
        Scenario.from_toml("[entries]\ngrowth = { by = 0.2, years = 1 }\n")


def test_the_same_children_enter_whatever_the_cost_levers():
    """Costs and dated capacity change what is paid and where children go, never who enters."""
    base = Scenario.default().replace({"run.years": 2})
    alt = base.replace({"recruitment.fee_uplift": 0.1, "inhouse.residential.fixed_share": 0.3,
                        "inhouse.residential.openings": [{"start": dt.date(2020, 4, 1), "places": 4}]})
    a, b = simulate(base, 1).events, simulate(alt, 1).events
    ea, eb = a[a.event == "enter"], b[b.event == "enter"]
    np.testing.assert_array_equal(ea[["day", "child", "value"]].to_numpy(), eb[["day", "child", "value"]].to_numpy())
