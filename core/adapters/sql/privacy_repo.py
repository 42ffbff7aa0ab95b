"""People's own data: everything held about one person (export), erasing it (/forget), and the
retention sweeps that round old coordinates and delete old message bodies."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from sqlalchemy import Table, and_, delete, false, func, or_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncConnection

from core.adapters.sql.campaigns_schema import campaign_gifts, campaign_nearby, campaign_notices, campaigns
from core.adapters.sql.cards_schema import card_payments
from core.adapters.sql.checkpoints_schema import commitment_salts, subscriptions
from core.adapters.sql.disputes_schema import disputes
from core.adapters.sql.funding_schema import contributions
from core.adapters.sql.governance_schema import proposal_seconds, proposals, ratings, votes
from core.adapters.sql.identity_schema import deposit_requests, identities, link_codes, link_failures, web_sessions
from core.adapters.sql.payments_schema import (
    connect_accounts,
    payout_details,
    payout_lines,
    payout_skip_notices,
    statement_rows,
    topup_requests,
)
from core.adapters.sql.pledges_schema import pledge_uses, pledges
from core.adapters.sql.schema import (
    board_jobs,
    conversations,
    inbox,
    ledger_transactions,
    menu_items,
    orders,
    outbox,
    people,
    photos,
    postings,
    prompts,
    restaurants,
    workers,
)
from core.adapters.sql.screening_schema import delivery_reports, seeker_embeddings
from core.campaigns.lifecycle import TERMINAL as CAMPAIGN_ENDED
from core.ledger.model import DepositStatus
from core.payments.model import LineStatus, Method, PayoutDetails
from core.privacy import ERASED_CHANNEL, FAREWELL_META
from core.shared.geo import coarse_point
from core.shared.queues import InboxStatus, OutboxStatus

_UNSENT = (OutboxStatus.PENDING, OutboxStatus.SENDING)
EMPTIED = '{"erased": true}'  # the payload of the message that asked for an erasure, until the farewell goes

# Text columns that may quote someone else's name or number in a message to or from another
# person (an admin's "/deposit +9198…", "Job #1 was taken by Murugan"): (table, key, column).
_FREE_TEXT: tuple[tuple[Table, str, str], ...] = (
    (inbox, "id", "payload"), (outbox, "id", "payload"), (prompts, "id", "options"),
    (conversations, "person_id", "state"), (disputes, "id", "evidence"), (disputes, "id", "note"),
    (disputes, "id", "appeal_note"), (board_jobs, "order_id", "payload"), (proposals, "id", "reason"),
    (proposals, "id", "decision"), (ratings, "id", "appeal_reason"), (ratings, "id", "comment"),
)  # fmt: skip


def _plain(row: Any, *, drop: Sequence[str] = ()) -> dict[str, Any]:
    return {k: v for k, v in row._mapping.items() if k not in drop}


def _like(needle: str) -> str:
    return "%" + needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _masked(person_id: int, method: str, destination: str, ifsc: str) -> str:
    """A payout line's destination as kept after /forget: enough for the books, too little to reuse."""
    if method == Method.UPI.value and "@" not in destination:
        return "***"  # not a UPI id: nothing of it is worth keeping
    # Masking is idempotent (n***h@okaxis stays so), so a second /forget changes nothing.
    return PayoutDetails(person_id, Method(method), destination, ifsc).masked().split(" · ")[0]


def spellings(needle: str) -> list[str]:
    """How a string may be stored: as typed, and inside JSON with or without \\u escapes."""
    forms = [needle, json.dumps(needle)[1:-1], json.dumps(needle, ensure_ascii=False)[1:-1]]
    return list(dict.fromkeys(forms))


class PrivacyRepo:
    """What the service holds about one person, and its erasure and retention."""

    def __init__(self, conn: AsyncConnection, now: str, catch_up: Callable[[], Awaitable[None]] | None = None) -> None:
        self.conn, self.now = conn, now
        # The unit of work forgets the people it remembers and inserts the replies it holds, so that
        # an export or an erasure sees (and erases, or scrubs) everything this transaction wrote.
        self.catch_up = catch_up

    async def _all(self, q: Any, *, drop: Sequence[str] = ()) -> list[dict[str, Any]]:
        return [_plain(r, drop=drop) for r in await self.conn.execute(q)]

    async def _addresses(self, person_id: int) -> list[tuple[str, str]]:
        q = select(identities.c.channel, identities.c.address).where(identities.c.person_id == person_id)
        found = [(c, a) for c, a in await self.conn.execute(q)]
        home = (await self.conn.execute(select(people.c.channel, people.c.address).where(people.c.id == person_id))).first()
        if home is not None and home.channel not in (ERASED_CHANNEL, "merged"):
            found.append((home.channel, home.address))
        return list(dict.fromkeys(found))

    async def export(self, person_id: int, accounts: Sequence[str]) -> dict[str, Any]:
        """Every row about a person, as plain JSON values (secrets and others' words left out)."""
        if self.catch_up is not None:
            await self.catch_up()
        addresses = await self._addresses(person_id)
        pairs = tuple_(inbox.c.channel, inbox.c.address).in_(addresses) if addresses else false()
        out_pairs = tuple_(outbox.c.channel, outbox.c.address).in_(addresses) if addresses else false()
        web = [a for c, a in addresses if c == "webchat"]
        rest = (await self.conn.execute(select(restaurants).where(restaurants.c.person_id == person_id))).first()
        worker = (await self.conn.execute(select(workers).where(workers.c.person_id == person_id))).first()
        role_orders = [orders.c.donor_id == person_id]
        if rest is not None:
            role_orders.append(orders.c.restaurant_id == rest.id)
        if worker is not None:
            role_orders.append(orders.c.worker_id == worker.id)
        own_orders = await self._all(select(orders).where(or_(*role_orders)).order_by(orders.c.id))
        order_ids = [o["id"] for o in own_orders]
        return {
            "person": await self._all(select(people).where(people.c.id == person_id)),
            "identities": await self._all(select(identities).where(identities.c.person_id == person_id)),
            "web_sessions": await self._all(select(web_sessions).where(web_sessions.c.address.in_(web)),
                                            drop=("id", "secret_hash")),  # fmt: skip
            "link_codes": await self._all(select(link_codes).where(link_codes.c.person_id == person_id), drop=("code_hash",)),
            "link_failures": await self._all(select(link_failures).where(link_failures.c.person_id == person_id)),
            "restaurant": [_plain(rest)] if rest is not None else [],
            "menu_items": await self._all(select(menu_items).where(menu_items.c.restaurant_id == (rest.id if rest else -1))),
            "worker": [_plain(worker)] if worker is not None else [],
            "orders": [self._as_party(o, person_id, rest, worker) for o in own_orders],
            "contributions": await self._all(select(contributions).where(contributions.c.person_id == person_id)),
            "campaigns_started": await self._all(select(campaigns).where(campaigns.c.creator_id == person_id)),
            "campaign_gifts": await self._all(select(campaign_gifts).where(campaign_gifts.c.person_id == person_id)),
            "campaigns_near_you": await self._all(select(campaign_nearby).where(campaign_nearby.c.person_id == person_id)),
            "campaign_notices": await self._all(select(campaign_notices).where(campaign_notices.c.person_id == person_id)),
            "disputes": [self._dispute(d, person_id) for d in
                         await self._all(select(disputes).where(or_(disputes.c.raised_by == person_id,
                                                                    disputes.c.order_id.in_(order_ids))))],  # fmt: skip
            "prompts": await self._all(select(prompts).where(prompts.c.person_id == person_id).order_by(prompts.c.id)),
            "conversation": await self._all(select(conversations).where(conversations.c.person_id == person_id)),
            "messages_received": await self._all(select(inbox).where(pairs).order_by(inbox.c.id), drop=("error",)),
            "messages_sent_to_you": await self._all(select(outbox).where(out_pairs).order_by(outbox.c.id),
                                                    drop=("last_error", "lease_until")),  # fmt: skip
            "photos": await self._all(select(photos).where(photos.c.owner_id == person_id)),
            "deposit_requests": await self._all(select(deposit_requests).where(deposit_requests.c.person_id == person_id)),
            "card_payments": await self._all(select(card_payments).where(card_payments.c.person_id == person_id)),
            "delivery_reports": await self._all(select(delivery_reports).where(
                delivery_reports.c.worker_id == (worker.id if worker else -1))),  # fmt: skip
            **await self._money_rows(person_id),
            **await self._governance_rows(person_id, rest, worker),
            "subscriptions": await self._all(select(subscriptions).where(subscriptions.c.person_id == person_id)),
            "pledge_uses": await self._all(select(pledge_uses).where(pledge_uses.c.pledge_id.in_(
                select(pledges.c.id).where(pledges.c.person_id == person_id))).order_by(pledge_uses.c.id)),  # fmt: skip
            "ledger": await self._postings(accounts),
        }

    async def _money_rows(self, person_id: int) -> dict[str, list[dict[str, Any]]]:
        """Where they are paid, what was paid to them, their UPI top-ups and the bank rows credited to them."""
        return {
            "payout_details": await self._all(select(payout_details).where(payout_details.c.person_id == person_id)),
            # When they were last told money waits for their payout details (and how much).
            "payout_notices": await self._all(select(payout_skip_notices).where(payout_skip_notices.c.person_id == person_id)),
            "payout_lines": await self._all(select(payout_lines).where(payout_lines.c.person_id == person_id)
                                            .order_by(payout_lines.c.id)),  # fmt: skip
            "topup_requests": await self._all(select(topup_requests).where(topup_requests.c.person_id == person_id)
                                              .order_by(topup_requests.c.id)),  # fmt: skip
            "statement_rows": await self._all(select(statement_rows).where(statement_rows.c.person_id == person_id)
                                              .order_by(statement_rows.c.id)),  # fmt: skip
        }

    async def _governance_rows(self, person_id: int, rest: Any, worker: Any) -> dict[str, list[dict[str, Any]]]:
        """Their proposals, seconds and votes; the ratings they gave, and those of their roles (raters unnamed)."""
        about = [and_(ratings.c.subject == kind, ratings.c.subject_id == row.id)
                 for kind, row in (("restaurant", rest), ("worker", worker)) if row is not None]  # fmt: skip
        return {
            "proposals": await self._all(select(proposals).where(proposals.c.proposer_id == person_id).order_by(proposals.c.id)),
            "proposal_seconds": await self._all(select(proposal_seconds).where(proposal_seconds.c.person_id == person_id)),
            "votes": await self._all(select(votes).where(votes.c.person_id == person_id).order_by(votes.c.id)),
            "ratings_given": await self._all(select(ratings).where(ratings.c.rater_id == person_id).order_by(ratings.c.id)),
            "ratings_of_you": await self._all(select(ratings).where(or_(*about) if about else false())
                                              .order_by(ratings.c.id), drop=("rater_id",)),  # fmt: skip
        }

    @staticmethod
    def _as_party(order: dict[str, Any], person_id: int, rest: Any, worker: Any) -> dict[str, Any]:
        """An order as this person took part in it: the seeker's exact place only to its donor."""
        roles = [r for r, mine in (("donor", order["donor_id"] == person_id),
                                   ("restaurant", rest is not None and order["restaurant_id"] == rest.id),
                                   ("worker", worker is not None and order["worker_id"] == worker.id)) if mine]  # fmt: skip
        shown = dict(order, roles=roles)
        if "donor" not in roles:
            for key in ("seeker_lat", "seeker_lng", "seeker_photo", "screening"):
                shown.pop(key, None)
        if "worker" not in roles and "donor" not in roles:
            for key in ("delivery_lat", "delivery_lng", "delivery_photo"):
                shown.pop(key, None)
        return shown

    @staticmethod
    def _dispute(row: dict[str, Any], person_id: int) -> dict[str, Any]:
        """A dispute about one of the person's orders; another party's own words stay theirs."""
        return row if row["raised_by"] == person_id else {k: v for k, v in row.items() if k != "evidence"}

    async def _postings(self, accounts: Sequence[str]) -> list[dict[str, Any]]:
        q = (
            select(postings.c.account, postings.c.amount, ledger_transactions.c.id.label("tx_id"), ledger_transactions.c.kind,
                   ledger_transactions.c.ref, ledger_transactions.c.occurred_at)
            .join(ledger_transactions, ledger_transactions.c.id == postings.c.tx_id)
            .where(postings.c.account.in_(list(accounts)))
            .order_by(postings.c.id)
        )  # fmt: skip
        return await self._all(q)

    async def accounts_of(self, prefixes: Sequence[str]) -> list[str]:
        """Ledger accounts that exist under any of these exact names (e.g. donor:3, worker:2)."""
        q = select(postings.c.account).where(postings.c.account.in_(list(prefixes))).distinct()
        return sorted(str(a) for (a,) in await self.conn.execute(q))

    async def pending_deposits(self, person_id: int) -> list[int]:
        """Deposits for a person still waiting for a second admin."""
        c = deposit_requests.c
        q = select(c.id).where(c.person_id == person_id, c.status == DepositStatus.PENDING)
        return [int(i) for (i,) in await self.conn.execute(q.order_by(deposit_requests.c.id))]

    async def open_campaigns(self, person_id: int) -> list[str]:
        """Codes of campaigns not yet ended that a person started or gave to (a refund would come back to them)."""
        gave = select(campaign_gifts.c.campaign_id).where(campaign_gifts.c.person_id == person_id)
        q = select(campaigns.c.code).where(or_(campaigns.c.creator_id == person_id, campaigns.c.id.in_(gave)),
                                           campaigns.c.status.not_in([s.value for s in CAMPAIGN_ENDED]))  # fmt: skip
        return [str(c) for (c,) in await self.conn.execute(q.order_by(campaigns.c.id))]

    async def pending_payouts(self, person_id: int) -> list[int]:
        """Payout lines to a person the bank has not paid yet (the bank file needs their name and number)."""
        c = payout_lines.c
        q = select(c.id).where(c.person_id == person_id, c.status == LineStatus.PENDING.value).order_by(c.id)
        return [int(i) for (i,) in await self.conn.execute(q)]

    async def photo_ids(self, person_id: int) -> list[str]:
        """Photos a person sent that are still stored."""
        q = select(photos.c.id).where(photos.c.owner_id == person_id, photos.c.deleted_at.is_(None))
        return [str(i) for (i,) in await self.conn.execute(q)]

    async def erase(self, person_id: int, current: tuple[str, str] | None, sessions_until: str) -> dict[str, int]:
        """Erase a person's identities, messages, state and places; return counts by kind.

        `current` is the identity whose oldest pending inbox message is being handled now (it goes
        too); later pending messages from it belong to whoever writes next. Web-chat sessions stay
        until `sessions_until`, so the page can still read the farewell."""
        if self.catch_up is not None:
            await self.catch_up()
        addresses = await self._addresses(person_id)
        counts: dict[str, int] = {"identities": len(addresses)}
        if addresses:
            in_pairs = tuple_(inbox.c.channel, inbox.c.address).in_(addresses)
            if current is not None:
                # The message being handled now keeps its sender and time, emptied, for the hour of
                # the farewell: WhatsApp may answer only within 24 hours of a person's last message.
                oldest = select(func.min(inbox.c.id)).where(inbox.c.channel == current[0], inbox.c.address == current[1],
                                                            inbox.c.status == InboxStatus.PENDING)  # fmt: skip
                await self.conn.execute(update(inbox).where(inbox.c.id == oldest.scalar_subquery()).values(payload=EMPTIED))
            counts["messages_received"] = await self._count(delete(inbox).where(in_pairs, inbox.c.status != InboxStatus.PENDING))
            out_pairs = tuple_(outbox.c.channel, outbox.c.address).in_(addresses)
            counts["messages_sent"] = await self._count(delete(outbox).where(out_pairs))
            code_pairs = tuple_(link_codes.c.channel, link_codes.c.address).in_(addresses)
            await self.conn.execute(delete(link_codes).where(or_(link_codes.c.person_id == person_id, code_pairs)))
            web = [a for c, a in addresses if c == "webchat"]
            await self.conn.execute(update(web_sessions).where(web_sessions.c.address.in_(web),
                                                               web_sessions.c.expires_at > sessions_until)
                                    .values(expires_at=sessions_until))  # fmt: skip
        await self.conn.execute(delete(link_failures).where(link_failures.c.person_id == person_id))
        await self.conn.execute(delete(identities).where(identities.c.person_id == person_id))
        counts["prompts"] = await self._count(delete(prompts).where(prompts.c.person_id == person_id))
        await self.conn.execute(delete(conversations).where(conversations.c.person_id == person_id))
        # The place they asked to hear of campaigns around, and what they were told of them.
        counts["places"] = await self._count(delete(campaign_nearby).where(campaign_nearby.c.person_id == person_id))
        await self.conn.execute(delete(campaign_notices).where(campaign_notices.c.person_id == person_id))
        await self.conn.execute(update(people).where(people.c.id == person_id).values(
            name=None, channel=ERASED_CHANNEL, address=str(person_id), is_member=False))  # fmt: skip
        await self.conn.execute(update(disputes).where(disputes.c.raised_by == person_id).values(evidence=""))
        counts["places"] += await self._coarsen_roles(person_id)
        counts.update(await self._erase_money(person_id))
        counts.update(await self._erase_governance(person_id))
        return counts

    async def _erase_money(self, person_id: int) -> dict[str, int]:
        """Payout details go; payouts made stay in the books by amount and masked destination, nameless;
        top-up requests go (a late payment with their reference is then left to the treasurer)."""
        # What Stripe said of their connected account: the account id would outlive the details.
        stripe = select(payout_details.c.destination).where(payout_details.c.person_id == person_id,
                                                            payout_details.c.method == "stripe")  # fmt: skip
        await self.conn.execute(delete(connect_accounts).where(connect_accounts.c.account.in_(stripe)))
        await self.conn.execute(delete(payout_skip_notices).where(payout_skip_notices.c.person_id == person_id))
        n = await self._count(delete(payout_details).where(payout_details.c.person_id == person_id))
        lines = await self.conn.execute(select(payout_lines).where(payout_lines.c.person_id == person_id))
        for line in list(lines):
            masked = _masked(person_id, line.method, line.destination, line.ifsc)
            await self.conn.execute(update(payout_lines).where(payout_lines.c.id == line.id)
                                    .values(name=f"#{person_id}", destination=masked))  # fmt: skip
            n += 1
        n += await self._count(delete(topup_requests).where(topup_requests.c.person_id == person_id))
        return {"payments": n}

    async def _erase_governance(self, person_id: int) -> dict[str, int]:
        """Their words go from their proposals, from appeals of their roles' ratings and from the
        comments of the ratings they gave, and their subscriptions end; who voted and seconded stays (the chain names them by id only)."""
        theirs = [int(i) for (i,) in await self.conn.execute(select(proposals.c.id).where(proposals.c.proposer_id == person_id))]
        n = await self._count(update(proposals).where(proposals.c.id.in_(theirs)).values(reason=f"#{person_id}", decision=""))
        # Without the salt the chain's commitment to their words cannot be tested against a guess.
        subjects = [f"proposal:{i}:text" for i in theirs]  # as core/governance/service.py propose() keys them
        await self.conn.execute(delete(commitment_salts).where(commitment_salts.c.subject.in_(subjects)))
        roles = []
        for kind, table in (("restaurant", restaurants), ("worker", workers)):
            ids = select(table.c.id).where(table.c.person_id == person_id)
            roles.append(and_(ratings.c.subject == kind, ratings.c.subject_id.in_(ids)))
        n += await self._count(update(ratings).where(or_(*roles), ratings.c.appeal_reason != "").values(appeal_reason=""))
        # Their comments on ratings they gave go too, with the salts of the chain's commitments to them.
        commented = [int(i) for (i,) in await self.conn.execute(
            select(ratings.c.id).where(ratings.c.rater_id == person_id, ratings.c.comment != ""))]  # fmt: skip
        n += await self._count(update(ratings).where(ratings.c.id.in_(commented)).values(comment=""))
        await self.conn.execute(delete(commitment_salts).where(  # keyed as core/ratings/service.py comment_subject()
            commitment_salts.c.subject.in_([f"rating:{i}:comment" for i in commented])))  # fmt: skip
        n += await self._count(delete(subscriptions).where(subscriptions.c.person_id == person_id))
        return {"governance": n}

    async def _coarsen_roles(self, person_id: int) -> int:
        """Round the places a person's roles and orders reveal; blank their role names."""
        n = 0
        for (order_id,) in await self.conn.execute(select(orders.c.id).where(orders.c.donor_id == person_id)):
            n += await self._coarsen_order(int(order_id))
        await self.conn.execute(delete(seeker_embeddings).where(
            seeker_embeddings.c.order_id.in_(select(orders.c.id).where(orders.c.donor_id == person_id))))  # fmt: skip
        worker = (await self.conn.execute(select(workers).where(workers.c.person_id == person_id))).first()
        if worker is not None:
            lat, lng = coarse_point(worker.lat, worker.lng)
            await self.conn.execute(update(workers).where(workers.c.id == worker.id).values(
                name=f"#{person_id}", lat=lat, lng=lng, online=False, status="rejected"))  # fmt: skip
            for row in await self.conn.execute(select(orders.c.id, orders.c.delivery_lat, orders.c.delivery_lng)
                                               .where(orders.c.worker_id == worker.id, orders.c.delivery_lat.is_not(None))):  # fmt: skip
                dlat, dlng = coarse_point(row.delivery_lat, row.delivery_lng)
                await self.conn.execute(update(orders).where(orders.c.id == row.id).values(delivery_lat=dlat, delivery_lng=dlng))
                n += 1
            for row in await self.conn.execute(select(delivery_reports).where(delivery_reports.c.worker_id == worker.id)):
                rlat, rlng = coarse_point(row.lat, row.lng)
                await self.conn.execute(update(delivery_reports).where(delivery_reports.c.order_id == row.order_id)
                                        .values(lat=rlat, lng=rlng))  # fmt: skip
        rest = (await self.conn.execute(select(restaurants).where(restaurants.c.person_id == person_id))).first()
        if rest is not None:
            lat, lng = coarse_point(rest.lat, rest.lng)
            await self.conn.execute(update(restaurants).where(restaurants.c.id == rest.id).values(
                name=f"#{person_id}", address="", lat=lat, lng=lng, status="rejected"))  # fmt: skip
        return n

    async def _coarsen_order(self, order_id: int) -> int:
        row = (await self.conn.execute(select(orders).where(orders.c.id == order_id))).one()
        lat, lng = coarse_point(row.seeker_lat, row.seeker_lng)
        values: dict[str, Any] = {"seeker_lat": lat, "seeker_lng": lng, "coarse_at": row.coarse_at or self.now}
        if row.delivery_lat is not None and row.delivery_lng is not None:
            values["delivery_lat"], values["delivery_lng"] = coarse_point(row.delivery_lat, row.delivery_lng)
        await self.conn.execute(update(orders).where(orders.c.id == order_id).values(**values))
        return 1

    async def replace_text(self, needles: Sequence[str], replacement: str) -> int:
        """Replace whole-word occurrences of each needle in the free-text columns; return how many
        cells changed (other people's messages that quoted an erased name or number)."""
        if self.catch_up is not None:
            await self.catch_up()
        changed = 0
        for table, key, column in _FREE_TEXT:
            col, pk = table.c[column], table.c[key]
            for needle in needles:
                for form in spellings(needle):
                    pattern = re.compile(r"(?<![\w+])" + re.escape(form) + r"(?!\w)")
                    rows = await self.conn.execute(select(pk, col).where(col.like(_like(form), escape="\\")))
                    for row_key, value in list(rows):
                        new = pattern.sub(replacement, value)
                        if new != value:
                            await self.conn.execute(update(table).where(pk == row_key).values({column: new}))
                            changed += 1
        return changed

    async def _count(self, stmt: Any) -> int:
        result = await self.conn.execute(stmt.execution_options(preserve_rowcount=True))
        return max(int(result.rowcount), 0)

    async def coarsen_orders(self, before: str, limit: int = 5000) -> int:
        """Round the exact coordinates of orders created before a time (once each); return how many."""
        q = select(orders.c.id).where(orders.c.created_at < before, orders.c.coarse_at.is_(None)).order_by(orders.c.id)
        ids = [int(i) for (i,) in await self.conn.execute(q.limit(limit))]
        for order_id in ids:
            await self._coarsen_order(order_id)
        old_reports = select(orders.c.id).where(orders.c.created_at < before)
        for row in await self.conn.execute(select(delivery_reports).where(delivery_reports.c.order_id.in_(old_reports))):
            lat, lng = coarse_point(row.lat, row.lng)
            if (lat, lng) != (row.lat, row.lng):
                await self.conn.execute(update(delivery_reports).where(delivery_reports.c.order_id == row.order_id)
                                        .values(lat=lat, lng=lng))  # fmt: skip
        return len(ids)

    async def delete_messages(self, before: str) -> int:
        """Delete handled inbox and outbox messages older than a time; return how many."""
        n = await self._count(delete(inbox).where(inbox.c.received_at < before, inbox.c.status != InboxStatus.PENDING))
        return n + await self._count(delete(outbox).where(outbox.c.created_at < before, outbox.c.status.not_in(_UNSENT)))

    async def delete_farewells(self, before: str) -> int:
        """Delete the last messages to erased people once sent (or given up) before a time, and
        the emptied message each answered."""
        like = outbox.c.payload.like(_like(f'"{FAREWELL_META}": true'), escape="\\")
        n = await self._count(delete(outbox).where(like, outbox.c.created_at < before, outbox.c.status.not_in(_UNSENT)))
        return n + await self._count(delete(inbox).where(inbox.c.payload == EMPTIED, inbox.c.received_at < before,
                                                         inbox.c.status != InboxStatus.PENDING))  # fmt: skip

    async def delete_link_attempts(self, before: str) -> int:
        """Delete link codes that expired and wrong link tries made before a time."""
        codes = await self._count(delete(link_codes).where(link_codes.c.expires_at < before))
        return codes + await self._count(delete(link_failures).where(link_failures.c.at < before))

    async def delete_expired_sessions(self, now: str) -> int:
        """Delete web-chat sessions past their expiry (an erased person's end within the hour)."""
        return await self._count(delete(web_sessions).where(web_sessions.c.expires_at < now))
