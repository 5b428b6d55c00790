"""Intervals from matched start/stop events, and their days in each reported year."""

from __future__ import annotations

import numpy as np
import pandas as pd


def pairs(events: pd.DataFrame, start: str, stop: str, horizon: float) -> pd.DataFrame:
    """Intervals from matched start/stop events of each child; open ones end at the horizon.

    Columns: child, k (the child's k-th interval), start, stop, option, value, carer.
    """
    starts = events[events.event == start]
    stops = events[events.event == stop]
    k_start = starts.groupby("child", sort=False).cumcount().to_numpy()
    k_stop = stops.groupby("child", sort=False).cumcount().to_numpy()
    left = pd.DataFrame({"child": starts.child.to_numpy(), "k": k_start, "start": starts.day.to_numpy(),
                         "option": starts.option.to_numpy(), "value": starts.value.to_numpy(),
                         "carer": starts.carer.to_numpy() if "carer" in starts else -1})
    right = pd.DataFrame({"child": stops.child.to_numpy(), "k": k_stop, "stop": stops.day.to_numpy()})
    out = left.merge(right, on=["child", "k"], how="left")
    out["stop"] = out["stop"].fillna(horizon)
    return out


def overlap(start: np.ndarray, stop: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Days of each interval falling in each year: shape (n, years)."""
    lo = np.maximum(start[:, None], edges[None, :-1])
    hi = np.minimum(stop[:, None], edges[None, 1:])
    return np.clip(hi - lo, 0.0, None)
