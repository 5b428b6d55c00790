"""A simulated event log as SSDA903 returns: synthetic header and episodes files, no real personal data.

Every placement and every waiting spell (an emergency placement) of a child becomes an episode:

=====================  ======================  ===========================================
placesim option        PLACE / PLACE_PROVIDER   notes
=====================  ======================  ===========================================
kinship                U3 / PR1
inhouse_fostering      U6 / PR1
ifa_block, ifa_spot    U6 / PR4
residential_inhouse    K2 / PR1                 block and spot: K2 / PR4
supported_inhouse      H5 / PR1                 block and spot: H5 / PR4
waiting                Z1 / PR4                 emergency placement while no suitable one is found
=====================  ======================  ===========================================

The first episode of a period of care has RNE S, later ones P. REASON_PLACE_CHANGE gives why the
previous episode ended: a breakdown becomes one of the unplanned codes (drawn from the
``export-903`` stream with the shares in :data:`BREAKDOWN_CODES`), a household leaving CLOSE, a
move-on or step-down LAREQ, the end of a wait LAREQ. Exits get REC E4A (return home), E11
(adoption), E44 (special guardianship), E8 (other), E17 (18, staying put) or E8 (18). Legal status
is C2, or V2 for UASC; the header carries a UASC column (1/0). Episodes shorter than a day that share
their start date with the next are folded into it, since CHILD and DECOM identify an episode.

Returns cover whole years from 1 April to 31 March inside the reported period; each holds the
episodes open during its year, with DEC and REC blank for those still open at its 31 March.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd

from calibration.clean import Episodes, finish
from calibration.codes import CodeMap
from calibration.read903 import EPISODES_COLUMNS, HEADER_COLUMNS, return_end, to_date, to_day
from simulation.streams import Streams

PLACE_OF: dict[str, tuple[str, str]] = {
    "kinship": ("U3", "PR1"), "inhouse_fostering": ("U6", "PR1"), "ifa_block": ("U6", "PR4"), "ifa_spot": ("U6", "PR4"),
    "residential_inhouse": ("K2", "PR1"), "residential_block": ("K2", "PR4"), "residential_spot": ("K2", "PR4"),
    "supported_inhouse": ("H5", "PR1"), "supported_block": ("H5", "PR4"), "supported_spot": ("H5", "PR4"),
    "waiting": ("Z1", "PR4"),
}
#: unplanned REASON_PLACE_CHANGE codes given to breakdowns, with their shares (synthetic)
BREAKDOWN_CODES: dict[str, float] = {"CARPL": 0.35, "CREQB": 0.25, "CREQO": 0.20, "CHILD": 0.10, "ALLEG": 0.05, "STAND": 0.05}
EXIT_CODES: dict[str, str] = {"return_home": "E4A", "adoption": "E11", "special_guardianship": "E44", "other": "E8", "turned_18": "E8"}
_CHANGE = {"carer_left": "CLOSE", "move_on": "LAREQ", "step_down": "LAREQ", "search": "LAREQ", "vacancy": "LAREQ", "exit": "LAREQ"}


def spells(events: pd.DataFrame, horizon: float) -> pd.DataFrame:
    """Placements and waits of every child in log order: child, start, stop, option, ended (reason or '' if open)."""
    kinds = events.event.astype(str)
    sel = events[kinds.isin(["place", "end", "wait_start", "wait_end"]).to_numpy()]
    order = np.argsort(sel.child.to_numpy(), kind="stable")
    sel = sel.iloc[order]
    child = sel.child.to_numpy()
    kind = sel.event.astype(str).to_numpy()
    is_start = (kind == "place") | (kind == "wait_start")
    starts = np.flatnonzero(is_start)
    following = starts + 1
    matched = (following < len(sel))
    matched[matched] &= (child[following[matched]] == child[starts[matched]]) & ~is_start[following[matched]]
    day = sel.day.to_numpy()
    reason = sel.reason.astype(str).to_numpy()
    safe = np.minimum(following, max(len(sel) - 1, 0))
    return pd.DataFrame({
        "child": child[starts], "start": day[starts], "stop": np.where(matched, day[safe], horizon),
        "option": np.where(kind[starts] == "place", sel.option.astype(str).to_numpy()[starts], "waiting"),
        "ended": np.where(matched, reason[safe], ""), "reason": reason[starts],
    })


def episode_rows(events: pd.DataFrame, start_date: dt.date, horizon: float, seed: int, replication: int):
    """The full episode history of a run as 903 rows (day numbers), and each child's DOB and UASC flag."""
    base = to_day(start_date)
    sp = spells(events, horizon)
    enter = events[events.event.astype(str).to_numpy() == "enter"]
    exits = events[events.event.astype(str).to_numpy() == "exit"]
    dob = {c: base + int(np.floor(d - a)) for c, d, a in zip(enter.child, enter.day, enter.value)}
    uasc = dict(zip(enter.child, enter.uasc.astype(float)))
    route = dict(zip(exits.child, exits.reason.astype(str)))
    staying = set(events.child[events.event.astype(str).to_numpy() == "staying_put_start"])
    n = len(sp)
    child = sp.child.to_numpy()
    same_prev = np.r_[False, child[1:] == child[:-1]] if n else np.zeros(0, bool)
    first = ~same_prev
    decom = base + np.floor(sp.start.to_numpy()).astype(np.int64)
    ended = sp.ended.to_numpy()
    closed = ended != ""
    dec = np.where(closed, base + np.floor(sp.stop.to_numpy()).astype(np.int64), -1)
    # why each episode began: the reason the previous one ended
    prev_end = np.r_[[""], ended[:-1]] if n else np.zeros(0, dtype=object)
    rng = Streams(seed, replication).generator("export-903")
    codes, shares = list(BREAKDOWN_CODES), np.array(list(BREAKDOWN_CODES.values()))
    drawn = np.array(codes, dtype=object)[(rng.random(n)[:, None] > np.cumsum(shares)[None, :]).sum(axis=1).clip(0, len(codes) - 1)]
    rpc = np.where(first, "", np.where(prev_end == "breakdown", drawn, pd.Series(prev_end).map(_CHANGE).fillna("OTHER").to_numpy()))
    rne = np.where(first, "S", "P")
    # the last episode of a child who left care ends with the exit
    last = np.r_[child[1:] != child[:-1], True] if n else np.zeros(0, bool)
    exit_route = np.array([route.get(c, "") for c in child], dtype=object)
    leaves = last & closed & (exit_route != "")
    rec = np.where(closed, "X1", "")
    exit_code = np.array([EXIT_CODES.get(r, "E8") for r in exit_route], dtype=object)
    exit_code = np.where(np.isin(child, list(staying)) & (exit_route == "turned_18"), "E17", exit_code)
    rec = np.where(leaves, exit_code, rec).astype(object)
    # fold episodes that start the same day as the next one into it: the kept (last) episode of such a
    # run takes the RNE and REASON_PLACE_CHANGE of the run's first
    same_next = np.r_[(child[1:] == child[:-1]) & (decom[1:] == decom[:-1]), False] if n else np.zeros(0, bool)
    kept = np.flatnonzero(~same_next)
    heads = np.flatnonzero(np.r_[True, ~same_next[:-1]]) if n else np.zeros(0, int)
    place, provider = zip(*(PLACE_OF[o] for o in sp.option.to_numpy())) if n else ((), ())
    rows = pd.DataFrame({
        "child": child[kept], "start": decom[kept], "end": np.where(dec[kept] >= 0, dec[kept], np.nan).astype(float),
        "rne": rne[heads], "ls": np.where(np.array([uasc.get(c, 0.0) for c in child[kept]]) > 0, "V2", "C2"),
        "place": np.asarray(place, dtype=object)[kept], "provider": np.asarray(provider, dtype=object)[kept],
        "rec": rec[kept], "rpc": rpc[heads],
    })
    return rows, dob, uasc


def returns_of(rows: pd.DataFrame, first_year: int, last_year: int) -> dict[int, pd.DataFrame]:
    """Each return's view: the rows open during its year, with DEC and REC blank if still open at its end."""
    out = {}
    for y in range(first_year, last_year + 1):
        lo, hi = return_end(y - 1) + 1, return_end(y)
        end = rows.end.to_numpy()
        open_ = np.isnan(end) | (end > hi)
        sel = (rows.start.to_numpy() <= hi) & (open_ | (end >= lo))
        view = rows[sel].copy()
        view.loc[open_[sel], "end"] = np.nan
        view.loc[open_[sel], "rec"] = ""
        out[y] = view
    return out


def return_years(start_date: dt.date, horizon: float) -> tuple[int, int]:
    """First and last return wholly inside the run (from the start date to its last whole day)."""
    first_day, last_day = to_day(start_date), to_day(start_date) + int(np.floor(horizon)) - 1
    first = next(y for y in range(start_date.year, start_date.year + 3) if return_end(y - 1) + 1 >= first_day)
    last = max((y for y in range(first, first + 400) if return_end(y) <= last_day), default=first - 1)
    return first, last


def run_episodes(events: pd.DataFrame, start_date: dt.date, horizon: float, seed: int, replication: int,
                 codes: CodeMap | None = None, years: tuple[int, int] | None = None) -> Episodes:
    """The cleaned :class:`Episodes` that importing this run's exported returns would give, built in memory."""
    rows, dob, uasc = episode_rows(events, start_date, horizon, seed, replication)
    first, last = years or return_years(start_date, horizon)
    hi, lo = return_end(last), return_end(first - 1) + 1
    end = rows.end.to_numpy()
    beyond = np.isnan(end) | (end > hi)
    rows = rows[(rows.start.to_numpy() <= hi) & (beyond | (end >= lo))].copy()
    beyond = np.isnan(rows.end.to_numpy()) | (rows.end.to_numpy() > hi)
    rows.loc[beyond, "end"] = np.nan
    rows.loc[beyond, "rec"] = ""
    year = np.searchsorted(np.array([return_end(y) for y in range(first, last + 1)]), np.where(beyond, hi, rows.end.to_numpy()))
    rows["year"] = first + year
    header = pd.DataFrame({"child": list(dob), "dob": [float(v) for v in dob.values()], "uasc": [uasc[c] for c in dob]})
    return finish(rows.reset_index(drop=True), header, list(range(first, last + 1)), True, {}, codes or CodeMap())


def write_returns(events: pd.DataFrame, start_date: dt.date, horizon: float, seed: int, replication: int,
                  out: str | Path) -> dict[int, tuple[int, int]]:
    """Write ``out/YEAR/header.csv`` and ``out/YEAR/episodes.csv`` for every whole return; (header, episode) rows per year."""
    rows, dob, uasc = episode_rows(events, start_date, horizon, seed, replication)
    first, last = return_years(start_date, horizon)
    if last < first:
        return {}
    rng = Streams(seed, replication).generator("export-903-sex")
    children = np.array(sorted(dob))
    sex = dict(zip(children, np.where(rng.random(len(children)) < 0.56, 1, 2)))
    out = Path(out)
    written = {}
    fmt = lambda days: [to_date(d).strftime("%d/%m/%Y") if not np.isnan(d) else "" for d in days]  # noqa: E731
    for y, view in returns_of(rows, first, last).items():
        folder = out / str(y)
        folder.mkdir(parents=True, exist_ok=True)
        ids = view.child.to_numpy()
        epi = pd.DataFrame({c: "" for c in EPISODES_COLUMNS}, index=range(len(view)))
        epi["CHILD"] = [_cid(c) for c in ids]
        epi["DECOM"] = fmt(view.start.to_numpy(dtype=float))
        epi["RNE"], epi["LS"], epi["CIN"] = view.rne.to_numpy(), view.ls.to_numpy(), "N1"
        epi["PLACE"], epi["PLACE_PROVIDER"] = view.place.to_numpy(), view.provider.to_numpy()
        epi["DEC"] = fmt(view.end.to_numpy(dtype=float))
        epi["REC"], epi["REASON_PLACE_CHANGE"] = view.rec.to_numpy(), view.rpc.to_numpy()
        epi.to_csv(folder / "episodes.csv", index=False)
        kids = sorted(set(ids.tolist()))
        head = pd.DataFrame({c: "" for c in HEADER_COLUMNS}, index=range(len(kids)))
        head["CHILD"] = [_cid(c) for c in kids]
        head["SEX"] = [sex[c] for c in kids]
        head["DOB"] = fmt(np.array([dob[c] for c in kids], dtype=float))
        head["ETHNIC"] = "NOBT"
        head["UASC"] = [int(uasc[c]) for c in kids]
        head.to_csv(folder / "header.csv", index=False)
        written[y] = (len(head), len(epi))
    return written


def _cid(child: int) -> str:
    return f"C{int(child):06d}"
