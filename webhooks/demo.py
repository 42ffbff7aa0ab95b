"""Demo users for the web chat: an admin, two restaurants, three workers, a funded donor."""

from __future__ import annotations

from core.adapters.sql.uow import Store
from core.ledger.service import record_deposit
from core.members.registration import apply_restaurant, apply_worker

CHENNAI = (13.0827, 80.2707)
RESTAURANTS = (
    ("rest-1", "Annapoorna Mess", "12 Wall Tax Road, Park Town", 0.0015, 0.0010,
     (("Curd rice", 6_000), ("Sambar rice", 7_000), ("Lemon rice", 5_500))),
    ("rest-2", "Saravana Kitchen", "4 Poonamallee High Road, Periamet", -0.0020, -0.0015,
     (("Veg biryani", 8_000), ("Idli and sambar (4)", 5_000))),
)  # fmt: skip
WORKERS = (("worker-1", "Murugan"), ("worker-2", "Lakshmi"), ("worker-3", "Karthik"))
DONOR, DONOR_DEPOSIT = "donor-1", 100_000
ADMIN = "admin"  # an admin only while KETPAAR_ADMINS names webchat:admin (the embedded default)
# Web-chat users that demo mode on a loopback address lets anyone drive without a session.
DEMO_USERS = frozenset({ADMIN, DONOR, *(r[0] for r in RESTAURANTS), *(w[0] for w in WORKERS)})


async def seed_demo(store: Store, channel: str = "webchat") -> bool:
    """Create the demo users once; return False if they already exist."""
    lat, lng = CHENNAI
    async with store.uow() as uow:
        if await uow.people.find(channel, "rest-1"):
            return False
        admin = await uow.people.get_or_create(channel, ADMIN)
        await uow.people.set_name(admin.id, "Admin")
        for address, name, street, dlat, dlng, menu in RESTAURANTS:
            owner = await uow.people.get_or_create(channel, address)
            await uow.people.set_name(owner.id, name)
            await uow.people.set_flags(owner.id, is_member=True)
            await apply_restaurant(
                uow, owner, name=name, lat=lat + dlat, lng=lng + dlng, address=street, menu=menu,
                daily_capacity=20, approved=True,
            )  # fmt: skip
        for address, name in WORKERS:
            person = await uow.people.get_or_create(channel, address)
            await uow.people.set_name(person.id, name)
            await uow.people.set_flags(person.id, is_member=True)
            await apply_worker(uow, person, name=name, lat=lat, lng=lng, approved=True, online=True)
        donor = await uow.people.get_or_create(channel, DONOR)
        await uow.people.set_name(donor.id, "Demo donor")
        await record_deposit(uow, donor.id, DONOR_DEPOSIT, "demo-seed", admin.actor, "demo deposit")
    return True
