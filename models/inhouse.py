"""Scenario sections for the council's own places: homes, 16+ beds and (without carer households)
fostering places, with what they cost full and empty, and the dates new places open and close."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from models.schema import ScenarioError, param, probability, section
from models.sources import SEED_TITLE

SEED = SEED_TITLE


@dataclass(frozen=True)
class Opening:
    """New in-house places from a date (a new home, more Housing beds), perhaps until a closing date."""

    start: dt.date = param(dt.date(2021, 4, 1), "first day the new places take children")
    places: int = param(4, "places added", ge=1, le=10_000)
    end: dt.date | None = param(None, "last day the places take children (not set: they stay open). A place still"
                                      " occupied then closes when its child leaves")
    capital_cost: float | None = param(None, "one-off cost of opening (buying, adapting, registering), paid on the start"
                                             " date; not set: places x the capacity's capital_per_place", ge=0.0,
                                       le=1e10, unit="GBP")

    def __post_init__(self) -> None:
        if self.end is not None and self.end < self.start:
            raise ScenarioError("end", f"places close ({self.end}) before they open ({self.start})")


@dataclass(frozen=True)
class Capacity:
    """The council's own places of one kind.

    ``weekly_cost`` is the full cost of a place-week when the place is occupied. ``fixed_share``
    of it is staffing and running cost that is paid for every open place, full or empty; the rest
    is paid only while a child is placed. ``fixed_weekly`` is a further cost of the whole service.
    """

    places: int = param(0, "places the council owns", ge=0, le=100_000)
    usable_share: float = probability(1.0, "share of places that can be used at once (approved places that matching leaves usable)")
    weekly_cost: float = param(0.0, "full cost of an occupied place-week (fixed and per-child parts together)", ge=0.0,
                               le=100_000.0, unit="GBP/week")
    fixed_share: float = probability(0.0, "share of weekly_cost that is paid for every open place, full or empty"
                                          " (staff, premises); the rest is paid per occupied place-week")
    fixed_weekly: float = param(0.0, "further fixed running cost of the whole service, paid whether places are full or empty",
                                ge=0.0, le=1e8, unit="GBP/week")
    capital_per_place: float = param(0.0, "one-off cost of opening a new place (see openings)", ge=0.0, le=1e8, unit="GBP")
    end: dt.date | None = param(None, "last day the places above take children (not set: they stay open). A place"
                                      " still occupied then closes when its child leaves")
    openings: tuple[Opening, ...] = param((), "new places with their opening dates (and closing dates, if any)")

    @property
    def usable(self) -> int:
        return usable_places(self.places, self.usable_share)


def usable_places(places: int, usable_share: float) -> int:
    """Places that can be used at once, of ``places`` with ``usable_share`` usable."""
    return int(math.floor(places * usable_share + 1e-9))


@dataclass(frozen=True)
class FosteringCapacity(Capacity):
    """In-house foster care: the weekly cost is the carer's allowance (for the child's keep) and fee (for the carer)."""

    fee_share: float = probability(
        0.5, "share of weekly_cost that is the carer's fee; the rest is the allowance for the child's keep."
             " recruitment.fee_uplift raises this part of every in-house fostering placement",
        "DfE national minimum fostering allowance 2019-20 (GBP 134-235 a week by age): about half of the GBP 357"
        " average (" + SEED_TITLE + " 9.1) is allowance; assumption")


_RESI_FIXED = ("staff and the building are paid for whether beds are full or empty; assumption: 80% fixed (CMA, Children's"
               " social care market study 2022: staff are the largest part of a children's home's costs)")


@dataclass(frozen=True)
class InHouse:
    fostering: FosteringCapacity = section(lambda: FosteringCapacity(
        places=178, usable_share=0.76, weekly_cost=357.0),
        "in-house foster care at GBP 357/week (" + SEED + " 9.1). With carers.enabled (the default) capacity is the"
        " carer households of [carers] and only weekly_cost, fee_share and fixed_weekly apply here; with carers off it is"
        " places x usable_share plain places: 178 approved places, ~135 usable at once (4.2.4 and 5.2: 101 in-house"
        " placements in 2018, forecast 132-135)")
    residential: Capacity = section(lambda: Capacity(places=5, usable_share=1.0, weekly_cost=1918.0, fixed_share=0.8,
                                                     capital_per_place=300_000.0),
        "in-house children's home: 5 mainstream beds at GBP 1,918/week (" + SEED + " 4.2.4 and 9.1); " + _RESI_FIXED
        + "; a new bed costs GBP 300,000 to open (assumption: about GBP 1.2m to buy, adapt and register a 4-bed home)")
    supported: Capacity = section(lambda: Capacity(places=21, usable_share=1.0, weekly_cost=350.0, fixed_share=0.6,
                                                   capital_per_place=20_000.0),
        "16+ supported accommodation through Housing: 21 beds at GBP 350/week (" + SEED + " 4.2.4 and 10.2 option B);"
        " assumption: 60% (rent and housing management) is paid for an empty bed, and a new bed costs GBP 20,000 to"
        " furnish and bring into use")
