"""Changes over a child's time in care: needs at reviews, step-downs, step-ups and staying put.

Needs change only at reviews (every ``interval_days`` after entry), by one band,
with probabilities ``need_down`` and ``need_up``. Rather than one event per
review, the number of reviews until the next change is drawn directly (it is
geometric), so a child has at most one pending "need changes" outcome.

- **Step-down**: at a review that leaves a child in residential care with a need
  at or below ``step_down.max_need``, the child moves to the first foster option
  in its order that has a suitable place (a spot search if that is what the order
  reaches); if none, it is tried again at the next review.
- **Step-up**: ``escalation.breakdowns`` breakdowns within ``window_days`` put a
  child aged ``min_age`` or more on a residential-first order for its next search.
- **Staying put**: a young person in foster care at 18 may stay with the carer
  until ``until_age``: the child leaves care, the place stays taken.

Events: ``need_change`` (reason down/up, value = new need), ``escalate``,
``staying_put_start`` and ``staying_put_end`` (option and carer of the placement).
"""

from __future__ import annotations

import math

from models.catalogue import DAYS_PER_YEAR, NEED_BANDS
from simulation.cohort import RESERVOIR

_FOSTER_POOLS = ("inhouse_fostering", "ifa")
_STAYING_PUT_COLUMN = RESERVOIR - 1


class Transitions:
    def __init__(self, market):
        self.m = market
        s = market.s
        self.r, self.sd, self.esc, self.sp = s.reviews, s.step_down, s.escalation, s.staying_put
        self.max_need = NEED_BANDS.index(self.sd.max_need)

    # ------------------------------------------------------------------ reviews
    def start(self, c) -> None:
        c.reviews = 0
        if self.r.enabled:
            self._schedule(c)

    def _uniform(self, c) -> float:
        k = c.review_draws
        c.review_draws += 1
        if k < _STAYING_PUT_COLUMN:
            return float(self.m.cohort.review_u[c.id, k])
        return self.m._draw(c, self.m.cohort.review_u, RESERVOIR + k)  # beyond the row: the child's extra stream

    def _rates(self, need: int) -> tuple[float, float]:
        down = self.r.need_down if need > 0 else 0.0
        up = self.r.need_up if need < len(NEED_BANDS) - 1 else 0.0
        return down, up

    def _schedule(self, c) -> None:
        down, up = self._rates(c.need)
        q = down + up
        if q <= 0:
            return
        u = self._uniform(c)
        k = 1 if q >= 1 else int(math.log(max(u, 1e-300)) / math.log1p(-q)) + 1  # reviews until the change: geometric
        c.reviews += k
        day = c.entry + c.reviews * self.r.interval_days
        if day < self.m.exit_day[c.id]:
            self.m.at(day - self.m.env.now, self._change, c)

    def _change(self, c) -> None:
        if c.done:
            return
        down, up = self._rates(c.need)
        step = -1 if self._uniform(c) * (down + up) < down else 1
        c.need += step
        self.m._emit("need_change", c.id, self.m.option_name(c.option) if c.option >= 0 else "",
                     "down" if step < 0 else "up", c.need)
        self.step_down(c, c.token)
        self._schedule(c)

    # ------------------------------------------------------------------ step-down
    def step_down(self, c, token: int) -> None:
        m = self.m
        if (not self.sd.enabled or c.done or c.waiting or c.token != token or c.option < 0
                or m.pool[c.option] != "residential" or c.need > self.max_need):
            return
        c.escalated = False
        m.move_to(c, _FOSTER_POOLS, "step_down", self._step_down_later)

    def _step_down_later(self, c) -> None:
        """No foster place this time: try again at the next review."""
        if self.r.enabled:
            self.m.at(self.r.interval_days, self.step_down, c, c.token)

    # ------------------------------------------------------------------ step-up
    def breakdown(self, c) -> None:
        """Record a breakdown; escalate after enough of them within the window."""
        if not self.esc.enabled:
            return
        now = self.m.env.now
        c.breakdown_days = [d for d in c.breakdown_days if now - d < self.esc.window_days] + [now]
        age = self.m._age(c) / DAYS_PER_YEAR
        if len(c.breakdown_days) >= self.esc.breakdowns and self.esc.min_age <= age < self.esc.max_age and not c.escalated:
            c.escalated = True
            self.m._emit("escalate", c.id, "", "breakdowns", len(c.breakdown_days))

    # ------------------------------------------------------------------ staying put
    def stays_put(self, c) -> bool:
        m = self.m
        return (self.sp.enabled and c.option >= 0 and m.pool[c.option] in _FOSTER_POOLS
                and float(m.cohort.review_u[c.id, _STAYING_PUT_COLUMN]) < self.sp.probability)

    def begin_staying_put(self, c) -> None:
        m = self.m
        o, h = c.option, c.household
        m._emit("end", c.id, m.option_name(o), "staying_put", 0.0, h.id if h is not None else -1)
        m._emit("staying_put_start", c.id, m.option_name(o), "turned_18", 0.0, h.id if h is not None else -1)
        c.option = -1
        c.token += 1
        c.staying_put = (o, h)
        m.at((self.sp.until_age - 18.0) * DAYS_PER_YEAR, self.end_staying_put, c, "until_age")

    def end_staying_put(self, c, reason: str) -> None:
        if c.staying_put is None:
            return
        m = self.m
        o, h = c.staying_put
        c.staying_put = None
        m._emit("staying_put_end", c.id, m.option_name(o), reason, 0.0, h.id if h is not None else -1)
        if h is not None:
            h.service.release(h, c, c.unit, broke_down=False)
            m.household_vacant(h)
        elif m.kind[o] not in ("spot", "kin"):
            m.free[o] += 1
            m._offer(o)
