"""Scenario sections for the in-house carer market: households, recruitment and turnover.

National figures are from Ofsted, Fostering in England 2022-23 ("Ofsted FiE"):
125,195 enquiries, 8,010 applications, 4,080 households approved, and 5,125 of
about 40,130 mainstream households deregistered (12.8%). Local figures are from
the council's options appraisal (Placements Commissioning Strategy): 178 approved places in 103 households.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from models.schema import ScenarioError, param, probability

from models.sources import ASSUMED, OFSTED
from models.sources import SEED_SHORT as SEED


@dataclass(frozen=True)
class Carers:
    """In-house fostering capacity made of carer households (off: ``inhouse.fostering`` places are plain slots)."""

    enabled: bool = param(True, "in-house fostering is made of carer households with approvals and skills")
    households: int = param(103, "approved in-house households when the warm-up starts", SEED + " 4.2.4", ge=0, le=200_000)
    approval_shares: tuple[float, ...] = param(
        (0.47, 0.37, 0.13, 0.03), "share of households approved for 1, 2, 3 and 4 children",
        SEED + " 4.2.4: 178 places in 103 households (1.73 each)", ge=0.0, le=1.0, length=4)
    sibling_skill: float = probability(0.35, "share of households approved and able to take a sibling group", SEED + " 5.3.2: too few households for sibling groups")
    complex_skill: float = probability(0.3, "share of households able to care for high or complex needs", SEED + " 6.2: grow carers for complex needs")
    parent_child_skill: float = probability(0.05, "share of households approved for parent-and-child placements (see [parent_child])",
                                            SEED + " 8: lack of availability of parent & child carers; assumption, to be calibrated")
    out_of_area: float = probability(0.05, "share of in-house households living out of area", ASSUMED)
    max_placements: int = param(2, "separate placements (unrelated children or sibling groups) a household takes at once",
                                ASSUMED + "; Placements Commissioning Strategy 8: better matching keeps carers occupied", ge=1, le=4)
    mismatch: tuple[str, ...] = param(("high",), "need bands that may be placed with a carer without the complex-needs skill, at a cost",
                                      ASSUMED, choices=("standard", "moderate", "high", "complex"))
    mismatch_breakdown_multiplier: float = param(2.0, "breakdown hazard multiplier for a placement outside the carer's skills", ASSUMED, ge=1.0, le=100.0)

    def __post_init__(self) -> None:
        if not math.isclose(sum(self.approval_shares), 1.0, abs_tol=1e-6):
            raise ScenarioError("approval_shares", f"shares must add up to 1, got {sum(self.approval_shares):g}")


@dataclass(frozen=True)
class Campaign:
    """A recruitment campaign: more enquiries for a while."""

    start: dt.date = param(dt.date(2020, 4, 1), "first day of the campaign")
    end: dt.date = param(dt.date(2021, 3, 31), "last day of the campaign")
    enquiry_multiplier: float = param(1.5, "enquiries during the campaign, as a multiple of the usual rate", ge=0.0, le=100.0)
    cost: float = param(50_000.0, "cost of the campaign (advertising, events, staff time), spread evenly over its days",
                        "assumption: a council's local fostering campaign of a year, about GBP 50,000", ge=0.0, le=1e9, unit="GBP")

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ScenarioError("end", f"campaign ends ({self.end}) before it starts ({self.start})")


@dataclass(frozen=True)
class Recruitment:
    """The funnel: enquiries, applications, assessment, approval."""

    enabled: bool = param(True, "new in-house households are recruited")
    enquiries_per_year: float = param(345.0, "enquiries a year from people interested in fostering for the council",
                                      OFSTED + " scaled to 103 households, tuned so approvals slightly trail turnover (Placements Commissioning Strategy 8: difficulty recruiting above turnover)", ge=0.0, le=1e6, unit="per year")
    application_rate: float = probability(0.064, "share of enquiries that become applications", OFSTED + ": 8,010 / 125,195")
    approval_rate: float = probability(0.51, "share of applications approved after assessment", OFSTED + ": 4,080 / 8,010")
    assessment_days: float = param(210.0, "length of an assessment", "domain primer: about 6-8 months", ge=0.0, le=3650.0, unit="days")
    assessment_capacity: int = param(25, "assessments the fostering service can run at once; applications beyond wait", ASSUMED, ge=1, le=100_000)
    fee_uplift: float = param(0.0, "rise in the in-house carer fee, as a share (0.1 = +10%). It raises the cost of every"
                                   " in-house fostering placement by fee_uplift x inhouse.fostering.fee_share x weekly_cost"
                                   " (not kinship placements), and the applications to foster (fee_conversion_elasticity)",
                              ge=-0.9, le=5.0)
    fee_conversion_elasticity: float = param(1.0, "relative rise in the application rate per unit of fee_uplift", ASSUMED, ge=0.0, le=20.0)
    campaigns: tuple[Campaign, ...] = param((), "recruitment campaigns")
    cost_per_enquiry: float = param(100.0, "cost of handling one enquiry (calls, information, an initial visit for some)",
                                    ASSUMED + ": about 2 hours of a recruitment officer's time", ge=0.0, le=1e6, unit="GBP")
    cost_per_assessment: float = param(6_000.0, "cost of one assessment (Form F, checks, training, panel), approved or not",
                                       ASSUMED + ": an independent Form F assessment costs GBP 3,000-4,000; checks, skills"
                                       " training and panel add about as much again", ge=0.0, le=1e7, unit="GBP")
    team_yearly: float = param(150_000.0, "yearly fixed cost of the recruitment and assessment team and its marketing,"
                                          " paid while recruitment runs", ASSUMED + ": about 3 posts with on-costs", ge=0.0,
                               le=1e9, unit="GBP/year")


@dataclass(frozen=True)
class Turnover:
    """Households leaving the council's register."""

    enabled: bool = param(True, "in-house households deregister")
    deregistration: float = param(0.075, "yearly hazard of deregistering for any reason other than those below",
                                  OFSTED + ": 12.8% a year in all, with the IFA and retirement routes below", ge=0.0, le=10.0, unit="per year")
    after_breakdown_multiplier: float = param(1.5, "hazard multiplier in the months after a placement with the household breaks down", "domain primer: a breakdown can make the carer more likely to leave", ge=1.0, le=100.0)
    after_breakdown_days: float = param(120.0, "how long the raised hazard lasts", ASSUMED, ge=0.0, le=3650.0, unit="days")
    retirement_age: float = param(67.0, "age at which carers retire", ASSUMED, ge=30.0, le=100.0, unit="years")
    carer_age_mean: float = param(48.0, "mean age of carers at the start or at approval", ASSUMED, ge=18.0, le=90.0, unit="years")
    carer_age_sd: float = param(9.0, "spread of carer ages", ASSUMED, ge=0.0, le=30.0, unit="years")
    fee_gap: float = param(0.35, "how much more IFAs pay carers than the council, as a share", SEED + " 4.1.3: IFA placements cost 92% more", ge=-1.0, le=10.0)
    to_ifa_per_gap: float = param(0.08, "yearly hazard of moving to an IFA per unit of fee gap (after any fee uplift)", ASSUMED, ge=0.0, le=10.0)

    def to_ifa_rate(self, fee_uplift: float) -> float:
        return max(0.0, self.fee_gap - fee_uplift) * self.to_ifa_per_gap


@dataclass(frozen=True)
class IfaCarers:
    """IFA fostering capacity made of the agencies' carer households (off: an IFA spot search is a
    plain draw against ``spot.ifa.tightness``, as if the sector had room for every child).

    These are the households, across the agencies the council buys from, that take its children.
    A spot search looks for one with room and the skills the child needs; if there is one, the
    agency still declines the referral with probability ``spot.ifa.tightness`` (another council's
    child, a poor match). The sector recruits new households at its own rate, and in-house carers
    who leave for an IFA (``turnover.to_ifa_per_gap``) join this pool. Block places
    (``contracts.ifa``) are the provider's guarantee and are not drawn from these households.
    """

    enabled: bool = param(True, "IFA spot placements are made with IFA carer households that have room and the skills")
    households: int = param(70, "IFA households taking the council's children when the warm-up starts",
                            ASSUMED + "; " + SEED + " 4.2.4: 19 agencies on the DPS; sized so that in the default about half the approved places are"
                            " filled and a quarter of IFA searches find no household with room and the skills (Complex Needs Accommodation Sufficiency Strategy 2019-2024: the IFA sector appears to be reaching capacity)", ge=0, le=200_000)
    approval_shares: tuple[float, ...] = param(
        (0.47, 0.37, 0.13, 0.03), "share of households approved for 1, 2, 3 and 4 children",
        "as in-house: " + SEED + " 4.2.4", ge=0.0, le=1.0, length=4)
    sibling_skill: float = probability(0.6, "share of households approved and able to take a sibling group",
                                       SEED + " 5.3.1: more sibling groups are placed with IFAs, and for longer")
    complex_skill: float = probability(0.4, "share of households able to care for high or complex needs",
                                       SEED + " 3.2: IFA usage grows for young people with complex needs")
    parent_child_skill: float = probability(0.1, "share of households approved for parent-and-child placements", ASSUMED)
    out_of_area: float = probability(0.4, "share of the households living out of area", SEED + " 4.2.4: IFA placements are often out of area")
    max_placements: int = param(2, "separate placements (unrelated children or sibling groups) a household takes at once", ASSUMED, ge=1, le=4)
    deregistration: float = param(0.09, "yearly hazard of a household leaving for any reason but retirement (at turnover.retirement_age, on top)",
                                  OFSTED + ": 12.8% a year in all; as for in-house households, part of it is retirement", ge=0.0, le=10.0, unit="per year")
    approvals_per_year: float = param(6.5, "new households a year recruited by the agencies and taking the council's children",
                                      ASSUMED + ": with the in-house carers moving across, keeps the pool roughly level", ge=0.0, le=100_000, unit="per year")
    from_inhouse: float = probability(1.0, "share of in-house carers leaving for an IFA who go on taking the council's children through their agency", ASSUMED)

    def __post_init__(self) -> None:
        if not math.isclose(sum(self.approval_shares), 1.0, abs_tol=1e-6):
            raise ScenarioError("approval_shares", f"shares must add up to 1, got {sum(self.approval_shares):g}")
