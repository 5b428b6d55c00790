"""The SSDA903 code lists placesim understands, and how codes map onto placesim's pools and exit routes.

The mapping is data, not code: :data:`DEFAULT_POOLS` maps a PLACE code (or a
``PLACE/PLACE_PROVIDER`` pair, which wins over the bare code) to a pool, and a
small TOML file can override any entry::

    [pools]
    "U4/PR3" = "ifa"        # another public body's carers counted as bought-in
    Z1 = "residential"

    unplanned = ["CREQB", "CREQO", "CHILD", "ALLEG"]   # REASON_PLACE_CHANGE codes that count as breakdowns

    [exits]
    E8 = "return_home"

The code lists are the DfE's current ones, as its validator checks them (rules 144, 146, 149, 178,
1009, and 103 for RNE), with K3 added for the supported accommodation Ofsted has registered since
2023. The retired special guardianship codes E43 and E44 of older returns are still read
(:data:`RETIRED_REC_CODES`), with a warning.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from models.catalogue import EXIT_ROUTES, POOLS
from models.schema import ScenarioError

#: placements for adoption (A3-A6): a move into one is the care plan carried out, never a breakdown
ADOPTION_PLACES: frozenset[str] = frozenset({"A3", "A4", "A5", "A6"})
#: pools of the 903 data: placesim's five, and ``other`` for placements placesim does not model
DATA_POOLS: tuple[str, ...] = POOLS + ("other",)

PLACE_CODES: dict[str, str] = {
    "A3": "placed for adoption with consent, with current foster carer",
    "A4": "placed for adoption with consent, not with current foster carer",
    "A5": "placed for adoption with placement order, with current foster carer",
    "A6": "placed for adoption with placement order, not with current foster carer",
    "H5": "semi-independent living accommodation not subject to children's homes regulations",
    "K1": "secure children's home",
    "K2": "children's home subject to children's homes regulations",
    "K3": "supported accommodation registered with Ofsted (Supported Accommodation (England) Regulations 2023)",
    "P1": "placed with own parent(s) or other person(s) with parental responsibility",
    "P2": "independent living, e.g. in a flat, lodgings, bedsit, B&B or with friends",
    "P3": "residential employment",
    "R1": "residential care home",
    "R2": "NHS or health trust or other establishment providing medical or nursing care",
    "R3": "family centre or mother and baby unit",
    "R5": "young offender institution or prison",
    "S1": "residential school",
    "T0": "temporary placement (all types)",
    "T1": "temporary periods in hospital",
    "T2": "temporary absence on holiday",
    "T3": "temporary accommodation whilst normal foster carer is on holiday",
    "T4": "temporary accommodation of seven days or less",
    "U1": "foster placement with relative or friend, long term fostering",
    "U2": "foster placement with relative or friend who is also an approved adopter (FFA / concurrent)",
    "U3": "foster placement with relative or friend, not long term or FFA / concurrent",
    "U4": "foster placement with other foster carer, long term fostering",
    "U5": "foster placement with other foster carer who is also an approved adopter (FFA / concurrent)",
    "U6": "foster placement with other foster carer, not long term or FFA / concurrent",
    "Z1": "other placements",
}
PROVIDER_CODES: dict[str, str] = {
    "PR0": "parent(s) or other person(s) with parental responsibility",
    "PR1": "own provision (by the council)",
    "PR2": "other local authority provision",
    "PR3": "other public provision (e.g. by a primary care trust)",
    "PR4": "private provision",
    "PR5": "voluntary, third sector provision",
}
RNE_CODES: dict[str, str] = {
    "S": "started to be looked after",
    "L": "change of legal status only",
    "P": "change of placement and carer(s) only",
    "T": "change of placement only, same carer(s)",
    "B": "change of legal status and placement and carer(s) at the same time",
    "U": "change of legal status and change of placement, same carer(s)",
}
#: RNE codes that are a change of placement (a move)
MOVE_RNE: frozenset[str] = frozenset({"P", "T", "B", "U"})
LS_CODES: dict[str, str] = {
    "C1": "interim care order", "C2": "full care order", "D1": "freeing order granted",
    "E1": "placement order granted", "J1": "remanded to local authority accommodation or to youth detention accommodation",
    "J2": "placed in local authority accommodation under PACE", "J3": "sentenced to CYPA 1969 supervision order with residence requirement",
    "L1": "under police protection and in local authority accommodation", "L2": "emergency protection order",
    "L3": "under child assessment order and in local authority accommodation",
    "V2": "single period of accommodation under section 20",
    "V3": "accommodated under an agreed series of short-term breaks, individual episodes",
    "V4": "accommodated under an agreed series of short-term breaks, summary episodes",
}
#: legal statuses of short breaks (respite), which are not periods of care placesim models
SHORT_BREAKS: frozenset[str] = frozenset({"V3", "V4"})
REC_CODES: dict[str, str] = {
    "X1": "episode ceases, and new episode begins on same day, for any reason",
    "E11": "adopted, application for an adoption order unopposed", "E12": "adopted, consent dispensed with by the court",
    "E13": "left care to live with parent(s), relative(s), or other person(s) with no parental responsibility",
    "E14": "accommodation on remand ended", "E15": "age assessment determined child is aged 18 or over",
    "E16": "child moved abroad", "E2": "died", "E3": "care taken over by another local authority",
    "E41": "residence order or child arrangements order granted",
    "E45": "special guardianship order made to former foster carer(s), who were relatives or friends",
    "E46": "special guardianship order made to former foster carer(s), other than relatives or friends",
    "E47": "special guardianship order made to carer(s), other than former foster carer(s), who were relatives or friends",
    "E48": "special guardianship order made to carer(s), other than former foster carer(s), other than relatives or friends",
    "E4A": "returned home to live with parent(s) or other person(s) with parental responsibility as part of the care planning process",
    "E4B": "returned home to live with parent(s) or other person(s) with parental responsibility not as part of the care planning process",
    "E5": "moved into independent living arrangement and no longer looked-after: supportive accommodation",
    "E6": "moved into independent living arrangement and no longer looked-after: without formalised support",
    "E7": "transferred to residential care funded by adult social care services",
    "E8": "period of being looked-after ceased for any other reason",
    "E9": "sentenced to custody",
    "E17": "aged 18 (or over) and remained with current carers (staying put)",
}
#: REC codes the DfE no longer accepts (rule 149), still found in older returns: read, mapped as before, and warned
#: about. E43 and E44 were the special guardianship codes E45-E48 replaced.
RETIRED_REC_CODES: dict[str, str] = {
    "E43": "special guardianship order made to former foster carer(s) (retired: now E45-E48)",
    "E44": "special guardianship order made to carer(s) other than former foster carers (retired: now E45-E48)",
}
RPC_CODES: dict[str, str] = {
    "ALLEG": "allegation (s47)", "APPRR": "approval removed", "CARPL": "change to / implementation of care plan",
    "CLOSE": "resignation / closure of provision", "CREQB": "carer(s) requests placement end due to child's behaviour",
    "CREQO": "carer(s) requests placement end other than due to child's behaviour", "CHILD": "child requests placement end",
    "LAREQ": "responsible / area authority requests placement end", "PLACE": "change in the status of placement only",
    "STAND": "standards of care concern", "CUSTOD": "custody arrangement", "OTHER": "other",
}

DEFAULT_POOLS: dict[str, str] = {
    "U1": "kinship", "U2": "kinship", "U3": "kinship",
    **{f"{u}": "inhouse_fostering" for u in ("U4", "U5", "U6")},
    **{f"{u}/{p}": "ifa" for u in ("U4", "U5", "U6") for p in ("PR4", "PR5")},
    "K1": "residential", "K2": "residential", "R1": "residential", "R2": "residential", "S1": "residential",
    "H5": "supported", "K3": "supported", "P2": "supported", "P3": "supported",
    **{c: "other" for c in ("A3", "A4", "A5", "A6", "P1", "R3", "R5", "T0", "T1", "T2", "T3", "T4", "Z1")},
}
#: REC code -> placesim exit route; exits at 18 or over count as ``turned_18`` whatever the code
DEFAULT_EXITS: dict[str, str] = {
    "E11": "adoption", "E12": "adoption",
    "E4A": "return_home", "E4B": "return_home", "E13": "return_home",
    **{c: "special_guardianship" for c in ("E41", "E43", "E44", "E45", "E46", "E47", "E48")},
    **{c: "other" for c in ("E14", "E15", "E16", "E2", "E3", "E5", "E6", "E7", "E8", "E9", "E17")},
}
#: REASON_PLACE_CHANGE codes counted as breakdowns. placesim's breakdowns include the planned short-term
#: moves the model does not otherwise represent, hence CARPL (change to the care plan) is in the list.
DEFAULT_UNPLANNED: tuple[str, ...] = ("CARPL", "CREQB", "CREQO", "CHILD", "ALLEG", "STAND")


@dataclass(frozen=True)
class CodeMap:
    """How 903 codes become pools, exit routes and breakdowns."""

    pools: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_POOLS))
    exits: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_EXITS))
    unplanned: tuple[str, ...] = DEFAULT_UNPLANNED

    def pool(self, place: str, provider: str) -> str:
        return self.pools.get(f"{place}/{provider}", self.pools.get(place, "other"))

    def describe(self) -> list[tuple[str, str]]:
        """(code, pool) rows for the report, bare codes first."""
        return sorted(self.pools.items(), key=lambda kv: ("/" in kv[0], kv[0]))

    @classmethod
    def load(cls, path: str | Path | None) -> "CodeMap":
        """The default mapping, with the entries of the TOML file at ``path`` laid over it."""
        base = cls()
        if path is None:
            return base
        p = Path(path)
        if not p.is_file():
            raise ScenarioError("", f"code mapping file not found: {p}")
        try:
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
            raise ScenarioError("", f"{p} is not valid TOML: {e}") from None
        unknown = set(data) - {"pools", "exits", "unplanned"}
        if unknown:
            raise ScenarioError(sorted(unknown)[0], f"unknown key in {p} (allowed: pools, exits, unplanned)")
        pools = dict(base.pools)
        for key, pool in data.get("pools", {}).items():
            place, _, provider = key.partition("/")
            if place not in PLACE_CODES or (provider and provider not in PROVIDER_CODES):
                raise ScenarioError(f"pools.{key}", "unknown PLACE or PLACE_PROVIDER code")
            if pool not in DATA_POOLS:
                raise ScenarioError(f"pools.{key}", f"must be one of {', '.join(DATA_POOLS)}; got {pool!r}")
            pools[key] = pool
        exits = dict(base.exits)
        for code, route in data.get("exits", {}).items():
            if (code not in REC_CODES and code not in RETIRED_REC_CODES) or code == "X1":
                raise ScenarioError(f"exits.{code}", "unknown exit (REC) code")
            if route not in EXIT_ROUTES:
                raise ScenarioError(f"exits.{code}", f"must be one of {', '.join(EXIT_ROUTES)}; got {route!r}")
            exits[code] = route
        unplanned = data.get("unplanned", base.unplanned)
        if not isinstance(unplanned, list) and unplanned is not base.unplanned:
            raise ScenarioError("unplanned", "expected a list of REASON_PLACE_CHANGE codes")
        for code in unplanned:
            if code not in RPC_CODES:
                raise ScenarioError("unplanned", f"unknown REASON_PLACE_CHANGE code {code!r}")
        return cls(pools=pools, exits=exits, unplanned=tuple(unplanned))
