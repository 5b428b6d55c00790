"""The append-only event log: the single source of truth of a run.

The market appends plain tuples ``(day, event, child, option, reason, value)``;
:meth:`EventLog.frame` turns them into a tidy DataFrame joined with each child's
fixed attributes. Event kinds:

=================  ==========================================================  ==========================
event              meaning                                                     reason / value
=================  ==========================================================  ==========================
enter              a child enters care (or is in the initial stock)            entry|stock / age in days
                   (the ``need`` column holds each event's need at the time; see need_change)
wait_start         no suitable placement: emergency placement begins           entry|breakdown
wait_end           the wait ends                                               search|vacancy|exit
search             a spot search reports                                       found|failed|none_free (no IFA household with room and the skills)
place              a placement starts at ``option``                            entry|breakdown|search|vacancy|move_on|... / 1 if out of area
end                a placement at ``option`` ends                              breakdown|move_on|exit|assessment_end|...
exit               the child leaves care                                       route
contract_open      a block contract starts taking children                     market / places
contract_close     a block contract stops taking new children                  market / places
carer_join         a household is approved (``carer`` >= 1,000,000: an IFA's)  initial|approved|from_inhouse / places; option = skills
carer_leave        a household leaves                                          deregistered|to_ifa|retired / children it had
=================  ==========================================================  ==========================
"""

from __future__ import annotations

from itertools import repeat
from operator import itemgetter

import numpy as np
import pandas as pd

from models.catalogue import DAYS_PER_YEAR, NEED_BANDS

EVENTS = ("enter", "wait_start", "wait_end", "search", "place", "end", "exit", "contract_open", "contract_close",
          "carer_application", "carer_join", "carer_leave", "group", "group_placed", "split",
          "need_change", "escalate", "staying_put_start", "staying_put_end", "sibling_enter", "reunite",
          "capacity_open", "capacity_close")
COLUMNS = ("day", "event", "child", "option", "reason", "value", "carer")
_EVENT_CODE = {e: i for i, e in enumerate(EVENTS)}


def _categorical(values: list[str]) -> pd.Categorical:
    """A categorical of strings with sorted categories, as ``pd.Categorical(values)`` gives,
    built through a dict: pandas' own inference is several times slower on a long list."""
    seen: dict[str, int] = {}
    codes = np.fromiter(map(lambda v: seen.setdefault(v, len(seen)), values), dtype=np.int64, count=len(values))
    cats = sorted(seen)
    remap = np.empty(len(cats), dtype=np.int64)
    remap[[seen[c] for c in cats]] = np.arange(len(cats))
    return pd.Categorical.from_codes(remap[codes] if len(codes) else codes, categories=cats)


class EventLog:
    def __init__(self):
        self.rows: list[tuple] = []
        self.append = self.rows.append  # the hot path: one bound-method call per event

    def __len__(self) -> int:
        return len(self.rows)

    @staticmethod
    def _current_need(entry_need: np.ndarray, child: np.ndarray, changed: np.ndarray, value: np.ndarray) -> np.ndarray:
        """Each event's need at the time: the need at entry, updated by the child's ``need_change`` events."""
        if not changed.any():
            return entry_need
        rows = np.flatnonzero(np.isin(child, child[changed]))  # events of children whose need changed
        rows = rows[np.argsort(child[rows], kind="stable")]  # by child, in log order within a child
        pos = np.arange(len(rows))
        start = np.r_[True, child[rows][1:] != child[rows][:-1]]
        last_change = np.maximum.accumulate(np.where(changed[rows], pos, -1))
        group_start = np.maximum.accumulate(np.where(start, pos, 0))
        has = last_change >= group_start
        need = entry_need.copy()
        need[rows[has]] = value[rows[last_change[has]]].astype(np.int64)
        return need

    def frame(self, cohort, offset_days: float) -> pd.DataFrame:
        """Tidy events: ``day`` counts from the reported period's start (negative in warm-up)."""
        # one column at a time: zip(*rows) builds one huge argument tuple, and its cost per
        # row grows with the length of the log
        day, event, child, option, reason, value, carer = (list(map(itemgetter(i), self.rows)) for i in range(len(COLUMNS)))
        child = np.asarray(child, dtype=np.int64)
        known = child >= 0
        safe = np.where(known, child, 0)
        day = np.asarray(day, dtype=float)
        age = np.where(known, (cohort.age_days[safe] + day - cohort.entry_day[safe]) / DAYS_PER_YEAR, np.nan) if len(cohort) else np.full(len(child), np.nan)
        need = np.where(known, cohort.need[safe], -1) if len(cohort) else np.full(len(child), -1)
        value = np.asarray(value, dtype=float)
        codes = np.fromiter(map(_EVENT_CODE.get, event, repeat(-1)), dtype=np.int64, count=len(event))
        if (codes < 0).any():
            unknown = sorted({e for e in event if e not in EVENTS})
            raise ValueError(f"event log holds unknown event kinds {unknown}; add them to simulation.log.EVENTS")
        kinds = pd.Categorical.from_codes(codes, categories=EVENTS)
        need = self._current_need(need, child, codes == _EVENT_CODE["need_change"], value)
        uasc = np.where(known, cohort.uasc[safe], False) if len(cohort) else np.zeros(len(child), bool)
        pac = np.where(known, cohort.parent_child[safe], False) if len(cohort) else np.zeros(len(child), bool)
        return pd.DataFrame({
            "day": day - offset_days,
            "event": kinds,
            "child": child,
            "option": _categorical(option),
            "reason": _categorical(reason),
            "value": value,
            "carer": np.asarray(carer, dtype=np.int64),
            "age": age,
            "need": pd.Categorical.from_codes(np.asarray(need, dtype=np.int64), categories=NEED_BANDS)
            if len(child) else pd.Categorical([], categories=NEED_BANDS),
            "uasc": np.asarray(uasc, dtype=bool),
            "parent_child": np.asarray(pac, dtype=bool),
        })
