"""Sibling groups: placed together where a placement allows it, split after a wait.

A group that enters care walks the placement order of its youngest child's age
band and the group's highest need, looking for one placement that takes all of them:
kin, an in-house household with enough places and the sibling skill, enough
free in-house, block or residential places, or a spot placement (one search for
the whole group). 16+ accommodation is for one young person, so it is skipped.
If none is found the group waits together: it is queued for every in-house and
block option in its order, retried every ``waiting.retry_days``, and split after
``siblings.together_wait_days``, when each child searches on its own. Once placed
or split, each child lives its own life (breakdowns are the child's own).

A child may also enter after a sibling (``siblings.later_share``): it first tries to
join a sibling already in care, in that sibling's foster household, in-house or IFA
(if the household has room and the skills) or with the sibling's kinship carer, and otherwise searches
alone. With ``siblings.reunite``, a family living apart (split after waiting, or a later
sibling who could not join) is queued; when an in-house household with the sibling skill
and room for all of them becomes free, the children in foster care move there together.
A family whose children are in residential care, 16+ accommodation, kinship care,
waiting, staying put or placed with a parent (parent-and-child) is not moved.

Events carry the group's number (its first child's) in ``child``: ``group`` when it
enters (value = size), ``group_placed`` when placed together and ``split`` when split
(value = children then still in the group). ``sibling_enter`` marks a child entering
after a sibling (value = the family's first child); its placement with the sibling has
reason ``sibling``. ``reunite`` (child = the family's first child, value = children
moved) comes after the moves, whose placements have reason ``reunite``.
"""

from __future__ import annotations

from collections import deque


class Group:
    __slots__ = ("id", "size", "members", "waiting", "token", "order", "ptr", "need", "reason")

    def __init__(self, members: list):
        self.id = members[0].id  # the group's events carry its first child's number; members are id..id+size-1
        self.size = len(members)
        self.members = members
        self.waiting = False
        self.token = 0
        self.order: tuple[int, ...] = ()
        self.ptr = 0
        self.need = max(c.need for c in members)
        self.reason = "entry"

    def __len__(self) -> int:
        return len(self.members)

    @property
    def lead(self):
        """The first member still in the group: its draws and its order stand for the group's."""
        return self.members[0]


class SiblingGroups:
    def __init__(self, market):
        self.m = market
        self.split_days = market.s.siblings.together_wait_days
        self.reunites = market.s.siblings.reunite and market.carers is not None
        self.family: dict[int, list] = {}  # first child -> the family's children who entered so far
        self.apart: deque[int] = deque()  # families waiting to be reunited, oldest first
        self._reuniting = False

    # ------------------------------------------------------------------ entry
    def enter(self, first: int, size: int) -> None:
        m = self.m
        members = [m.admit(cid) for cid in range(first, first + size)]
        g = Group(members)
        for c in members:
            c.group = g
        m._emit("group", g.id, "", "entry", size)
        self.family[first] = list(members)
        self.search(g)
        for c in members:
            if c.id in m.exit_before_entry:
                m.leave_care(c)

    def search(self, g: Group) -> None:
        m = self.m
        youngest = min(m.age_band_of(c) for c in g.members)  # young siblings are never placed in residential care
        g.order = tuple(o for o in m.orders[youngest][g.need] if m.pool[o] != "supported")
        if m.stock_pool is not None and m.stock_pool[g.id] >= 0:  # a stock group tries its first child's drawn pool first
            g.order = m.stock_first(g.lead, g.order)
        g.ptr = 0
        self._walk(g)

    # ------------------------------------------------------------------ finding one placement for all
    def _fits(self, g: Group, o: int):
        """(fits, household) for option ``o`` taking the whole group now."""
        m = self.m
        kind = m.kind[o]
        if kind == "kin":
            return m.open[o] and g.lead.kin and all(c.placements == 0 for c in g.members), None
        if m.hh[o] is not None and kind == "inhouse":
            h = m.hh[o].find(len(g), g.need)[0]
            return h is not None, h
        if kind in ("inhouse", "block"):
            return m.open[o] and m.free[o] >= len(g) and self._accepted(g, o), None
        return False, None

    def _accepted(self, g: Group, o: int) -> bool:
        """A block restricted to need bands takes a group only if it takes every child in it."""
        return all(self.m.accepts[o][c.need] for c in g.members)

    def _walk(self, g: Group) -> None:
        m = self.m
        while g.ptr < len(g.order):
            o = g.order[g.ptr]
            g.ptr += 1
            if m.kind[o] == "spot":
                if not m.open[o]:
                    continue
                delay = m.spot[o].search_days
                if delay > 0:
                    self._wait(g)
                    m.at(delay, self._search_result, g, g.token, o)
                    return
                if self._search(g, o):
                    return
                continue
            fits, h = self._fits(g, o)
            if fits:
                self.place(g, o, h)
                return
        self._wait(g)
        m.at(m.s.waiting.retry_days, self._retry, g, g.token)

    def _search(self, g: Group, o: int) -> bool:
        m = self.m
        factor = m.s.siblings.spot_success_per_extra_child ** (len(g) - 1)
        found, h = m.spot_search(g.lead, o, len(g), g.need, factor)
        if found:
            self.place(g, o, h)
        return found

    def _search_result(self, g: Group, token: int, o: int) -> None:
        if g.waiting and g.token == token and not self._search(g, o):
            self._walk(g)

    def _retry(self, g: Group, token: int) -> None:
        if g.waiting and g.token == token:
            g.ptr = 0
            self._walk(g)

    def _wait(self, g: Group) -> None:
        """The whole group waits together (each child is in an emergency placement)."""
        if g.waiting:
            return
        m = self.m
        g.waiting = True
        g.token += 1
        for c in g.members:
            c.waiting = True
            c.wait_token += 1
            m._emit("wait_start", c.id, "", g.reason)
        for o in g.order:
            if m.hh[o] is not None:
                m.hh[o].enqueue(g, g.token, len(g), g.need)
            elif m.kind[o] in ("inhouse", "block") and self._accepted(g, o):
                m.queues[o].append((g, g.token))
        m.at(self.split_days, self._split, g, g.token)

    def place(self, g: Group, o: int, household) -> None:
        m = self.m
        reason = "search" if g.waiting else g.reason
        g.waiting = False
        g.token += 1
        for c in g.members:
            m.place(c, o, reason, household=household, unit=g.id)
        m._emit("group_placed", g.id, m.option_name(o), "together", len(g))
        self._dissolve(g)

    def offer(self, g: Group, token: int, o: int, household=None) -> bool:
        """A place freed at option ``o`` (or household): take it if it fits the whole group."""
        if not (g.waiting and g.token == token):
            return False
        if household is not None:
            if not household.service.fits(household, len(g), g.need):
                return False
        elif not self._fits(g, o)[0]:
            return False
        self.place(g, o, household)
        return True

    def _split(self, g: Group, token: int, reason: str = "waited") -> None:
        if not (g.waiting and g.token == token):
            return
        m = self.m
        g.waiting = False
        g.token += 1
        m._emit("split", g.id, "", reason, len(g))
        self._dissolve(g)
        if self.reunites and len(g) > 1:
            self.apart.append(g.id)
        for c in g.members:  # each child, still waiting, now searches alone
            c.order = m.orders[m.age_band_of(c)][c.need]
            c.reason = g.reason
            m._enqueue(c, c.order)
            c.ptr = 0
            m._walk(c)

    def _dissolve(self, g: Group) -> None:
        for c in g.members:
            c.group = None

    def member_left(self, c) -> None:
        """A waiting group's child left care: the rest wait on, or the last one searches alone."""
        g = c.group
        c.group = None
        g.members.remove(c)
        if len(g.members) == 1 and g.waiting:
            self._split(g, g.token, "member_left")

    # ------------------------------------------------------------------ later siblings
    def _family_of(self, first: int) -> list:
        fam = self.family.get(first)
        if fam is None:  # the family's first child entered alone
            m = self.m
            size = int(m.cohort.group_size[first])
            fam = self.family[first] = [m.child[i] for i in range(first, first + size) if m.child[i] is not None]
        return fam

    def join(self, c, first: int) -> bool:
        """A child entering after a sibling: join a sibling's carer if there is room. Returns placed."""
        m = self.m
        fam = self._family_of(first)
        m._emit("sibling_enter", c.id, "", "later", first)
        fam.append(c)
        for sib in fam:
            if sib is c or sib.done or sib.staying_put is not None or sib.option < 0:
                continue
            h = sib.household
            if h is not None and h.service.fits(h, 1, c.need, unit=sib.unit):
                m.place(c, h.service.option, "sibling", household=h, unit=sib.unit)
                return True
            if m.kind[sib.option] == "kin" and m.open[sib.option]:
                m.place(c, sib.option, "sibling")
                return True
        return False

    def later_apart(self, first: int) -> None:
        """A later sibling could not join: queue the family to be reunited."""
        if self.reunites and first not in self.apart:
            self.apart.append(first)

    # ------------------------------------------------------------------ reuniting
    def reunite(self, h) -> None:
        """Offer household ``h`` (sibling skill, room for two or more) to the families living apart."""
        if self._reuniting or not self.apart:
            return
        self._reuniting = True
        m = self.m
        kept = []
        try:
            while self.apart and h.alive and h.free >= 2:
                first = self.apart.popleft()
                members = [c for c in self.family[first] if not c.done]
                if len(members) < 2:
                    continue  # nobody left to reunite: drop the family
                homes = {id(c.household) if c.household is not None else None for c in members}
                if len(homes) == 1 and None not in homes:
                    continue  # together already
                if not all(c.option >= 0 and m.pool[c.option] in _FOSTER_POOLS and m.kind[c.option] != "kin"
                           and not c.waiting and not c.parent_child for c in members) or any(c.household is h for c in members):
                    kept.append(first)
                    continue
                if not m.carers.fits(h, len(members), max(c.need for c in members)):
                    kept.append(first)
                    continue
                for c in members:
                    m._vacate(c, "reunite")
                    m.place(c, m.ih, "reunite", household=h, unit=first)
                m._emit("reunite", first, m.option_name(m.ih), "household", len(members), h.id)
        finally:
            self.apart.extendleft(reversed(kept))
            self._reuniting = False


_FOSTER_POOLS = ("inhouse_fostering", "ifa")
