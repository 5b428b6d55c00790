"""Who block places went to: placements made, and the share of occupied place-days held by
children of the need bands the contract was bought for.

A block takes only children of its ``needs`` bands, but needs change at reviews while a child
stays, so the share of its place-days held by the intended bands can fall below 1: a block
for complex needs whose children have settled is paying for places the intended children
cannot use.

===========================  =====================================================================
metric (pool = market)       definition
===========================  =====================================================================
block_placements             placements started in the block in the year
block_intended_share         occupied block place-days with the child in one of the contract's
                             need bands / all occupied block place-days (while the contract runs)
===========================  =====================================================================
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from models.catalogue import NEED_BANDS
from results.intervals import overlap


def intended_days(place: pd.DataFrame, changes: pd.DataFrame, bands: tuple[str, ...],
                  a: float, b: float, edges: np.ndarray) -> np.ndarray:
    """Days in each year, within [a, b), that the placements in ``place`` were held by a child whose
    need was in ``bands``; the need starts as the placement's ``need`` and follows the child's
    ``need_change`` events (value = the new band's index)."""
    wanted = np.isin(np.asarray(NEED_BANDS), bands)
    by_child: dict[int, list[tuple[float, int]]] = {}
    for child, day, value in zip(changes.child.to_numpy(), changes.day.to_numpy(), changes.value.to_numpy()):
        by_child.setdefault(int(child), []).append((float(day), int(value)))
    lo, hi, keep = [], [], []
    for child, start, stop, need in zip(place.child.to_numpy(), place.start.to_numpy(), place.stop.to_numpy(),
                                        place.need.to_numpy()):
        cut, band = start, NEED_BANDS.index(str(need))
        for day, new in by_child.get(int(child), ()):
            if start <= day < stop:
                lo.append(cut), hi.append(day), keep.append(wanted[band])
                cut, band = day, new
        lo.append(cut), hi.append(stop), keep.append(wanted[band])
    if not lo:
        return np.zeros(len(edges) - 1)
    lo, hi, keep = np.maximum(np.array(lo), a), np.minimum(np.array(hi), b), np.array(keep, dtype=bool)
    return overlap(lo[keep], hi[keep], edges).sum(axis=0)
