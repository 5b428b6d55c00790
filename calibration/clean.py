"""Cleaning merged 903 returns into one history of placements per child.

The rules, applied in this order (each counted in the report):

1. **Latest return wins.** An episode (CHILD, DECOM) sent in several returns keeps the row of the
   latest return: an episode open at one 31 March is sent again, closed, the next year.
2. **Duplicates.** Rows of one return with the same CHILD and DECOM are one episode; the row that
   ends latest (an open one counts as latest) is kept.
3. **Short breaks.** Episodes with legal status V3 or V4 (agreed series of short breaks) are not
   periods of care placesim models, and are dropped.
4. **Overlaps are trimmed.** An episode that ends after the child's next episode starts, or is still
   open when it does, is cut to end that day, with REC X1 (the child stayed in care).
5. **Legal-status-only changes are merged.** An episode with RNE L that starts the day the child's
   previous episode ended with X1 continues that placement: the two become one placement episode,
   which ends as the last of them ended (DEC, REC and REASON_PLACE_CHANGE, which the DfE records on
   the episode that ends).
6. **Periods of care.** A child's episodes up to and including one with an E (left care) code form a
   period of care; the next episode starts a new one.

An episode still open in its latest return is censored at that return's 31 March.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from calibration.codes import MOVE_RNE, SHORT_BREAKS, CodeMap
from calibration.read903 import Returns, return_end
from models.catalogue import DAYS_PER_YEAR

#: a child leaving care at this age (days) or later has turned 18, whatever the REC code says
AGE_18_DAYS = 17.99 * DAYS_PER_YEAR


@dataclass
class Episodes:
    """Cleaned placement episodes, one row each, ordered by child and start.

    Columns: child, dob, uasc, start, end (NaN when open), stop (end, or the day after the censor
    day when open: intervals are [start, stop)), open, rne, ls, place, provider, rec, rpc, pool,
    period (a global number per period of care), first (first episode of its period),
    entry (the period started here with RNE S), move (RNE is a change of placement),
    route (exit route when the period ends here, else ''), year.
    """

    table: pd.DataFrame
    years: list[int]
    has_uasc: bool
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def first_day(self) -> int:
        """1 April of the first return's year: the start of the observation window."""
        return return_end(self.years[0] - 1) + 1

    @property
    def last_day(self) -> int:
        """31 March of the last return."""
        return return_end(self.years[-1])


def _shift(values: np.ndarray, same: np.ndarray, fill, step: int):
    """Values of the next (step=-1) or previous (step=1) row when it belongs to the same child."""
    out = np.roll(values, step)
    return np.where(same, out, fill)


def clean(ret: Returns, codes: CodeMap | None = None) -> Episodes:
    """Apply the cleaning rules to what :func:`read_returns` read."""
    codes = codes or CodeMap()
    e = ret.episodes.copy()
    counts: dict[str, int] = {}

    e = e.sort_values(["child", "start", "year"], kind="stable")
    latest = e.groupby(["child", "start"], sort=False).year.transform("max").to_numpy()
    older = e.year.to_numpy() < latest
    counts["superseded by a later return"] = int(older.sum())
    e = e[~older]

    e = e.assign(_end=e.end.fillna(np.inf)).sort_values(["child", "start", "_end"], kind="stable")
    dup = e.duplicated(["child", "start"], keep="last").to_numpy()
    counts["duplicates dropped"] = int(dup.sum())
    e = e[~dup].drop(columns="_end")

    short = e.ls.isin(list(SHORT_BREAKS)).to_numpy()
    counts["short-break episodes dropped (LS V3, V4)"] = int(short.sum())
    e = e[~short].reset_index(drop=True)

    child = e.child.to_numpy()
    start = e.start.to_numpy()
    end = e.end.to_numpy().copy()
    rec = e.rec.to_numpy().copy()
    has_next = np.r_[child[1:] == child[:-1], False] if len(e) else np.zeros(0, bool)
    next_start = np.r_[start[1:], np.nan] if len(e) else np.zeros(0)
    overlap = has_next & (np.isnan(end) | (end > next_start))
    counts["overlapping episodes trimmed"] = int(overlap.sum())
    end[overlap] = next_start[overlap]
    rec[overlap] = "X1"
    e["end"], e["rec"] = end, rec

    # merge legal-status-only changes into the placement they continue
    has_prev = np.r_[False, child[1:] == child[:-1]] if len(e) else np.zeros(0, bool)
    prev_end = np.r_[np.nan, end[:-1]] if len(e) else np.zeros(0)
    prev_rec = np.r_[[""], rec[:-1]] if len(e) else np.zeros(0, dtype=object)
    cont = (e.rne.to_numpy() == "L") & has_prev & (prev_end == start) & (prev_rec == "X1")
    counts["legal-status-only episodes merged"] = int(cont.sum())
    if cont.any():
        gid = np.cumsum(~cont) - 1
        last = np.r_[np.flatnonzero(np.diff(gid)), len(gid) - 1]
        first = np.flatnonzero(~cont)
        merged = e.iloc[first].reset_index(drop=True)
        tail = e.iloc[last].reset_index(drop=True)
        for col in ("end", "rec", "ls", "year", "rpc"):  # the reason for a change is on the episode that ends
            merged[col] = tail[col].to_numpy()
        e = merged
    else:
        e = e.reset_index(drop=True)

    return finish(e, ret.header, list(ret.years), ret.has_uasc, counts, codes)


def finish(e: pd.DataFrame, header: pd.DataFrame, years: list[int], has_uasc: bool, counts: dict,
           codes: CodeMap) -> Episodes:
    """Episodes from clean rows (child, start, end, rne, ls, place, provider, rec, rpc, year, ordered by
    child and start): pools, periods of care, entries, moves, exit routes and censoring."""
    n = len(e)
    child = e.child.to_numpy()
    dob = e.child.map(dict(zip(header.child, header.dob))).to_numpy(dtype=float)
    uasc = e.child.map(dict(zip(header.child, header.uasc))).to_numpy(dtype=float)
    ends = {y: return_end(int(y)) for y in set(e.year.tolist())}
    censor = e.year.map(ends).to_numpy(dtype=float)
    end = e.end.to_numpy(dtype=float)
    is_open = np.isnan(end)
    rec = e.rec.to_numpy().astype(str)
    exited = np.char.startswith(rec, "E") if n else np.zeros(0, bool)
    new_child = np.r_[True, child[1:] != child[:-1]] if n else np.zeros(0, bool)
    first = new_child | np.r_[False, exited[:-1]] if n else np.zeros(0, bool)
    place, provider = e.place.to_numpy().astype(str), e.provider.to_numpy().astype(str)
    pair = pd.Series(np.char.add(np.char.add(place, "/"), provider))
    pool = pair.map(codes.pools).fillna(pd.Series(place).map(codes.pools)).fillna("other").to_numpy()
    route = np.where(exited, pd.Series(rec).map(codes.exits).fillna("other").to_numpy(), "")
    route = np.where(exited & (end - dob >= AGE_18_DAYS), "turned_18", route)
    rne = e.rne.to_numpy().astype(str)
    table = pd.DataFrame({
        "child": child, "dob": dob, "uasc": uasc, "start": e.start.to_numpy(dtype=float), "end": end,
        "stop": np.where(is_open, censor + 1, end), "open": is_open,
        "rne": rne, "ls": e.ls.to_numpy(), "place": place, "provider": provider,
        "rec": rec, "rpc": e.rpc.to_numpy().astype(str), "pool": pool,
        "period": np.cumsum(first) - 1, "first": first, "entry": first & (rne == "S"),
        "move": np.isin(rne, list(MOVE_RNE)) & ~first, "route": route, "year": e.year.to_numpy(),
    })
    counts = dict(counts)
    counts["episodes after cleaning"] = n
    return Episodes(table, years, has_uasc, counts)


def load(data_dir, codes: CodeMap | None = None) -> tuple[Returns, Episodes]:
    """Read and clean every return under ``data_dir``."""
    from calibration.read903 import read_returns

    ret = read_returns(data_dir)
    return ret, clean(ret, codes)
