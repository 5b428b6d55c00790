"""The one colour mapping every figure uses, so a pool keeps its colour from figure to figure.

All colours are from the Okabe-Ito palette (distinguishable with the common forms of
colour blindness), plus a neutral grey; sequential scales use cividis.
"""

from __future__ import annotations

BLACK = "#000000"
ORANGE = "#E69F00"
SKY_BLUE = "#56B4E9"
GREEN = "#009E73"
YELLOW = "#F0E442"
BLUE = "#0072B2"
VERMILION = "#D55E00"
PURPLE = "#CC79A7"
GREY = "#999999"

#: placement pools (and the emergency placements of waiting children)
POOL_COLOURS: dict[str, str] = {
    "kinship": GREEN,
    "inhouse_fostering": BLUE,
    "ifa": ORANGE,
    "residential": VERMILION,
    "supported": PURPLE,
    "waiting": BLACK,
    "staying_put": SKY_BLUE,
}

#: block contracts take their market's pool colour
MARKET_COLOURS: dict[str, str] = {"ifa": ORANGE, "residential": VERMILION, "supported": PURPLE}

#: kinds of spend: every part of ``spend_total`` (pool ``all``; their labels and order are
#: results.measures.COST_TYPES), so that a stacked bar of them is the whole yearly spend
COST_COLOURS: dict[str, str] = {
    "spend_placements": BLUE,
    "spend_fee_uplift": BLUE,  # hatched (COST_HATCHES): paid to in-house foster carers, beside placements
    "spend_retainers": VERMILION,
    "spend_fixed": GREY,
    "spend_recruitment": YELLOW,
    "spend_capital": GREY,  # hatched: one-off, beside the fixed costs
    "spend_emergency": BLACK,
    "spend_staying_put": SKY_BLUE,
}
#: hatching that tells apart two kinds of spend drawn in one colour
COST_HATCHES: dict[str, str] = {"spend_fee_uplift": "///", "spend_capital": "///"}

#: options A-E of an appraisal; A, the as-is authority, is the neutral grey
OPTION_COLOURS: dict[str, str] = {"A": GREY, "B": BLUE, "C": ORANGE, "D": GREEN, "E": PURPLE}

#: scenarios in a run, comparison or sweep, in order
SCENARIO_COLOURS: tuple[str, ...] = (BLUE, ORANGE, GREEN, VERMILION, PURPLE, SKY_BLUE, BLACK, YELLOW, GREY)

#: fan-chart shades of one blue, light (outer band) to dark (median)
FAN: tuple[str, str, str] = ("#C6DBEF", "#6BAED6", "#08519C")

#: the colour map for heatmaps
SEQUENTIAL = "cividis"


def scenario_colour(i: int) -> str:
    return SCENARIO_COLOURS[i % len(SCENARIO_COLOURS)]
