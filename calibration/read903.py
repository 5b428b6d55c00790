"""Reading SSDA903 header and episodes files, and rejecting the rows that cannot be used.

Two layouts are accepted:

- a folder per return, named by its year (``2020``, ``2019-20`` or ``201920``: the return
  for the year ending 31 March 2020), each holding a ``*header*.csv`` and an ``*episodes*.csv``;
- one folder holding a ``*header*.csv`` and an ``*episodes*.csv`` with a ``YEAR`` column
  (the header may omit it: a child's latest row wins).

Dates may be dd/mm/YYYY or ISO (YYYY-MM-DD), row by row. A bad row does not stop the import:
it goes to the rejected table with its reason. A missing folder, a missing required column or
an empty file stops it with a :class:`DataError` naming the file.

Dates become whole day numbers (days since 1970-01-01) so everything downstream is integer arithmetic.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from calibration.codes import LS_CODES, PLACE_CODES, PROVIDER_CODES, REC_CODES, RNE_CODES, RPC_CODES
from models.schema import ScenarioError

HEADER_REQUIRED = ("CHILD", "DOB")
EPISODES_REQUIRED = ("CHILD", "DECOM", "RNE", "LS", "PLACE", "PLACE_PROVIDER", "DEC", "REC", "REASON_PLACE_CHANGE")
EPISODES_COLUMNS = ("CHILD", "DECOM", "RNE", "LS", "CIN", "PLACE", "PLACE_PROVIDER", "DEC", "REC",
                    "REASON_PLACE_CHANGE", "HOME_POST", "PL_POST", "URN")
HEADER_COLUMNS = ("CHILD", "SEX", "DOB", "ETHNIC", "UPN", "MOTHER", "MC_DOB")
_TRUE = {"1", "Y", "YES", "TRUE", "UASC"}
_EPOCH = np.datetime64("1970-01-01", "D")


class DataError(ScenarioError):
    """The data cannot be read at all: a missing folder or file, a missing column, an empty file."""

    def __init__(self, where: str, problem: str):
        super().__init__(where, problem)


def return_end(year: int) -> int:
    """Day number of 31 March of ``year``: the last day of that year's return."""
    return int((np.datetime64(f"{year:04d}-03-31", "D") - _EPOCH).astype(np.int64))


def to_day(date) -> int:
    return int((np.datetime64(date, "D") - _EPOCH).astype(np.int64))


def to_date(day: int):
    return (_EPOCH + np.timedelta64(int(day), "D")).astype(object)


def parse_dates(values: pd.Series) -> np.ndarray:
    """Day numbers of dd/mm/YYYY or ISO dates; NaN where blank or unparseable."""
    text = values.astype(str).str.strip()
    uk = pd.to_datetime(text, format="%d/%m/%Y", errors="coerce")
    iso = pd.to_datetime(text, format="%Y-%m-%d", errors="coerce")
    both = uk.fillna(iso)
    out = np.full(len(text), np.nan)
    ok = both.notna().to_numpy()
    out[ok] = (both[ok].to_numpy().astype("datetime64[D]") - _EPOCH).astype(np.int64)
    return out


def year_of_folder(name: str) -> int | None:
    """The year a return ends in, from a folder name: ``2020``, ``2019-20``, ``2019_2020``, ``201920``."""
    found = re.findall(r"(?<!\d)((?:19|20)\d\d)(?:[-_ ]?(\d\d|(?:19|20)\d\d))?(?!\d)", name)
    if not found:
        return None
    m = re.match(r"(\d{4})(\d*)", "".join(found[-1]))
    first, second = int(m.group(1)), m.group(2)
    if not second:
        return first
    end = int(second) if len(second) == 4 else first // 100 * 100 + int(second)
    if end < first:
        end += 100
    return end if end == first + 1 else None


@dataclass
class Returns:
    """What was read: usable rows, rejected rows, and the returns they came from."""

    header: pd.DataFrame  # child, dob, uasc (float: 1/0, NaN when not given), year
    episodes: pd.DataFrame  # child, start, end (NaN if open), rne, ls, place, provider, rec, rpc, year
    rejected: pd.DataFrame  # file, line, reason and the raw columns
    years: list[int]
    rows_read: int
    files: list[str]
    has_uasc: bool


def _read_csv(path: Path, required: tuple[str, ...]) -> pd.DataFrame:
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True, encoding="utf-8-sig")
    except pd.errors.EmptyDataError:
        raise DataError(str(path), "the file is empty") from None
    except UnicodeDecodeError:
        raise DataError(str(path), "not a UTF-8 text file") from None
    except pd.errors.ParserError as e:
        raise DataError(str(path), f"not a readable CSV file ({str(e).splitlines()[0]})") from None
    df.columns = [str(c).strip().upper() for c in df.columns]
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise DataError(str(path), f"missing required column {missing[0]} (required: {', '.join(required)})")
    if df.empty:
        raise DataError(str(path), "the file has a header line but no rows")
    for c in df.columns:
        df[c] = df[c].str.strip()
    return df


def _one(folder: Path, word: str) -> Path | None:
    found = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() == ".csv" and word in p.name.lower())
    if len(found) > 1:
        raise DataError(str(folder), f"several {word} files: {', '.join(p.name for p in found)}")
    return found[0] if found else None


def locate(data_dir: str | Path) -> list[tuple[int | None, Path, Path]]:
    """(year or None for a YEAR column, header file, episodes file) for each return found."""
    root = Path(data_dir)
    if not root.exists():
        raise DataError("", f"data folder not found: {root}")
    if not root.is_dir():
        raise DataError("", f"not a folder: {root}")
    out = []
    for sub in sorted(p for p in root.iterdir() if p.is_dir()):
        year = year_of_folder(sub.name)
        if year is None:
            continue
        h, e = _one(sub, "header"), _one(sub, "episodes")
        if h is None or e is None:
            raise DataError(str(sub), f"needs a header and an episodes CSV file (missing {'header' if h is None else 'episodes'})")
        out.append((year, h, e))
    if out:
        return out
    h, e = _one(root, "header"), _one(root, "episodes")
    if h is None or e is None:
        raise DataError(str(root), "no 903 returns found: expected year folders (e.g. 2020/) holding header and "
                        "episodes CSV files, or header and episodes CSV files with a YEAR column")
    return [(None, h, e)]


def _years(df: pd.DataFrame, year: int | None, path: Path, reason: np.ndarray, required: bool) -> np.ndarray:
    if year is not None:
        return np.full(len(df), year)
    if "YEAR" not in df.columns:
        if required:
            raise DataError(str(path), "missing required column YEAR (needed when the files are not in year folders)")
        return np.full(len(df), -1)
    ys = pd.to_numeric(df["YEAR"].map(lambda s: year_of_folder(s) or s), errors="coerce").to_numpy()
    bad = np.isnan(ys) & (reason == "")
    reason[bad] = "unreadable YEAR"
    return np.where(np.isnan(ys), -1, ys).astype(int)


def _reject(reason: np.ndarray, mask, text) -> None:
    """Give rows in ``mask`` not already rejected the reason ``text`` (a string, or one per row)."""
    hit = np.asarray(mask, dtype=bool) & (reason == "")
    reason[hit] = text if isinstance(text, str) else np.asarray(text, dtype=object)[hit]


def _check_codes(df: pd.DataFrame, column: str, codes, reason: np.ndarray, blank_ok: bool) -> None:
    v = df[column].str.upper()
    bad = ~v.isin(list(codes)) & ~((v == "") & blank_ok)
    if bad.any():
        _reject(reason, bad.to_numpy(), ("unknown " + column + " code " + v.map(repr)).to_numpy())


def read_returns(data_dir: str | Path) -> Returns:
    """Read every return under ``data_dir``; bad rows are rejected with a reason, not fatal."""
    headers, episodes, rejected = [], [], []
    files, rows_read = [], 0
    has_uasc = False
    for year, hpath, epath in locate(data_dir):
        files += [str(hpath), str(epath)]
        h = _read_csv(hpath, HEADER_REQUIRED)
        e = _read_csv(epath, EPISODES_REQUIRED)
        rows_read += len(h) + len(e)
        hr = np.full(len(h), "", dtype=object)
        _reject(hr, h.CHILD == "", "missing CHILD")
        hy = _years(h, year, hpath, hr, required=False)
        dob = parse_dates(h.DOB)
        _reject(hr, np.isnan(dob), "unparseable DOB " + h.DOB.map(repr))
        uasc = np.full(len(h), np.nan)
        if "UASC" in h.columns:
            has_uasc = True
            uasc = h.UASC.str.upper().isin(_TRUE).to_numpy().astype(float)
        ok = hr == ""
        headers.append(pd.DataFrame({"child": h.CHILD[ok].to_numpy(), "dob": dob[ok], "uasc": uasc[ok], "year": hy[ok]}))
        rejected.append(_rejected(h, hr, hpath))

        er = np.full(len(e), "", dtype=object)
        _reject(er, e.CHILD == "", "missing CHILD")
        ey = _years(e, year, epath, er, required=True)
        start, end = parse_dates(e.DECOM), parse_dates(e.DEC)
        _reject(er, np.isnan(start), "unparseable DECOM " + e.DECOM.map(repr))
        _reject(er, np.isnan(end) & (e.DEC != ""), "unparseable DEC " + e.DEC.map(repr))
        _check_codes(e, "RNE", RNE_CODES, er, blank_ok=False)
        _check_codes(e, "LS", LS_CODES, er, blank_ok=False)
        _check_codes(e, "PLACE", PLACE_CODES, er, blank_ok=False)
        _check_codes(e, "PLACE_PROVIDER", PROVIDER_CODES, er, blank_ok=True)
        _check_codes(e, "REC", REC_CODES, er, blank_ok=True)
        _check_codes(e, "REASON_PLACE_CHANGE", RPC_CODES, er, blank_ok=True)
        _reject(er, end < start, "DEC before DECOM")
        _reject(er, (e.REC != "") & np.isnan(end), "REC given but DEC blank")
        _reject(er, (e.REC == "") & ~np.isnan(end), "DEC given but REC blank")
        ok = er == ""
        episodes.append(pd.DataFrame({
            "child": e.CHILD[ok].to_numpy(), "start": start[ok], "end": end[ok],
            "rne": e.RNE[ok].str.upper().to_numpy(), "ls": e.LS[ok].str.upper().to_numpy(),
            "place": e.PLACE[ok].str.upper().to_numpy(), "provider": e.PLACE_PROVIDER[ok].str.upper().to_numpy(),
            "rec": e.REC[ok].str.upper().to_numpy(), "rpc": e.REASON_PLACE_CHANGE[ok].str.upper().to_numpy(),
            "year": ey[ok], "file": str(epath), "line": np.flatnonzero(ok) + 2,
        }))
        rejected.append(_rejected(e, er, epath))
    header = pd.concat(headers, ignore_index=True)
    eps = pd.concat(episodes, ignore_index=True)
    # a child's latest header row wins
    header = header.sort_values(["child", "year"], kind="stable").drop_duplicates("child", keep="last")
    known = dict(zip(header.child, header.dob))
    dob = eps.child.map(known).to_numpy(dtype=float)
    late = np.full(len(eps), "", dtype=object)
    _reject(late, np.isnan(dob), "no header row (DOB) for CHILD")
    _reject(late, eps.start.to_numpy() < dob, "DECOM before DOB")
    if (late != "").any():
        bad = eps[late != ""]
        rejected.append(pd.DataFrame({"file": bad.file, "line": bad.line, "reason": late[late != ""], "CHILD": bad.child}))
        eps = eps[late == ""].reset_index(drop=True)
    years = sorted({int(y) for y in eps.year if y > 0})
    rej = pd.concat([r for r in rejected if len(r)], ignore_index=True) if any(len(r) for r in rejected) else \
        pd.DataFrame(columns=["file", "line", "reason"])
    if eps.empty:
        raise DataError(str(data_dir), f"no usable episodes: all {rows_read} rows were rejected "
                        f"(first reason: {rej.reason.iloc[0] if len(rej) else 'none'})")
    return Returns(header.reset_index(drop=True), eps.drop(columns=["file", "line"]), rej, years, rows_read, files, has_uasc)


def _rejected(df: pd.DataFrame, reason: np.ndarray, path: Path) -> pd.DataFrame:
    bad = reason != ""
    if not bad.any():
        return pd.DataFrame()
    out = df[bad].copy()
    out.insert(0, "reason", reason[bad])
    out.insert(0, "line", np.flatnonzero(bad) + 2)
    out.insert(0, "file", str(path))
    return out
