"""Faulty 903 input, built here as small file sets: dates that cannot be true, returns written month first, and rows
that are not readable CSV. Each is quarantined or warned about, with its reason and line, and the rest is used; a
file unreadable as a whole stops ``calibrate`` with one line naming it and exit code 2."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from calibration.clean import clean
from calibration.codes import CodeMap
from calibration.estimate import estimate
from calibration.read903 import DAY_FIRST, MONTH_FIRST, date_order, parse_dates, read_returns, to_day
from calibration.report import calibration_text
from experiments.cli import main

HEADER = "CHILD,SEX,DOB,ETHNIC,UPN,MOTHER,MC_DOB"
EPIS = "CHILD,DECOM,RNE,LS,CIN,PLACE,PLACE_PROVIDER,DEC,REC,REASON_PLACE_CHANGE,HOME_POST,PL_POST,URN"
TODAY = dt.date(2024, 6, 1)  # a fixed today, so the tests mean the same every day


def ep(child, decom, rne, place, provider, dec="", rec="", rpc="", ls="C2", post=""):
    return f"{child},{decom},{rne},{ls},N1,{place},{provider},{dec},{rec},{rpc},{post},,"


#: one return for the year to 31 March 2020: four children, five episodes, every date dd/mm/YYYY
HEADS = ["A,1,14/02/2010,WBRI,,,", "B,2,23/07/2008,WBRI,,,", "C,1,30/11/2012,WBRI,,,", "D,2,05/03/2006,WBRI,,,"]
EPISODES = [ep("A", "15/05/2019", "S", "U6", "PR1", dec="20/09/2019", rec="X1", rpc="CREQB"),
            ep("A", "20/09/2019", "P", "K2", "PR4"),
            ep("B", "13/02/2018", "S", "U4", "PR4", dec="18/01/2020", rec="E4A"),
            ep("C", "28/06/2019", "S", "U1", "PR1"),
            ep("D", "17/10/2018", "S", "H5", "PR4")]


def write(folder, heads=HEADS, episodes=EPISODES, year="2020", encoding="utf-8"):
    d = folder / year
    d.mkdir(parents=True, exist_ok=True)
    (d / "header.csv").write_bytes((HEADER + "\n" + "".join(r + "\n" for r in heads)).encode(encoding))
    (d / "episodes.csv").write_bytes((EPIS + "\n" + "".join(r + "\n" for r in episodes)).encode(encoding))
    return folder


def baseline(tmp_path):
    return read_returns(write(tmp_path / "clean"), today=TODAY)


def same_data(ret, base):
    """The usable rows are exactly those of the clean file set."""
    pd.testing.assert_frame_equal(ret.episodes.reset_index(drop=True), base.episodes.reset_index(drop=True))
    pd.testing.assert_frame_equal(ret.header.reset_index(drop=True), base.header.reset_index(drop=True))


def rejected(ret):
    return {(f.split("/")[-1], int(n)): r for f, n, r in zip(ret.rejected.file, ret.rejected.line, ret.rejected.reason)}


def warning(ret, kind):
    found = [w for w in ret.warnings if w.kind == kind]
    assert found, [w.line() for w in ret.warnings]
    return found


# --- dates that cannot be true -------------------------------------------------------------------------------------

def test_a_future_decom_is_quarantined_and_does_not_move_the_return(tmp_path):
    base = baseline(tmp_path)
    ret = read_returns(write(tmp_path / "bad", episodes=EPISODES + [ep("E", "01/01/2099", "S", "U6", "PR1")],
                             heads=HEADS + ["E,1,01/01/2011,WBRI,,,"]), today=TODAY)
    assert ret.years == [2020]  # not read as the return for 2099
    assert rejected(ret) == {("episodes.csv", 7): "DECOM after the return's end (31 March 2020) '01/01/2099'"}
    assert len(ret.episodes) == len(base.episodes) == 5
    pd.testing.assert_frame_equal(ret.episodes, base.episodes)
    (w,) = warning(ret, "date out of range")
    assert w.count == 1 and w.examples == ["episodes.csv line 7"]
    # the fit sees the clean data's numbers
    a, b = estimate(clean(ret)), estimate(clean(base))
    assert a.entries_by_year == b.entries_by_year and a.entry_rate.value == b.entry_rate.value
    text = calibration_text(ret, clean(ret), a, CodeMap())
    assert "rejected: 1" in text and "       1  DECOM after the return's end (31 March 2020)\n" in text
    assert "date out of range: rows with a date after their return's 31 March" in text


def test_a_future_date_in_a_return_without_a_year_does_not_set_its_year(tmp_path):
    (tmp_path / "header.csv").write_text(HEADER + "\n" + "\n".join(HEADS) + "\n")
    (tmp_path / "episodes.csv").write_text(EPIS + "\n" + "\n".join(EPISODES[:4] + [
        ep("D", "17/10/2018", "S", "H5", "PR4", dec="02/02/2099", rec="E8")]) + "\n")
    ret = read_returns(tmp_path, today=TODAY)
    assert ret.years == [2020] and len(ret.episodes) == 4
    assert rejected(ret) == {("episodes.csv", 6): "DEC after the return's end (31 March 2020) '02/02/2099'"}
    assert "year ending 31 March 2020" in warning(ret, "year from dates")[0].message


def test_a_return_named_by_its_start_year_moves_one_year_not_to_a_mistyped_one(tmp_path):
    base = baseline(tmp_path)
    eps = EPISODES + [ep("D", "17/10/2018", "P", "H5", "PR4", dec="01/01/2099", rec="E8")]
    ret = read_returns(write(tmp_path / "bad", episodes=eps, year="2019"), today=TODAY)
    assert ret.years == [2020]
    assert "says 2019" in warning(ret, "year mismatch")[0].message
    assert rejected(ret) == {("episodes.csv", 7): "DEC after the return's end (31 March 2020) '01/01/2099'"}
    pd.testing.assert_frame_equal(ret.episodes, base.episodes)


def test_a_simulated_return_in_the_future_is_read_whole(tmp_path):
    (tmp_path / "header.csv").write_text(HEADER + "\n" + "\n".join(HEADS) + "\n")
    (tmp_path / "episodes.csv").write_text(EPIS + "\n" + "\n".join(EPISODES) + "\n")
    ret = read_returns(tmp_path, today=dt.date(2015, 1, 1))  # every date is after "today"
    assert ret.years == [2020] and len(ret.rejected) == 0 and len(ret.episodes) == 5


def test_a_date_after_the_returns_end_is_quarantined_under_a_name_it_does_not_outnumber(tmp_path):
    base = baseline(tmp_path)
    late = EPISODES[:4] + [ep("D", "17/10/2018", "S", "H5", "PR4", dec="03/05/2021", rec="E8")]
    ret = read_returns(write(tmp_path / "bad", episodes=late), today=TODAY)
    assert ret.years == [2020] and [w.kind for w in ret.warnings] == ["date out of range"]
    assert rejected(ret) == {("episodes.csv", 6): "DEC after the return's end (31 March 2020) '03/05/2021'"}
    pd.testing.assert_frame_equal(ret.episodes, base.episodes[base.episodes.child != "D"].reset_index(drop=True))


@pytest.mark.parametrize("dob, reason", [
    ("01/01/2099", "DOB after the return's end (31 March 2020) '01/01/2099'"),
    ("01/06/2020", "DOB after the return's end (31 March 2020) '01/06/2020'"),
    ("11/11/1911", "DOB implausibly early (19 or over when the year to 31 March 2020 began) '11/11/1911'"),
])
def test_impossible_dates_of_birth_are_quarantined(tmp_path, dob, reason):
    heads = HEADS[:3] + [f"D,2,{dob},WBRI,,,"]
    ret = read_returns(write(tmp_path, heads=heads), today=TODAY)
    got = rejected(ret)
    assert got[("header.csv", 5)] == reason
    assert got[("episodes.csv", 6)] == "no header row (DOB) for CHILD"  # D's episode goes with it
    assert len(ret.episodes) == 4 and sorted(ret.header.child) == ["A", "B", "C"]


def test_an_episode_starting_at_18_is_quarantined(tmp_path):
    heads = HEADS[:3] + ["D,2,17/10/2000,WBRI,,,"]  # D is 18 on the day the episode starts
    ret = read_returns(write(tmp_path, heads=heads), today=TODAY)
    assert rejected(ret) == {("episodes.csv", 6): "DECOM on or after the child's 18th birthday"}
    assert len(ret.episodes) == 4 and warning(ret, "date out of range")[0].count == 1


# --- the order of dates ----------------------------------------------------------------------------------------

def _month_first(rows):
    out = []
    for r in rows:
        f = r.split(",")
        out.append(",".join(f"{v[3:5]}/{v[0:2]}/{v[6:]}" if len(v) == 10 and v[2] == "/" else v for v in f))
    return out


def test_a_return_written_month_first_is_read_month_first_with_a_warning(tmp_path):
    base = baseline(tmp_path)
    assert _month_first(["A,15/05/2019,x"]) == ["A,05/15/2019,x"]
    ret = read_returns(write(tmp_path / "us", heads=_month_first(HEADS), episodes=_month_first(EPISODES)), today=TODAY)
    same_data(ret, base)
    assert len(ret.rejected) == 0
    ws = warning(ret, "date order")
    assert len(ws) == 2
    e = next(w for w in ws if "episodes.csv" in w.message)
    assert e.message == (f"{tmp_path / 'us' / '2020' / 'episodes.csv'}: dates read month first (mm/dd/YYYY), not the "
                         "DfE's dd/mm/YYYY: 7 dates have a second field over 12 and none a first")
    assert ret.date_orders[str(tmp_path / "us" / "2020" / "header.csv")].startswith("month first")
    assert base.date_orders[str(tmp_path / "clean" / "2020" / "episodes.csv")].startswith("day first (dd/mm/YYYY): 7")
    assert base.warnings == []


def test_without_this_a_month_first_file_would_swap_small_days(tmp_path):
    # the check the test above relies on: read day first, 05/12/2019 is 5 December, month first 12 May
    s = pd.Series(["05/12/2019", "05/13/2019"])
    assert parse_dates(s, DAY_FIRST)[0] == to_day("2019-12-05") and np.isnan(parse_dates(s, DAY_FIRST)[1])
    assert list(parse_dates(s, MONTH_FIRST)) == [to_day("2019-05-12"), to_day("2019-05-13")]
    assert date_order([s]) == (MONTH_FIRST, 0, 1)
    assert date_order([pd.Series(["13/05/2019", "01/02/2019"])]) == (DAY_FIRST, 1, 0)
    assert date_order([pd.Series(["01/02/2019", "2019-05-13"])]) == (None, 0, 0)


def test_a_file_whose_dates_do_not_tell_is_read_day_first_with_a_note(tmp_path):
    heads = ["A,1,01/02/2010,WBRI,,,"]
    eps = [ep("A", "03/04/2019", "S", "U6", "PR1", dec="05/06/2019", rec="E4A")]
    ret = read_returns(write(tmp_path, heads=heads, episodes=eps), today=TODAY)
    assert ret.warnings == []  # the DfE's layout, nothing against it
    assert ret.episodes.start.tolist() == [to_day("2019-04-03")] and ret.episodes.end.tolist() == [to_day("2019-06-05")]
    note = ret.date_orders[str(tmp_path / "2020" / "episodes.csv")]
    assert note == "day first (dd/mm/YYYY), as the DfE's layout has it: no date has a field over 12 to tell"
    text = calibration_text(ret, clean(ret), estimate(clean(ret)), CodeMap())
    assert f"  {tmp_path / '2020' / 'episodes.csv'}: {note}" in text


def test_an_undecided_file_beside_a_month_first_one_is_warned_about(tmp_path):
    heads = ["A,1,01/02/2010,WBRI,,,"]  # tells nothing
    eps = [ep("A", "04/15/2019", "S", "U6", "PR1", dec="06/20/2019", rec="E4A")]  # month first
    ret = read_returns(write(tmp_path, heads=heads, episodes=eps), today=TODAY)
    msgs = [w.message for w in warning(ret, "date order")]
    assert any(m.startswith(str(tmp_path / "2020" / "header.csv") + ": no date tells its order; read day first")
               and m.endswith("episodes.csv is month first: check this file") for m in msgs), msgs
    assert ret.episodes.start.tolist() == [to_day("2019-04-15")]
    assert ret.header.dob.tolist() == [to_day("2010-02-01")]  # day first, as warned


def test_a_file_in_both_orders_reads_the_commoner_and_quarantines_the_rest(tmp_path):
    eps = EPISODES[:4] + [ep("D", "10/17/2018", "S", "H5", "PR4")]  # one row month first among day-first ones
    ret = read_returns(write(tmp_path, episodes=eps), today=TODAY)
    (w,) = warning(ret, "date order")
    assert "dates in both orders (6 with a first field over 12, 1 with a second): read day first" in w.message
    assert rejected(ret) == {("episodes.csv", 6): "unparseable DECOM '10/17/2018'"}
    assert len(ret.episodes) == 4


def test_iso_dates_and_other_separators_read_as_dd_mm(tmp_path):
    base = baseline(tmp_path)

    def iso(rows):
        return [",".join(f"{v[6:]}-{v[3:5]}-{v[0:2]}" if len(v) == 10 and v[2] == "/" else v for v in r.split(","))
                for r in rows]

    ret = read_returns(write(tmp_path / "iso", heads=iso(HEADS), episodes=iso(EPISODES)), today=TODAY)
    same_data(ret, base)
    assert ret.warnings == [] and ret.date_orders[str(tmp_path / "iso" / "2020" / "header.csv")].startswith("ISO")
    dotted = [r.replace("/", ".") for r in EPISODES]
    same_data(read_returns(write(tmp_path / "dots", episodes=dotted), today=TODAY), base)


def test_excel_dates_and_month_first_text_in_excel(tmp_path):
    base = baseline(tmp_path)
    d = tmp_path / "xl" / "2020"
    d.mkdir(parents=True)
    h = pd.DataFrame([r.split(",") for r in HEADS], columns=HEADER.split(","))
    h["DOB"] = [dt.datetime.strptime(v, "%d/%m/%Y") for v in h.DOB]  # real Excel dates
    h.to_excel(d / "header.xlsx", index=False)
    e = pd.DataFrame([r.split(",") for r in _month_first(EPISODES)], columns=EPIS.split(","))  # text, month first
    e.to_excel(d / "episodes.xlsx", index=False)
    ret = read_returns(tmp_path / "xl", today=TODAY)
    same_data(ret, base)
    assert [w.kind for w in ret.warnings] == ["date order"] and "episodes.xlsx: dates read month first" in ret.warnings[0].message


# --- rows that are not readable CSV ---------------------------------------------------------------------------

def test_malformed_rows_are_quarantined_with_their_line_and_the_rest_used(tmp_path):
    base = baseline(tmp_path)
    eps = (EPISODES[:2] + [""]  # a blank line: line numbers stay the file's own
           + [EPISODES[2] + ",surplus"]                                    # line 5: an extra field
           + [EPISODES[3].replace(",U1,", ',"U1,')]                        # line 6: an unbalanced quote
           + [EPISODES[4]])
    folder = write(tmp_path / "bad", episodes=eps)
    ret = read_returns(folder, today=TODAY)
    got = rejected(ret)
    assert got == {("episodes.csv", 5): "malformed row: extra fields (14, the column line has 13)",
                   ("episodes.csv", 6): "malformed row: unbalanced quote"}
    assert ret.rejected.raw.dropna().tolist() == [eps[3], eps[4]]
    kept = base.episodes[~base.episodes.child.isin(["B", "C"])].reset_index(drop=True)
    pd.testing.assert_frame_equal(ret.episodes, kept)
    assert ret.rows_read == base.rows_read
    (w,) = warning(ret, "malformed rows")
    assert w.count == 2 and w.examples == ["line 5: extra fields (14, the column line has 13)", "line 6: unbalanced quote"]
    assert str(folder / "2020" / "episodes.csv") in w.message
    text = calibration_text(ret, clean(ret), estimate(clean(ret)), CodeMap())
    assert "rejected: 2" in text and "       1  malformed row: extra fields" in text
    assert "       1  malformed row: unbalanced quote" in text


def test_trailing_blank_fields_and_short_rows_are_read(tmp_path):
    base = baseline(tmp_path)
    eps = [EPISODES[0] + ",,", EPISODES[1].rstrip(",")] + EPISODES[2:]
    ret = read_returns(write(tmp_path / "x", episodes=eps), today=TODAY)
    same_data(ret, base)
    (w,) = warning(ret, "short rows")
    assert w.count == 1 and w.examples == ["line 3"]


def test_a_latin1_byte_is_decoded_with_a_warning_and_the_row_used(tmp_path):
    base = baseline(tmp_path)
    eps = EPISODES[:3] + [ep("C", "28/06/2019", "S", "U1", "PR1", post="Sh\u00e9ffield")] + EPISODES[4:]
    folder = tmp_path / "latin"
    write(folder)
    (folder / "2020" / "episodes.csv").write_bytes((EPIS + "\n" + "\n".join(eps) + "\n").encode("latin-1"))
    assert b"\xe9" in (folder / "2020" / "episodes.csv").read_bytes()
    ret = read_returns(folder, today=TODAY)
    same_data(ret, base)
    assert len(ret.rejected) == 0
    (w,) = warning(ret, "not UTF-8")
    assert w.count == 1 and w.examples == ["line 5"] and str(folder / "2020" / "episodes.csv") in w.message
    assert "decoded as Windows-1252 (latin-1)" in w.message


def test_the_calibrate_command_reports_quarantined_rows_and_uses_the_rest(tmp_path):
    eps = EPISODES[:2] + [EPISODES[2] + ",surplus"] + EPISODES[3:]
    folder = write(tmp_path / "data", episodes=eps)
    res = CliRunner().invoke(main, ["calibrate", str(folder), "--out", str(tmp_path / "c.toml"), "--refine", "0",
                                    "--report", str(tmp_path / "rep")])
    assert res.exit_code == 0, res.output
    assert "1 returns 2020-2020: 9 rows read, 1 rejected, 4 placement episodes after cleaning" in res.output
    assert f"warning: malformed rows: {folder / '2020' / 'episodes.csv'}: rows that are not readable CSV were " \
           "quarantined (rejected_rows.csv) and the rest of the file used [1] (e.g. line 4: extra fields (14, the " \
           "column line has 13))" in res.output
    rej = pd.read_csv(tmp_path / "rep" / "rejected_rows.csv")
    assert rej[["line", "reason"]].values.tolist() == [[4, "malformed row: extra fields (14, the column line has 13)"]]


# --- files unreadable as a whole ------------------------------------------------------------------------------

def _binary(d):
    (d / "header.csv").write_bytes(bytes(range(256)) * 4)


def _utf16(d):
    (d / "header.csv").write_bytes((HEADER + "\n" + "\n".join(HEADS) + "\n").encode("utf-16"))


def _zip(d):
    pd.DataFrame({"CHILD": ["A"]}).to_excel(d / "x.xlsx", index=False)
    (d / "header.csv").write_bytes((d / "x.xlsx").read_bytes())
    (d / "x.xlsx").unlink()


def _empty(d):
    (d / "episodes.csv").write_bytes(b"")


def _blank(d):
    (d / "episodes.csv").write_bytes(b"\xef\xbb\xbf\r\n\r\n  \n")


def _all_malformed(d):
    (d / "episodes.csv").write_text(EPIS + "\n" + "\n".join(r + ",x" for r in EPISODES) + "\n")


def _bad_column_line(d):
    (d / "episodes.csv").write_text('CHILD,"DECOM,RNE\n' + "\n".join(EPISODES) + "\n")


@pytest.mark.parametrize("damage, name, needle", [
    (_binary, "header.csv", "not a text file: it holds NUL bytes"),
    (_utf16, "header.csv", "not a text file: it holds NUL bytes (a binary file, or UTF-16 text"),
    (_zip, "header.csv", "not a text file: it is a zip file (an Excel workbook? name it .xlsx)"),
    (_empty, "episodes.csv", "the file is empty"),
    (_blank, "episodes.csv", "the file is empty"),
    (_all_malformed, "episodes.csv", "no readable row: all 5 rows are malformed (line 2: extra fields (14, the column line has 13))"),
    (_bad_column_line, "episodes.csv", "the column line (line 1) is not readable CSV: unbalanced quote"),
])
def test_a_file_unreadable_as_a_whole_is_one_line_and_exit_code_2(tmp_path, damage, name, needle):
    folder = write(tmp_path / "data")
    damage(folder / "2020")
    res = CliRunner().invoke(main, ["calibrate", str(folder), "--out", str(tmp_path / "c.toml"), "--refine", "0",
                                    "--report", str(tmp_path / "rep")])
    out = res.output.strip()
    assert res.exit_code == 2, out
    assert "Traceback" not in out and len(out.splitlines()) == 1, out
    assert out.startswith(f"error: {folder / '2020' / name}: ") and needle in out, out
    assert not (tmp_path / "c.toml").exists()
