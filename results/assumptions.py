"""What a scenario assumes, for a reader: each changed value with its meaning and sources, and the
terms of every contract and of the council's own places.

The report and the workbook both show these tables; the meaning and source of each key come from
the scenario schema's field metadata, where every default is declared once.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import typing
from typing import Any

import pandas as pd

from models.catalogue import MARKETS, POOL_LABELS
from models.scenario import Scenario, ScenarioError
from results.formatting import money, pct


def field_info(key: str) -> tuple[str, str]:
    """(meaning, source) of a dotted scenario key, from the schema's field metadata.

    A field without its own source takes the nearest enclosing section's description,
    which names the source of the section's defaults.
    """
    cls: Any = Scenario
    doc, source, section_doc = "", "", ""
    for part in key.split("."):
        if not dataclasses.is_dataclass(cls):
            break
        fields = {f.name: f for f in dataclasses.fields(cls)}
        if part not in fields:
            break
        meta = fields[part].metadata
        if meta.get("section"):
            section_doc = meta.get("doc", "") or section_doc
        doc = meta.get("doc", "")
        source = meta.get("source", "")
        cls = typing.get_type_hints(cls).get(part)
    return doc, source or section_doc


def _value(v: Any) -> str:
    if isinstance(v, list) and v and isinstance(v[0], dict):
        return "; ".join(", ".join(f"{k}={'/'.join(map(str, x)) if isinstance(x, list) else x}" for k, x in d.items()) for d in v)
    if isinstance(v, list):
        return ", ".join(map(str, v))
    return str(v)


def assumptions_table(differences: dict[str, tuple[Any, Any]], notes: dict[str, str] | None = None,
                      set_by: str = "this scenario") -> pd.DataFrame:
    """One row per parameter that differs from the default: key, value, who set it, default, meaning and source.

    A value with a note (a preset's comment) takes the note as its source. Any other changed value
    is the user's own: it is labelled so, and the default's source is given as the default's."""
    notes = notes or {}
    rows = []
    for key, (mine, default) in differences.items():
        if key == "name":
            continue
        doc, source = field_info(key)
        note = notes.get(key)
        rows.append({"parameter": key, "value": _value(mine), "set by": "preset" if note else set_by,
                     "default": _value(default), "meaning": doc,
                     "source of the value": note or "the user's own value (no source recorded)",
                     "source of the default": source or "–"})
    return pd.DataFrame(rows, columns=["parameter", "value", "set by", "default", "meaning", "source of the value",
                                       "source of the default"])


def contract_terms(scenario: dict) -> pd.DataFrame:
    """Every block contract and the council's own capacity, whether or not it differs from the default:
    places, prices, retainer, dates and need bands."""
    try:
        s = Scenario.from_dict(scenario)
    except ScenarioError:
        return pd.DataFrame()
    rows = []
    for m in MARKETS:
        b = getattr(s.contracts, m)
        if b.places == 0:
            rows.append({"what": f"{POOL_LABELS[m]} block contract", "places": "none", "weekly price": "–",
                         "an empty place costs": "–", "from": "–", "to": "–", "needs": "–"})
            continue
        retainer = f"{money(b.retainer_weekly_cost)} a week" + (
            f" ({pct(b.retainer)} of the price)" if b.retainer_weekly is None else " (a fixed retainer)")
        rows.append({"what": f"{POOL_LABELS[m]} block contract", "places": str(b.places), "weekly price": money(b.weekly_price),
                     "an empty place costs": retainer, "from": str(b.start), "to": str(b.end_date),
                     "needs": ", ".join(b.needs)})
    for section, label in (("fostering", "In-house fostering"), ("residential", "In-house children's home"),
                           ("supported", "In-house 16+ (Housing)")):
        c = getattr(s.inhouse, section)
        if section == "fostering" and s.carers.enabled:
            places = f"{s.carers.households} carer households at the start"
        else:
            places = str(c.places) + "".join(f"; +{o.places} from {o.start}" + (f" to {o.end}" if o.end else "")
                                            for o in c.openings)
        cost = money(c.weekly_cost)
        if section == "fostering" and s.recruitment.fee_uplift:
            cost += f" + fee uplift of {pct(s.recruitment.fee_uplift)} on the {pct(c.fee_share)} that is the carer's fee"
        rows.append({"what": label, "places": places, "weekly price": cost,
                     "an empty place costs": f"{money(c.weekly_cost * c.fixed_share)} a week ({pct(c.fixed_share)} fixed)"
                     if c.fixed_share and not (section == "fostering" and s.carers.enabled) else "–",
                     "from": "–", "to": str(c.end) if c.end else "–", "needs": "all"})
    return pd.DataFrame(rows)


def scenario_differences(scenario: dict) -> dict[str, tuple[Any, Any]]:
    try:
        s = Scenario.from_dict(scenario)
    except ScenarioError:
        return {}
    return {k: (_plain(a), _plain(b)) for k, (a, b) in s.differences().items()}


def _plain(v: Any) -> Any:
    if isinstance(v, (dt.date,)):
        return v.isoformat()
    return v
