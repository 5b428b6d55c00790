"""The placement market as SimPy processes.

Arrivals and block contracts are SimPy processes. Each child is an event-driven
state machine: every pending outcome (leaving care, a breakdown, a spot search
result, a planned move, a retry) is one SimPy timeout whose callback checks a
token, so an outcome made stale by something that happened first is simply
ignored. Nothing is ever interrupted or polled, and no step scans all children
or all places: freed places are offered to a FIFO queue of waiting children
kept per option.

The market only appends to the :class:`~simulation.log.EventLog`; all metrics
are derived from that log afterwards.
"""

from __future__ import annotations

import gc
from collections import deque

import numpy as np
import simpy
from simpy.core import NORMAL
from simpy.events import Event

from models.catalogue import AGE_BANDS, DAYS_PER_YEAR, INHOUSE, MARKETS, NEED_BANDS, OPTION_NAMES, OPTIONS, POOLS, age_band
from models.scenario import Scenario
from simulation.cohort import RESERVOIR, ROUTES, Cohort
from simulation.budget import EventBudget
from simulation.capacity import capacity_changes, capacity_schedule
from simulation.carer_service import CarerService
from simulation.groups import Group, SiblingGroups
from simulation.transitions import Transitions
from simulation.log import EventLog
from simulation.streams import Streams



class _Outcome(Event):
    """An already-triggered event that calls ``fn(*args)`` when SimPy processes it: a
    timeout without the timeout's checks and without a closure per outcome."""

    def __init__(self, env: simpy.Environment, fn, args: tuple):
        self.env = env
        self.callbacks = [_fire]
        self._ok = True
        self._value = None
        self.fn = fn
        self.args = args


def _fire(event: _Outcome) -> None:
    event.fn(*event.args)


def _stale(entry: tuple) -> bool:
    """A household queue entry whose child or group no longer waits for it."""
    _, item, token = entry
    if isinstance(item, Group):
        return not (item.waiting and item.token == token)
    return not (item.waiting and item.wait_token == token) or item.group is not None


class Child:
    __slots__ = ("id", "need", "age0", "entry", "kin", "option", "token", "waiting", "wait_token", "ptr",
                 "order", "placements", "searches", "done", "reason", "household", "mismatch", "group", "unit",
                 "reviews", "review_draws", "escalated", "breakdown_days", "staying_put", "parent_child")

    def __init__(self, cid: int, cohort: Cohort):
        self.id = cid
        self.need = int(cohort.need[cid])
        self.age0 = float(cohort.age_days[cid])
        self.entry = float(cohort.entry_day[cid])
        self.kin = bool(cohort.kin[cid])
        self.option = -1  # current placement option index, -1 when not placed
        self.token = 0  # bumps at every change of placement: stale outcomes check it
        self.waiting = False
        self.wait_token = 0
        self.ptr = 0  # position in the placement order during a search
        self.order: tuple[int, ...] = ()
        self.placements = 0
        self.searches = 0
        self.done = False
        self.reason = "entry"
        self.household = None  # the in-house household the child lives with
        self.mismatch = False
        self.group = None  # the sibling group while it is being placed together
        self.unit = cid  # placement unit: the child, or the sibling group placed together
        self.reviews = 0  # reviews passed, up to the next change of need
        self.review_draws = 0
        self.escalated = False  # on a residential-first order after repeated breakdowns
        self.breakdown_days: list[float] = []
        self.staying_put = None  # (option, household) while staying put after 18
        self.parent_child = bool(cohort.parent_child[cid])  # with a parent, until the assessment ends


class Market:
    """State of one replication: free places, waiting queues and the children in care."""

    def __init__(self, scenario: Scenario, cohort: Cohort, log: EventLog, offset_days: float, horizon: float,
                 streams: Streams):
        self.s = scenario
        self.streams = streams
        self.extra: dict[int, np.random.Generator] = {}
        self.cohort = cohort
        self.log = log
        self.offset = offset_days  # engine day of the reported period's start
        self.horizon = horizon
        self.env = simpy.Environment()
        n_opt = len(OPTION_NAMES)
        self.kind = [OPTIONS[o][1] for o in OPTION_NAMES]
        self.pool = [OPTIONS[o][0] for o in OPTION_NAMES]
        self.free = [0] * n_opt
        self.open = [False] * n_opt
        self.queues: list[deque] = [deque() for _ in range(n_opt)]
        self.accepts = [[True] * len(NEED_BANDS) for _ in range(n_opt)]
        self.spot = [None] * n_opt
        self.ooa = [0.0] * n_opt
        idx = {o: i for i, o in enumerate(OPTION_NAMES)}
        self.idx = idx
        for section, opt in INHOUSE.items():
            cap = getattr(scenario.inhouse, section)
            self.free[idx[opt]] = cap.usable
            self.open[idx[opt]] = True
        self.ih = idx["inhouse_fostering"]
        self.carers = CarerService(self, self.ih) if scenario.carers.enabled else None
        self.ifa_carers = (CarerService(self, idx["ifa_spot"], ifa=True)
                           if scenario.ifa_carers.enabled and scenario.spot.ifa.enabled else None)
        self.hh: list[CarerService | None] = [None] * n_opt  # the household pool behind each option
        self.hh[self.ih] = self.carers
        self.hh[idx["ifa_spot"]] = self.ifa_carers
        self.groups = SiblingGroups(self) if scenario.siblings.enabled else None
        self.transitions = Transitions(self)
        for m in MARKETS:
            market = getattr(scenario.spot, m)
            if market.enabled:
                i = idx[f"{m}_spot"]
                self.spot[i] = market
                self.open[i] = True
                self.ooa[i] = market.out_of_area
            block = getattr(scenario.contracts, m)
            i = idx[f"{m}_block"]
            self.ooa[i] = block.out_of_area
            self.accepts[i] = [b in block.needs for b in NEED_BANDS]
        self.open[idx["kinship"]] = scenario.kinship.enabled
        hazards = scenario.breakdowns
        self.break_rate = [
            [h / DAYS_PER_YEAR for h in hazards.for_pool(self.pool[i])] if hazards.enabled else [0.0] * 4
            for i in range(n_opt)
        ]
        self.child: list[Child | None] = [None] * len(cohort)
        self.exit_day: list[float] = cohort.exit_day.tolist()
        self.exit_before_entry: set[int] = set()
        self.early_days = hazards.early_days
        self.early_rate_factor = hazards.early_multiplier
        rules = [[tuple(idx[o] for o in scenario.policy.order_for(a, n)) for n in NEED_BANDS] for a in AGE_BANDS]
        self.orders = rules
        # drawn pools of the initial stock (entries.initial_pool_shares); None when not set
        self.stock_pool = cohort.stock_pool.tolist() if (cohort.stock_pool >= 0).any() else None

    # ------------------------------------------------------------------ helpers
    def _emit(self, kind: str, child: int, option: str = "", reason: str = "", value: float = 0.0, carer: int = -1) -> None:
        self.log.append((self.env.now, kind, child, option, reason, value, carer))

    def emit_carer(self, kind: str, h, reason: str, value: float) -> None:
        self.log.append((self.env.now, kind, -1, h.skills, reason, value, h.id))

    def emit_application(self, approved: bool) -> None:
        self.log.append((self.env.now, "carer_application", -1, "", "approved" if approved else "declined", 0.0, -1))

    def option_name(self, o: int) -> str:
        return OPTION_NAMES[o]

    def age_band_of(self, c: Child) -> int:
        return age_band(self._age(c))

    def day_of(self, date) -> float:
        """Engine day of a calendar date."""
        return self.offset + (date - self.s.run.start_date).days

    def at(self, delay: float, fn, *args) -> None:
        """Schedule ``fn(*args)`` after ``delay`` days: one SimPy event per pending outcome."""
        if self.env.now + delay >= self.horizon:
            return
        self.env.schedule(_Outcome(self.env, fn, args), NORMAL, delay)

    def _age(self, c: Child) -> float:
        return c.age0 + self.env.now - c.entry

    def _available(self, c: Child, o: int) -> bool:
        kind = self.kind[o]
        if kind == "kin":
            return self.open[o] and c.kin and c.placements == 0
        if self.hh[o] is not None:
            return self.hh[o].find(1, c.need, c.parent_child)[0] is not None
        return self.open[o] and self.free[o] > 0 and self.accepts[o][c.need]

    # ------------------------------------------------------------------ processes
    def arrivals(self):
        """Children entering care, at the cohort's pre-drawn times."""
        first, size = self.cohort.group.tolist(), self.cohort.group_size.tolist()
        for cid, day in enumerate(self.cohort.entry_day.tolist()):  # Python floats keep SimPy's clock a float
            wait = day - self.env.now
            if wait > 0:
                yield self.env.timeout(wait)
            if size[cid] > 1 and self.groups is not None:
                if first[cid] == cid:
                    self.groups.enter(cid, size[cid])
            else:
                self.enter(cid)

    def contract(self, market: str):
        """A block contract opens at its start date and stops taking children at its end."""
        block = getattr(self.s.contracts, market)
        o = self.idx[f"{market}_block"]
        start = self.offset + (block.start - self.s.run.start_date).days
        end = self.offset + (block.end_date - self.s.run.start_date).days
        if block.places == 0 or end <= 0:
            return
        if start > 0:
            yield self.env.timeout(start)
        self.open[o] = True
        self.free[o] = block.places
        self._emit("contract_open", -1, OPTION_NAMES[o], market, block.places)
        self._offer(o)
        yield self.env.timeout(end - max(start, 0.0))
        self.open[o] = False
        self._emit("contract_close", -1, OPTION_NAMES[o], market, block.places)

    def _in_day_order(self, days: np.ndarray):
        """Child ids and days, earliest first, up to the horizon."""
        order = np.argsort(days, kind="stable")
        order = order[days[order] < self.horizon]
        return zip(order.tolist(), days[order].tolist())

    def exits(self):
        """Children leave care on their pre-drawn days. One process walks them in day order,
        instead of one long-lived timeout per child in care."""
        for cid, day in self._in_day_order(self.cohort.exit_day):
            if day > self.env.now:
                yield self.env.timeout(day - self.env.now)
            c = self.child[cid]
            if c is None:  # enters at this same instant, later in the event order
                self.exit_before_entry.add(cid)
            else:
                self.leave_care(c)

    def move_ons(self):
        """Planned moves to 16+ accommodation, walked in day order like exits."""
        days = self.cohort.move_on_day
        for cid, day in self._in_day_order(np.where(np.isnan(days), np.inf, days)):
            if day > self.env.now:
                yield self.env.timeout(day - self.env.now)
            if self.child[cid] is not None:
                self.move_on(self.child[cid])

    # ------------------------------------------------------------------ life of a child
    def admit(self, cid: int) -> Child:
        """A child comes into care (no placement yet)."""
        c = Child(cid, self.cohort)
        self.child[cid] = c
        self._emit("enter", cid, "", "stock" if self.cohort.stock[cid] else "entry", c.age0)
        self.transitions.start(c)
        if c.parent_child:
            self.at(self.s.parent_child.assessment_days, self._assessment_end, c)
        return c

    def enter(self, cid: int) -> None:
        c = self.admit(cid)
        first = int(self.cohort.sibling_of[cid])
        if first >= 0 and self.groups is not None:
            if not self.groups.join(c, first):
                self.search(c, "entry")
                self.groups.later_apart(first)
        elif self.stock_pool is not None and self.stock_pool[cid] >= 0:
            c.order = self.stock_first(c, self.orders[age_band(c.age0)][c.need])
            c.ptr = 0
            self._walk(c)
        else:
            self.search(c, "entry")
        if cid in self.exit_before_entry:
            self.leave_care(c)

    def stock_first(self, c: Child, order: tuple[int, ...]) -> tuple[int, ...]:
        """``order`` with the options of a stock child's drawn pool first (``entries.initial_pool_shares``),
        so the stock starts in the observed mix where there is room; the rest of the order is the fallback.
        A child drawn into kinship has a connected carer, whatever its own kin draw said."""
        pool = POOLS[self.stock_pool[c.id]]
        first = tuple(o for o in order if self.pool[o] == pool)
        if pool == "kinship" and first:
            c.kin = True
        return first + tuple(o for o in order if self.pool[o] != pool)

    def search(self, c: Child, reason: str) -> None:
        """Find a placement for an unplaced child, walking its placement order from the top."""
        c.order = self.orders[age_band(self._age(c))][c.need]
        if c.escalated:
            c.order = self.residential_first(c.order)
        c.ptr = 0
        c.reason = reason
        self._walk(c)

    def residential_first(self, order: tuple[int, ...]) -> tuple[int, ...]:
        resi = tuple(self.idx[o] for o in ("residential_inhouse", "residential_block", "residential_spot"))
        return resi + tuple(o for o in order if o not in resi)

    def _walk(self, c: Child) -> None:
        """Continue down the order from ``c.ptr``: take a free place, or run the next spot search.

        A search with no delay reports at once; otherwise the child waits (in an emergency
        placement) for its outcome. When the order runs out the child waits and is retried.
        """
        order = c.order
        while c.ptr < len(order):
            o = order[c.ptr]
            c.ptr += 1
            if self.kind[o] == "spot":
                if not self.open[o]:
                    continue
                delay = self.spot[o].search_days
                if delay > 0:
                    self._wait(c)
                    self.at(delay, self._search_result, c, c.wait_token, o)
                    return
                if self._search(c, o):
                    return
            elif self.hh[o] is not None:
                h = self.hh[o].find(1, c.need, c.parent_child)[0]
                if h is not None:
                    self.place(c, o, "search" if c.waiting else c.reason, household=h)
                    return
            elif self._available(c, o):
                self.place(c, o, "search" if c.waiting else c.reason)
                return
        self._wait(c)
        self.at(self.s.waiting.retry_days, self._retry, c, c.wait_token)

    def _wait(self, c: Child) -> None:
        """Start waiting, queued for every in-house and block option in the child's order."""
        if c.waiting:
            return
        c.waiting = True
        c.wait_token += 1
        self._emit("wait_start", c.id, "", c.reason)
        self._enqueue(c, c.order)

    def _enqueue(self, c: Child, order: tuple[int, ...]) -> None:
        for o in order:
            svc = self.hh[o]
            if svc is not None:
                svc.enqueue(c, c.wait_token, 1, c.need, c.parent_child)
            elif self.kind[o] in ("inhouse", "block") and self.accepts[o][c.need]:
                self.queues[o].append((c, c.wait_token))

    def _retry(self, c: Child, token: int) -> None:
        if c.waiting and c.wait_token == token:
            order = self.orders[age_band(self._age(c))][c.need]
            if order != c.order:
                self._enqueue(c, tuple(o for o in order if o not in c.order))
                c.order = order
            c.ptr = 0
            self._walk(c)

    def _draw(self, c: Child, reservoir: np.ndarray, k: int, exponential: bool = False) -> float:
        """The child's k-th draw of a kind: from its pre-drawn row, then from its own extra stream."""
        if k < RESERVOIR:
            return float(reservoir[c.id, k])
        rng = self.extra.get(c.id)
        if rng is None:
            rng = self.extra[c.id] = self.streams.generator("child-extra", int(self.cohort.stock[c.id]), c.id)
        return float(rng.exponential() if exponential else rng.random())

    def _draw_search(self, c: Child) -> float:
        k = c.searches
        c.searches += 1
        return self._draw(c, self.cohort.search_u, k)

    def spot_search(self, c: Child, o: int, size: int = 1, need: int | None = None, factor: float = 1.0):
        """A spot search at ``o`` for ``size`` children (``c`` and, for a group, its siblings; ``need``
        the highest of theirs). Logs its outcome and returns (found, household).

        Where households stand behind the market (IFA carers) the search needs one with room
        and the skills (else ``none_free``); the agency then declines with the market's
        tightness. Elsewhere it succeeds with the market's probability times ``factor``.
        """
        svc, h = self.hh[o], None
        if svc is not None:
            h = svc.find(size, c.need if need is None else need, c.parent_child and size == 1)[0]
            if h is None:
                self._emit("search", c.id, OPTION_NAMES[o], "none_free")
                return False, None
            factor = 1.0
        if self._draw_search(c) < (1.0 - self.spot[o].tightness) * factor:
            self._emit("search", c.id, OPTION_NAMES[o], "found")
            return True, h
        self._emit("search", c.id, OPTION_NAMES[o], "failed")
        return False, None

    def _search(self, c: Child, o: int) -> bool:
        """Run a spot search; place the child if it succeeds."""
        found, h = self.spot_search(c, o)
        if found:
            self.place(c, o, "search" if c.waiting else c.reason, household=h)
        return found

    def _search_result(self, c: Child, token: int, o: int) -> None:
        if c.waiting and c.wait_token == token and not self._search(c, o):
            self._walk(c)

    def place(self, c: Child, o: int, reason: str, household=None, unit: int | None = None) -> None:
        if c.waiting:
            c.waiting = False
            self._emit("wait_end", c.id, "", reason)
        k = c.placements
        carer = -1
        c.mismatch = False
        c.unit = c.id if unit is None else unit
        svc = self.hh[o]
        if svc is not None:
            h = household or svc.find(1, c.need, c.parent_child)[0]
            c.household = h
            c.mismatch = svc.take(h, c, c.unit)
            carer = h.id
            out_of_area = 1.0 if h.out_of_area else 0.0
        else:
            if self.kind[o] != "spot" and self.kind[o] != "kin":
                self.free[o] -= 1
            out_of_area = 1.0 if self._draw(c, self.cohort.ooa_u, k) < self.ooa[o] else 0.0
        c.placements += 1
        c.option = o
        c.token += 1
        self._emit("place", c.id, OPTION_NAMES[o], reason, out_of_area, carer)
        rate = self.break_rate[o][c.need]
        if c.mismatch:
            rate *= self.s.carers.mismatch_breakdown_multiplier
        if rate > 0:
            delay = self._time_to_breakdown(self._draw(c, self.cohort.breakdown_e, k, exponential=True), rate)
            if self.env.now + delay < self.exit_day[c.id]:  # else the child leaves care first
                self.at(delay, self._breakdown, c, c.token)

    def _time_to_breakdown(self, e: float, rate: float) -> float:
        """Invert the two-phase hazard (``early_multiplier`` x rate for ``early_days``, then rate)."""
        early = self.early_rate_factor * rate
        if early > 0 and e < early * self.early_days:
            return e / early
        return self.early_days + (e - early * self.early_days) / rate

    def _vacate(self, c: Child, reason: str) -> None:
        o = c.option
        c.option = -1
        c.token += 1
        h = c.household
        self._emit("end", c.id, OPTION_NAMES[o], reason, 0.0, h.id if h is not None else -1)
        if h is not None:
            c.household = None
            h.service.release(h, c, c.unit, broke_down=reason == "breakdown")
            self.household_vacant(h)
        elif self.kind[o] == "kin":
            c.kin = False
        elif self.kind[o] != "spot":
            self.free[o] += 1
            self._offer(o)

    def change_capacity(self, o: int, places: int, usable: int, section: str) -> None:
        """In-house places open (``places`` > 0) or close at option ``o``. Free places may go below
        zero when occupied places close: they then close as their children leave."""
        self.free[o] += usable
        self._emit("capacity_open" if places > 0 else "capacity_close", -1, OPTION_NAMES[o], section, float(abs(places)))
        if usable > 0:
            self._offer(o)

    def _offer(self, o: int) -> None:
        """Give free places at option ``o`` to the longest-waiting eligible children."""
        q = self.queues[o]
        kept = []
        while q and self.free[o] > 0 and self.open[o]:
            c, token = q.popleft()
            if isinstance(c, Group):
                if c.waiting and c.token == token and not self.groups.offer(c, token, o):
                    kept.append((c, token))  # too few places for the whole group yet
            elif c.waiting and c.wait_token == token and c.group is None:
                if self.accepts[o][c.need]:  # the need may have changed since it queued
                    self.place(c, o, "vacancy")
                else:
                    kept.append((c, token))
        q.extendleft(reversed(kept))

    def household_vacant(self, h) -> None:
        """Offer a household's free places to the longest-waiting children and groups it can take."""
        svc = h.service
        wq, limit = svc.queue, svc.c.max_placements
        if wq is None:  # IFA households are found by spot searches
            return
        while h.alive and h.free > 0 and h.groups < limit and not h.whole:
            best = None
            for q in wq.servable(h):
                while q and _stale(q[0]):
                    q.popleft()
                if q and (best is None or q[0][0] < best[0][0]):
                    best = q
            if best is None:
                break
            _, item, token = best.popleft()
            if isinstance(item, Group):
                if not self.groups.offer(item, token, svc.option, household=h):
                    wq.push(item, token, len(item), item.need)
            elif svc.fits(h, 1, item.need, parent_child=item.parent_child):
                self.place(item, svc.option, "vacancy", household=h)
            else:  # its need changed while it waited: queue it for what it needs now
                wq.push(item, token, 1, item.need, item.parent_child)
        if self.groups is not None and self.groups.reunites and h.alive and h.sibling and h.free >= 2:
            self.groups.reunite(h)

    def carer_left(self, c: Child, moved=None) -> None:
        """The child's household deregistered: the child must move (or a staying-put arrangement ends).

        A carer who moved to an agency (``moved``, the carer's new IFA household) keeps the child
        where it fits: the placement starts again with the agency, at IFA rates (reason ``to_ifa``)."""
        if c.staying_put is not None:
            self.transitions.end_staying_put(c, "carer_left")
            return
        unit = c.unit
        self._vacate(c, "carer_left")
        if moved is not None and moved.service.fits(moved, 1, c.need, unit=unit, parent_child=c.parent_child):
            self.place(c, moved.service.option, "to_ifa", household=moved, unit=unit)
            return
        self.search(c, "carer_left")

    def _breakdown(self, c: Child, token: int) -> None:
        if c.token != token or c.done:
            return
        self._vacate(c, "breakdown")
        self.transitions.breakdown(c)
        self.search(c, "breakdown")

    def move_on(self, c: Child) -> None:
        """A planned move to 16+ accommodation; the young person stays put if no place is found."""
        if c.done or c.waiting or c.option < 0:
            return
        pool = self.pool[c.option]
        if pool == "supported" or pool not in self.s.move_on.from_pools:
            return
        self.move_to(c, ("supported",), "move_on")

    def move_to(self, c: Child, pools: tuple[str, ...], reason: str, retry=None) -> None:
        """Move a placed child to the first option of ``pools`` in its order that can take it: at
        once to a free place, or after a spot search's delay. If none is found the child stays
        where it is and ``retry(c)`` (if given) is called."""
        for o in self.orders[age_band(self._age(c))][c.need]:
            if self.pool[o] not in pools:
                continue
            if self.kind[o] == "spot":
                if self.open[o]:
                    self.at(self.spot[o].search_days, self._move_result, c, c.token, o, reason, retry)
                    return
                continue
            if self._available(c, o):
                self._vacate(c, reason)
                self.place(c, o, reason)
                return
        if retry is not None:
            retry(c)

    def _move_result(self, c: Child, token: int, o: int, reason: str, retry) -> None:
        if c.token != token or c.done:
            return
        found, h = self.spot_search(c, o)
        if found:
            self._vacate(c, reason)
            self.place(c, o, reason, household=h)
        elif retry is not None:
            retry(c)

    def _assessment_end(self, c: Child) -> None:
        """The parent-and-child assessment ends: the parent leaves; a baby with a parent-and-child
        carer moves, and from now on the baby is placed as any child."""
        if c.done or not c.parent_child:
            return
        c.parent_child = False
        if c.waiting:
            self._enqueue(c, c.order)
        elif c.household is not None and c.staying_put is None:
            self._vacate(c, "assessment_end")
            self.search(c, "assessment_end")

    def leave_care(self, c: Child) -> None:
        if c.done:
            return
        route = ROUTES[self.cohort.exit_route[c.id]]
        if c.waiting:
            c.waiting = False
            self._emit("wait_end", c.id, "", "exit")
            if c.group is not None:
                self.groups.member_left(c)
        elif c.option >= 0:
            if route == "turned_18" and self.transitions.stays_put(c):
                self.transitions.begin_staying_put(c)
            else:
                self._vacate(c, "exit")
        c.done = True
        self._emit("exit", c.id, "", route)

    # ------------------------------------------------------------------ run
    def run(self) -> None:
        for m in MARKETS:  # contracts first, so a contract opening on a child's entry day is open
            self.env.process(self.contract(m))
        if capacity_changes(self.s):
            self.env.process(capacity_schedule(self))
        self.env.process(EventBudget(self).process())
        for svc in (self.carers, self.ifa_carers):
            if svc is not None:
                svc.start()
        self.env.process(self.arrivals())
        self.env.process(self.exits())
        self.env.process(self.move_ons())
        # Spent events are freed by reference counting; the cyclic collector would only rescan
        # every live child and pending event over and over, a cost that grows with the authority.
        enabled = gc.isenabled()
        gc.disable()
        try:
            self.env.run(until=self.horizon)
        finally:
            if enabled:
                gc.enable()
