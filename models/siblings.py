"""Scenario section for sibling groups."""

from __future__ import annotations

import math
from dataclasses import dataclass

from models.schema import ScenarioError, param


@dataclass(frozen=True)
class Siblings:
    """Children entering care together as a sibling group, and the policy for keeping them together."""

    enabled: bool = param(True, "children can enter care as sibling groups (off: every child enters alone)")
    group_shares: tuple[float, ...] = param(
        (0.66, 0.22, 0.08, 0.04), "share of entries to care that are 1, 2, 3 or 4 children entering together",
        "Placements Commissioning Strategy 5.3.1: 58% of children in care are in a sibling group (these shares give ~56% of entrants)",
        ge=0.0, le=1.0, length=4)
    together_wait_days: float = param(
        14.0, "days a group waits for a placement that takes them all before it is split", "assumption, to be calibrated",
        ge=0.0, le=3650.0, unit="days")

    reunite: bool = param(
        False, "a group split up is brought together again when an in-house household with the sibling skill and room "
        "for all of them becomes free (each move counts as a placement move)", "Placements Commissioning Strategy 5.3.1 and 6.2: councils aim to "
        "reunite siblings; off by default because how often they do is not known")
    later_share: float = param(
        0.1, "share of sibling groups whose younger members enter care later than the first, one at a time",
        "assumption, to be calibrated from 903 data (children entering with a sibling already in care)", ge=0.0, le=1.0)
    later_mean_days: float = param(
        365.0, "mean time after the first child's entry at which a later sibling enters (exponential)",
        "assumption, to be calibrated", gt=0.0, le=3650.0, unit="days")

    spot_success_per_extra_child: float = param(
        0.6, "a spot search for a group succeeds with the market's probability times this, per child beyond the first",
        "Placements Commissioning Strategy 3.2 and 5.3.1: sibling groups are hard to place; assumption, to be calibrated", ge=0.0, le=1.0)

    def __post_init__(self) -> None:
        if not math.isclose(sum(self.group_shares), 1.0, abs_tol=1e-6):
            raise ScenarioError("group_shares", f"shares must add up to 1, got {sum(self.group_shares):g}")

    @property
    def mean_size(self) -> float:
        return sum((k + 1) * p for k, p in enumerate(self.group_shares)) if self.enabled else 1.0
