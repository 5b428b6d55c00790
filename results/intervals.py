"""Intervals from matched start/stop events, and their days in each reported year."""

from __future__ import annotations

import numpy as np
import pandas as pd


class ByKind:
    """The event log split once by event kind: ``ev["place"]`` is the rows of that kind (possibly none)."""

    def __init__(self, events: pd.DataFrame):
        self.events = events
        kinds = events.event if isinstance(events.event.dtype, pd.CategoricalDtype) else events.event.astype("category")
        codes = kinds.cat.codes.to_numpy()
        order = np.argsort(codes, kind="stable")  # stable: each kind stays in log order
        self._sorted = events.take(order)
        bounds = np.searchsorted(codes[order], np.arange(len(kinds.cat.categories) + 1))
        self._slices = {str(k): (bounds[i], bounds[i + 1]) for i, k in enumerate(kinds.cat.categories)}

    def __getitem__(self, kind: str) -> pd.DataFrame:
        lo, hi = self._slices.get(kind, (0, 0))
        return self._sorted.iloc[lo:hi]


def _rank(child: np.ndarray) -> np.ndarray:
    """Each row's position among its child's rows, in log order."""
    order = np.argsort(child, kind="stable")
    grouped = child[order]
    first = np.r_[0, np.flatnonzero(np.diff(grouped)) + 1]
    run_start = np.repeat(first, np.diff(np.r_[first, len(grouped)]))
    rank = np.empty(len(child), dtype=np.int64)
    rank[order] = np.arange(len(grouped)) - run_start
    return rank


def pairs(events: "ByKind", start: str, stop: str, horizon: float) -> pd.DataFrame:
    """Intervals from matched start/stop events of each child; open ones end at the horizon.

    A child's k-th start is matched with its k-th stop (they alternate in the log).
    Columns: child, k (the child's k-th interval), start, stop, option, value, carer, and need
    (the child's need when the interval started) where the log has it.
    """
    starts, stops = events[start], events[stop]
    s_child, e_child = starts.child.to_numpy(), stops.child.to_numpy()
    k = _rank(s_child)
    e_rank = _rank(e_child)
    width = int(max(k.max(initial=0), e_rank.max(initial=0))) + 1
    s_key, e_key = s_child * width + k, e_child * width + e_rank
    order = np.argsort(e_key)
    pos = np.searchsorted(e_key[order], s_key)
    pos_ok = np.minimum(pos, max(len(e_key) - 1, 0))
    matched = (pos < len(e_key)) & (e_key[order][pos_ok] == s_key) if len(e_key) else np.zeros(len(s_key), bool)
    stop_day = np.where(matched, stops.day.to_numpy()[order][pos_ok] if len(e_key) else 0.0, horizon)
    out = pd.DataFrame({"child": s_child, "k": k, "start": starts.day.to_numpy(), "stop": stop_day,
                        "option": starts.option.to_numpy(), "value": starts.value.to_numpy(),
                        "carer": starts.carer.to_numpy() if "carer" in starts else -1})
    if "need" in starts:
        out["need"] = starts.need.to_numpy()
    return out


def overlap(start: np.ndarray, stop: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Days of each interval falling in each year: shape (n, years)."""
    lo = np.maximum(start[:, None], edges[None, :-1])
    hi = np.minimum(stop[:, None], edges[None, 1:])
    return np.clip(hi - lo, 0.0, None)
