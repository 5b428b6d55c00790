"""Reading and cleaning 903 returns: every rejection reason, every cleaning rule, each on a small hand-made file."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from calibration.clean import clean, load
from calibration.codes import CodeMap
from calibration.read903 import DataError, parse_dates, read_returns, return_end, to_day, year_of_folder

HEADER = "CHILD,SEX,DOB,ETHNIC,UPN,MOTHER,MC_DOB\n"
EPIS = "CHILD,DECOM,RNE,LS,CIN,PLACE,PLACE_PROVIDER,DEC,REC,REASON_PLACE_CHANGE,HOME_POST,PL_POST,URN\n"


def write(folder, year, header_rows, episode_rows):
    d = folder / str(year)
    d.mkdir(parents=True, exist_ok=True)
    (d / "header.csv").write_text(HEADER + "".join(r + "\n" for r in header_rows))
    (d / "episodes.csv").write_text(EPIS + "".join(r + "\n" for r in episode_rows))
    return d


def ep(child, decom, rne, place, provider, dec="", rec="", rpc="", ls="C2"):
    return f"{child},{decom},{rne},{ls},N1,{place},{provider},{dec},{rec},{rpc},,,"


def test_dates_in_both_formats_and_folder_years():
    days = parse_dates(pd.Series(["01/04/2019", "2019-04-01", "31/02/2019", "", "1st April"]))
    assert days[0] == days[1] == to_day("2019-04-01")
    assert np.isnan(days[2:]).all()
    assert [year_of_folder(n) for n in ("2020", "2019-20", "2019_2020", "201920", "903_2021", "misc")] == \
        [2020, 2020, 2020, 2020, 2021, None]


def test_every_rejection_reason_is_counted_and_written(tmp_path):
    write(tmp_path, 2020, ["A,1,01/01/2010,WBRI,,,", "B,2,not a date,WBRI,,,", ",1,01/01/2011,WBRI,,,",
                           "D,1,01/01/2015,WBRI,,,"], [
        ep("A", "01/05/2019", "S", "U6", "PR1"),                               # good
        ep("", "01/05/2019", "S", "U6", "PR1"),                                # missing CHILD
        ep("A", "32/05/2019", "P", "U6", "PR1"),                               # unparseable DECOM
        ep("A", "01/06/2019", "P", "U6", "PR1", dec="soon", rec="X1"),         # unparseable DEC
        ep("A", "02/06/2019", "Q", "U6", "PR1"),                               # unknown RNE
        ep("A", "03/06/2019", "P", "U6", "PR1", ls="ZZ"),                      # unknown LS
        ep("A", "04/06/2019", "P", "Q9", "PR1"),                               # unknown PLACE
        ep("A", "05/06/2019", "P", "U6", "PR9"),                               # unknown PLACE_PROVIDER
        ep("A", "06/06/2019", "P", "U6", "PR1", dec="07/06/2019", rec="E99"),  # unknown REC
        ep("A", "08/06/2019", "P", "U6", "PR1", rpc="BORED"),                  # unknown REASON_PLACE_CHANGE
        ep("A", "09/06/2019", "P", "U6", "PR1", dec="01/06/2019", rec="X1"),   # end before start
        ep("A", "10/06/2019", "P", "U6", "PR1", rec="X1"),                     # REC without DEC: repaired, open
        ep("A", "11/06/2019", "P", "U6", "PR1", dec="12/06/2019"),             # DEC without REC
        ep("B", "01/05/2019", "S", "U6", "PR1"),                               # child B's header was rejected
        ep("D", "01/05/2014", "S", "U6", "PR1"),                               # starts before birth
    ])
    ret = read_returns(tmp_path)
    reasons = ret.rejected.reason.tolist()
    expected = ["unparseable DOB 'not a date'", "missing CHILD", "missing CHILD", "unparseable DECOM '32/05/2019'",
                "unparseable DEC 'soon'", "unknown RNE code 'Q'", "unknown LS code 'ZZ'", "unknown PLACE code 'Q9'",
                "unknown PLACE_PROVIDER code 'PR9'", "unknown REC code 'E99'", "unknown REASON_PLACE_CHANGE code 'BORED'",
                "DEC before DECOM", "DEC given but REC blank",
                "no header row (DOB) for CHILD", "DECOM before DOB"]
    assert sorted(reasons) == sorted(expected)
    assert len(ret.episodes) == 2 and ret.episodes.child.tolist() == ["A", "A"]
    assert np.isnan(ret.episodes.end.iloc[1]) and ret.episodes.rec.iloc[1] == ""  # the REC of an open episode dropped
    assert ret.repairs == {"REC dropped on open episodes": 1}
    assert [w.kind for w in ret.warnings] == ["open episode with REC"] and ret.warnings[0].count == 1
    assert ret.rows_read == 4 + 15
    line = ret.rejected[ret.rejected.reason == "unknown PLACE code 'Q9'"].line.item()
    assert line == 8  # the 7th episode row, after the column line


@pytest.mark.parametrize("problem, setup", [
    ("data folder not found", lambda p: p / "nope"),
    ("missing required column DECOM", lambda p: _files(p, EPIS.replace("DECOM,", "START,"), "A,01/05/2019,S,C2,N1,U6,PR1,,,,,,")),
    ("the file is empty", lambda p: _files(p, "", "")),
    ("has a header line but no rows", lambda p: _files(p, EPIS, "")),
    ("no 903 returns found", lambda p: p),
    ("some file names carry a year and some do not", lambda p: _mixed(p)),
    ("several header files for 2020", lambda p: _twice(p)),
    ("two returns read as the year ending 31 March 2020", lambda p: _same_year(p)),
    ("not a readable Excel .xlsx file", lambda p: _bad_xlsx(p)),
])
def test_fatal_problems_stop_with_a_clear_error(tmp_path, problem, setup):
    with pytest.raises(DataError, match=problem):
        read_returns(setup(tmp_path))


def _files(p, columns, row):
    d = p / "2020"
    d.mkdir()
    (d / "header.csv").write_text(HEADER + "A,1,01/01/2010,WBRI,,,\n")
    (d / "episodes.csv").write_text(columns + (row + "\n" if row else ""))
    return p


def _flat(p):
    (p / "header.csv").write_text(HEADER + "A,1,01/01/2010,WBRI,,,\n")
    (p / "episodes.csv").write_text(EPIS + ep("A", "01/05/2019", "S", "U6", "PR1") + "\n")
    return p


def _mixed(p):
    (p / "2020-header.csv").write_text(HEADER + "A,1,01/01/2010,WBRI,,,\n")
    (p / "episodes.csv").write_text(EPIS + ep("A", "01/05/2019", "S", "U6", "PR1") + "\n")
    return p


def _twice(p):
    for name in ("2020-header.csv", "header_2020.csv"):
        (p / name).write_text(HEADER + "A,1,01/01/2010,WBRI,,,\n")
    (p / "2020-episodes.csv").write_text(EPIS + ep("A", "01/05/2019", "S", "U6", "PR1") + "\n")
    return p


def _same_year(p):
    # a folder named by the year it starts (2019, dates of 2019-20) beside a correctly named 2020
    write(p, 2019, ["A,1,01/01/2010,WBRI,,,"], [ep("A", "01/05/2019", "S", "U6", "PR1")])
    write(p, 2020, ["A,1,01/01/2010,WBRI,,,"], [ep("A", "01/05/2019", "S", "U6", "PR1")])
    return p


def _bad_xlsx(p):
    d = p / "2020"
    d.mkdir()
    (d / "header.xlsx").write_text("this is not a workbook")
    (d / "episodes.csv").write_text(EPIS + ep("A", "01/05/2019", "S", "U6", "PR1") + "\n")
    return p


def test_one_folder_without_a_year_is_one_return_dated_by_its_episodes(tmp_path):
    ret = read_returns(_flat(tmp_path))
    assert ret.years == [2020] and ret.layout == "one file per table"
    (w,) = ret.warnings
    assert w.kind == "year from dates" and "year ending 31 March 2020" in w.message


def test_one_folder_with_a_year_column(tmp_path):
    (tmp_path / "header.csv").write_text(HEADER.strip() + ",YEAR\nA,1,01/01/2010,WBRI,,,,2020\n")
    (tmp_path / "episodes.csv").write_text(EPIS.strip() + ",YEAR\n" + ep("A", "2019-05-01", "S", "U6", "PR4") + ",2019-20\n")
    ret, eps = load(tmp_path)
    assert ret.years == [2020]
    assert eps.table.pool.tolist() == ["ifa"]
    assert eps.first_day == to_day("2019-04-01") and eps.last_day == return_end(2020)


def test_latest_return_wins_and_duplicates_are_dropped(tmp_path):
    write(tmp_path, 2020, ["A,1,01/01/2010,WBRI,,,"], [
        ep("A", "01/05/2019", "S", "U6", "PR1"),                                     # open at 31/03/2020
        ep("A", "01/05/2019", "S", "U6", "PR1"),                                     # exact duplicate
    ])
    write(tmp_path, 2021, ["A,1,01/01/2010,WBRI,,,"], [
        ep("A", "01/05/2019", "S", "U6", "PR1", dec="01/07/2020", rec="X1"),         # the same episode, closed
        ep("A", "01/07/2020", "P", "U6", "PR4", dec="01/09/2020", rec="E4A", rpc="CHILD"),
        ep("A", "01/07/2020", "P", "U6", "PR4", dec="01/08/2020", rec="X1", rpc="CHILD"),  # same key, ends earlier
    ])
    _ret, eps = load(tmp_path)
    t = eps.table
    assert eps.counts["superseded by a later return"] == 2
    assert eps.counts["duplicates dropped"] == 1
    assert t.start.tolist() == [to_day("2019-05-01"), to_day("2020-07-01")]
    assert t.end.tolist() == [to_day("2020-07-01"), to_day("2020-09-01")]
    assert t.rec.tolist() == ["X1", "E4A"]
    assert t.route.tolist() == ["", "return_home"]
    assert t.pool.tolist() == ["inhouse_fostering", "ifa"]
    assert t.move.tolist() == [False, True] and t.entry.tolist() == [True, False]


def test_overlaps_are_trimmed_and_open_episodes_censored(tmp_path):
    write(tmp_path, 2020, ["A,1,01/01/2010,WBRI,,,", "B,2,01/01/2005,WBRI,,,"], [
        ep("A", "01/05/2019", "S", "U1", "PR1", dec="01/09/2019", rec="X1"),
        ep("A", "01/08/2019", "P", "K2", "PR4", dec="01/10/2019", rec="E8"),        # starts before the first ends
        ep("B", "01/05/2019", "S", "U6", "PR1"),                                      # still open (wrongly)
        ep("B", "01/06/2019", "P", "H5", "PR1"),                                      # ... when this one starts
    ])
    _ret, eps = load(tmp_path)
    t = eps.table.set_index(["child", "start"])
    assert eps.counts["overlapping episodes trimmed"] == 2
    a0 = t.loc[("A", to_day("2019-05-01"))]
    assert a0.end == to_day("2019-08-01") and a0.rec == "X1" and a0.pool == "kinship"
    b0, b1 = t.loc[("B", to_day("2019-05-01"))], t.loc[("B", to_day("2019-06-01"))]
    assert b0.end == to_day("2019-06-01") and not b0.open
    assert b1.open and np.isnan(b1.end) and b1.stop == return_end(2020) + 1 and b1.pool == "supported"
    assert t.loc[("A", to_day("2019-08-01"))].route == "other"


def test_legal_status_changes_merge_into_their_placement_and_short_breaks_drop(tmp_path):
    write(tmp_path, 2020, ["A,1,01/01/2010,WBRI,,,", "R,1,01/01/2012,WBRI,,,"], [
        ep("A", "01/05/2019", "S", "U6", "PR4", dec="01/06/2019", rec="X1", ls="V2"),
        ep("A", "01/06/2019", "L", "U6", "PR4", dec="01/07/2019", rec="X1", ls="C1"),
        ep("A", "01/07/2019", "L", "U6", "PR4", dec="01/08/2019", rec="X1", ls="C2"),
        ep("A", "01/08/2019", "P", "K2", "PR1", dec="01/02/2020", rec="E11", rpc="CREQB"),
        ep("A", "01/03/2020", "S", "U4", "PR2"),                                     # a second period of care
        ep("R", "01/05/2019", "S", "U6", "PR1", dec="03/05/2019", rec="E4A", ls="V3"),
    ])
    _ret, eps = load(tmp_path)
    t = eps.table
    assert eps.counts["legal-status-only episodes merged"] == 2
    assert eps.counts["short-break episodes dropped (LS V3, V4)"] == 1
    assert len(t) == 3
    assert t.start.tolist() == [to_day("2019-05-01"), to_day("2019-08-01"), to_day("2020-03-01")]
    assert t.end.iloc[0] == to_day("2019-08-01") and t.ls.iloc[0] == "C2" and t.rne.iloc[0] == "S"
    assert t.period.tolist() == [0, 0, 1]
    assert t.entry.tolist() == [True, False, True]
    assert t.route.tolist() == ["", "adoption", ""]
    assert t.pool.tolist() == ["ifa", "residential", "inhouse_fostering"]


def test_exit_at_18_is_turned_18_whatever_the_code(tmp_path):
    write(tmp_path, 2020, ["A,1,15/05/2001,WBRI,,,"], [ep("A", "01/05/2019", "S", "H5", "PR4", dec="15/05/2019", rec="E5")])
    _ret, eps = load(tmp_path)
    assert eps.table.route.tolist() == ["turned_18"]


def test_code_mapping_can_be_overridden(tmp_path):
    f = tmp_path / "codes.toml"
    f.write_text('unplanned = ["CHILD"]\n[pools]\n"U6/PR1" = "ifa"\nZ1 = "residential"\n[exits]\nE8 = "return_home"\n')
    codes = CodeMap.load(f)
    assert codes.pool("U6", "PR1") == "ifa" and codes.pool("U5", "PR1") == "inhouse_fostering"
    assert codes.pool("Z1", "PR4") == "residential" and codes.exits["E8"] == "return_home"
    assert codes.unplanned == ("CHILD",)
    f.write_text('[pools]\nU6 = "castle"\n')
    with pytest.raises(Exception, match="pools.U6: must be one of"):
        CodeMap.load(f)


def test_uasc_column_is_read_when_present(tmp_path):
    d = tmp_path / "2020"
    d.mkdir()
    (d / "header.csv").write_text(HEADER.strip() + ",UASC\nA,1,01/01/2003,WBRI,,,,1\nB,1,01/01/2003,WBRI,,,,0\n")
    (d / "episodes.csv").write_text(EPIS + ep("A", "01/05/2019", "S", "H5", "PR4") + "\n" + ep("B", "01/05/2019", "S", "H5", "PR4") + "\n")
    ret = read_returns(tmp_path)
    eps = clean(ret)
    assert ret.has_uasc and eps.table.uasc.tolist() == [1.0, 0.0]
