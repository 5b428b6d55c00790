"""A pool of foster carer households: the council's own (in-house) or the IFAs' that take its children.

In-house households come from the initial register and from the recruitment funnel
(enquiries thinned to applications -> assessment, first come first served with a
limited number of assessment places -> approval). IFA households come from the
initial pool, from the agencies' own recruitment (a Poisson stream of approvals), and
from in-house carers who leave for an IFA. Each household has one pending turnover outcome
at a time: deregistration at a constant hazard (base + moving to an IFA at a
rate set by the fee gap), raised for a while after a placement with it breaks
down, or retirement at a fixed age, whichever comes first. Redrawing the
exponential when the hazard changes is exact because the hazard is piecewise
constant (memorylessness).

Each household's draws come from a stream keyed by the household's number; the
enquiry and IFA approval processes have their own streams. IFA household numbers
start at :data:`IFA_BASE`, so carer numbers in the log say which pool a household is in.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np

from models.catalogue import DAYS_PER_YEAR, IFA_BASE, NEED_BANDS
from simulation.carers import NEEDS_COMPLEX_SKILL, Household, HouseholdQueue, Register

_CHUNK = 256
_ATTRS = 7  # approval, sibling skill, complex skill, area, age (two uniforms), parent-and-child skill
_TURNOVER_DRAWS = 24


class CarerService:
    """One pool of households: ``ifa=False`` for the council's own, ``ifa=True`` for the IFAs'."""

    def __init__(self, market, option: int, ifa: bool = False):
        self.m = market
        s = market.s
        self.option = option
        self.ifa = ifa
        self.c = s.ifa_carers if ifa else s.carers
        self.t = s.turnover
        self.r = s.recruitment
        mismatch = {NEED_BANDS.index(n) for n in s.carers.mismatch}
        self.register = Register(self.c.max_placements, mismatch)
        self.queue = None if ifa else HouseholdQueue(mismatch)  # IFA places are found by spot searches, not queued for
        self.households: list[Household] = []
        self.id_base = IFA_BASE if ifa else 0
        self.stream = "ifa-household" if ifa else "household"
        self.base_rate = 0.0
        self.ifa_share = 0.0  # share of the base hazard that is moving to an IFA
        if ifa:
            self.base_rate = self.c.deregistration / DAYS_PER_YEAR
        elif self.t.enabled:
            self.base_rate = (self.t.deregistration + self.t.to_ifa_rate(self.r.fee_uplift)) / DAYS_PER_YEAR
            if self.base_rate > 0:
                self.ifa_share = self.t.to_ifa_rate(self.r.fee_uplift) / (self.base_rate * DAYS_PER_YEAR)
        self.assessment_ends: deque[float] = deque(maxlen=self.r.assessment_capacity)  # the latest ends, oldest first
        self.arrivals_rng = market.streams.generator("ifa-approvals" if ifa else "enquiries")  # enquiries, or the agencies' approvals
        self._chunks: dict[int, np.ndarray] = {}
        self._approval_cum = np.cumsum(self.c.approval_shares).tolist()

    # ------------------------------------------------------------------ households
    def _create(self, reason: str, like: Household | None = None) -> Household:
        """A new household with its approval, skills, area and age drawn from its own stream,
        or, for a carer moving across from the council (``like``), that carer's."""
        n = len(self.households)
        u = self._row(n).tolist()
        now = self.m.env.now
        if like is not None:
            places, sibling, complex_, pac, ooa = like.places, like.sibling, like.complex, like.parent_child, like.out_of_area
            retire = like.retire_day
        else:
            places = min(sum(u[0] > c for c in self._approval_cum) + 1, 4)
            sibling, complex_ = bool(places > 1 and u[1] < self.c.sibling_skill), bool(u[2] < self.c.complex_skill)
            pac, ooa = bool(u[6] < self.c.parent_child_skill), bool(u[3] < self.c.out_of_area)
            age = self.t.carer_age_mean + self.t.carer_age_sd * math.sqrt(-2 * math.log(u[4])) * math.cos(2 * math.pi * u[5])  # Box-Muller
            retire = now + max(self.t.retirement_age - age, 0.0) * DAYS_PER_YEAR if self.t.enabled else math.inf
        h = Household(self.id_base + n, places, sibling=sibling, complex_=complex_, out_of_area=ooa, retire_day=retire,
                      draws=u[_ATTRS:], parent_child=pac, service=self)
        self.households.append(h)
        self.m.emit_carer("carer_join", h, reason, places)
        self.register.add(h)
        self._schedule_turnover(h)
        return h

    def _row(self, n: int) -> np.ndarray:
        """The ``n``-th household's uniforms: row ``n % 256`` of chunk ``n // 256`` of the pool's household stream."""
        chunk = n // _CHUNK
        rows = self._chunks.get(chunk)
        if rows is None:
            rows = self._chunks[chunk] = self.m.streams.generator(self.stream, chunk).random((_CHUNK, _ATTRS + _TURNOVER_DRAWS))
        return rows[n % _CHUNK]

    def _uniform(self, h: Household) -> float:
        """The household's next turnover draw: from its row, then from its own extra stream."""
        k = h.used
        h.used += 1
        if k < len(h.draws):
            return h.draws[k]
        if h.extra is None:
            h.extra = self.m.streams.generator(self.stream + "-extra", h.id - self.id_base)
        return float(h.extra.random())

    def start(self) -> None:
        for _ in range(self.c.households):
            self._create("initial")
        if self.ifa:
            self.m.env.process(self.agency_approvals())
        elif self.r.enabled:
            self.m.env.process(self.applications())

    # ------------------------------------------------------------------ matching
    def find(self, size: int, need: int, parent_child: bool = False):
        return self.register.find(size, need, parent_child)

    def enqueue(self, item, token: int, size: int, need: int, parent_child: bool = False) -> None:
        """Queue a waiting child or group for this pool's households; IFA households keep no
        waiting list of the council's (a child finds one only by a spot search)."""
        if self.queue is not None:
            self.queue.push(item, token, size, need, parent_child)

    def fits(self, h: Household, size: int, need: int, unit: int | None = None, parent_child: bool = False) -> bool:
        """Whether ``h`` can take ``size`` children of ``need`` now, as a new placement or
        as part of placement ``unit`` it already holds (a parent-and-child placement: alone)."""
        if parent_child:
            return h.alive and h.parent_child and h.groups == 0
        new_unit = unit is None or unit not in h.units
        if (not h.alive or h.whole or h.free < size or (new_unit and h.groups >= self.c.max_placements)
                or (size > 1 and not h.sibling)):
            return False
        return not (need in NEEDS_COMPLEX_SKILL and not h.complex and need not in self.register.mismatch_needs)

    def take(self, h: Household, child, unit: int) -> bool:
        """Place ``child`` with ``h`` as part of placement ``unit`` (the child's own number, or its
        sibling group's); returns whether it is outside the carer's skills."""
        self.register.remove(h)
        h.free -= 1
        h.units[unit] = h.units.get(unit, 0) + 1
        h.groups = len(h.units)
        h.whole = h.whole or child.parent_child
        h.children.append(child)
        self.register.add(h)
        return child.need in NEEDS_COMPLEX_SKILL and not h.complex

    def release(self, h: Household, child, unit: int, broke_down: bool) -> None:
        self.register.remove(h)
        h.free += 1
        h.whole = False  # a parent-and-child placement is the household's only one
        h.units[unit] -= 1
        if h.units[unit] == 0:
            del h.units[unit]
        h.groups = len(h.units)
        h.children.remove(child)
        self.register.add(h)
        if broke_down and h.alive and self.t.enabled and self.t.after_breakdown_days > 0:
            now = self.m.env.now
            window_end = h.raised_until
            h.raised_until = now + self.t.after_breakdown_days
            if now >= window_end or h.due > window_end:
                # the pending outcome assumed the base hazard from now or after the old window: redraw
                # from now (exact: the hazard is piecewise constant and the exponential memoryless).
                # An outcome inside a window still running stays valid, the hazard up to it unchanged.
                self._schedule_turnover(h)

    # ------------------------------------------------------------------ turnover
    def _schedule_turnover(self, h: Household) -> None:
        """Draw the household's next turnover outcome: leaving at the raised hazard until the
        window after a breakdown ends, then at the base hazard; or retiring, if that comes first."""
        if not (self.t.enabled or self.ifa):
            return
        h.token += 1
        now = self.m.env.now
        window = h.raised_until - now
        if window > 0:
            rate = self.base_rate * self.t.after_breakdown_multiplier
            wait = -math.log1p(-self._uniform(h)) / rate if rate > 0 else math.inf
            if wait > window:  # survived the window: a fresh exponential at the base hazard after it
                wait = window + (-math.log1p(-self._uniform(h)) / self.base_rate if self.base_rate > 0 else math.inf)
        else:
            wait = -math.log1p(-self._uniform(h)) / self.base_rate if self.base_rate > 0 else math.inf
        retire_in = max(h.retire_day - now, 0.0)
        if retire_in <= wait:
            h.due = now + retire_in
            self.m.at(retire_in, self._leave, h, h.token, "retired")
        else:
            route = "to_ifa" if self._uniform(h) < self.ifa_share else "deregistered"
            h.due = now + wait
            self.m.at(wait, self._leave, h, h.token, route)

    def _leave(self, h: Household, token: int, route: str) -> None:
        if not h.alive or h.token != token:
            return
        self.register.remove(h)
        h.alive = False
        self.m.emit_carer("carer_leave", h, route, len(h.children))
        moved = None
        ifa = self.m.ifa_carers
        if route == "to_ifa" and ifa is not None and self._uniform(h) < ifa.c.from_inhouse:
            moved = ifa._create("from_inhouse", like=h)  # the carer goes on taking the council's children, at IFA rates
        for child in list(h.children):
            self.m.carer_left(child, moved)

    # ------------------------------------------------------------------ recruitment
    def _enquiry_rate(self, day: float) -> float:
        rate = self.r.enquiries_per_year / DAYS_PER_YEAR
        for camp in self.r.campaigns:
            if self.m.day_of(camp.start) <= day < self.m.day_of(camp.end) + 1:
                rate *= camp.enquiry_multiplier
        return rate

    def _boundaries(self) -> list[float]:
        out = []
        for camp in self.r.campaigns:
            out += [self.m.day_of(camp.start), self.m.day_of(camp.end) + 1]
        return sorted(d for d in out if d > 0)

    def applications(self):
        """Applications arrive as a Poisson process: enquiries thinned by the application rate
        (exact for a Poisson process), with the rate changing during campaigns."""
        env, rng = self.m.env, self.arrivals_rng
        p_apply = min(1.0, self.r.application_rate * (1.0 + self.r.fee_conversion_elasticity * self.r.fee_uplift))
        edges = self._boundaries()
        while True:
            rate = self._enquiry_rate(env.now) * p_apply
            nxt = next((e for e in edges if e > env.now), math.inf)
            wait = -math.log1p(-rng.random()) / rate if rate > 0 else math.inf
            if env.now + wait >= nxt:  # the rate changes first: restart from the boundary (memoryless)
                if nxt >= self.m.horizon:
                    return
                yield env.timeout(nxt - env.now)
                continue
            if env.now + wait >= self.m.horizon:
                return
            yield env.timeout(wait)
            approved = float(rng.random()) < self.r.approval_rate
            self.m.emit_application(approved)
            finish = self._assess(env.now)
            if approved:
                self.m.at(finish - env.now, self._approve)

    def _assess(self, now: float) -> float:
        """Day the assessment of an application made ``now`` ends.

        Applications are assessed first come, first served, ``assessment_capacity`` at a
        time, each for ``assessment_days``. With a fixed length, assessments end in the
        order they start, so an application starts when it arrives or when the
        ``capacity``-th most recent assessment ends, whichever is later: the exact
        M/D/c queue, with no event for a declined application.
        """
        ends = self.assessment_ends
        start = max(now, ends[0]) if len(ends) == ends.maxlen else now
        ends.append(start + self.r.assessment_days)
        return ends[-1]

    def _approve(self) -> None:
        self.m.household_vacant(self._create("approved"))

    def agency_approvals(self):
        """The agencies' new households taking the council's children: a Poisson stream."""
        env, rng = self.m.env, self.arrivals_rng
        rate = self.c.approvals_per_year / DAYS_PER_YEAR
        if rate <= 0:
            return
        while True:
            wait = -math.log1p(-rng.random()) / rate
            if env.now + wait >= self.m.horizon:
                return
            yield env.timeout(wait)
            self._create("approved")
