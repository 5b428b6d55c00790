"""The validated, frozen scenario: every parameter of a placesim run, with its default and source.

Defaults describe a mid-sized English authority built from the council's
placements commissioning options appraisal ("Placements Commissioning Strategy:
discussion paper and options appraisal", "the appraisal" below): 178 in-house fostering places in 103 households, 5 in-house residential
beds, 21 in-house 16+ beds through Housing, and the weekly costs of its section 9.1.
Where the appraisal is silent, national figures (DfE SSDA903 statistics) or a
stated assumption are used; each field's ``source`` says which.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from models.catalogue import AGE_BANDS, NEED_BANDS, OPTION_NAMES, POOLS
from models.carers import Carers, IfaCarers, Recruitment, Turnover
from models.inhouse import Capacity, FosteringCapacity, InHouse, Opening, usable_places
from models.sources import ASSUMED, NATIONAL, SEED_TITLE
from models.siblings import Siblings
from models.transitions import Escalation, ParentChild, Reviews, StayingPut, StepDown
from models.schema import (MAX_DEPTH, ScenarioError, _too_deep, build, load_toml, param, parse_value, probability, render, section, set_dotted,
                           to_dict)

SEED = SEED_TITLE

_BANDS5 = f"one value per age band {list(AGE_BANDS)}"
_NEEDS4 = f"one value per need band {list(NEED_BANDS)}"


def _shares(values: tuple[float, ...], key: str) -> None:
    if not math.isclose(sum(values), 1.0, abs_tol=1e-6):
        raise ScenarioError(key, f"shares must add up to 1, got {sum(values):g}")


@dataclass(frozen=True)
class RunSettings:
    start_date: dt.date = param(dt.date(2019, 4, 1), "first day of the reported period (a financial year start)", SEED)
    years: int = param(10, "simulated years reported", ge=1, le=200)
    warmup_years: int = param(3, "years simulated before the reported period, from the initial stock, then discarded", ge=0, le=50)
    replications: int = param(40, "independent replications (the 90% intervals come from these)", ge=1, le=100_000)
    seed: int = param(20190401, "root seed; every random stream is spawned from it", ge=0, le=2**63 - 1)
    max_events: int = param(10_000_000, "most events one replication may log: a larger run is refused before it starts (its"
                                        " estimate) or stopped when it gets there. A national-scale authority (300 times the"
                                        " default) logs about 5 million", ge=1_000, le=1_000_000_000, unit="events")


@dataclass(frozen=True)
class Growth:
    """Entries rising (or falling) by a share over some years, at a steady yearly rate, then holding."""

    by: float = param(0.2, "change of the entry rate, as a share (0.2 = +20%): entries in reported year `years` are this"
                           " much above the first reported year's rate_per_year", ge=-0.9, le=10.0)
    years: int = param(5, "the reported year that reaches the change (year 1 is the first reported year); later years"
                          " hold it", ge=2, le=200)

    def multiplier(self, k: int) -> float:
        """Entry-rate multiplier of reported year ``k`` (0 = the first)."""
        return (1.0 + self.by) ** (min(k, self.years - 1) / (self.years - 1))


@dataclass(frozen=True)
class Entries:
    enabled: bool = param(True, "children enter care as a Poisson process (off: only the initial stock)")
    rate_per_year: float = param(
        118.0, "expected entries to care in the first reported year", "stock of ~300 over a mean stay of ~2.4 years (Little's law); appraisal footnote 2",
        ge=0.0, le=100_000.0, unit="children/year")
    trend: float = param(0.0, "yearly growth of the entry rate (0.03 = +3% a year)", "appraisal forecast: broadly flat", ge=-0.5, le=1.0)
    age_shares: tuple[float, ...] = param(
        (0.19, 0.15, 0.16, 0.30, 0.20), f"age at entry, {_BANDS5}", NATIONAL + ": starts by age", ge=0.0, le=1.0, length=5)
    need_shares: tuple[float, ...] = param(
        (0.45, 0.29, 0.16, 0.10), f"need level at entry, {_NEEDS4}", ASSUMED + "; appraisal: fewer than 10% need therapeutic placements",
        ge=0.0, le=1.0, length=4)
    uasc_share_by_age: tuple[float, ...] = param(
        (0.0, 0.0, 0.0, 0.04, 0.75), f"share of single entrants who are unaccompanied asylum-seeking children, {_BANDS5}",
        SEED + " 5.3.1: UASC mostly 16-17, ~64% of the 16+ cohort", ge=0.0, le=1.0, length=5)
    initial_children: int = param(300, "children already in care when the warm-up starts", SEED + " 5.2: 287 in the modelled pools at 31/03/2018",
                                 ge=0, le=500_000)
    initial_age_shares: tuple[float, ...] = param(
        (0.05, 0.14, 0.18, 0.38, 0.25), f"age of the initial stock, {_BANDS5}", NATIONAL + ": children in care at 31 March by age",
        ge=0.0, le=1.0, length=5)
    initial_pool_shares: tuple[float, ...] | None = param(
        None, f"placement mix of the initial stock, one share per pool {list(POOLS)}: each child of the stock first tries"
        " its drawn pool's options in its policy order (kinship whether or not a connected carer was drawn) and falls"
        " back to the whole order if none has room. Not set or empty: the stock is placed by the policy like any child",
        "children in care at 31 March by placement (a calibrated scenario sets it from the last return)", ge=0.0, le=1.0)
    growth: Growth | None = param(None, "a change of the entry rate over some years, e.g. growth = { by = 0.2, years = 5 }"
                                        " (+20%, reached in reported year 5); not with trend or forecast")
    forecast: tuple[float, ...] = param((), "expected entries in each reported year, first to last (for example the council's"
                                            " own forecast); years after the last keep its value, and the warm-up uses the"
                                            " first. When given it replaces rate_per_year, trend and growth",
                                        ge=0.0, le=1e6, unit="children/year")

    def yearly_rates(self, years: int) -> list[float] | None:
        """Expected entries in each reported year when set by ``growth`` or ``forecast`` (None: the
        rate follows ``trend``, continuously)."""
        if self.growth is None and not self.forecast:
            return None
        return [self.yearly_rate(k) for k in range(years)]

    def yearly_rate(self, k: int) -> float:
        """Expected entries in reported year ``k`` (0 = the first), at the start of the year for a trend."""
        if self.forecast:
            return float(self.forecast[min(k, len(self.forecast) - 1)])
        if self.growth is not None:
            return self.rate_per_year * self.growth.multiplier(k)
        return self.rate_per_year * (1.0 + self.trend) ** k

    def __post_init__(self) -> None:
        if self.growth is not None and self.forecast:
            raise ScenarioError("entries.growth", "give growth or forecast, not both")
        if self.trend != 0 and (self.growth is not None or self.forecast):
            raise ScenarioError("entries.trend", "a trend cannot be combined with "
                                + ("entries.forecast" if self.forecast else "entries.growth") + "; set trend = 0")
        _shares(self.age_shares, "entries.age_shares")
        _shares(self.need_shares, "entries.need_shares")
        _shares(self.initial_age_shares, "entries.initial_age_shares")
        if self.initial_pool_shares is not None and len(self.initial_pool_shares) == 0:
            object.__setattr__(self, "initial_pool_shares", None)  # an empty list means not set
        if self.initial_pool_shares is not None:
            if len(self.initial_pool_shares) != len(POOLS):
                raise ScenarioError("entries.initial_pool_shares",
                                    f"expected {len(POOLS)} values (one per pool {list(POOLS)}), got {len(self.initial_pool_shares)}")
            _shares(self.initial_pool_shares, "entries.initial_pool_shares")


@dataclass(frozen=True)
class Exits:
    enabled: bool = param(True, "children leave care before 18 at the hazards below (off: they stay until 18, or for ever if leave_at_18 is off)")
    return_home: tuple[float, ...] = param(
        (0.25, 0.22, 0.17, 0.13, 0.10), f"yearly hazard of returning home, {_BANDS5}", NATIONAL + ": ceased by reason and age", ge=0.0, le=50.0, length=5, unit="per year")
    adoption: tuple[float, ...] = param(
        (0.30, 0.18, 0.02, 0.0, 0.0), f"yearly hazard of adoption, {_BANDS5}", NATIONAL, ge=0.0, le=50.0, length=5, unit="per year")
    special_guardianship: tuple[float, ...] = param(
        (0.12, 0.12, 0.07, 0.03, 0.01), f"yearly hazard of a special guardianship or child arrangements order, {_BANDS5}", NATIONAL, ge=0.0, le=50.0, length=5, unit="per year")
    other: tuple[float, ...] = param(
        (0.02, 0.02, 0.03, 0.05, 0.15), f"yearly hazard of other exits (independent living, transfer, custody), {_BANDS5}", NATIONAL, ge=0.0, le=50.0, length=5, unit="per year")
    leave_at_18: bool = param(True, "young people leave care on their 18th birthday")


@dataclass(frozen=True)
class Kinship:
    enabled: bool = param(True, "connected (family and friends) carers can be found")
    probability_by_age: tuple[float, ...] = param(
        (0.144, 0.162, 0.162, 0.108, 0.045), f"chance a connected carer is found when a child first needs a placement, {_BANDS5}",
        SEED + " 5.2: ~30 children in family and friends care (tuned to it with the breakdown hazards)", ge=0.0, le=1.0, length=5)
    weekly_cost: float = param(357.0, "weekly cost of a kinship placement (paid at in-house rates)", SEED + " 9.1: in-house average Aug 2018",
                               ge=0.0, le=100_000.0, unit="GBP/week")


@dataclass(frozen=True)
class SpotMarket:
    enabled: bool = param(True, "places can be spot-purchased from this market")
    weekly_price: float = param(0.0, "weekly spot price in the first reported year", ge=0.0, le=100_000.0, unit="GBP/week")
    inflation: float = param(0.03, "yearly rise of the spot price", ASSUMED, ge=-0.5, le=1.0)
    tightness: float = probability(0.2, "market tightness: a spot search fails with this probability")
    search_days: float = param(2.0, "days a spot search takes before its outcome is known", ge=0.0, le=365.0, unit="days")
    out_of_area: float = probability(0.5, "probability a spot placement is out of area")


@dataclass(frozen=True)
class Spot:
    ifa: SpotMarket = section(lambda: SpotMarket(weekly_price=825.0, tightness=0.2, search_days=0.0, out_of_area=0.4),
        "IFA framework / DPS: GBP 825/week (" + SEED + " 9.1); Complex Needs Accommodation Sufficiency Strategy 2019-2024: the IFA sector 'appears to be reaching capacity'."
        " With [ifa_carers] on (the default) a search needs an IFA household with room and the skills, tightness is the"
        " chance the agency still declines, and out_of_area is the household's (ifa_carers.out_of_area)")
    residential: SpotMarket = section(lambda: SpotMarket(weekly_price=3256.0, tightness=0.1, search_days=2.0, out_of_area=1.0),
        "spot residential: GBP 3,256/week (" + SEED + " 9.1, Aug 2018); out of area by default")
    supported: SpotMarket = section(lambda: SpotMarket(weekly_price=760.0, tightness=0.05, search_days=0.0, out_of_area=0.2),
        "16+ DPS: GBP 760/week (" + SEED + " 9.1); 160+ beds with 18 providers (10.2)")


@dataclass(frozen=True)
class BlockContract:
    places: int = param(0, "places reserved under the block contract (0: no contract)", ge=0, le=10_000)
    weekly_price: float = param(0.0, "weekly price of an occupied block place", ge=0.0, le=100_000.0, unit="GBP/week")
    retainer: float = probability(0.6, "retainer for an empty place, as a share of the weekly price")
    retainer_weekly: float | None = param(None, "fixed weekly retainer per empty place; when set it replaces the share", ge=0.0,
                                          le=100_000.0, unit="GBP/week")
    start: dt.date = param(dt.date(2019, 4, 1), "first day of the contract")
    term_years: float = param(10.0, "length of the contract", gt=0.0, le=100.0, unit="years")
    end: dt.date | None = param(None, "last day of the contract; when set it replaces term_years")
    needs: tuple[str, ...] = param(NEED_BANDS, "need bands the block accepts", choices=NEED_BANDS)
    out_of_area: float = probability(0.0, "probability a block placement is out of area")

    def __post_init__(self) -> None:
        if self.end is not None and self.end <= self.start:
            word = "on the day it starts" if self.end == self.start else f"before it starts ({self.start})"
            raise ScenarioError("end", f"contract ends ({self.end}) {word}: it must end after it starts")
        if not self.needs:
            raise ScenarioError("needs", "a block must accept at least one need band")

    @property
    def end_date(self) -> dt.date:
        if self.end is not None:
            return self.end
        return self.start + dt.timedelta(days=round(self.term_years * 365))

    @property
    def retainer_weekly_cost(self) -> float:
        return self.retainer_weekly if self.retainer_weekly is not None else self.retainer * self.weekly_price


@dataclass(frozen=True)
class Contracts:
    ifa: BlockContract = section(lambda: BlockContract(weekly_price=750.0),
        "IFA block contract (none in the as-is authority; " + SEED + " option E pilots one)")
    residential: BlockContract = section(lambda: BlockContract(weekly_price=1918.0),
        "residential block contract (price: " + SEED + " 9.1 block rate)")
    supported: BlockContract = section(lambda: BlockContract(weekly_price=550.0),
        "16+ block contract (price: " + SEED + " 10.2, low end of DPS rates)")


_MOVES = (NATIONAL + ": 66,070 placement changes for 83,630 children (~0.8 a child-year); tuned to 8-10% with 3+ placements"
          " a year and 68-72% of long-term under-16s in the same placement for 2+ years, with carers leaving modelled")


@dataclass(frozen=True)
class Breakdowns:
    """Placement endings that send a child back into the search: unplanned endings and the
    planned moves the foundation model does not otherwise represent (bridging and short-term
    placements). Most happen early in a placement, hence the early multiplier."""

    enabled: bool = param(True, "placements end and the child needs a new one, at the hazards below")
    kinship: tuple[float, ...] = param((0.024, 0.036, 0.06, 0.09), f"yearly hazard, {_NEEDS4}", ASSUMED, ge=0.0, le=12.0, length=4, unit="per year")
    inhouse_fostering: tuple[float, ...] = param((0.036, 0.06, 0.102, 0.18), f"yearly hazard, {_NEEDS4}", _MOVES, ge=0.0, le=12.0, length=4, unit="per year")
    ifa: tuple[float, ...] = param((0.042, 0.066, 0.114, 0.204), f"yearly hazard, {_NEEDS4}", _MOVES, ge=0.0, le=12.0, length=4, unit="per year")
    residential: tuple[float, ...] = param((0.09, 0.12, 0.15, 0.18), f"yearly hazard, {_NEEDS4}", ASSUMED, ge=0.0, le=12.0, length=4, unit="per year")
    supported: tuple[float, ...] = param((0.06, 0.09, 0.15, 0.21), f"yearly hazard, {_NEEDS4}", ASSUMED, ge=0.0, le=12.0, length=4, unit="per year")
    early_days: float = param(120.0, "length of the early, less stable part of a placement", _MOVES, ge=0.0, le=3650.0, unit="days")
    early_multiplier: float = param(15.0, "hazard multiplier during the early part (1: constant hazard)", _MOVES, ge=0.0, le=50.0)

    def for_pool(self, pool: str) -> tuple[float, ...]:
        return getattr(self, pool)


@dataclass(frozen=True)
class MoveOn:
    enabled: bool = param(True, "young people move on to 16+ supported accommodation at 16-17")
    probability: float = probability(0.95, "share of young people in the pools below who move on before 18",
                                     SEED + " 5.2: ~40 in 16+ accommodation; nearly all young people in foster or residential care at 16 plan a move on")
    earliest_age: float = param(16.0, "earliest age of the move", ge=15.0, le=18.0, unit="years")
    latest_age: float = param(17.0, "latest age of the move", "assumption: planned moves happen between the 16th and 17th birthdays",
                              ge=15.0, le=18.0, unit="years")
    from_pools: tuple[str, ...] = param(("inhouse_fostering", "ifa", "residential"), "pools young people move on from",
                                        choices=tuple(p for p in POOLS if p != "supported"))

    def __post_init__(self) -> None:
        if self.latest_age < self.earliest_age:
            raise ScenarioError("latest_age", f"must not be below earliest_age ({self.earliest_age:g}), got {self.latest_age:g}")


@dataclass(frozen=True)
class Waiting:
    weekly_cost: float = param(4000.0, "weekly cost of an emergency placement while no suitable placement is found",
                               "assumption: unregistered/emergency placements cost more than a spot residential bed", ge=0.0,
                               le=100_000.0, unit="GBP/week")
    retry_days: float = param(3.0, "days before a child whose every search failed is searched for again", ASSUMED + "; at least"
                              " half a day, since searching again sooner adds events but no placements", ge=0.5, le=365.0, unit="days")


@dataclass(frozen=True)
class Rule:
    """One line of a placement policy: who it applies to, and the options to try in order."""

    ages: tuple[str, ...] = param(AGE_BANDS, "age bands this rule covers", choices=AGE_BANDS)
    needs: tuple[str, ...] = param(NEED_BANDS, "need bands this rule covers", choices=NEED_BANDS)
    order: tuple[str, ...] = param(("inhouse_fostering",), "placement options to try, first to last", choices=OPTION_NAMES)

    def __post_init__(self) -> None:
        if not self.order:
            raise ScenarioError("order", "a rule needs at least one placement option")


_FOSTER = ("kinship", "inhouse_fostering", "ifa_block", "ifa_spot")
_IFA_FIRST = ("kinship", "ifa_block", "ifa_spot", "inhouse_fostering")
_RESI = ("residential_inhouse", "residential_block", "residential_spot")
_SUPPORTED = ("supported_inhouse", "supported_block", "supported_spot")
_YOUNG, _TEEN, _OLD = ("0", "1-4", "5-9"), ("10-15",), ("16-17",)
_MAIN, _COMPLEX = ("standard", "moderate", "high"), ("complex",)

#: The built-in policies. The cascade is the in-house-first practice of the appraisal
#: (4.2.3); "demarcated" is the Hertfordshire model it cites: in-house for complex
#: needs, IFAs for mainstream needs.
POLICIES: dict[str, tuple[Rule, ...]] = {
    "cascade": (
        Rule(ages=_OLD, order=("kinship",) + _SUPPORTED + _FOSTER[1:] + _RESI),
        Rule(ages=_TEEN, needs=_COMPLEX, order=("kinship",) + _RESI + _FOSTER[1:]),
        Rule(ages=_TEEN, needs=_MAIN, order=_FOSTER + _RESI),
        Rule(ages=_YOUNG, order=_FOSTER),
    ),
    "demarcated": (
        Rule(ages=_OLD, order=("kinship",) + _SUPPORTED + _FOSTER[1:] + _RESI),
        Rule(ages=_TEEN, needs=_COMPLEX, order=("kinship",) + _RESI + _FOSTER[1:]),
        Rule(ages=_TEEN, needs=("high",), order=_FOSTER + _RESI),
        Rule(ages=_TEEN, needs=("standard", "moderate"), order=_IFA_FIRST + _RESI),
        Rule(ages=_YOUNG, needs=("high", "complex"), order=_FOSTER),
        Rule(ages=_YOUNG, needs=("standard", "moderate"), order=_IFA_FIRST),
    ),
}


@dataclass(frozen=True)
class Policy:
    mode: str = param("cascade", "built-in placement policy: 'cascade' (in-house first) or 'demarcated' (complex needs in-house, mainstream to IFAs)",
                      SEED + " 4.2.3", choices=tuple(POLICIES))
    rules: tuple[Rule, ...] = param((), "custom rules; when given they replace the mode's rules. The first rule matching a child's age band and need applies")

    def __post_init__(self) -> None:
        rules = self.effective_rules()
        for age in AGE_BANDS:
            for need in NEED_BANDS:
                if not any(age in r.ages and need in r.needs for r in rules):
                    raise ScenarioError("rules", f"no rule covers age band {age!r} with need {need!r}")

    def effective_rules(self) -> tuple[Rule, ...]:
        return self.rules if self.rules else POLICIES[self.mode]

    def order_for(self, age: str, need: str) -> tuple[str, ...]:
        return next(r.order for r in self.effective_rules() if age in r.ages and need in r.needs)


@dataclass(frozen=True)
class Scenario:
    """Every parameter of a run. Build it with :meth:`load`, :meth:`from_toml` or :meth:`default`."""

    name: str = param("default", "a short name for this scenario, used in reports")
    run: RunSettings = section(RunSettings, "run length, replications and seed")
    entries: Entries = section(Entries, "children entering care")
    exits: Exits = section(Exits, "leaving care (return home, adoption, special guardianship, other, 18th birthday)")
    kinship: Kinship = section(Kinship, "family and friends (connected) carers")
    inhouse: InHouse = section(InHouse, "the council's own places")
    carers: Carers = section(Carers, "in-house carer households: approvals, skills and matching")
    recruitment: Recruitment = section(Recruitment, "recruiting in-house carers: enquiries, applications, assessment, approval")
    siblings: Siblings = section(Siblings, "sibling groups entering care together, kept together where a placement allows")
    turnover: Turnover = section(Turnover, "in-house carers leaving: deregistration, after breakdowns, retirement, moving to IFAs")
    ifa_carers: IfaCarers = section(IfaCarers, "IFA carer households: the capacity behind IFA spot placements")
    parent_child: ParentChild = section(ParentChild, "babies entering care with a parent: parent-and-child placements")
    spot: Spot = section(Spot, "spot markets: pay per use, no guarantee of a place")
    contracts: Contracts = section(Contracts, "block contracts: reserved places at a lower price, with a retainer for empty places")
    breakdowns: Breakdowns = section(Breakdowns, "unplanned placement endings")
    reviews: Reviews = section(Reviews, "looked-after reviews: needs going down or up")
    step_down: StepDown = section(StepDown, "stepping down from residential to foster care when needs fall")
    escalation: Escalation = section(Escalation, "stepping up to residential care after repeated breakdowns")
    staying_put: StayingPut = section(StayingPut, "staying put with foster carers after 18")
    move_on: MoveOn = section(MoveOn, "moving on to 16+ supported accommodation")
    waiting: Waiting = section(Waiting, "children for whom no suitable placement is found")
    policy: Policy = section(Policy, "placement policy: the order in which options are tried")

    def __post_init__(self) -> None:
        f = self.inhouse.fostering
        if self.carers.enabled and (f.openings or f.end is not None):
            key = "inhouse.fostering.openings" if f.openings else "inhouse.fostering.end"
            raise ScenarioError(key, "in-house fostering is made of carer households while carers.enabled is true:"
                                     " add carers with recruitment (campaigns) instead, or set carers.enabled = false")
        end = self.run.start_date + dt.timedelta(days=round(self.run.years * 365))
        for section_name in ("fostering", "residential", "supported"):
            for i, op in enumerate(getattr(self.inhouse, section_name).openings):
                if op.start >= end:
                    raise ScenarioError(f"inhouse.{section_name}.openings[{i}].start",
                                        f"{op.start} is after the reported period ends ({end}): the places would never open")

    # ----------------------------------------------------------------- construction
    @classmethod
    def default(cls) -> "Scenario":
        return cls()

    @classmethod
    def from_dict(cls, data: dict) -> "Scenario":
        """Validate ``data``; every key it leaves out takes the default scenario's value."""
        if not isinstance(data, dict):
            raise ScenarioError("", "a scenario must be a table of sections")
        path = _too_deep(data, MAX_DEPTH)
        if path is not None:
            raise ScenarioError(path, f"nests lists or tables too deeply (at most {MAX_DEPTH} levels)")
        return build(cls, _merge(to_dict(cls()), data))

    @classmethod
    def from_toml(cls, text: str, origin: str = "scenario") -> "Scenario":
        return cls.from_dict(load_toml(text, origin))

    @classmethod
    def load(cls, path: str | Path) -> "Scenario":
        path = Path(path)
        if not path.exists():
            raise ScenarioError("", f"scenario file not found: {path}")
        if path.is_dir():
            raise ScenarioError("", f"scenario path is a folder, not a file: {path}")
        try:
            text = path.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError:
            raise ScenarioError("", f"{path} is not a UTF-8 text file") from None
        return cls.from_toml(text, origin=str(path))

    # ----------------------------------------------------------------- views
    def to_dict(self) -> dict:
        return to_dict(self)

    def to_toml(self) -> str:
        header = (
            "# placesim scenario. Every key is optional: a missing key takes the default shown.\n"
            "# Weekly prices are in GBP; hazards are per year; times are in days unless stated.\n\n"
        )
        return header + render(self)

    def replace(self, changes: dict[str, Any] | None = None, /, **sections: Any) -> "Scenario":
        """A new, re-validated scenario with some values changed.

        ``changes`` maps dotted keys to values (``{"contracts.ifa.places": 8}``);
        keyword arguments replace whole top-level entries (``name="option E"``).
        """
        data = self.to_dict()
        for key, value in sections.items():
            set_dotted(data, key, to_dict(value))
        for key, value in (changes or {}).items():
            set_dotted(data, key, value)
        return Scenario.from_dict(data)

    def with_assignments(self, assignments: list[str]) -> "Scenario":
        """Apply ``KEY=VALUE`` strings from the command line."""
        changes = {}
        for a in assignments:
            key, _eq, text = a.partition("=")
            key = key.strip()
            if not key or any(not part for part in key.split(".")):
                raise ScenarioError("--set", f"expected KEY=VALUE with a dotted key such as contracts.ifa.places=8, got {a!r}")
            if not _eq:
                raise ScenarioError(key, f"expected KEY=VALUE (e.g. --set {key}=8), got {a!r}")
            changes[key] = parse_value(text.strip())
        return self.replace(changes)

    def differences(self, other: "Scenario | None" = None) -> dict[str, tuple[Any, Any]]:
        """Dotted keys whose values differ from ``other`` (the default scenario if omitted)."""
        a, b = _flatten(self.to_dict()), _flatten((other or Scenario()).to_dict())
        return {k: (a.get(k), b.get(k)) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)}


def _merge(defaults: dict, data: dict) -> dict:
    """``data`` laid over ``defaults``, table by table (lists and values replace)."""
    out = dict(defaults)
    for key, value in data.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _flatten(d: dict, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}.{k}" if prefix else k
        if isinstance(v, dict):
            out.update(_flatten(v, key))
        else:
            out[key] = v
    return out


__all__ = ["Scenario", "ScenarioError", "POLICIES", "Capacity", "FosteringCapacity", "InHouse", "Opening", "usable_places"]
