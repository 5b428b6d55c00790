"""In-house capacity that opens and closes on dates: a new home, more Housing beds, a closure.

The scenario's ``inhouse.<kind>.openings`` (and ``inhouse.<kind>.end`` for the places there at
the start) become dated changes of the option's free places. A change is logged as a
``capacity_open`` or ``capacity_close`` event (option, places), from which the metrics count
open place-days and so the fixed costs that are paid whether places are full or empty. A
place that closes while a child lives there stops taking children; it closes when the
child leaves, as a block contract's places do when the contract ends.
"""

from __future__ import annotations

import datetime as dt

from models.catalogue import INHOUSE
from models.scenario import Scenario, usable_places


def capacity_changes(scenario: Scenario) -> list[tuple[dt.date, str, str, int, int]]:
    """``(date, section, option, places, usable)`` changes in date order: + opens, - closes (from the
    day after a closing date)."""
    out = []
    for section, option in INHOUSE.items():
        cap = getattr(scenario.inhouse, section)
        one_day = dt.timedelta(days=1)
        if cap.end is not None and cap.places > 0:
            out.append((cap.end + one_day, section, option, -cap.places, -cap.usable))
        for op in cap.openings:
            usable = usable_places(op.places, cap.usable_share)
            out.append((op.start, section, option, op.places, usable))
            if op.end is not None:
                out.append((op.end + one_day, section, option, -op.places, -usable))
    return sorted(out, key=lambda c: (c[0], c[3]))


def capacity_schedule(market):
    """SimPy process: apply each dated change of in-house capacity on its day."""
    env = market.env
    for date, section, option, places, usable in capacity_changes(market.s):
        day = max(0.0, market.day_of(date))
        if day >= market.horizon:
            return
        if day > env.now:
            yield env.timeout(day - env.now)
        market.change_capacity(market.idx[option], places, usable, section)
