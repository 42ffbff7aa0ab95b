"""The worker's part: go online, see every open job nearby, claim, pick up, deliver."""

from __future__ import annotations

from core.ledger.model import worker_pay
from core.ledger.service import order_terms
from core.members import profile
from core.members.model import Approval, Worker
from core.orders import service as orders
from core.orders.lifecycle import Status
from core.seekers.reports import ReportOutcome, report_delivery
from core.shared import geo
from flows.common import payload_int
from flows.context import PHOTOLESS_CHANNELS, FlowContext
from flows.donor import store_photo
from flows.i18n import clock_time, money, plural
from flows.jobs import offer_text
from flows.messages import Choice, Inbound
from flows.onboarding import location_by_sms, require_location
from flows.steps import Step

MAX_JOBS_SHOWN = 10


async def _own_worker(ctx: FlowContext) -> Worker | None:
    worker = await ctx.uow.workers.by_person(ctx.person.id)
    if worker is None or worker.status is not Approval.APPROVED:
        await ctx.reply(ctx._("Only an approved delivery worker can do that. Send /start to register."))
        return None
    return worker


async def _worker_command(ctx: FlowContext, msg: Inbound) -> tuple[Worker, int] | None:
    """The approved worker who sent a button and the order it names (or a polite reply)."""
    worker = await _own_worker(ctx)
    if worker is None:
        return None
    if (order_id := payload_int(msg)) is None:
        await ctx.reply(ctx._("That button is no longer active. Send /help to see what you can do."))
        return None
    return worker, order_id


async def go_online(ctx: FlowContext, msg: Inbound) -> None:
    """Start receiving new jobs."""
    if worker := await _own_worker(ctx):
        await profile.set_online(ctx.uow, worker, True, ctx.person.actor)
        await ctx.reply(ctx._("You are online. New jobs near you will arrive here."), (Choice(ctx._("Show jobs"), "jobs:"),))


async def go_offline(ctx: FlowContext, msg: Inbound) -> None:
    """Stop receiving new jobs."""
    if worker := await _own_worker(ctx):
        await profile.set_online(ctx.uow, worker, False, ctx.person.actor)
        await ctx.reply(ctx._("You are offline. Send /online when you want jobs again."))


async def list_jobs(ctx: FlowContext, msg: Inbound) -> None:
    """Every open job in the worker's zone and the cells around it, oldest first."""
    _ = ctx._
    worker = await _own_worker(ctx)
    if worker is None:
        return
    jobs = await ctx.services.board.open_jobs(geo.neighbourhood(worker.zone))
    if not jobs:
        await ctx.reply(_("No open jobs near you right now. New ones will arrive here while you are online."))
        return
    for job in jobs[:MAX_JOBS_SHOWN]:
        text = offer_text(ctx.person.language, ctx.person.channel, job.order_id, job.payload, new=False)
        await ctx.reply(text, (Choice(_("Claim"), f"claim:{job.order_id}"),), job=job.order_id)
    if len(jobs) > MAX_JOBS_SHOWN:
        more = len(jobs) - MAX_JOBS_SHOWN
        text = plural(ctx.person.language, "{count} more job is open; claim one of these first.",
                      "{count} more jobs are open; claim one of these first.", more)  # fmt: skip
        await ctx.reply(text.format(count=more))


async def claim(ctx: FlowContext, msg: Inbound) -> None:
    """First tap wins; the winner gets the seeker's photo and exact location."""
    _ = ctx._
    if (command := await _worker_command(ctx, msg)) is None:
        return
    worker, order_id = command
    result = await orders.claim(ctx.uow, order_id, worker, ctx.services.board, ctx.person.actor)
    if not result.won:
        winner = await ctx.uow.workers.get(result.winner) if result.winner else None
        if winner is not None:
            await ctx.reply(_("Job #{id} was taken by {name}, who was faster this time.").format(id=order_id, name=winner.name))
        else:
            await ctx.reply(_("Job #{id} is no longer available.").format(id=order_id))
        return
    order = await ctx.uow.orders.get(order_id)
    assert order is not None
    restaurant = await ctx.uow.restaurants.get(order.restaurant_id or 0)
    assert restaurant is not None
    await ctx.reply(
        _("Job #{id} is yours. Pick up {meal} at {restaurant}, {address}. "
          "Then take it to the person in the photo at {lat:.5f}, {lng:.5f}.").format(
            id=order.id, meal=order.meal_name, restaurant=restaurant.name, address=restaurant.address,
            lat=order.seeker_lat, lng=order.seeker_lng),
        (Choice(_("Picked up"), f"pickup:{order.id}"),),
        photo_id=order.seeker_photo,
        location=[order.seeker_lat, order.seeker_lng],
    )  # fmt: skip


async def pickup(ctx: FlowContext, msg: Inbound) -> None:
    """The worker has the meal."""
    _ = ctx._
    if (command := await _worker_command(ctx, msg)) is None:
        return
    worker, order_id = command
    try:
        order = await orders.pickup(ctx.uow, order_id, worker, ctx.services.board, ctx.person.actor)
    except orders.OrderError as exc:
        await ctx.reply(_job_problem(ctx, exc))
        return
    await ctx.reply(
        _("Picked up order #{id}. When the person has the meal, tap Delivered.").format(id=order.id),
        (Choice(_("Delivered"), f"delivered:{order.id}"), Choice(_("Person not found"), f"notfound:{order.id}")),
    )


def _job_problem(ctx: FlowContext, exc: orders.OrderError) -> str:
    _ = ctx._
    if exc.code == "not_yours":
        return _("Job #{id} is not yours.").format(id=exc.order_id)
    if exc.code == "already_cancelled":
        return _("Job #{id} was cancelled by the donor. Sorry for the trouble.").format(id=exc.order_id)
    return _("Job #{id} has already moved on; nothing to do.").format(id=exc.order_id)


async def _picked_up_job(ctx: FlowContext, msg: Inbound) -> int | None:
    """The order a button names when it is this worker's job in hand (else a polite reply)."""
    _ = ctx._
    if (command := await _worker_command(ctx, msg)) is None:
        return None
    worker, order_id = command
    order = await ctx.uow.orders.get(order_id)
    if order is not None and order.worker_id != worker.id:
        await ctx.reply(_("Job #{id} is not yours.").format(id=order_id))
        return None
    if order is None or order.status is not Status.PICKED_UP:
        await ctx.reply(_("Job #{id} has already moved on; nothing to do.").format(id=order_id))
        return None
    return order_id


async def start_delivery(ctx: FlowContext, msg: Inbound) -> None:
    """Ask for the delivery photo."""
    _ = ctx._
    if (order_id := await _picked_up_job(ctx, msg)) is None:
        return
    if ctx.person.channel in PHOTOLESS_CHANNELS:
        # SMS carries no photos: the location (typed as numbers) is the proof of delivery there.
        ctx.goto(Step.DELIVER_LOCATION, order=order_id, photo=None)
        await ctx.reply(_("Send your location as numbers, for example 13.0827, 80.2707."))
        return
    ctx.goto(Step.DELIVER_PHOTO, order=order_id)
    await ctx.reply(_("Send a photo of the delivered meal."))


async def deliver_photo(ctx: FlowContext, msg: Inbound) -> None:
    """Take the proof photo, then ask for the location."""
    _ = ctx._
    if msg.kind != "photo":
        await ctx.reply(_("Please send a photo of the delivered meal (or /cancel)."))
        return
    photo_id = await store_photo(ctx, msg, "delivery")
    if photo_id is None:
        return
    ctx.goto(Step.DELIVER_LOCATION, photo=photo_id)
    await ctx.reply(location_by_sms(ctx) or _("Thank you. Now share your location (attach → Location)."))


async def deliver_location(ctx: FlowContext, msg: Inbound) -> None:
    """Complete the delivery; the pay is settled once the window for problems has passed."""
    _, lang = ctx._, ctx.person.language
    worker = await _own_worker(ctx)
    if worker is None or not await require_location(ctx, msg):
        return
    assert msg.lat is not None and msg.lng is not None
    order_id = int(ctx.data["order"])
    try:
        order = await orders.deliver(ctx.uow, order_id, worker, ctx.data["photo"], msg.lat, msg.lng, ctx.person.actor)
    except orders.OrderError as exc:
        ctx.goto(None)
        await ctx.reply(_job_problem(ctx, exc))
        return
    ctx.goto(None)
    params = await order_terms(ctx.uow, order)
    pay = worker_pay(order.delivery_fee, order.tip, params.fee_shares)
    assert order.settle_after is not None
    await ctx.reply(
        _("Delivered order #{id}. Thank you! You will receive {total} ({fee} delivery + {tip} tip) at {time}.").format(
            id=order.id, total=money(pay.total, lang), fee=money(pay.fee, lang), tip=money(pay.tip, lang),
            time=clock_time(order.settle_after, lang)),
        (Choice(_("It went well"), f"report:{order.id}:ok"), Choice(_("Safety problem"), f"report:{order.id}:issue"),
         Choice(_("Show jobs"), "jobs:"), Choice(_("Report a problem"), f"dispute:{order.id}")),
    )  # fmt: skip


async def not_found(ctx: FlowContext, msg: Inbound) -> None:
    """"Person not found": ask for proof of the place (a photo; a location by SMS)."""
    _ = ctx._
    if (order_id := await _picked_up_job(ctx, msg)) is None:
        return
    if ctx.person.channel in PHOTOLESS_CHANNELS:
        ctx.goto(Step.NOT_FOUND_LOCATION, order=order_id, photo=None)
        await ctx.reply(_("Sorry it did not work out. Send your location as numbers, for example 13.0827, 80.2707."))
        return
    ctx.goto(Step.NOT_FOUND_PHOTO, order=order_id)
    await ctx.reply(_("Sorry it did not work out. Send a photo of the place where you looked for the person."))


async def not_found_photo(ctx: FlowContext, msg: Inbound) -> None:
    """The photo of the place: the order is recorded as not delivered (the place is the seeker's)."""
    _ = ctx._
    if msg.kind != "photo":
        await ctx.reply(_("Please send a photo of the place where you looked for the person (or /cancel)."))
        return
    photo_id = await store_photo(ctx, msg, "delivery")
    if photo_id is None:
        return
    await _record_not_found(ctx, photo_id, None)


async def not_found_location(ctx: FlowContext, msg: Inbound) -> None:
    """By SMS the worker's location is the proof of the place."""
    if not await require_location(ctx, msg):
        return
    assert msg.lat is not None and msg.lng is not None
    await _record_not_found(ctx, None, (msg.lat, msg.lng))


async def _record_not_found(ctx: FlowContext, photo_id: str | None, where: tuple[float, float] | None) -> None:
    _, lang = ctx._, ctx.person.language
    worker = await _own_worker(ctx)
    if worker is None:
        return
    order_id = int(ctx.data["order"])
    ctx.goto(None)
    order = await ctx.uow.orders.get(order_id)
    lat, lng = where if where is not None else ((order.seeker_lat, order.seeker_lng) if order else (0.0, 0.0))
    try:
        order = await orders.fail_delivery(ctx.uow, order_id, worker, photo_id, lat, lng, ctx.person.actor)
    except orders.OrderError as exc:
        await ctx.reply(_job_problem(ctx, exc))
        return
    params = await order_terms(ctx.uow, order)
    pay = worker_pay(order.delivery_fee, 0, params.fee_shares)
    assert order.settle_after is not None
    await ctx.reply(
        _("Thank you for trying. Job #{id} is recorded as not delivered: you will still receive {fee} at {time}, "
          "and the tip goes back to the donor.").format(id=order.id, fee=money(pay.total, lang),
                                                        time=clock_time(order.settle_after, lang)),
        (Choice(_("Show jobs"), "jobs:"), Choice(_("Report a problem"), f"dispute:{order.id}")),
    )  # fmt: skip


async def report(ctx: FlowContext, msg: Inbound) -> None:
    """The worker's one-tap report after a delivery: it trains the location safety model."""
    _ = ctx._
    if (command := await _worker_command(ctx, msg)) is None:
        return
    worker, order_id = command
    kind = (msg.choice or "").rsplit(":", 1)[-1]
    if kind not in ("ok", "issue"):
        await ctx.reply(_("That button is no longer active. Send /help to see what you can do."))
        return
    outcome = await report_delivery(ctx.uow, order_id, worker, kind == "issue", ctx.person.actor)
    if outcome is ReportOutcome.NOT_YOURS:
        await ctx.reply(_("Job #{id} is not yours.").format(id=order_id))
    elif outcome is ReportOutcome.ALREADY:
        await ctx.reply(_("You already told us about job #{id}. Thank you!").format(id=order_id))
    elif kind == "issue":
        await ctx.reply(_("Thank you for telling us. Future requests near that place will be checked more carefully. Stay safe."),
                        (Choice(_("Show jobs"), "jobs:"),))  # fmt: skip
    else:
        await ctx.reply(_("Thank you!"), (Choice(_("Show jobs"), "jobs:"),))


async def location_outside_step(ctx: FlowContext, msg: Inbound) -> None:
    """A worker sharing a location moves their zone; anyone else is told what to do."""
    _ = ctx._
    worker = await ctx.uow.workers.by_person(ctx.person.id)
    if worker is None:
        await ctx.reply(_("Thanks for the location, but I was not expecting one now. To feed someone, send their photo first."))
        return
    if not await require_location(ctx, msg):
        return
    assert msg.lat is not None and msg.lng is not None
    await profile.move_zone(ctx.uow, worker, msg.lat, msg.lng, ctx.person.actor)
    if worker.status is not Approval.APPROVED:  # /jobs would refuse: do not offer it yet
        await ctx.reply(_("Your zone is updated. Once an admin approves you, you will see jobs around this place."))
        return
    await ctx.reply(_("Your zone is updated. You will see jobs around this place."), (Choice(_("Show jobs"), "jobs:"),))


STEPS = {Step.DELIVER_PHOTO: deliver_photo, Step.DELIVER_LOCATION: deliver_location,
         Step.NOT_FOUND_PHOTO: not_found_photo, Step.NOT_FOUND_LOCATION: not_found_location}  # fmt: skip
