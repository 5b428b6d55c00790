"""The one catalogue of measures: every number placesim reports, declared once.

A *measure* is a metric of ``metrics.parquet`` for one pool, with the label a reader
sees, its unit (which fixes how it is formatted, :mod:`results.formatting`) and the
section of the summary it belongs to. The summary table, the paired comparison, the
risk register, the options appraisal, the report and the workbook all read their
measures from here, so a label, a unit or a threshold is never written twice.

``key`` is the short name used in risk appetites and frontiers (``spend.p50``);
measures without a short name are keyed ``<metric>:<pool>``.
"""

from __future__ import annotations

from dataclasses import dataclass

from models.catalogue import AGE_BANDS, MARKETS, POOL_LABELS, POOLS

#: a block used less than this in a year stands "more than 30% empty": the one default of the
#: risk register, the appraisal and the report
MIN_UTILISATION = 0.70
#: the percentiles reported everywhere: P10, P50 and P90 across replications (P5 and P95 too in
#: the risk register and the fan charts)
QUANTILES: dict[str, float] = {"p5": 5, "p10": 10, "p50": 50, "p90": 90, "p95": 95}
STATISTICS: tuple[str, ...] = (*QUANTILES, "mean")
STATISTIC_LABELS: dict[str, str] = {
    "mean": "mean across replications", "p5": "5th percentile across replications", "p10": "10th percentile (P10)",
    "p50": "median (P50)", "p90": "90th percentile (P90)", "p95": "95th percentile", "probability": "probability",
}


@dataclass(frozen=True)
class Measure:
    """One reported number: ``metric`` for ``pool`` (``blocks``: every market with a block contract
    together), with its label, unit and summary section declared once."""

    metric: str
    pool: str
    label: str
    unit: str
    section: str
    name: str = ""  # short name for risk appetites and tables; default "<metric>:<pool>"
    lower_is_better: bool | None = None

    @property
    def key(self) -> str:
        return self.name or f"{self.metric}:{self.pool}"


_SPEND_POOL = "Spend by pool, per year"
_SPEND_TYPE = "Spend by cost type, per year"

#: cost types: every part of ``spend_total`` (pool ``all``), in print order
COST_TYPES: dict[str, str] = {
    "spend_placements": "Placements",
    "spend_fee_uplift": "In-house carer fee uplift",
    "spend_retainers": "Retainers on empty block places",
    "spend_fixed": "Fixed costs of in-house homes and beds",
    "spend_recruitment": "Recruiting and assessing in-house carers",
    "spend_capital": "Opening new in-house capacity (one-off)",
    "spend_emergency": "Emergency placements (waiting)",
    "spend_staying_put": "Staying put",
}

_M: list[Measure] = (
    [Measure("spend_total", p, POOL_LABELS[p], "GBP/year", _SPEND_POOL, lower_is_better=True) for p in POOLS]
    + [Measure("spend_total", "waiting", POOL_LABELS["waiting"], "GBP/year", _SPEND_POOL, lower_is_better=True),
       Measure("spend_total", "staying_put", "Staying put (after 18)", "GBP/year", _SPEND_POOL, lower_is_better=True)]
    + [Measure(m, "all", label, "GBP/year", _SPEND_TYPE, name={"spend_retainers": "voids", "spend_emergency": "emergency"}.get(m, ""),
               lower_is_better=True) for m, label in COST_TYPES.items()]
    + [Measure("spend_total", "all", "Total, whole authority", "GBP/year", _SPEND_TYPE, name="spend", lower_is_better=True)]
    + [Measure("block_utilisation", m, f"Utilisation, {m} block", "share", "Block contracts") for m in MARKETS]
    + [Measure("block_utilisation", "blocks", "Block utilisation", "share", "Block contracts", name="block_utilisation")]
    + [Measure("void_days", m, f"Void place-days, {m} block", "days/year", "Block contracts") for m in MARKETS]
    + [Measure("block_placements", m, f"Placements made, {m} block", "per year", "Block contracts") for m in MARKETS]
    + [Measure("block_intended_share", m, f"Place-days held by the intended needs, {m} block", "share", "Block contracts")
       for m in MARKETS]
    + [Measure("places_mean", p, f"Places open, {POOL_LABELS[p].lower()}", "places", "In-house capacity")
       for p in ("inhouse_fostering", "residential", "supported")]
    + [Measure("children_mean", p, POOL_LABELS[p], "children", "Children by pool (mean)") for p in POOLS]
    + [Measure("children_mean", "waiting", POOL_LABELS["waiting"], "children", "Children by pool (mean)"),
       Measure("children_mean", "all", "All in care", "children", "Children by pool (mean)", name="children"),
       Measure("moves_per_child_year", "all", "Placement moves per child-year", "moves/child-year", "Stability", name="moves",
               lower_is_better=True),
       Measure("share_3plus_placements", "all", "Children with 3+ placements in the year", "share", "Stability",
               name="share_3plus", lower_is_better=True),
       Measure("share_stable_2y", "all", "Under-16s in care 2.5+ years, same placement 2+ years", "share", "Stability",
               name="stable_2y", lower_is_better=False),
       Measure("waiting_days", "all", "Days waiting without a suitable placement", "days/year", "Sufficiency",
               name="waiting_days", lower_is_better=True),
       Measure("max_wait_days", "all", "Longest single wait in the year", "days", "Sufficiency", name="max_wait_days",
               lower_is_better=True),
       Measure("share_waited", "all", "Children who waited", "share", "Sufficiency", name="share_waited", lower_is_better=True),
       Measure("share_out_of_area", "all", "Placement days out of area", "share", "Sufficiency", name="out_of_area",
               lower_is_better=True),
       Measure("households_mean", "all", "In-house households (mean)", "households", "Carer households"),
       Measure("approved_places_mean", "all", "Approved places (mean)", "places", "Carer households"),
       Measure("enquiries", "all", "Enquiries (expected)", "per year", "Carer households"),
       Measure("applications", "all", "Applications (assessments started)", "per year", "Carer households"),
       Measure("approvals", "all", "Households approved", "per year", "Carer households"),
       Measure("deregistrations", "all", "Households leaving", "per year", "Carer households"),
       Measure("deregistrations", "to_ifa", "Of which to IFAs", "per year", "Carer households"),
       Measure("carer_occupancy", "all", "Occupancy of approved places", "share", "Carer households"),
       Measure("vacancies_mean", "all", "Free approved places (mean)", "places", "Carer households"),
       Measure("carer_moves", "all", "Moves because the carer left", "moves/year", "Carer households"),
       Measure("ifa_households_mean", "all", "IFA households (mean)", "households", "IFA carer households"),
       Measure("ifa_approvals", "all", "Households joining", "per year", "IFA carer households"),
       Measure("ifa_approvals", "from_inhouse", "Of which from in-house", "per year", "IFA carer households"),
       Measure("ifa_deregistrations", "all", "Households leaving", "per year", "IFA carer households"),
       Measure("ifa_carer_occupancy", "all", "Occupancy of approved places", "share", "IFA carer households"),
       Measure("ifa_vacancies_mean", "all", "Free approved places (mean)", "places", "IFA carer households"),
       Measure("ifa_carer_moves", "all", "Moves because the carer left", "moves/year", "IFA carer households"),
       Measure("parent_child_entries", "all", "Babies entering with a parent", "per year", "Parent and child"),
       Measure("parent_child_placed", "inhouse_fostering", "Placed with an in-house carer", "per year", "Parent and child"),
       Measure("parent_child_placed", "ifa", "Placed with an IFA carer", "per year", "Parent and child"),
       Measure("parent_child_placed", "waiting", "Placed after waiting", "per year", "Parent and child"),
       Measure("parent_child_waiting_days", "all", "Waiting days", "days/year", "Parent and child"),
       Measure("sibling_groups", "all", "Groups entering care", "per year", "Sibling groups"),
       Measure("share_together_at_entry", "all", "Placed together at entry", "share", "Sibling groups",
               name="siblings_together", lower_is_better=False),
       Measure("share_together_1y", "all", "Still together a year later", "share", "Sibling groups"),
       Measure("splits", "all", "Groups split after waiting", "per year", "Sibling groups"),
       Measure("sibling_waiting_days", "all", "Waiting days while kept together", "days/year", "Sibling groups"),
       Measure("later_siblings", "all", "Children entering after a sibling", "per year", "Sibling groups"),
       Measure("share_later_joined", "all", "Of those, placed with the sibling", "share", "Sibling groups"),
       Measure("reunions", "all", "Families reunited", "per year", "Sibling groups"),
       Measure("need_changes", "down", "Needs down at a review", "per year", "Step-downs and step-ups"),
       Measure("need_changes", "up", "Needs up at a review", "per year", "Step-downs and step-ups"),
       Measure("step_downs", "all", "Step-downs, residential to fostering", "per year", "Step-downs and step-ups"),
       Measure("step_down_savings", "all", "Saved by step-downs", "GBP/year", "Step-downs and step-ups"),
       Measure("step_ups", "all", "Step-ups after repeated breakdowns", "per year", "Step-downs and step-ups"),
       Measure("staying_put_starts", "all", "Starting to stay put at 18", "per year", "Step-downs and step-ups"),
       Measure("staying_put_mean", "all", "Staying put (mean)", "young people", "Step-downs and step-ups"),
       Measure("entries", "all", "Entries to care", "children/year", "Flows", name="entries"),
       Measure("exits", "all", "Exits from care", "children/year", "Flows")]
)

#: every measure, by key
MEASURES: dict[str, Measure] = {}
for _m in _M:
    if _m.key in MEASURES:  # pragma: no cover - catalogue authoring error
        raise ValueError(f"measure {_m.key!r} declared twice")
    MEASURES[_m.key] = _m
del _m

#: the summary's measures in print order (``blocks`` is the register's aggregate, not a row of its own)
SUMMARY: tuple[Measure, ...] = tuple(m for m in _M if m.pool != "blocks")

#: what a paired comparison reports
COMPARE: tuple[str, ...] = ("spend", "spend_placements:all", "spend_fee_uplift:all", "voids", "spend_fixed:all",
                            "spend_recruitment:all", "spend_capital:all", "emergency", "moves", "share_3plus", "stable_2y",
                            "waiting_days", "share_waited", "out_of_area")
#: what the risk register reports for each scenario (quantiles across replications)
RISK: tuple[str, ...] = ("spend", "voids", "waiting_days", "max_wait_days", "moves", "share_3plus", "block_utilisation")
#: what the appraisal reports, and which statistics
APPRAISAL: dict[str, tuple[str, ...]] = {
    "spend": ("p10", "p50", "p90", "mean"), "voids": ("p50", "p90", "mean"), "emergency": ("p50", "mean"),
    "moves": ("p10", "p50", "p90", "mean"), "share_3plus": ("p10", "p50", "p90", "mean"),
    "waiting_days": ("p10", "p50", "p90", "mean"), "share_waited": ("p50", "mean"), "out_of_area": ("p50", "mean"),
    "siblings_together": ("p50", "mean"),
}

#: the yearly table (by financial year): spend by pool, children by pool, waiting
BY_YEAR: tuple[str, ...] = (
    *(f"spend_total:{p}" for p in (*POOLS, "waiting", "staying_put")), "spend",
    *(f"children_mean:{p}" for p in (*POOLS, "waiting")), "children", "entries", "waiting_days", "share_waited")
#: children in care at the end of each year (31 March), by age band and pool
AGE_METRIC = "children_end_by_age"
AGE_POOLS: tuple[str, ...] = (*POOLS, "waiting", "all")


def age_metric_pool(pool: str, band: str) -> str:
    """The ``pool`` column of a by-age row: ``<pool>/<age band>`` (e.g. ``ifa/10-15``)."""
    return f"{pool}/{band}"


AGE_BAND_LABELS: dict[str, str] = {b: ("under 1" if b == "0" else b) for b in AGE_BANDS}


def measure(key: str) -> Measure:
    try:
        return MEASURES[key]
    except KeyError:
        raise KeyError(f"unknown measure {key!r}") from None


def measures(keys) -> list[Measure]:
    return [measure(k) for k in keys]


def financial_year(year: int, start_month: int = 4) -> str:
    """``2019`` -> ``2019/20`` (a year that starts in April); a January start keeps ``2019``."""
    return str(year) if start_month == 1 else f"{year}/{(year + 1) % 100:02d}"
