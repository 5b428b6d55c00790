"""The headline table: each measure's mean and 90% interval across replications.

A replication's value of a measure is its mean over the reported years (a
yearly figure); the table gives the mean of those values and their 5th and 95th
percentiles, so the interval describes the spread of a typical year's outcome
between replications.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from models.catalogue import POOL_LABELS, POOLS

#: (section, label, metric, pool, unit) in print order
HEADLINES: list[tuple[str, str, str, str, str]] = (
    [("Spend by pool, per year", POOL_LABELS[p], "spend_total", p, "GBP/year") for p in POOLS]
    + [("Spend by pool, per year", POOL_LABELS["waiting"], "spend_total", "waiting", "GBP/year"),
       ("Spend by pool, per year", "Staying put (after 18)", "spend_total", "staying_put", "GBP/year")]
    + [
        ("Spend by cost type, per year", "Placements", "spend_placements", "all", "GBP/year"),
        ("Spend by cost type, per year", "Retainers on empty block places", "spend_retainers", "all", "GBP/year"),
        ("Spend by cost type, per year", "Fixed in-house costs", "spend_fixed", "all", "GBP/year"),
        ("Spend by cost type, per year", "Emergency placements", "spend_emergency", "all", "GBP/year"),
        ("Spend by cost type, per year", "Staying put", "spend_staying_put", "all", "GBP/year"),
        ("Spend by cost type, per year", "Total", "spend_total", "all", "GBP/year"),
    ]
    + [("Block contracts", f"Utilisation, {m} block", "block_utilisation", m, "share") for m in ("ifa", "residential", "supported")]
    + [("Block contracts", f"Void place-days, {m} block", "void_days", m, "days/year") for m in ("ifa", "residential", "supported")]
    + [("Block contracts", f"Placements made, {m} block", "block_placements", m, "per year") for m in ("ifa", "residential", "supported")]
    + [("Block contracts", f"Place-days held by the intended needs, {m} block", "block_intended_share", m, "share")
       for m in ("ifa", "residential", "supported")]
    + [("Children by pool (mean)", POOL_LABELS[p], "children_mean", p, "children") for p in POOLS]
    + [
        ("Children by pool (mean)", POOL_LABELS["waiting"], "children_mean", "waiting", "children"),
        ("Children by pool (mean)", "All in care", "children_mean", "all", "children"),
        ("Stability", "Placement moves per child-year", "moves_per_child_year", "all", "moves"),
        ("Stability", "Children with 3+ placements in the year", "share_3plus_placements", "all", "share"),
        ("Stability", "Under-16s in care 2.5+ years, same placement 2+ years", "share_stable_2y", "all", "share"),
        ("Sufficiency", "Days waiting without a suitable placement", "waiting_days", "all", "days/year"),
        ("Sufficiency", "Children who waited", "share_waited", "all", "share"),
        ("Sufficiency", "Placement days out of area", "share_out_of_area", "all", "share"),
        ("Carer households", "In-house households (mean)", "households_mean", "all", "households"),
        ("Carer households", "Approved places (mean)", "approved_places_mean", "all", "places"),
        ("Carer households", "Households approved", "approvals", "all", "per year"),
        ("Carer households", "Households leaving", "deregistrations", "all", "per year"),
        ("Carer households", "Of which to IFAs", "deregistrations", "to_ifa", "per year"),
        ("Carer households", "Occupancy of approved places", "carer_occupancy", "all", "share"),
        ("Carer households", "Free approved places (mean)", "vacancies_mean", "all", "places"),
        ("Carer households", "Moves because the carer left", "carer_moves", "all", "moves/year"),
        ("IFA carer households", "IFA households (mean)", "ifa_households_mean", "all", "households"),
        ("IFA carer households", "Households joining", "ifa_approvals", "all", "per year"),
        ("IFA carer households", "Of which from in-house", "ifa_approvals", "from_inhouse", "per year"),
        ("IFA carer households", "Households leaving", "ifa_deregistrations", "all", "per year"),
        ("IFA carer households", "Occupancy of approved places", "ifa_carer_occupancy", "all", "share"),
        ("IFA carer households", "Free approved places (mean)", "ifa_vacancies_mean", "all", "places"),
        ("IFA carer households", "Moves because the carer left", "ifa_carer_moves", "all", "moves/year"),
        ("Parent and child", "Babies entering with a parent", "parent_child_entries", "all", "per year"),
        ("Parent and child", "Placed with an in-house carer", "parent_child_placed", "inhouse_fostering", "per year"),
        ("Parent and child", "Placed with an IFA carer", "parent_child_placed", "ifa", "per year"),
        ("Parent and child", "Placed after waiting", "parent_child_placed", "waiting", "per year"),
        ("Parent and child", "Waiting days", "parent_child_waiting_days", "all", "days/year"),
        ("Sibling groups", "Groups entering care", "sibling_groups", "all", "per year"),
        ("Sibling groups", "Placed together at entry", "share_together_at_entry", "all", "share"),
        ("Sibling groups", "Still together a year later", "share_together_1y", "all", "share"),
        ("Sibling groups", "Groups split after waiting", "splits", "all", "per year"),
        ("Sibling groups", "Waiting days while kept together", "sibling_waiting_days", "all", "days/year"),
        ("Sibling groups", "Children entering after a sibling", "later_siblings", "all", "per year"),
        ("Sibling groups", "Of those, placed with the sibling", "share_later_joined", "all", "share"),
        ("Sibling groups", "Families reunited", "reunions", "all", "per year"),
        ("Step-downs and step-ups", "Needs down at a review", "need_changes", "down", "per year"),
        ("Step-downs and step-ups", "Needs up at a review", "need_changes", "up", "per year"),
        ("Step-downs and step-ups", "Step-downs, residential to fostering", "step_downs", "all", "per year"),
        ("Step-downs and step-ups", "Saved by step-downs", "step_down_savings", "all", "GBP/year"),
        ("Step-downs and step-ups", "Step-ups after repeated breakdowns", "step_ups", "all", "per year"),
        ("Step-downs and step-ups", "Starting to stay put at 18", "staying_put_starts", "all", "per year"),
        ("Step-downs and step-ups", "Staying put (mean)", "staying_put_mean", "all", "young people"),
        ("Flows", "Entries to care", "entries", "all", "children/year"),
        ("Flows", "Exits from care", "exits", "all", "children/year"),
    ]
)


def summarise(metrics: pd.DataFrame) -> pd.DataFrame:
    """One row per headline measure present in ``metrics``: mean, p5, p95 across replications."""
    per_rep = metrics.groupby(["metric", "pool", "replication"], observed=True).value.mean()
    rows = []
    for sect, label, metric, pool, unit in HEADLINES:
        if (metric, pool) not in per_rep.index.droplevel("replication"):
            continue
        v = per_rep.loc[(metric, pool)].to_numpy(dtype=float)
        v = v[~np.isnan(v)]
        if len(v) == 0:
            continue
        rows.append({"section": sect, "measure": label, "metric": metric, "pool": pool, "unit": unit,
                     "mean": v.mean(), "p5": np.percentile(v, 5), "p95": np.percentile(v, 95), "replications": len(v)})
    return pd.DataFrame(rows)


def _fmt(x: float, unit: str) -> str:
    if unit == "GBP/year":
        return f"£{x:,.0f}"
    if unit == "share":
        return f"{100 * x:.1f}%"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    return f"{x:.2f}"


def format_summary(table: pd.DataFrame, title: str = "") -> str:
    """Plain-text table for the terminal."""
    lines = [title] if title else []
    width = max((len(m) for m in table.measure), default=10) + 2
    section = None
    for r in table.itertuples():
        if r.section != section:
            section = r.section
            lines += ["", f"{section:{width + 2}}{'mean':>14}   {'90% interval':<25}"]
        interval = f"{_fmt(r.p5, r.unit)} – {_fmt(r.p95, r.unit)}"
        lines.append(f"  {r.measure:{width}}{_fmt(r.mean, r.unit):>14}   {interval}")
    if not (table.metric == "block_utilisation").any():
        lines += ["", "Block contracts: none in this scenario (set contracts.<ifa|residential|supported>.places)"]
    return "\n".join(lines)
