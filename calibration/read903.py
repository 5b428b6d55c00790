"""Reading SSDA903 returns as councils hold them, repairing what can be repaired and rejecting the rest.

**Layouts** (all found by looking, none to be declared):

- a folder per return, named by its year (``2020``, ``2019-20``, ``2019_2020`` or ``201920``: the
  return for the year ending 31 March 2020), each holding the tables of that return;
- one folder whose file names carry the year, before or after the table's name
  (``2020-header.csv``, ``episodes_2021.xlsx``, ``903_2019-20_uasc.csv``);
- one folder holding one file per table with a ``YEAR`` column (the header may omit it: a child's
  latest row wins), or with no year at all, read as one return.

**Tables**, found by the word in the file name: ``header`` (``CHILD,SEX,DOB,ETHNIC,UPN,MOTHER,MC_DOB``;
CHILD and DOB required), ``episodes`` (``CHILD,DECOM,RNE,LS,CIN,PLACE,PLACE_PROVIDER,DEC,REC,
REASON_PLACE_CHANGE,HOME_POST,PL_POST,URN``; all but CIN, the postcodes and URN required) and ``uasc``
(``CHILD,SEX,DOB,DUC``; optional: every child listed was unaccompanied and seeking asylum). A header
``UASC`` column (1/0), as older placesim exports wrote it, is read too. Other 903 tables are ignored.
Files may be CSV (UTF-8, with or without a byte-order mark) or Excel ``.xlsx`` (the first sheet).
Dates may be dd/mm/YYYY, ISO (YYYY-MM-DD) or Excel dates, row by row (separators / . or -).

**Date order, file by file.** Each file's dd/mm or mm/dd dates are read in the order its own values
show: a first field over 12 means day first, a second field over 12 month first (read so, with a
warning naming the file). A file with both is read the commoner way, with a warning; the dates the
other way cannot be read and their rows are quarantined. A file whose dates do not tell is read day
first, as the DfE's layout has it, with a note in the report (a warning when another file of the
import is month first).

**Reading CSV line by line.** One bad row costs only itself: a row with more non-blank fields than
the column line, or with an unbalanced quote, is quarantined with its line number; a row with fewer
is read with the missing trailing values blank (warned); a row holding bytes that are not UTF-8 is
decoded as Windows-1252 (latin-1), as Excel saves CSV, and used (warned). A file that is not text
at all (NUL bytes, a zip), is empty, or has no readable row stops the import, naming the file.

**The return year comes from the episodes' own dates.** A return holds episodes open during the
year it ends 31 March of, so no date in it can fall after that day. When the name (or YEAR value)
gives a year its dates contradict (more dates after its 31 March than inside its year, or none
inside it), the year they point to is used instead and a warning says so, naming both readings: a
return named by the year it starts is the commonest case. Two sources read as the same year stop
the import. Dates after the return's 31 March that do not outnumber the rest (a mistyped 2099) are
quarantined and never move the return.

**Repairs, each counted and warned about, never silent:** an end reason (REC) on an episode with no
end date (DEC) is an open episode, and its REC is dropped; a retired code (E43, E44) is read as the
code it was; codes in lower case or with spaces are read in capitals.

**Rejections.** A row that cannot be used goes to the rejected table with its reason (missing
CHILD, an unparseable date, an unknown code, DEC before DECOM, DEC without REC, no header row for
the child, DECOM before DOB, a malformed CSV row, a DECOM, DEC or DOB after the return's 31 March, a
DOB implausibly early (the child 19 or over when the return's year began), a DECOM on or after the
child's 18th birthday). A missing folder, a missing required column, an empty or unreadable
file, or no usable row at all stops the import with a :class:`DataError` naming the file.

Dates become whole day numbers (days since 1970-01-01) so everything downstream is integer arithmetic.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from calibration.codes import LS_CODES, PLACE_CODES, PROVIDER_CODES, REC_CODES, RETIRED_REC_CODES, RNE_CODES, RPC_CODES
from models.schema import ScenarioError

HEADER_REQUIRED = ("CHILD", "DOB")
EPISODES_REQUIRED = ("CHILD", "DECOM", "RNE", "LS", "PLACE", "PLACE_PROVIDER", "DEC", "REC", "REASON_PLACE_CHANGE")
UASC_REQUIRED = ("CHILD",)
EPISODES_COLUMNS = ("CHILD", "DECOM", "RNE", "LS", "CIN", "PLACE", "PLACE_PROVIDER", "DEC", "REC",
                    "REASON_PLACE_CHANGE", "HOME_POST", "PL_POST", "URN")
HEADER_COLUMNS = ("CHILD", "SEX", "DOB", "ETHNIC", "UPN", "MOTHER", "MC_DOB")
TABLES = ("header", "episodes", "uasc")
SUFFIXES = (".csv", ".xlsx")
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


def year_ending(day: float) -> int:
    """The return year (ending 31 March) that day number ``day`` falls in."""
    d = to_date(int(day))
    return d.year if d.month <= 3 else d.year + 1


_DMY = re.compile(r"^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4})$")
_ISO = re.compile(r"^(\d{4})[-/](\d{1,2})[-/](\d{1,2})(?:[ T]00:00(?::00)?)?$")
DAY_FIRST, MONTH_FIRST = "day first", "month first"


def parse_dates(values: pd.Series, order: str = DAY_FIRST) -> np.ndarray:
    """Day numbers of dd/mm/YYYY (or mm/dd/YYYY when ``order`` is month first), ISO YYYY-MM-DD or Excel
    ('YYYY-MM-DD HH:MM:SS') dates; NaN where blank or unparseable. The separators may be / . or -."""
    text = pd.Series(values, dtype=object).astype(str).str.strip()
    if not len(text):
        return np.zeros(0)
    pair = text.str.extract(_DMY)
    iso = text.str.extract(_ISO)
    day, month = (pair[0], pair[1]) if order == DAY_FIRST else (pair[1], pair[0])
    parts = pd.DataFrame({"year": pair[2].fillna(iso[0]), "month": month.fillna(iso[1]), "day": day.fillna(iso[2])})
    parts = parts.apply(pd.to_numeric, errors="coerce")
    got = parts.notna().all(axis=1).to_numpy()
    out = np.full(len(text), np.nan)
    if got.any():
        dates = pd.to_datetime(parts[got], errors="coerce")
        ok = dates.notna().to_numpy()
        idx = np.flatnonzero(got)[ok]
        out[idx] = (dates[ok].to_numpy().astype("datetime64[D]") - _EPOCH).astype(np.int64)
    return out


def date_order(values: list[pd.Series]) -> tuple[str | None, int, int]:
    """The order of the dd/mm or mm/dd dates in ``values``, from the values themselves: (order, dates whose first
    field is over 12, dates whose second field is over 12). The order is None when no date tells (all fields 12 or
    under, or no such dates); when both kinds are seen, the commoner wins (day first on a tie)."""
    text = pd.concat([pd.Series(v, dtype=object) for v in values], ignore_index=True).astype(str).str.strip() \
        if values else pd.Series([], dtype=object)
    pair = text.str.extract(_DMY).apply(pd.to_numeric, errors="coerce") if len(text) else pd.DataFrame({0: [], 1: []})
    first_big = int(((pair[0] > 12) & (pair[0] <= 31) & (pair[1] <= 12)).sum())
    second_big = int(((pair[1] > 12) & (pair[1] <= 31) & (pair[0] <= 12)).sum())
    if not first_big and not second_big:
        return None, 0, 0
    return (MONTH_FIRST if second_big > first_big else DAY_FIRST), first_big, second_big


def has_pairs(values: list[pd.Series]) -> bool:
    """Whether any value is written dd/mm/YYYY or mm/dd/YYYY (not ISO, not an Excel date)."""
    return any(pd.Series(v, dtype=object).astype(str).str.strip().str.match(_DMY).any() for v in values)


_YEAR = re.compile(r"(?<!\d)((?:19|20)\d\d)(?:[-_ /]?(\d\d|(?:19|20)\d\d))?(?!\d)")


def year_of_folder(name: str) -> int | None:
    """The year a return ends in, from a folder or file name: ``2020``, ``2019-20``, ``2019_2020``, ``201920``."""
    found = _YEAR.findall(str(name))
    if not found:
        return None
    first, second = int(found[-1][0]), found[-1][1]
    if not second:
        return first
    end = int(second) if len(second) == 4 else first // 100 * 100 + int(second)
    if end < first:
        end += 100
    return end if end == first + 1 else None


@dataclass
class Warning903:
    """Something odd in the data, what was done about it, how often, and a few examples."""

    kind: str
    message: str
    count: int = 0
    examples: list[str] = field(default_factory=list)

    def line(self) -> str:
        ex = f" (e.g. {', '.join(self.examples[:3])})" if self.examples else ""
        return f"{self.kind}: {self.message} [{self.count}]{ex}"


class Warnings:
    """Warnings collected while reading, merged by (kind, message)."""

    def __init__(self):
        self.items: dict[tuple[str, str], Warning903] = {}

    def add(self, kind: str, message: str, count: int = 1, examples=()) -> None:
        w = self.items.setdefault((kind, message), Warning903(kind, message))
        w.count += int(count)
        for e in examples:
            if len(w.examples) < 5 and str(e) not in w.examples:
                w.examples.append(str(e))

    def list(self) -> list[Warning903]:
        return list(self.items.values())


@dataclass
class Returns:
    """What was read: usable rows, rejected rows, the returns they came from, and the warnings."""

    header: pd.DataFrame  # child, dob, uasc (float: 1/0, NaN when not given), year
    episodes: pd.DataFrame  # child, start, end (NaN if open), rne, ls, place, provider, rec, rpc, year
    rejected: pd.DataFrame  # file, line, reason and the raw columns
    years: list[int]
    rows_read: int
    files: list[str]
    has_uasc: bool
    warnings: list[Warning903] = field(default_factory=list)
    repairs: dict[str, int] = field(default_factory=dict)
    layout: str = ""
    date_orders: dict[str, str] = field(default_factory=dict)  # file -> the date order read, and why


@dataclass
class Source:
    """One return's tables as found on disk, and the year its name gives (None: a YEAR column, or no year)."""

    year: int | None
    files: dict[str, Path]
    where: str


def _cell(v) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return ""
    if isinstance(v, (dt.datetime, pd.Timestamp)):
        return v.strftime("%Y-%m-%d")
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


@dataclass
class Table:
    """One file's rows as text columns, the line each row is on, and the rows that could not be read as CSV."""

    df: pd.DataFrame
    lines: np.ndarray  # the file's line number of each row (1 is the column line)
    bad: pd.DataFrame  # file, line, reason, raw: rows quarantined before any column was read
    path: Path


def _split(text: str) -> tuple[list[str] | None, str]:
    """The fields of one CSV line, or None and why not."""
    try:
        return next(csv.reader([text], strict=True, skipinitialspace=True)), ""
    except csv.Error as e:
        if text.count('"') % 2:
            return None, "unbalanced quote"
        try:  # balanced quotes around spaces (a, "b" ,c): read as a spreadsheet would
            return next(csv.reader([text], skipinitialspace=True)), ""
        except csv.Error:
            return None, f"not readable CSV ({e})"


def _read_csv(path: Path, warnings: "Warnings | None") -> tuple[list[str], list[list[str]], list[int], list[tuple]]:
    """Columns, rows, their line numbers and the malformed rows (line, reason, text) of a CSV file.

    Read line by line, so one bad row costs only itself: a line with more non-blank fields than the column line,
    or an unbalanced quote, is quarantined; a line with fewer is read with the missing trailing values blank; a
    line holding bytes that are not UTF-8 is decoded as Windows-1252 (latin-1), as Excel saves CSV, with a warning.
    """
    raw = path.read_bytes()
    if raw.startswith(b"PK\x03\x04"):
        raise DataError(str(path), "not a text file: it is a zip file (an Excel workbook? name it .xlsx)")
    if b"\x00" in raw:
        raise DataError(str(path), "not a text file: it holds NUL bytes (a binary file, or UTF-16 text: save it as "
                        "CSV UTF-8, or as .xlsx)")
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    if not raw.strip():
        raise DataError(str(path), "the file is empty")
    chunks = raw.split(b"\n") if b"\n" in raw else raw.split(b"\r")
    texts, not_utf8 = [], []
    for number, chunk in enumerate(chunks, start=1):
        chunk = chunk.rstrip(b"\r")
        try:
            texts.append(chunk.decode("utf-8"))
        except UnicodeDecodeError:
            try:
                texts.append(chunk.decode("cp1252"))
            except UnicodeDecodeError:
                texts.append(chunk.decode("latin-1"))
            not_utf8.append(number)
    filled = [i for i, t in enumerate(texts) if t.strip()]
    head = filled[0]
    columns, why = _split(texts[head])
    if columns is None:
        raise DataError(str(path), f"the column line (line {head + 1}) is not readable CSV: {why}")
    columns = [str(c).strip().upper() for c in columns]
    while columns and columns[-1] == "":  # trailing commas after the last column
        columns.pop()
    seen: dict[str, int] = {}
    for i, c in enumerate(columns):
        if c in seen:
            seen[c] += 1
            columns[i] = f"{c}.{seen[c]}"
        else:
            seen[c] = 0
    rows, lines, bad, short = [], [], [], []
    n = len(columns)
    for i in filled[1:]:
        fields, why = _split(texts[i])
        if fields is None:
            bad.append((i + 1, f"malformed row: {why}", texts[i]))
            continue
        if len(fields) > n:
            if any(f.strip() for f in fields[n:]):
                bad.append((i + 1, f"malformed row: extra fields ({len(fields)}, the column line has {n})", texts[i]))
                continue
            fields = fields[:n]
        elif len(fields) < n:
            short.append(i + 1)
            fields = fields + [""] * (n - len(fields))
        rows.append(fields)
        lines.append(i + 1)
    if warnings is not None:
        if not_utf8:
            warnings.add("not UTF-8", f"{path}: rows holding bytes that are not UTF-8 were decoded as Windows-1252 "
                         "(latin-1), as Excel saves CSV, and used; check their text", len(not_utf8),
                         [f"line {k}" for k in not_utf8[:5]])
        if short:
            warnings.add("short rows", f"{path}: rows with fewer fields than the column line were read with the "
                         "missing trailing values blank", len(short), [f"line {k}" for k in short[:5]])
        if bad:
            warnings.add("malformed rows", f"{path}: rows that are not readable CSV were quarantined "
                         "(rejected_rows.csv) and the rest of the file used", len(bad),
                         [f"line {k}: {r.removeprefix('malformed row: ')}" for k, r, _t in bad[:5]])
    return columns, rows, lines, bad


def read_rows(path: Path, required: tuple[str, ...], allow_empty: bool = False,
              warnings: "Warnings | None" = None) -> Table:
    """A CSV or .xlsx table as text columns, upper-case column names, cells stripped, with each row's line number;
    malformed CSV rows are set aside (:func:`_read_csv`). A file unreadable as a whole raises :class:`DataError`."""
    bad: list[tuple] = []
    try:
        if path.suffix.lower() == ".xlsx":
            raw = pd.read_excel(path, sheet_name=0, dtype=object, header=0)
            df = raw.apply(lambda col: col.map(_cell)).astype(str) if len(raw) else raw.astype(str)
            df.columns = [str(c).strip().upper() for c in df.columns]
            lines = np.arange(len(df)) + 2
        else:
            columns, rows, line_list, bad = _read_csv(path, warnings)
            df = pd.DataFrame(rows, columns=columns, dtype=object) if rows else pd.DataFrame(columns=columns, dtype=object)
            lines = np.asarray(line_list, dtype=int)
    except pd.errors.EmptyDataError:
        raise DataError(str(path), "the file is empty") from None
    except (ValueError, OSError, KeyError) as e:  # openpyxl: not a zip / not a workbook
        if isinstance(e, DataError):
            raise
        if path.suffix.lower() != ".xlsx":
            raise DataError(str(path), f"not readable ({str(e).splitlines()[0] if str(e) else type(e).__name__})") from None
        raise DataError(str(path), f"not a readable Excel .xlsx file ({str(e).splitlines()[0] if str(e) else type(e).__name__})") from None
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise DataError(str(path), f"missing required column {missing[0]} (required: {', '.join(required)})")
    if df.empty and bad:
        raise DataError(str(path), f"no readable row: all {len(bad)} rows are malformed (line {bad[0][0]}: "
                        f"{bad[0][1].removeprefix('malformed row: ')})")
    if df.empty and not allow_empty:
        raise DataError(str(path), "the file has a header line but no rows")
    for c in df.columns:
        df[c] = df[c].astype(str).str.strip()
    quarantined = pd.DataFrame({"file": str(path), "line": [k for k, _r, _t in bad], "reason": [r for _k, r, _t in bad],
                                "raw": [t for _k, _r, t in bad]}) if bad else pd.DataFrame()
    return Table(df.reset_index(drop=True), lines, quarantined, path)


def read_table(path: Path, required: tuple[str, ...], allow_empty: bool = False) -> pd.DataFrame:
    """A CSV or .xlsx table as text columns (:func:`read_rows`, its malformed rows left out)."""
    return read_rows(path, required, allow_empty).df


def _table_of(p: Path) -> str | None:
    name = p.stem.lower()
    for t in ("uasc", "episodes", "header"):
        if t in name or (t == "episodes" and re.search(r"(?<![a-z])episode", name)):
            return t
    return None


def _tables_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in SUFFIXES
                  and not p.name.startswith(("~$", ".")) and _table_of(p))


def _group(files: list[Path], where: str, year: int | None) -> Source:
    found: dict[str, list[Path]] = {}
    for p in files:
        found.setdefault(_table_of(p), []).append(p)
    for t, ps in found.items():
        if len(ps) > 1:
            label = f" for {year}" if year else ""
            raise DataError(where, f"several {t} files{label}: {', '.join(p.name for p in ps)}")
    for t in ("header", "episodes"):
        if t not in found:
            raise DataError(where, f"needs a header and an episodes file (CSV or .xlsx){f' for {year}' if year else ''} "
                            f"(missing {t})")
    return Source(year, {t: ps[0] for t, ps in found.items()}, where)


def locate(data_dir: str | Path) -> tuple[list[Source], str]:
    """The returns found under ``data_dir`` and the layout's name."""
    root = Path(data_dir)
    if not root.exists():
        raise DataError("", f"data folder not found: {root}")
    if not root.is_dir():
        raise DataError("", f"not a folder: {root}")
    subs = [(year_of_folder(p.name), p) for p in sorted(root.iterdir()) if p.is_dir()]
    out = [_group(_tables_in(p), str(p), y) for y, p in subs if y is not None and _tables_in(p)]
    if out:
        return out, "year folders"
    files = _tables_in(root)
    if not files:
        raise DataError(str(root), "no 903 returns found: expected year folders (e.g. 2020/) holding header and "
                        "episodes files (CSV or .xlsx), files named by year (2020-header.csv), or header and "
                        "episodes files with a YEAR column")
    named = [(year_of_folder(p.stem), p) for p in files]
    with_year = [p for y, p in named if y is not None]
    if with_year and len(with_year) < len(files):
        odd = [p.name for y, p in named if y is None]
        raise DataError(str(root), f"some file names carry a year and some do not ({', '.join(odd[:3])}): "
                        "name every file by its year, or use one file per table with a YEAR column")
    if with_year:
        years = sorted({y for y, _ in named})
        return [_group([p for y2, p in named if y2 == y], str(root), y) for y in years], "year in the file names"
    return [_group(files, str(root), None)], "one file per table"


def _reject(reason: np.ndarray, mask, text) -> None:
    """Give rows in ``mask`` not already rejected the reason ``text`` (a string, or one per row)."""
    hit = np.asarray(mask, dtype=bool) & (reason == "")
    reason[hit] = text if isinstance(text, str) else np.asarray(text, dtype=object)[hit]


def _codes(df: pd.DataFrame, column: str, warnings: Warnings, repairs: dict, where: str) -> pd.Series:
    raw = df[column]
    v = raw.str.upper().str.replace(r"\s+", "", regex=True)
    changed = (v != raw) & (raw != "")
    if changed.any():
        warnings.add("code case", f"{column} codes in lower case or with spaces were read in capitals",
                     int(changed.sum()), [f"{where}: {r!r}" for r in raw[changed].unique()[:3]])
        repairs["codes read in capitals"] = repairs.get("codes read in capitals", 0) + int(changed.sum())
    return v


def _check_codes(v: pd.Series, column: str, codes, reason: np.ndarray, blank_ok: bool) -> None:
    bad = ~v.isin(list(codes)) & ~((v == "") & blank_ok)
    if bad.any():
        _reject(reason, bad.to_numpy(), ("unknown " + column + " code " + v.map(repr)).to_numpy())


def _resolve_year(named: int | None, start: np.ndarray, end: np.ndarray, where: str, warnings: Warnings,
                  what: str, now: int) -> int:
    """The year of one return, from its name and its episodes' dates (module docstring).

    A name is believed unless more of the dates fall after its 31 March than inside its year, or none falls inside
    and no episode is open: then the first later year whose dates are not outnumbered by later ones (a return
    named by the year it starts: the next), or the year of the latest date, is used, with a warning. A return with
    no name takes the year of its latest date not after ``now`` (today), unless most of its dates are later (a
    simulated return). Dates after the year chosen are quarantined by the caller, so one mistyped date (2099)
    never moves a return."""
    dates = np.concatenate([start[np.isfinite(start)], end[np.isfinite(end)]])
    if not len(dates):
        if named is None:
            raise DataError(where, "no usable dates to tell the return's year from")
        return named

    def after(y):
        return int((dates > return_end(y)).sum())

    def inside(y):
        return int(((dates > return_end(y - 1)) & (dates <= return_end(y))).sum())

    if named is None:
        past = dates[dates <= now]
        latest = float(past.max() if 2 * len(past) >= len(dates) else dates.max())
        by_dates = year_ending(latest)
        warnings.add("year from dates", f"{what} gives no year: read as the return for the year ending 31 March "
                     f"{by_dates}, the year of its latest date ({to_date(int(latest)).isoformat()})", 1, [where])
        return by_dates
    late = after(named)
    if late <= inside(named) and (inside(named) > 0 or bool(np.isnan(end).any())):  # open episodes run into it
        return named
    latest = float(dates.max())
    if late:
        by_dates = next(y for y in range(named + 1, year_ending(latest) + 1) if after(y) <= inside(y) or y == year_ending(latest))
        why = f"{late} dates fall after 31 March {named}, up to {to_date(int(latest)).isoformat()}"
    else:
        by_dates = year_ending(latest)
        why = f"no date falls in the year to 31 March {named}; the latest is {to_date(int(latest)).isoformat()}"
    hint = " (a return named by the year it starts)" if by_dates == named + 1 else ""
    warnings.add("year mismatch", f"{what} says {named} but {why}: read as the return for the year ending 31 March "
                 f"{by_dates}, as the dates say{hint}", 1, [where])
    return by_dates


def _orders(tables: list[tuple[Table, tuple[str, ...]]], warnings: Warnings) -> tuple[dict[str, str], dict[str, str]]:
    """The date order of each CSV or Excel file, told from its own values (:func:`date_order`), and a note each."""
    found = {}
    for t, cols in tables:
        vals = [t.df[c] for c in cols if c in t.df.columns]
        order, first_big, second_big = date_order(vals)
        found[str(t.path)] = (order, first_big, second_big, has_pairs(vals))
    month_first = [f for f, (o, *_r) in found.items() if o == MONTH_FIRST]
    orders, notes = {}, {}
    for f, (order, first_big, second_big, pairs) in found.items():
        if order == DAY_FIRST and not second_big:
            orders[f], notes[f] = DAY_FIRST, f"day first (dd/mm/YYYY): {first_big} dates have a first field over 12"
        elif order == MONTH_FIRST and not first_big:
            orders[f], notes[f] = MONTH_FIRST, f"month first (mm/dd/YYYY): {second_big} dates have a second field over 12"
            warnings.add("date order", f"{f}: dates read month first (mm/dd/YYYY), not the DfE's dd/mm/YYYY: "
                         f"{second_big} dates have a second field over 12 and none a first", 1, [Path(f).name])
        elif order is not None:
            orders[f] = order
            minority = first_big if order == MONTH_FIRST else second_big
            notes[f] = f"mixed: {first_big} dates day first, {second_big} month first; read {order}"
            warnings.add("date order", f"{f}: dates in both orders ({first_big} with a first field over 12, {second_big} "
                         f"with a second): read {order}, the commoner; the {minority} the other way cannot be read "
                         "and are quarantined", 1, [Path(f).name])
        elif pairs:
            orders[f] = DAY_FIRST
            notes[f] = "day first (dd/mm/YYYY), as the DfE's layout has it: no date has a field over 12 to tell"
            if month_first:
                warnings.add("date order", f"{f}: no date tells its order; read day first, as the DfE's layout has it, "
                             f"but {month_first[0]} is month first: check this file", 1, [Path(f).name])
        else:
            orders[f], notes[f] = DAY_FIRST, "ISO or Excel dates (no dd/mm or mm/dd dates)"
    return orders, notes


def read_returns(data_dir: str | Path, today: dt.date | None = None) -> Returns:
    """Read every return under ``data_dir``; bad rows are rejected with a reason, odd ones repaired with a warning.

    ``today`` (default: the real today) bounds the dates that can give a return with no year in its name its year."""
    sources, layout = locate(data_dir)
    warnings, repairs = Warnings(), {}
    headers, episodes, rejected, uasc_ids = [], [], [], []
    files, rows_read = [], 0
    has_uasc = False
    claimed: dict[int, str] = {}
    now = to_day(today or dt.date.today())
    read = []
    for src in sources:
        h = read_rows(src.files["header"], HEADER_REQUIRED, warnings=warnings)
        e = read_rows(src.files["episodes"], EPISODES_REQUIRED, warnings=warnings)
        u = read_rows(src.files["uasc"], UASC_REQUIRED, allow_empty=True, warnings=warnings) if "uasc" in src.files else None
        read.append((src, h, e, u))
    orders, order_notes = _orders([(t, cols) for _s, h, e, _u in read for t, cols in ((h, ("DOB",)), (e, ("DECOM", "DEC")))],
                                  warnings)
    for src, ht, et, ut in read:
        hpath, epath = src.files["header"], src.files["episodes"]
        files += [str(p) for p in src.files.values()]
        h, e, u = ht.df, et.df, (ut.df if ut is not None else None)
        elines, hlines = et.lines, ht.lines
        for t in (ht, et) + ((ut,) if ut is not None else ()):
            rows_read += len(t.df) + len(t.bad)
            if len(t.bad):
                rejected.append(t.bad)

        er = np.full(len(e), "", dtype=object)
        _reject(er, e.CHILD == "", "missing CHILD")
        start, end = parse_dates(e.DECOM, orders[str(epath)]), parse_dates(e.DEC, orders[str(epath)])
        _reject(er, np.isnan(start), "unparseable DECOM " + e.DECOM.map(repr))
        _reject(er, np.isnan(end) & (e.DEC != ""), "unparseable DEC " + e.DEC.map(repr))
        # the return year of each row: the name's (checked against the dates), or the YEAR column's, per value
        if src.year is None and "YEAR" in e.columns:
            raw_years = e.YEAR.map(lambda s: year_of_folder(s) or (int(s) if str(s).isdigit() else None))
            _reject(er, raw_years.isna().to_numpy(), "unreadable YEAR " + e.YEAR.map(repr))
            ey = np.full(len(e), -1)
            for named in sorted({int(v) for v in raw_years.dropna()}):
                rows = (raw_years == named).to_numpy() & (er == "")
                year = _resolve_year(named, start[rows], end[rows], f"{epath} YEAR {named}", warnings, "the YEAR value",
                                     now)
                _claim(claimed, year, f"{epath} YEAR {named}")
                ey[(raw_years == named).to_numpy()] = year
            year_map = {named: int(ey[(raw_years == named).to_numpy()][0]) for named in {int(v) for v in raw_years.dropna()}}
        else:
            what = "the folder name" if layout == "year folders" else ("the file name" if src.year else "the episodes file")
            year = _resolve_year(src.year, start[er == ""], end[er == ""], src.where if layout == "year folders" else str(epath),
                                 warnings, what, now)
            _claim(claimed, year, src.where if layout == "year folders" else str(epath))
            ey = np.full(len(e), year)
            year_map = {src.year: year} if src.year is not None else {}
        ends = np.array([return_end(int(y)) if y > 0 else np.inf for y in ey], dtype=float)
        ends_text = pd.Series([f"31 March {y}" for y in ey], dtype=object)
        _reject(er, start > ends, ("DECOM after the return's end (" + ends_text + ") " + e.DECOM.map(repr)).to_numpy())
        _reject(er, end > ends, ("DEC after the return's end (" + ends_text + ") " + e.DEC.map(repr)).to_numpy())
        codes = {c: _codes(e, c, warnings, repairs, epath.name) for c in ("RNE", "LS", "PLACE", "PLACE_PROVIDER", "REC",
                                                                          "REASON_PLACE_CHANGE")}
        retired = codes["REC"].isin(list(RETIRED_REC_CODES))
        if retired.any():
            warnings.add("retired code", "REC codes E43/E44 are retired (special guardianship is E45-E48): read as "
                         "special guardianship", int(retired.sum()), [f"{epath.name} line {elines[i]}" for i in np.flatnonzero(retired)[:3]])
            repairs["retired REC codes read"] = repairs.get("retired REC codes read", 0) + int(retired.sum())
        _check_codes(codes["RNE"], "RNE", RNE_CODES, er, blank_ok=False)
        _check_codes(codes["LS"], "LS", LS_CODES, er, blank_ok=False)
        _check_codes(codes["PLACE"], "PLACE", PLACE_CODES, er, blank_ok=False)
        _check_codes(codes["PLACE_PROVIDER"], "PLACE_PROVIDER", PROVIDER_CODES, er, blank_ok=True)
        _check_codes(codes["REC"], "REC", {**REC_CODES, **RETIRED_REC_CODES}, er, blank_ok=True)
        _check_codes(codes["REASON_PLACE_CHANGE"], "REASON_PLACE_CHANGE", RPC_CODES, er, blank_ok=True)
        _reject(er, end < start, "DEC before DECOM")
        rec = codes["REC"].to_numpy().copy()
        open_with_rec = (rec != "") & np.isnan(end) & (e.DEC == "").to_numpy() & (er == "")
        if open_with_rec.any():
            warnings.add("open episode with REC", "an episode with no end date (DEC) carried an end reason (REC): read as "
                         "open, its REC dropped", int(open_with_rec.sum()),
                         [f"{epath.name} line {elines[i]} REC {rec[i]}" for i in np.flatnonzero(open_with_rec)[:3]])
            repairs["REC dropped on open episodes"] = repairs.get("REC dropped on open episodes", 0) + int(open_with_rec.sum())
            rec[open_with_rec] = ""
        _reject(er, (rec == "") & ~np.isnan(end), "DEC given but REC blank")
        ok = er == ""
        episodes.append(pd.DataFrame({
            "child": e.CHILD[ok].to_numpy(), "start": start[ok], "end": end[ok],
            "rne": codes["RNE"][ok].to_numpy(), "ls": codes["LS"][ok].to_numpy(),
            "place": codes["PLACE"][ok].to_numpy(), "provider": codes["PLACE_PROVIDER"][ok].to_numpy(),
            "rec": rec[ok], "rpc": codes["REASON_PLACE_CHANGE"][ok].to_numpy(),
            "year": ey[ok], "file": str(epath), "line": elines[ok],
        }))
        rejected.append(_rejected(e, er, epath, elines))

        hr = np.full(len(h), "", dtype=object)
        _reject(hr, h.CHILD == "", "missing CHILD")
        if src.year is None and "YEAR" in h.columns:
            hy = h.YEAR.map(lambda s: year_map.get(year_of_folder(s) or (int(s) if str(s).isdigit() else -1), -1)).to_numpy()
        elif src.year is None and "YEAR" in e.columns:
            hy = np.full(len(h), -1)  # a child's latest row wins
        else:
            hy = np.full(len(h), int(ey[0]) if len(ey) else -1)
        dob = parse_dates(h.DOB, orders[str(hpath)])
        _reject(hr, np.isnan(dob), "unparseable DOB " + h.DOB.map(repr))
        known_years = sorted(y for y in set(year_map.values()) | {int(v) for v in ey} if y > 0)
        if known_years:
            latest_end = np.array([return_end(int(y)) if y > 0 else return_end(known_years[-1]) for y in hy], dtype=float)
            first_year = np.array([int(y) if y > 0 else known_years[0] for y in hy])
            _reject(hr, dob > latest_end, ("DOB after the return's end (31 March " + pd.Series(first_year, dtype=str)
                                           .where(hy > 0, str(known_years[-1])) + ") " + h.DOB.map(repr)).to_numpy())
            # a child 19 or over when the return's year began was not in care in it: 1 April of the year, 19 years back
            floor = np.array([return_end(int(y) - 20) + 1 for y in first_year], dtype=float)
            _reject(hr, dob < floor, ("DOB implausibly early (19 or over when the year to 31 March "
                                      + pd.Series(first_year, dtype=str) + " began) " + h.DOB.map(repr)).to_numpy())
        uasc = np.full(len(h), np.nan)
        if "UASC" in h.columns:
            has_uasc = True
            uasc = h.UASC.str.upper().isin(_TRUE).to_numpy().astype(float)
        if u is not None:
            has_uasc = True
            listed = set(u.CHILD[u.CHILD != ""])
            uasc = np.where(h.CHILD.isin(listed).to_numpy(), 1.0, np.where(np.isnan(uasc), 0.0, uasc))
            uasc_ids += list(listed)
            stray = sorted(listed - set(h.CHILD))
            if stray:
                warnings.add("UASC without header", "children in the UASC table have no header row in the same return: "
                             "ignored there", len(stray), stray[:3])
        hok = hr == ""
        headers.append(pd.DataFrame({"child": h.CHILD[hok].to_numpy(), "dob": dob[hok], "uasc": uasc[hok], "year": hy[hok]}))
        rejected.append(_rejected(h, hr, hpath, hlines))
    header = pd.concat(headers, ignore_index=True)
    eps = pd.concat(episodes, ignore_index=True)
    # a child's latest header row wins; UASC at any return counts
    ever = header.groupby("child").uasc.max()
    header = header.sort_values(["child", "year"], kind="stable").drop_duplicates("child", keep="last")
    header["uasc"] = header.child.map(ever).to_numpy(dtype=float)
    known = dict(zip(header.child, header.dob))
    dob = eps.child.map(known).to_numpy(dtype=float)
    late = np.full(len(eps), "", dtype=object)
    _reject(late, np.isnan(dob), "no header row (DOB) for CHILD")
    _reject(late, eps.start.to_numpy() < dob, "DECOM before DOB")
    _reject(late, eps.start.to_numpy() >= _birthday18(dob), "DECOM on or after the child's 18th birthday")
    if (late != "").any():
        bad = eps[late != ""]
        rejected.append(pd.DataFrame({"file": bad.file, "line": bad.line, "reason": late[late != ""], "CHILD": bad.child}))
        eps = eps[late == ""].reset_index(drop=True)
    years = sorted({int(y) for y in eps.year if y > 0})
    rej = pd.concat([r for r in rejected if len(r)], ignore_index=True) if any(len(r) for r in rejected) else \
        pd.DataFrame(columns=["file", "line", "reason"])
    out_of_range = rej.reason.str.contains("after the return's end|implausibly early|18th birthday", regex=True)
    if out_of_range.any():
        hit = rej[out_of_range]
        warnings.add("date out of range", "rows with a date after their return's 31 March, a DOB "
                     "implausibly early or an episode starting at 18 or over were quarantined (rejected_rows.csv), "
                     "not read into the fit", int(out_of_range.sum()),
                     [f"{Path(f).name} line {n}" for f, n in zip(hit.file, hit.line)][:5])
    if eps.empty:
        raise DataError(str(data_dir), f"no usable episodes: all {rows_read} rows were rejected "
                        f"(first reason: {rej.reason.iloc[0] if len(rej) else 'none'})")
    if years and years != list(range(years[0], years[-1] + 1)):
        gaps = sorted(set(range(years[0], years[-1] + 1)) - set(years))
        warnings.add("missing years", f"no return for {', '.join(map(str, gaps))}: children in care then are seen only "
                     "through the episodes the neighbouring returns repeat", len(gaps), [str(g) for g in gaps])
    return Returns(header.reset_index(drop=True), eps.drop(columns=["file", "line"]), rej, years, rows_read, files,
                   has_uasc, warnings.list(), repairs, layout, order_notes)


def _birthday18(dob: np.ndarray) -> np.ndarray:
    """Day numbers of the 18th birthdays of ``dob`` (29 February births on 28 February); NaN where ``dob`` is."""
    out = np.full(len(dob), np.nan)
    ok = np.isfinite(dob)
    if ok.any():
        born = pd.DatetimeIndex(_EPOCH + dob[ok].astype(np.int64).astype("timedelta64[D]"))
        out[ok] = ((born + pd.DateOffset(years=18)).to_numpy().astype("datetime64[D]") - _EPOCH).astype(np.int64)
    return out


def _claim(claimed: dict[int, str], year: int, where: str) -> None:
    if year in claimed and claimed[year] != where:
        raise DataError(where, f"two returns read as the year ending 31 March {year}: {claimed[year]} and {where} "
                        "(check the folder or file names against the dates inside)")
    claimed[year] = where


def _rejected(df: pd.DataFrame, reason: np.ndarray, path: Path, lines: np.ndarray) -> pd.DataFrame:
    bad = reason != ""
    if not bad.any():
        return pd.DataFrame()
    out = df[bad].copy()
    out.insert(0, "reason", reason[bad])
    out.insert(0, "line", np.asarray(lines)[bad])
    out.insert(0, "file", str(path))
    return out
