"""A corpus of 903 returns as councils hold them, built here: each layout and each real-world oddity as a
small file set, with the reading, warning or repair it must produce."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from calibration.clean import clean
from calibration.codes import LS_CODES, PLACE_CODES, REC_CODES, RNE_CODES, RPC_CODES, CodeMap
from calibration.estimate import estimate
from calibration.read903 import read_returns, return_end, to_day
from calibration.report import calibration_text

HEADER = "CHILD,SEX,DOB,ETHNIC,UPN,MOTHER,MC_DOB"
EPIS = "CHILD,DECOM,RNE,LS,CIN,PLACE,PLACE_PROVIDER,DEC,REC,REASON_PLACE_CHANGE,HOME_POST,PL_POST,URN"


def ep(child, decom, rne, place, provider, dec="", rec="", rpc="", ls="C2"):
    return f"{child},{decom},{rne},{ls},N1,{place},{provider},{dec},{rec},{rpc},,,"


#: two returns of two children: A enters in 2019-20 and moves in 2020-21 (breakdown, reason on the episode that
#: ends), B is in care throughout and leaves in 2020-21
R2020 = (["A,1,01/01/2010,WBRI,,,", "B,2,01/01/2008,WBRI,,0,"],
         [ep("A", "01/05/2019", "S", "U6", "PR1"), ep("B", "01/02/2018", "S", "U4", "PR4")])
R2021 = (["A,1,01/01/2010,WBRI,,,", "B,2,01/01/2008,WBRI,,0,"],
         [ep("A", "01/05/2019", "S", "U6", "PR1", dec="01/07/2020", rec="X1", rpc="CREQB"),
          ep("A", "01/07/2020", "P", "K2", "PR4"),
          ep("B", "01/02/2018", "S", "U4", "PR4", dec="10/01/2021", rec="E4A")])


def _write(path, header_rows, episode_rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    if "header" in path.name.lower():
        path.write_text(HEADER + "\n" + "".join(r + "\n" for r in header_rows))
    else:
        path.write_text(EPIS + "\n" + "".join(r + "\n" for r in episode_rows))


def _same_history(ret):
    e = ret.episodes.sort_values(["child", "start", "year"]).reset_index(drop=True)
    assert ret.years == [2020, 2021]
    assert e.child.tolist() == ["A", "A", "A", "B", "B"]
    assert e.year.tolist() == [2020, 2021, 2021, 2020, 2021]
    assert e.rpc.tolist() == ["", "CREQB", "", "", ""]


@pytest.mark.parametrize("names", [
    ("2020/header.csv", "2020/episodes.csv", "2021/header.csv", "2021/episodes.csv"),
    ("2019-20/903_header.csv", "2019-20/903_episodes.csv", "2020_21/Header.CSV", "2020_21/Episodes.csv"),
    ("2020-header.csv", "2020-episodes.csv", "2021-header.csv", "2021-episodes.csv"),
    ("header_2020.csv", "episodes_2020.csv", "header_2021.csv", "episodes_2021.csv"),
    ("SSDA903_2019-20_Header.csv", "SSDA903_2019-20_Episodes.csv", "SSDA903_2020-21_Header.csv", "SSDA903_2020-21_Episodes.csv"),
])
def test_layouts_by_folder_and_by_file_name(tmp_path, names):
    for name, (h, e) in zip(names, [R2020, R2020, R2021, R2021]):
        _write(tmp_path / name, h, e)
    ret = read_returns(tmp_path)
    _same_history(ret)
    assert ret.warnings == []
    assert ret.layout == ("year folders" if "/" in names[0] else "year in the file names")


def test_a_year_column_in_one_file_per_table(tmp_path):
    rows = [r + ",2019-20" for r in R2020[1]] + [r + ",2021" for r in R2021[1]]
    (tmp_path / "episodes.csv").write_text(EPIS + ",YEAR\n" + "\n".join(rows) + "\n")
    (tmp_path / "header.csv").write_text(HEADER + ",YEAR\n" + "\n".join(r + ",2021" for r in R2021[0]) + "\n")
    ret = read_returns(tmp_path)
    _same_history(ret)
    assert ret.warnings == [] and ret.layout == "one file per table"


def test_folders_named_by_the_year_they_start_are_read_by_their_dates_with_a_warning(tmp_path):
    for year, (h, e) in ((2019, R2020), (2020, R2021)):
        _write(tmp_path / str(year) / "header.csv", h, e)
        _write(tmp_path / str(year) / "episodes.csv", h, e)
    ret = read_returns(tmp_path)
    _same_history(ret)  # never silently a year early: 2019/ is the return ending 31 March 2020
    kinds = [w.kind for w in ret.warnings]
    assert kinds == ["year mismatch", "year mismatch"]
    w = ret.warnings[0]
    assert "says 2019" in w.message and "read as the return for the year ending 31 March 2020" in w.message
    assert "named by the year it starts" in w.message and w.examples == [str(tmp_path / "2019")]
    assert "dates fall after 31 March 2019" in w.message


def test_a_year_column_counting_from_the_start_is_read_by_the_dates(tmp_path):
    rows = [r + ",2019" for r in R2020[1]] + [r + ",2020" for r in R2021[1]]
    (tmp_path / "episodes.csv").write_text(EPIS + ",YEAR\n" + "\n".join(rows) + "\n")
    (tmp_path / "header.csv").write_text(HEADER + "\n" + "\n".join(R2021[0]) + "\n")
    ret = read_returns(tmp_path)
    _same_history(ret)
    assert [w.kind for w in ret.warnings] == ["year mismatch", "year mismatch"]
    assert "the YEAR value says 2019" in ret.warnings[0].message


def test_a_return_with_only_children_in_long_care_keeps_its_name(tmp_path):
    # no date inside the year, but open episodes run into it: the name is believed, no warning
    _write(tmp_path / "2021" / "header.csv", ["B,2,01/01/2008,WBRI,,0,"], [])
    _write(tmp_path / "2021" / "episodes.csv", [], [ep("B", "01/02/2018", "S", "U4", "PR4")])
    ret = read_returns(tmp_path)
    assert ret.years == [2021] and ret.warnings == []


def test_excel_files_read_as_their_csv_twins(tmp_path):
    csv_dir, xl_dir = tmp_path / "csv", tmp_path / "xl"
    for year, (h, e) in ((2020, R2020), (2021, R2021)):
        _write(csv_dir / str(year) / "header.csv", h, e)
        _write(csv_dir / str(year) / "episodes.csv", h, e)
        for table in ("header", "episodes"):
            df = pd.read_csv(csv_dir / str(year) / f"{table}.csv", dtype=str, keep_default_na=False)
            for col in ("DOB", "DECOM", "DEC"):  # real Excel dates, as a council's export holds them
                if col in df:
                    df[col] = [dt.datetime.strptime(v, "%d/%m/%Y") if v else None for v in df[col]]
            if table == "header":
                df["SEX"] = df.SEX.astype(int)  # numbers, not text
            (xl_dir / str(year)).mkdir(parents=True, exist_ok=True)
            df.to_excel(xl_dir / str(year) / f"{table}.xlsx", index=False)
    a, b = read_returns(csv_dir), read_returns(xl_dir)
    _same_history(b)
    pd.testing.assert_frame_equal(a.episodes, b.episodes)
    pd.testing.assert_frame_equal(a.header, b.header)


def test_the_uasc_table_marks_its_children(tmp_path):
    for year, (h, e) in ((2020, R2020), (2021, R2021)):
        _write(tmp_path / str(year) / "header.csv", h, e)
        _write(tmp_path / str(year) / "episodes.csv", h, e)
    (tmp_path / "2021" / "uasc.csv").write_text("CHILD,SEX,DOB,DUC\nA,1,01/01/2010,01/01/2028\nZ,1,01/01/2004,01/01/2022\n")
    ret = read_returns(tmp_path)
    assert ret.has_uasc
    assert dict(zip(ret.header.child, ret.header.uasc)) == {"A": 1.0, "B": 0.0}
    (w,) = ret.warnings
    assert w.kind == "UASC without header" and w.count == 1 and w.examples == ["Z"]
    assert clean(ret).table.groupby("child").uasc.first().to_dict() == {"A": 1.0, "B": 0.0}


def test_every_current_code_is_read_and_k3_is_16_plus_accommodation(tmp_path):
    lists = {"PLACE": sorted(PLACE_CODES), "LS": sorted(LS_CODES), "RNE": sorted(RNE_CODES),
             "REC": sorted(set(REC_CODES) - {"X1"}), "REASON_PLACE_CHANGE": sorted(RPC_CODES)}
    # the DfE's lists (its validator's rules 146, 144, 103, 149, 1009), and K3 since Ofsted registers supported accommodation
    assert set(lists["PLACE"]) == {"A3", "A4", "A5", "A6", "H5", "K1", "K2", "K3", "P1", "P2", "P3", "R1", "R2", "R3",
                                   "R5", "S1", "T0", "T1", "T2", "T3", "T4", "U1", "U2", "U3", "U4", "U5", "U6", "Z1"}
    assert set(lists["REC"]) == {"E11", "E12", "E2", "E3", "E4A", "E4B", "E13", "E41", "E45", "E46", "E47", "E48", "E5",
                                 "E6", "E7", "E8", "E9", "E14", "E15", "E16", "E17"}
    assert set(lists["LS"]) == {"C1", "C2", "D1", "E1", "V2", "V3", "V4", "J1", "J2", "J3", "L1", "L2", "L3"}
    assert set(lists["REASON_PLACE_CHANGE"]) == {"CARPL", "CLOSE", "ALLEG", "STAND", "APPRR", "CREQB", "CREQO", "CHILD",
                                                 "LAREQ", "PLACE", "CUSTOD", "OTHER"}
    rows, heads = [], []
    n = max(len(v) for v in lists.values())
    for i in range(n):
        c = f"C{i}"
        heads.append(f"{c},1,01/01/2005,WBRI,,,")
        pick = {k: v[i % len(v)] for k, v in lists.items()}
        rows.append(ep(c, "01/05/2019", pick["RNE"], pick["PLACE"], "PR1", dec="01/06/2019", rec=pick["REC"],
                       rpc=pick["REASON_PLACE_CHANGE"], ls=pick["LS"]))
    _write(tmp_path / "2020" / "header.csv", heads, [])
    _write(tmp_path / "2020" / "episodes.csv", [], rows)
    ret = read_returns(tmp_path)
    assert len(ret.rejected) == 0 and len(ret.episodes) == n
    assert CodeMap().pool("K3", "PR4") == "supported" and CodeMap().pool("H5", "PR1") == "supported"


def test_repairs_are_made_counted_and_warned_not_quarantined(tmp_path):
    _write(tmp_path / "2020" / "header.csv", ["A,1,01/01/2010,WBRI,,,", "B,2,01/01/2008,WBRI,,0,", "C,1,01/01/2009,WBRI,,,"], [])
    _write(tmp_path / "2020" / "episodes.csv", [], [
        ep("A", "01/05/2019", "S", "u6", "pr1", rec="X1"),            # open, with an end reason; codes in lower case
        ep("B", "01/06/2019", "S", "U3", "PR1", rec="E4A"),           # open, with an exit code
        ep("C", "01/06/2019", "S", "U3", "PR1", dec="01/09/2019", rec="E44"),  # a retired special guardianship code
    ])
    ret = read_returns(tmp_path)
    assert len(ret.rejected) == 0 and len(ret.episodes) == 3  # repaired, none quarantined
    assert ret.repairs == {"codes read in capitals": 2, "REC dropped on open episodes": 2, "retired REC codes read": 1}
    by = {w.kind: w for w in ret.warnings}
    assert set(by) == {"code case", "open episode with REC", "retired code"}
    assert by["open episode with REC"].count == 2 and "line 2 REC X1" in by["open episode with REC"].examples[0]
    eps = clean(ret)
    t = eps.table.set_index("child")
    assert t.loc["A", "open"] and t.loc["A", "pool"] == "inhouse_fostering" and t.loc["A", "stop"] == return_end(2020) + 1
    assert t.loc["B", "open"] and t.loc["B", "route"] == ""
    assert t.loc["C", "route"] == "special_guardianship"
    text = calibration_text(ret, eps, estimate(eps), CodeMap())
    assert "Warnings (4)" in text  # code case counts once per column
    assert "open episode with REC: an episode with no end date (DEC) carried an end reason (REC): read as open, " \
           "its REC dropped [2] (e.g. episodes.csv line 2 REC X1, episodes.csv line 3 REC E4A)" in text
    assert "retired code:" in text and "[1]" in text
    assert "       2  REC dropped on open episodes" in text


def test_a_missing_year_is_warned_about(tmp_path):
    for year, (h, e) in ((2020, R2020), (2022, R2021)):
        _write(tmp_path / str(year) / "header.csv", h, e)
    _write(tmp_path / "2020" / "episodes.csv", [], R2020[1])
    _write(tmp_path / "2022" / "episodes.csv", [], [ep("A", "01/05/2019", "S", "U6", "PR1", dec="01/07/2021", rec="E4A")])
    ret = read_returns(tmp_path)
    assert ret.years == [2020, 2022]
    (w,) = ret.warnings
    assert w.kind == "missing years" and w.examples == ["2021"]


def test_reason_for_a_change_is_read_on_the_episode_that_ends(tmp_path):
    # A breaks down out of in-house foster care (CREQB on that episode), then moves on planned (LAREQ)
    _write(tmp_path / "2021" / "header.csv", ["A,1,01/01/2010,WBRI,,,"], [])
    _write(tmp_path / "2021" / "episodes.csv", [], [
        ep("A", "01/05/2020", "S", "U6", "PR1", dec="01/07/2020", rec="X1", rpc="CREQB"),
        ep("A", "01/07/2020", "P", "U6", "PR4", dec="01/09/2020", rec="X1", rpc="LAREQ"),
        ep("A", "01/09/2020", "P", "K2", "PR4", dec="01/11/2020", rec="X1", rpc="CARPL"),
        ep("A", "01/11/2020", "B", "A6", "PR1", dec="01/03/2021", rec="E11", ls="E1"),
    ])
    from calibration.estimate import move_rates
    eps = clean(read_returns(tmp_path))
    moves, unpl, _early, _trans = move_rates(eps.table, eps.first_day, eps.last_day + 1, CodeMap())
    assert unpl["inhouse_fostering"].n == 1 and unpl["ifa"].n == 0  # LAREQ is planned
    assert unpl["residential"].n == 0  # CARPL into a placement for adoption carries out the plan
    assert moves["residential"].n == 1 and moves["all"].n == 3
    assert np.isclose(unpl["inhouse_fostering"].exposure, (to_day("2020-07-01") - to_day("2020-05-01")) / 365.0)
