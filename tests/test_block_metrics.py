"""Who block places went to: the intended-need share, by hand and on the default authority."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.scenario import Scenario
from results.block_metrics import intended_days
from results.metrics import replication_metrics
from simulation.engine import simulate


def test_intended_days_follow_each_childs_changes_of_need():
    """Hand check, one year [0, 365), a block for high and complex needs running [0, 300).
    Child 0: complex from day 10 to 200, down to high on day 50 (still intended), moderate on day 120
             (not intended), up to high on day 150: intended 10..120 and 150..200 = 110 + 50 = 160 days.
    Child 1: moderate from day 100 to the horizon (placed before a review put it down; it went up on
             day 250): intended 250..300 (the contract ends at 300) = 50 days.
    Child 2: high from day 20 to 30; its change on day 5 came before the placement: 10 days."""
    place = pd.DataFrame({"child": [0, 1, 2], "start": [10.0, 100.0, 20.0], "stop": [200.0, 365.0, 30.0],
                          "need": ["complex", "moderate", "high"]})
    changes = pd.DataFrame({"child": [0, 0, 0, 1, 2], "day": [50.0, 120.0, 150.0, 250.0, 5.0], "value": [2, 1, 2, 2, 0]})
    days = intended_days(place, changes, ("high", "complex"), 0.0, 300.0, np.array([0.0, 365.0]))
    assert days.tolist() == [160.0 + 50.0 + 10.0]  # child 2: high all through its 10 days


def _block(reviews: bool) -> Scenario:
    return Scenario.default().replace({
        "run.years": 4, "contracts.ifa.places": 8, "contracts.ifa.weekly_price": 750.0, "contracts.ifa.retainer": 0.6,
        "contracts.ifa.term_years": 4.0, "contracts.ifa.needs": ["high", "complex"], "reviews.enabled": reviews})


def _block_rows(s: Scenario) -> pd.DataFrame:
    m = replication_metrics(simulate(s, 0).events, s, 0)
    return m[m.metric.str.startswith("block_") & (m.pool == "ifa")].pivot(index="year", columns="metric", values="value")


def test_a_block_holds_only_its_intended_needs_until_reviews_change_them():
    """Without reviews a need never changes, so every block place-day is held by the intended bands;
    with reviews some children's needs fall while they stay, and the share drops below 1. The placement
    count is the block's place events in the year."""
    fixed = _block_rows(_block(reviews=False))
    assert (fixed.block_intended_share == 1.0).all()
    s = _block(reviews=True)
    rows = _block_rows(s)
    assert ((rows.block_intended_share > 0.3) & (rows.block_intended_share <= 1.0)).all()
    assert (rows.block_intended_share < 1.0).any()
    ev = simulate(s, 0).events
    placed = ev[(ev.event == "place") & (ev.option == "ifa_block") & (ev.day >= 0)]
    assert rows.block_placements.sum() == pytest.approx(len(placed[placed.day < 4 * 365]))
