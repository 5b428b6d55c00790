"""The fixed vocabulary of the model: age bands, need bands, pools and placement options.

A *pool* is a kind of home (kinship, in-house fostering, IFA, residential, 16+
supported). An *option* is a way of getting a place in a pool: the council's own
capacity, a block contract, or the spot market. Placement policies are written as
ordered lists of options.
"""

from __future__ import annotations

AGE_BANDS: tuple[str, ...] = ("0", "1-4", "5-9", "10-15", "16-17")
AGE_EDGES_YEARS: tuple[float, ...] = (0.0, 1.0, 5.0, 10.0, 16.0, 18.0)
NEED_BANDS: tuple[str, ...] = ("standard", "moderate", "high", "complex")

POOLS: tuple[str, ...] = ("kinship", "inhouse_fostering", "ifa", "residential", "supported")
POOL_LABELS: dict[str, str] = {
    "kinship": "Kinship fostering",
    "inhouse_fostering": "In-house fostering",
    "ifa": "IFA fostering",
    "residential": "Residential",
    "supported": "16+ supported",
    "waiting": "Waiting (emergency)",
}

#: option name -> (pool, source); source is one of "kin", "inhouse", "block", "spot".
OPTIONS: dict[str, tuple[str, str]] = {
    "kinship": ("kinship", "kin"),
    "inhouse_fostering": ("inhouse_fostering", "inhouse"),
    "ifa_block": ("ifa", "block"),
    "ifa_spot": ("ifa", "spot"),
    "residential_inhouse": ("residential", "inhouse"),
    "residential_block": ("residential", "block"),
    "residential_spot": ("residential", "spot"),
    "supported_inhouse": ("supported", "inhouse"),
    "supported_block": ("supported", "block"),
    "supported_spot": ("supported", "spot"),
}
OPTION_NAMES: tuple[str, ...] = tuple(OPTIONS)

#: which pool a spot market / block contract / in-house capacity section serves
MARKETS: tuple[str, ...] = ("ifa", "residential", "supported")
INHOUSE: dict[str, str] = {"fostering": "inhouse_fostering", "residential": "residential_inhouse", "supported": "supported_inhouse"}
BLOCKS: dict[str, str] = {m: f"{m}_block" for m in MARKETS}
SPOTS: dict[str, str] = {m: f"{m}_spot" for m in MARKETS}

#: carer household numbers at and above this belong to IFA households (below: in-house)
IFA_BASE = 1_000_000

EXIT_ROUTES: tuple[str, ...] = ("return_home", "adoption", "special_guardianship", "other")
DAYS_PER_YEAR = 365.0
DAYS_PER_WEEK = 7.0


def weekly_to_daily(weekly: float) -> float:
    """The one place where weekly prices become the engine's daily rates."""
    return weekly / DAYS_PER_WEEK


def age_band(age_days: float) -> int:
    """Index into :data:`AGE_BANDS` for an age in days (18+ counts as the last band)."""
    years = age_days / DAYS_PER_YEAR
    for i in range(len(AGE_EDGES_YEARS) - 2, 0, -1):
        if years >= AGE_EDGES_YEARS[i]:
            return i
    return 0
