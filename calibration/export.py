"""A simulated event log as SSDA903 returns in the DfE's layouts: synthetic files, no real personal data.

Every placement and every waiting spell (an emergency placement) of a child becomes an episode:

=====================  ======================  ===========================================
placesim option        PLACE / PLACE_PROVIDER   notes
=====================  ======================  ===========================================
kinship                U3 / PR1
inhouse_fostering      U6 / PR1
ifa_block, ifa_spot    U6 / PR4
residential_inhouse    K2 / PR1                 block and spot: K2 / PR4
supported_inhouse      H5 / PR1                 block and spot: H5 / PR4
waiting                Z1 / (blank)             emergency placement while no suitable one is found;
                                                the DfE gives Z1 no provider (rule 178)
before an adoption     A6 / PR1                 placed for adoption with a placement order (LS E1)
=====================  ======================  ===========================================

**Episodes.** The first episode of a period of care has RNE S; a change of placement and carer P;
a child whose carer moved to an IFA, and who stays with the same carer, T; the placement for
adoption B (legal status and placement change together). ``REASON_PLACE_CHANGE`` is written on the
episode that ENDS with the change, as the DfE asks (rule 225): a breakdown one of the unplanned
codes (drawn from the ``export-903`` stream with the shares in :data:`BREAKDOWN_CODES`), a household
leaving CLOSE, a carer moving to an IFA PLACE (the placement's status changed, same carer), a move-on,
step-down or the end of a wait LAREQ, the move to adopters CARPL (the care plan carried out). It is
blank on the last episode of a period of care and on an episode still open at a return's 31 March.
Legal status is C2, or V2 for UASC, and E1 while placed for adoption.

**Exits** (REC): return home E4A; adoption E11; special guardianship E45 from kinship (the former
foster carers are relatives or friends), E46 from other foster care and E47 from anywhere else
(E43 and E44 are retired codes, rule 149); other E8; at 18 E17 when the young person stays put with
the foster carer, else E8.

**Dates are calendar-true.** A child's date of birth is its entry day less its age at entry, and
the engine has a young person leave care on the calendar 18th birthday from that date (6,574 or
6,575 days, not 18 x 365), so the exit at 18 falls on the 18th birthday (rule 460).

**No episode shorter than a day** (rule 355): CHILD and DECOM identify an episode, so spells that
start on the same day as the next are folded into it (the kept episode takes the RNE of the first);
an exit on the day the last episode started ends the episode before instead; a period of care that
starts and ends on the same day is given one day.

**Placed for adoption.** placesim models adoption as an exit, so the export adds the placement
with the adopters before it: an A6 episode ending on the adoption day and starting
:func:`adoption_placement_days` earlier (at least 10 weeks, the time a child must live with the
adopters before an adoption order can be applied for, Adoption and Children Act 2002 s.42(2)(a);
then the court process, an exponential wait with a mean of 200 days: an ASSUMPTION, giving about 9
months in all), but never before the second day of the period of care. Placements the engine had in
that time are replaced by it. The decision that the
child should be placed for adoption (``DATE_PLACED`` of the PlacedAdoption table) is taken
:data:`DECISION_TO_PLACEMENT_DAYS` before it, but not before the period of care began.

**Tables.** Each return folder holds ``header.csv`` (``CHILD,SEX,DOB,ETHNIC,UPN,MOTHER,MC_DOB``: sex
drawn 56% boys, ETHNIC NOBT "information not yet obtained", MOTHER 0 for girls since placesim's
children in care are not parents, blank for boys), ``episodes.csv``, ``uasc.csv``
(``CHILD,SEX,DOB,DUC``: every UASC child of the return, DUC the 18th birthday, when the status
ceases) and ``placed_for_adoption.csv`` (``CHILD,DOB,DATE_PLACED,DATE_PLACED_CEASED,REASON_PLACED_CEASED``
for every child of the return with a decision to be placed for adoption by its 31 March). The
other 903 tables (AD1 adopters, reviews, OC2 outcomes, OC3 care leavers, missing episodes,
previous permanence) describe things placesim does not simulate and are not written. UPN,
postcodes and URN are left blank: synthetic children have no pupil numbers, homes or Ofsted
providers.

Returns cover whole years from 1 April to 31 March inside the reported period; each holds the
episodes open during its year, with DEC, REC and REASON_PLACE_CHANGE blank for those still open at
its 31 March.
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
    "waiting": ("Z1", ""),
}
ADOPTION_PLACE: tuple[str, str] = ("A6", "PR1")
#: unplanned REASON_PLACE_CHANGE codes given to breakdowns, with their shares (synthetic)
BREAKDOWN_CODES: dict[str, float] = {"CARPL": 0.35, "CREQB": 0.25, "CREQO": 0.20, "CHILD": 0.10, "ALLEG": 0.05, "STAND": 0.05}
EXIT_CODES: dict[str, str] = {"return_home": "E4A", "adoption": "E11", "other": "E8", "turned_18": "E8"}
#: special guardianship by the pool of the last placement: former foster carers who are kin, other former
#: foster carers, other carers (E45-E48 replaced E43 and E44)
SGO_CODES: dict[str, str] = {"U3": "E45", "U6": "E46"}
SGO_OTHER = "E47"
#: REASON_PLACE_CHANGE of an episode by why it ended (breakdowns draw from BREAKDOWN_CODES)
CHANGE_CODES: dict[str, str] = {"carer_left": "CLOSE", "move_on": "LAREQ", "step_down": "LAREQ", "search": "LAREQ",
                                "vacancy": "LAREQ", "exit": "LAREQ", "adoption": "CARPL"}
#: decision that a child should be placed for adoption to the placement: nine months, the average in England
#: for the year ending March 2007 (DfE, written answer, Hansard HC 20 February 2008)
DECISION_TO_PLACEMENT_DAYS = 274
#: least time placed with the adopters before an adoption order (10 weeks, Adoption and Children Act 2002 s.42(2)(a))
ADOPTION_MIN_DAYS = 70
#: mean of the further wait for the order (assumption: about 9 months placed for adoption in all)
ADOPTION_EXTRA_MEAN_DAYS = 200.0


def adoption_placement_days(u: np.ndarray) -> np.ndarray:
    """Days placed for adoption before the order, from uniform draws ``u``: 70 plus an exponential of mean 200."""
    return ADOPTION_MIN_DAYS + np.floor(-np.log1p(-np.asarray(u)) * ADOPTION_EXTRA_MEAN_DAYS).astype(np.int64)


def spells(events: pd.DataFrame, horizon: float) -> pd.DataFrame:
    """Placements and waits of every child in log order: child, start, stop, option, ended (reason or '' if open), reason."""
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


def birth_dates(events: pd.DataFrame, start_date: dt.date) -> dict[int, int]:
    """Each child's date of birth (day number): the day of its entry less its age at entry. The engine counts
    the 18th birthday by the calendar from the same date (simulation.cohort.eighteenth_birthday_age), so a
    young person leaving at 18 leaves on that birthday."""
    base = to_day(start_date)
    enter = events[events.event.astype(str).to_numpy() == "enter"]
    born = base + np.floor(enter.day.to_numpy() - enter.value.to_numpy()).astype(np.int64)
    return {int(c): int(d) for c, d in zip(enter.child.to_numpy(), born)}


def episode_rows(events: pd.DataFrame, start_date: dt.date, horizon: float, seed: int, replication: int):
    """The full episode history of a run as 903 rows (day numbers), each child's DOB and UASC flag, and the
    day of each adopted child's decision to be placed for adoption."""
    base = to_day(start_date)
    sp = spells(events, horizon)
    enter = events[events.event.astype(str).to_numpy() == "enter"]
    exits = events[events.event.astype(str).to_numpy() == "exit"]
    dob = birth_dates(events, start_date)
    uasc = dict(zip(enter.child.astype(int), enter.uasc.astype(float)))
    route = dict(zip(exits.child.astype(int), exits.reason.astype(str)))
    left = dict(zip(exits.child.astype(int), base + np.floor(exits.day.to_numpy()).astype(np.int64)))
    staying = set(events.child[events.event.astype(str).to_numpy() == "staying_put_start"].astype(int))
    rng = Streams(seed, replication).generator("export-903")
    codes, shares = list(BREAKDOWN_CODES), np.cumsum(list(BREAKDOWN_CODES.values()))
    n = len(sp)
    drawn = np.array(codes, dtype=object)[np.minimum(np.searchsorted(shares, rng.random(n), side="right"), len(codes) - 1)]
    adopt_u = rng.random(n)
    child_all = sp.child.to_numpy().astype(np.int64)
    start_all = base + np.floor(sp.start.to_numpy()).astype(np.int64)
    option_all, ended_all, reason_all = sp.option.to_numpy(), sp.ended.to_numpy(), sp.reason.to_numpy()
    cols: dict[str, list] = {k: [] for k in ("child", "start", "end", "rne", "ls", "place", "provider", "rec", "rpc")}
    decisions: dict[int, int] = {}
    bounds = np.flatnonzero(np.r_[True, child_all[1:] != child_all[:-1], True]) if n else np.array([0])
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        c = int(child_all[lo])
        eps = _child_episodes(start_all[lo:hi], option_all[lo:hi], ended_all[lo:hi], reason_all[lo:hi], drawn[lo:hi])
        out = route.get(c, "")
        if out and eps and ended_all[hi - 1] != "":
            _close(eps, left[c], out, c in staying, adopt_u[lo])
            if out == "adoption":
                period_start = eps[0]["start"]
                decisions[c] = max(period_start, eps[-1]["start"] - DECISION_TO_PLACEMENT_DAYS)
        ls = "V2" if uasc.get(c, 0.0) > 0 else "C2"
        for e in eps:
            cols["child"].append(c)
            cols["start"].append(e["start"])
            cols["end"].append(np.nan if e["end"] is None else float(e["end"]))
            cols["rne"].append(e["rne"])
            cols["ls"].append(e.get("ls", ls))
            cols["place"].append(e["place"])
            cols["provider"].append(e["provider"])
            cols["rec"].append(e["rec"])
            cols["rpc"].append(e["rpc"])
    rows = pd.DataFrame(cols)
    rows["start"] = rows.start.astype(np.int64) if len(rows) else rows.start
    return rows, dob, uasc, decisions


def _child_episodes(start, option, ended, reason, drawn) -> list[dict]:
    """One child's spells as episodes (all closed with X1 but the last): spells starting the same day are folded
    into the last of them, which keeps the RNE of the first; REASON_PLACE_CHANGE is why each episode ended."""
    eps: list[dict] = []
    for k in range(len(start)):
        place, provider = PLACE_OF[option[k]]
        if k + 1 < len(start) and start[k + 1] == start[k]:
            continue  # folded into the next spell, which starts the same day
        head = k
        while head > 0 and start[head - 1] == start[k]:
            head -= 1
        if not eps:
            rne = "S"
        elif reason[head] == "to_ifa":
            rne = "T"  # the carer moved to an IFA: same carer, new placement
        else:
            rne = "P"
        if eps:
            prev = eps[-1]
            prev["end"], prev["rec"] = int(start[k]), "X1"
        why = ended[k]
        rpc = drawn[k] if why == "breakdown" else ("PLACE" if k + 1 < len(start) and reason[k + 1] == "to_ifa"
                                                   else CHANGE_CODES.get(why, "OTHER"))
        eps.append({"start": int(start[k]), "end": None, "rne": rne, "place": place, "provider": provider,
                    "rec": "", "rpc": rpc if why else ""})
    return eps


def _close(eps: list[dict], day: int, route: str, stays_put: bool, u: float) -> None:
    """End a child's last episode on ``day`` with its exit code; adoption adds the placement for adoption."""
    last = eps[-1]
    if day <= last["start"] and len(eps) > 1:  # an exit on the day the last episode began ends the one before
        eps.pop()
        last = eps[-1]
    day = max(day, last["start"] + 1)  # a period of care shorter than a day is given one
    if route == "adoption":
        # the child lives with the adopters for the placement's days before the order: placements the engine
        # had in that time are replaced by it, but the period of care keeps its first day
        begin = max(day - int(adoption_placement_days(u)), eps[0]["start"] + 1)
        if begin < day:
            while eps[-1]["start"] >= begin:
                eps.pop()
            last = eps[-1]
            last["end"], last["rec"], last["rpc"] = begin, "X1", CHANGE_CODES["adoption"]
            last = {"start": begin, "rne": "B"}
            eps.append(last)
        else:  # a period of care of one day
            last["rne"] = "B" if last["rne"] == "P" else last["rne"]
        last["place"], last["provider"] = ADOPTION_PLACE
        last["ls"] = "E1"
        code = EXIT_CODES["adoption"]
    elif route == "special_guardianship":
        code = SGO_CODES.get(last["place"], SGO_OTHER)
    elif route == "turned_18" and stays_put:
        code = "E17"
    else:
        code = EXIT_CODES.get(route, "E8")
    last["end"], last["rec"], last["rpc"] = day, code, ""


def returns_of(rows: pd.DataFrame, first_year: int, last_year: int) -> dict[int, pd.DataFrame]:
    """Each return's view: the rows open during its year, with DEC, REC and REASON_PLACE_CHANGE blank if still open at its end."""
    out = {}
    for y in range(first_year, last_year + 1):
        lo, hi = return_end(y - 1) + 1, return_end(y)
        end = rows.end.to_numpy()
        open_ = np.isnan(end) | (end > hi)
        sel = (rows.start.to_numpy() <= hi) & (open_ | (end >= lo))
        view = rows[sel].copy()
        view.loc[open_[sel], "end"] = np.nan
        view.loc[open_[sel], "rec"] = ""
        view.loc[open_[sel], "rpc"] = ""
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
    rows, dob, uasc, _decisions = episode_rows(events, start_date, horizon, seed, replication)
    first, last = years or return_years(start_date, horizon)
    hi, lo = return_end(last), return_end(first - 1) + 1
    end = rows.end.to_numpy()
    beyond = np.isnan(end) | (end > hi)
    rows = rows[(rows.start.to_numpy() <= hi) & (beyond | (end >= lo))].copy()
    beyond = np.isnan(rows.end.to_numpy()) | (rows.end.to_numpy() > hi)
    rows.loc[beyond, "end"] = np.nan
    rows.loc[beyond, "rec"] = ""
    rows.loc[beyond, "rpc"] = ""
    year = np.searchsorted(np.array([return_end(y) for y in range(first, last + 1)]), np.where(beyond, hi, rows.end.to_numpy()))
    rows["year"] = first + year
    header = pd.DataFrame({"child": list(dob), "dob": [float(v) for v in dob.values()], "uasc": [uasc[c] for c in dob]})
    return finish(rows.reset_index(drop=True), header, list(range(first, last + 1)), True, {}, codes or CodeMap())


#: the DfE's column layouts of the tables written (UASC and PlacedAdoption as the validator names them)
UASC_COLUMNS = ("CHILD", "SEX", "DOB", "DUC")
PLACED_ADOPTION_COLUMNS = ("CHILD", "DOB", "DATE_PLACED", "DATE_PLACED_CEASED", "REASON_PLACED_CEASED")


def _fmt(days) -> list[str]:
    return [to_date(int(d)).strftime("%d/%m/%Y") if not np.isnan(d) else "" for d in np.asarray(days, dtype=float)]


def _birthday18(dob_day: int) -> int:
    born = to_date(int(dob_day))
    try:
        return to_day(born.replace(year=born.year + 18))
    except ValueError:  # born on 29 February: 28 February, as the DfE's rules count it (pandas DateOffset)
        return to_day(born.replace(year=born.year + 18, day=28))


def write_returns(events: pd.DataFrame, start_date: dt.date, horizon: float, seed: int, replication: int,
                  out: str | Path) -> dict[int, tuple[int, int]]:
    """Write ``out/YEAR/`` header, episodes, UASC and placed-for-adoption CSV files for every whole return;
    (children, episodes) per year."""
    rows, dob, uasc, decisions = episode_rows(events, start_date, horizon, seed, replication)
    first, last = return_years(start_date, horizon)
    if last < first:
        return {}
    rng = Streams(seed, replication).generator("export-903-sex")
    children = np.array(sorted(dob))
    sex = dict(zip(children.tolist(), np.where(rng.random(len(children)) < 0.56, 1, 2).tolist()))
    adopted_on = rows[rows.rec.isin(["E11", "E12"])].groupby("child").end.max().to_dict()
    out = Path(out)
    written = {}
    for y, view in returns_of(rows, first, last).items():
        folder = out / str(y)
        folder.mkdir(parents=True, exist_ok=True)
        lo, hi = return_end(y - 1) + 1, return_end(y)
        ids = view.child.to_numpy()
        epi = pd.DataFrame({c: "" for c in EPISODES_COLUMNS}, index=range(len(view)))
        epi["CHILD"] = [_cid(c) for c in ids]
        epi["DECOM"] = _fmt(view.start.to_numpy(dtype=float))
        epi["RNE"], epi["LS"], epi["CIN"] = view.rne.to_numpy(), view.ls.to_numpy(), "N1"
        epi["PLACE"], epi["PLACE_PROVIDER"] = view.place.to_numpy(), view.provider.to_numpy()
        epi["DEC"] = _fmt(view.end.to_numpy(dtype=float))
        epi["REC"], epi["REASON_PLACE_CHANGE"] = view.rec.to_numpy(), view.rpc.to_numpy()
        epi.to_csv(folder / "episodes.csv", index=False)
        kids = sorted(set(ids.tolist()))
        births = np.array([dob[c] for c in kids], dtype=float)
        head = pd.DataFrame({c: "" for c in HEADER_COLUMNS}, index=range(len(kids)))
        head["CHILD"] = [_cid(c) for c in kids]
        head["SEX"] = [sex[c] for c in kids]
        head["DOB"] = _fmt(births)
        head["ETHNIC"] = "NOBT"
        head["MOTHER"] = ["0" if sex[c] == 2 else "" for c in kids]
        head.to_csv(folder / "header.csv", index=False)
        alone = [c for c in kids if uasc.get(c, 0.0) > 0]
        pd.DataFrame({"CHILD": [_cid(c) for c in alone], "SEX": [sex[c] for c in alone],
                      "DOB": _fmt([dob[c] for c in alone]), "DUC": _fmt([_birthday18(dob[c]) for c in alone])},
                     columns=list(UASC_COLUMNS)).to_csv(folder / "uasc.csv", index=False)
        plan = [c for c in kids if c in decisions and decisions[c] <= hi and adopted_on.get(c, np.inf) >= lo]
        pd.DataFrame({"CHILD": [_cid(c) for c in plan], "DOB": _fmt([dob[c] for c in plan]),
                      "DATE_PLACED": _fmt([decisions[c] for c in plan]), "DATE_PLACED_CEASED": "",
                      "REASON_PLACED_CEASED": ""}, columns=list(PLACED_ADOPTION_COLUMNS)).to_csv(
            folder / "placed_for_adoption.csv", index=False)
        written[y] = (len(head), len(epi))
    return written


def _cid(child: int) -> str:
    return f"C{int(child):06d}"
