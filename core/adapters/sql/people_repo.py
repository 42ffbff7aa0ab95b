"""Repositories for people, restaurants (with menus and daily capacity) and workers."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import Any

from sqlalchemy import and_, func, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncConnection

from core.adapters.sql.identity_schema import identities
from core.adapters.sql.schema import (
    capacity_days,
    capacity_log,
    conversations,
    menu_items,
    people,
    restaurants,
    workers,
)
from core.adapters.sql.sqlhelpers import insert_ignore, new_id
from core.members.model import Approval, MenuItem, Person, Restaurant, Worker


def _person(row: Any) -> Person:
    web = row.web_address if row.channel != "webchat" else None
    return Person(row.id, row.channel, row.address, row.name, row.language, row.is_admin, row.is_member, web)


def _people_select() -> Any:
    """People with the web-chat identity of those whose home contact is elsewhere (the mirror)."""
    web = (
        select(identities.c.address)
        .where(identities.c.person_id == people.c.id, identities.c.channel == "webchat")
        .order_by(identities.c.created_at)
        .limit(1)
        .scalar_subquery()
    )
    return select(people, web.label("web_address"))


class PeopleRepo:
    """People by id or by any of their channel identities.

    A person found by an identity is remembered for the rest of the unit of work (a batch of
    messages asks for the same sender in the router, the flows and the processor's log line):
    every write through this repository, an erasure and an undone savepoint forget them all."""

    def __init__(self, conn: AsyncConnection, now: str, saw_state: Callable[[int, str | None], None] | None = None) -> None:
        self.conn, self.now = conn, now
        self._found: dict[tuple[str, str], Person] = {}  # only people found: a miss is asked again
        # A person found by an identity is about to be answered: their conversation state comes in
        # the same statement and is handed to the unit of work's conversation repository.
        self.saw_state = saw_state

    def forget(self) -> None:
        """Drop every remembered person (a write, an erasure or a rolled-back savepoint may change them)."""
        self._found.clear()

    async def get(self, person_id: int) -> Person | None:
        """Load one person."""
        row = (await self.conn.execute(_people_select().where(people.c.id == person_id))).first()
        return _person(row) if row else None

    async def find(self, channel: str, address: str) -> Person | None:
        """Find someone by any of their channel identities."""
        if (known := self._found.get((channel, address))) is not None:
            return known
        owner = select(identities.c.person_id).where(identities.c.channel == channel, identities.c.address == address)
        row = (await self.conn.execute(self._with_state(_people_select().where(people.c.id == owner.scalar_subquery())))).first()
        return None if row is None else self._remember(channel, address, row)

    async def find_many(self, identities_: Sequence[tuple[str, str]]) -> list[Person]:
        """Look up the people at these identities in one statement and remember them (see the port)."""
        pairs = list(dict.fromkeys(identities_))
        if wanted := [pair for pair in pairs if pair not in self._found]:
            at = identities.alias("at")  # not `identities`: the web-address subquery correlates on that name
            q = _people_select().add_columns(at.c.channel.label("at_channel"), at.c.address.label("at_address"))
            q = q.join(at, at.c.person_id == people.c.id).where(tuple_(at.c.channel, at.c.address).in_(wanted))
            for row in await self.conn.execute(self._with_state(q)):
                self._remember(row.at_channel, row.at_address, row)
        return [self._found[pair] for pair in pairs if pair in self._found]

    def _with_state(self, q: Any) -> Any:
        """The query with the person's conversation state, when the unit of work takes it from here."""
        if self.saw_state is None:
            return q
        state = select(conversations.c.state).where(conversations.c.person_id == people.c.id).scalar_subquery()
        return q.add_columns(state.label("conversation_state"))

    def _remember(self, channel: str, address: str, row: Any) -> Person:
        """The person on this row, remembered at this identity, their state handed on."""
        self._found[(channel, address)] = person = _person(row)
        if self.saw_state is not None:
            self.saw_state(person.id, row.conversation_state)
        return person

    async def get_or_create(self, channel: str, address: str, *, language: str = "en") -> Person:
        """Return the person at this identity, creating them on first contact."""
        if found := await self.find(channel, address):
            return found
        values = {"channel": channel, "address": address, "language": language, "is_admin": False, "is_member": False,
                  "created_at": self.now}  # fmt: skip
        await insert_ignore(self.conn, people, values, ["channel", "address"])
        q = select(people.c.id).where(people.c.channel == channel, people.c.address == address)
        person_id = int((await self.conn.execute(q)).scalar_one())
        await self.add_identity(person_id, channel, address)
        person = await self.find(channel, address)
        assert person is not None
        return person

    async def add_identity(self, person_id: int, channel: str, address: str) -> None:
        """Reach a person at one more identity (unchanged if that identity is already someone's)."""
        self.forget()
        values = {"channel": channel, "address": address, "person_id": person_id, "created_at": self.now}
        await insert_ignore(self.conn, identities, values, ["channel", "address"])

    async def identities_of(self, person_id: int) -> list[tuple[str, str]]:
        """Every (channel, address) the person is reached at."""
        q = select(identities.c.channel, identities.c.address).where(identities.c.person_id == person_id)
        return [(c, a) for c, a in await self.conn.execute(q.order_by(identities.c.created_at))]

    async def move_identity(self, channel: str, address: str, to_person: int) -> None:
        """Make an identity lead to another person (linking channels)."""
        self.forget()
        await self.conn.execute(
            update(identities).where(identities.c.channel == channel, identities.c.address == address).values(person_id=to_person)
        )

    async def set_home(self, person_id: int, channel: str, address: str) -> None:
        """Set where notifications reach the person."""
        self.forget()
        await self.conn.execute(update(people).where(people.c.id == person_id).values(channel=channel, address=address))

    async def retire(self, person_id: int) -> None:
        """Mark a person row left empty by a link: it has no identity and receives nothing."""
        await self.set_home(person_id, "merged", str(person_id))

    async def set_name(self, person_id: int, name: str) -> None:
        """Change the name others see."""
        await self._set(person_id, name=name)

    async def set_language(self, person_id: int, language: str) -> None:
        """Change the language messages are written in."""
        await self._set(person_id, language=language)

    async def set_flags(self, person_id: int, *, is_admin: bool | None = None, is_member: bool | None = None) -> None:
        """Give or take admin rights or cooperative membership (None leaves a flag as it is)."""
        flags = {"is_admin": is_admin, "is_member": is_member}
        await self._set(person_id, **{name: value for name, value in flags.items() if value is not None})

    async def _set(self, person_id: int, **values: str | bool) -> None:
        self.forget()
        if values:
            await self.conn.execute(update(people).where(people.c.id == person_id).values(**values))

    async def admins(self) -> list[Person]:
        """Everyone who approves applications."""
        rows = await self.conn.execute(_people_select().where(people.c.is_admin.is_(True)).order_by(people.c.id))
        return [_person(r) for r in rows]

    async def members(self) -> list[Person]:
        """Every member of the cooperative (they propose and vote), by id."""
        # A row emptied by linking two chats ("merged") is nobody: its person lives on in the other row.
        q = _people_select().where(people.c.is_member.is_(True), people.c.channel != "merged")
        rows = await self.conn.execute(q.order_by(people.c.id))
        return [_person(r) for r in rows]

    async def set_admins(self, person_ids: Collection[int]) -> tuple[list[int], list[int]]:
        """Make exactly these people admins; return (added, removed) person ids."""
        self.forget()
        current = set((await self.conn.execute(select(people.c.id).where(people.c.is_admin.is_(True)))).scalars())
        wanted = set(person_ids)
        added, removed = sorted(wanted - current), sorted(current - wanted)
        if added:
            await self.conn.execute(update(people).where(people.c.id.in_(added)).values(is_admin=True))
        if removed:
            await self.conn.execute(update(people).where(people.c.id.in_(removed)).values(is_admin=False))
        return added, removed


def _restaurant(row: Any, menu: Sequence[MenuItem]) -> Restaurant:
    return Restaurant(
        row.id,
        row.person_id,
        row.name,
        row.address,
        row.lat,
        row.lng,
        row.zone,
        row.daily_capacity,
        row.open_minute,
        row.close_minute,
        Approval(row.status),
        tuple(menu),
    )


class RestaurantRepo:
    """Restaurants, their alms menus and their daily capacity counters."""

    def __init__(self, conn: AsyncConnection, now: str) -> None:
        self.conn, self.now = conn, now
        self.none_for: set[int] = set()  # people known to run no restaurant (UnitOfWork.remember_roles)

    async def create(
        self,
        *,
        person_id: int,
        name: str,
        address: str,
        lat: float,
        lng: float,
        zone: str,
        daily_capacity: int,
        menu: Sequence[tuple[str, int]],
        open_minute: int = 0,
        close_minute: int = 1440,
        status: Approval = Approval.PENDING,
    ) -> Restaurant:
        """Register a restaurant with its menu."""
        self.none_for.discard(person_id)
        result = await self.conn.execute(
            restaurants.insert().values(
                person_id=person_id,
                name=name,
                address=address,
                lat=lat,
                lng=lng,
                zone=zone,
                daily_capacity=daily_capacity,
                open_minute=open_minute,
                close_minute=close_minute,
                status=status.value,
                created_at=self.now,
            )
        )
        rid = new_id(result)
        await self._add_menu(rid, menu)
        found = await self.get(rid)
        assert found is not None
        return found

    async def _menus(self, ids: Sequence[int]) -> dict[int, list[MenuItem]]:
        q = (
            select(menu_items)
            .where(menu_items.c.restaurant_id.in_(ids), menu_items.c.active.is_(True))
            .order_by(menu_items.c.price, menu_items.c.id)
        )
        out: dict[int, list[MenuItem]] = {i: [] for i in ids}
        for r in await self.conn.execute(q):
            out[r.restaurant_id].append(MenuItem(r.id, r.restaurant_id, r.name, r.price))
        return out

    async def _load(self, where: Any) -> list[Restaurant]:
        rows = list(await self.conn.execute(select(restaurants).where(where).order_by(restaurants.c.id)))
        menus = await self._menus([r.id for r in rows]) if rows else {}  # most people run no restaurant
        return [_restaurant(r, menus[r.id]) for r in rows]

    async def get(self, restaurant_id: int) -> Restaurant | None:
        """Load one restaurant with its menu."""
        found = await self._load(restaurants.c.id == restaurant_id)
        return found[0] if found else None

    async def by_person(self, person_id: int) -> Restaurant | None:
        """The restaurant a person runs, if any."""
        if person_id in self.none_for:
            return None
        found = await self._load(restaurants.c.person_id == person_id)
        return found[0] if found else None

    async def approved(self) -> list[Restaurant]:
        """Every approved restaurant."""
        return await self._load(restaurants.c.status == Approval.APPROVED.value)

    async def set_status(self, restaurant_id: int, status: Approval) -> None:
        """Approve or reject."""
        await self.conn.execute(
            update(restaurants).where(restaurants.c.id == restaurant_id).values(status=status.value)
        )

    async def set_daily_capacity(self, restaurant_id: int, meals: int, day: str) -> None:
        """Pledge `meals` a day from now on, today's counter included.

        Meals already taken today stay taken: a pledge below them only stops new orders."""
        await self._ensure_day(restaurant_id, day)
        c = capacity_days.c
        await self.conn.execute(update(restaurants).where(restaurants.c.id == restaurant_id).values(daily_capacity=meals))
        await self.conn.execute(update(capacity_days).where(c.restaurant_id == restaurant_id, c.day == day).values(pledged=meals))

    async def replace_menu(self, restaurant_id: int, menu: Sequence[tuple[str, int]]) -> None:
        """Retire the current alms menu and offer `menu` instead (old items stay for the record)."""
        await self.conn.execute(
            update(menu_items).where(menu_items.c.restaurant_id == restaurant_id, menu_items.c.active.is_(True)).values(active=False)
        )
        await self._add_menu(restaurant_id, menu)

    async def _add_menu(self, restaurant_id: int, menu: Sequence[tuple[str, int]]) -> None:
        for item_name, price in menu:
            await self.conn.execute(menu_items.insert().values(restaurant_id=restaurant_id, name=item_name, price=price, active=True))

    async def _ensure_day(self, restaurant_id: int, day: str) -> None:
        """Open a day's counter at the restaurant's current pledge (idempotent)."""
        pledged = select(restaurants.c.daily_capacity).where(restaurants.c.id == restaurant_id)
        value = (await self.conn.execute(pledged)).scalar_one()
        await insert_ignore(
            self.conn,
            capacity_days,
            {"restaurant_id": restaurant_id, "day": day, "pledged": value, "reserved": 0, "completed": 0},
            ["restaurant_id", "day"],
        )

    async def open_day(self, restaurant_id: int, day: str) -> None:
        """Create the day's capacity counter if it does not exist yet."""
        await self._ensure_day(restaurant_id, day)

    async def remaining(self, restaurant_id: int, day: str) -> int:
        """Meals still available for the day."""
        await self._ensure_day(restaurant_id, day)
        row = (
            await self.conn.execute(
                select(capacity_days).where(
                    capacity_days.c.restaurant_id == restaurant_id, capacity_days.c.day == day
                )
            )
        ).one()
        return int(row.pledged - row.reserved - row.completed)

    async def reserve(self, restaurant_id: int, day: str, order_id: int) -> bool:
        """Take one unit of the day's capacity if any is left (one conditional UPDATE)."""
        await self._ensure_day(restaurant_id, day)
        c = capacity_days.c
        result = await self.conn.execute(
            update(capacity_days)
            .where(
                c.restaurant_id == restaurant_id,
                c.day == day,
                c.reserved + c.completed < c.pledged,
            )
            .values(reserved=c.reserved + 1)
        )
        if result.rowcount:
            await self._log(restaurant_id, day, order_id, "reserve")
        return bool(result.rowcount)

    async def release(self, restaurant_id: int, day: str, order_id: int) -> None:
        """Give back a reserved unit (reject, cancel)."""
        await self._shift(restaurant_id, day, order_id, "release", reserved=-1)

    async def complete(self, restaurant_id: int, day: str, order_id: int) -> None:
        """Turn a reserved unit into a delivered one."""
        await self._shift(restaurant_id, day, order_id, "complete", reserved=-1, completed=1)

    async def _shift(
        self, restaurant_id: int, day: str, order_id: int, change: str, *, reserved: int, completed: int = 0
    ) -> None:
        c = capacity_days.c
        await self.conn.execute(
            update(capacity_days)
            .where(and_(c.restaurant_id == restaurant_id, c.day == day, c.reserved > 0))
            .values(reserved=c.reserved + reserved, completed=c.completed + completed)
        )
        await self._log(restaurant_id, day, order_id, change)

    async def _log(self, restaurant_id: int, day: str, order_id: int, change: str) -> None:
        await self.conn.execute(
            capacity_log.insert().values(
                restaurant_id=restaurant_id, day=day, order_id=order_id, change=change, at=self.now
            )
        )

    async def counters(self, day: str) -> list[tuple[int, int, int, int]]:
        """(restaurant_id, pledged, reserved, completed) for every counter of a day."""
        rows = await self.conn.execute(select(capacity_days).where(capacity_days.c.day == day))
        return [(r.restaurant_id, r.pledged, r.reserved, r.completed) for r in rows]

    async def used(self, restaurant_id: int, day: str) -> int:
        """Reserved plus completed units for the day."""
        q = select(func.coalesce(func.sum(capacity_days.c.reserved + capacity_days.c.completed), 0)).where(
            capacity_days.c.restaurant_id == restaurant_id, capacity_days.c.day == day
        )
        return int((await self.conn.execute(q)).scalar_one())


def _worker(row: Any) -> Worker:
    return Worker(row.id, row.person_id, row.name, row.lat, row.lng, row.zone, row.online, Approval(row.status))


class WorkerRepo:
    """Delivery workers, their zones and whether they are online."""

    def __init__(self, conn: AsyncConnection, now: str) -> None:
        self.conn, self.now = conn, now
        self.none_for: set[int] = set()  # people known to be no worker (UnitOfWork.remember_roles)

    async def create(
        self, *, person_id: int, name: str, lat: float, lng: float, zone: str, status: Approval, online: bool = False
    ) -> Worker:
        """Register a worker."""
        self.none_for.discard(person_id)
        result = await self.conn.execute(
            workers.insert().values(
                person_id=person_id,
                name=name,
                lat=lat,
                lng=lng,
                zone=zone,
                online=online,
                status=status.value,
                created_at=self.now,
            )
        )
        found = await self.get(new_id(result))
        assert found is not None
        return found

    async def get(self, worker_id: int) -> Worker | None:
        """Load one worker."""
        row = (await self.conn.execute(select(workers).where(workers.c.id == worker_id))).first()
        return _worker(row) if row else None

    async def by_person(self, person_id: int) -> Worker | None:
        """The worker record of a person, if any."""
        if person_id in self.none_for:
            return None
        row = (await self.conn.execute(select(workers).where(workers.c.person_id == person_id))).first()
        return _worker(row) if row else None

    async def set_status(self, worker_id: int, status: Approval, *, online: bool) -> None:
        """Approve or reject, and start (or stop) receiving jobs with it."""
        await self._set(worker_id, status=status.value, online=online)

    async def set_online(self, worker_id: int, online: bool) -> None:
        """Start or stop receiving new jobs."""
        await self._set(worker_id, online=online)

    async def set_zone(self, worker_id: int, lat: float, lng: float, zone: str) -> None:
        """Move the place the worker sees jobs around."""
        await self._set(worker_id, lat=lat, lng=lng, zone=zone)

    async def _set(self, worker_id: int, **values: str | bool | float) -> None:
        await self.conn.execute(update(workers).where(workers.c.id == worker_id).values(**values))

    async def online_in(self, zones: Sequence[str]) -> list[Worker]:
        """Approved, online workers whose zone is one of these cells."""
        q = select(workers).where(
            workers.c.zone.in_(list(zones)),
            workers.c.online.is_(True),
            workers.c.status == Approval.APPROVED.value,
        )
        return [_worker(r) for r in await self.conn.execute(q.order_by(workers.c.id))]
