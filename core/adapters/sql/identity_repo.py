"""Web-chat sessions, link codes, single-use tokens and deposits awaiting a second admin."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import and_, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from core.adapters.sql.identity_schema import deposit_requests, link_codes, link_failures, used_tokens, web_sessions
from core.adapters.sql.sqlhelpers import insert_ignore, new_id
from core.ledger.model import DepositRequest, DepositStatus
from core.members.model import LinkCodeRow, SessionRow


class IdentityRepo:
    """Storage for proving who is who."""

    def __init__(self, conn: AsyncConnection, now: str) -> None:
        self.conn, self.now = conn, now

    async def add_session(
        self, session_id: str, secret_hash: str, address: str, kind: str, expires_at: str, source: str | None = None
    ) -> None:
        """Store a new web-chat session (with where it was opened, if known)."""
        await self.conn.execute(web_sessions.insert().values(
            id=session_id, secret_hash=secret_hash, address=address, kind=kind, created_at=self.now, expires_at=expires_at,
            source=source))  # fmt: skip

    async def session_source(self, address: str) -> str | None:
        """Where the newest session of a web-chat address was opened; None if unknown."""
        q = select(web_sessions.c.source).where(web_sessions.c.address == address)
        return (await self.conn.execute(q.order_by(web_sessions.c.created_at.desc()).limit(1))).scalar_one_or_none()

    async def session(self, session_id: str) -> SessionRow | None:
        """Load a session by id (valid or not: the caller checks)."""
        row = (await self.conn.execute(select(web_sessions).where(web_sessions.c.id == session_id))).first()
        if row is None:
            return None
        return SessionRow(row.id, row.secret_hash, row.address, row.kind, row.expires_at, row.revoked_at)

    async def sessions(self, session_ids: Collection[str]) -> dict[str, SessionRow]:
        """Load several sessions by id in one query (valid or not: the caller checks)."""
        if not session_ids:
            return {}
        q = select(web_sessions).where(web_sessions.c.id.in_(sorted(set(session_ids))))
        return {r.id: SessionRow(r.id, r.secret_hash, r.address, r.kind, r.expires_at, r.revoked_at)
                for r in await self.conn.execute(q)}  # fmt: skip

    async def revoke_session(self, session_id: str) -> None:
        """End a session (sign-out)."""
        await self.conn.execute(update(web_sessions).where(web_sessions.c.id == session_id).values(revoked_at=self.now))

    async def use_token(self, nonce: str) -> bool:
        """Spend a single-use token; False if it was spent before."""
        return await insert_ignore(self.conn, used_tokens, {"nonce": nonce, "used_at": self.now}, ["nonce"])

    async def add_link_code(self, person_id: int, channel: str, address: str, code_hash: str, expires_at: str) -> None:
        """Store a link code sent to one identity; earlier unused codes of that identity lapse."""
        await self.conn.execute(
            update(link_codes)
            .where(link_codes.c.channel == channel, link_codes.c.address == address, link_codes.c.used_at.is_(None))
            .values(used_at=self.now)
        )
        await self.conn.execute(link_codes.insert().values(
            person_id=person_id, channel=channel, address=address, code_hash=code_hash, created_at=self.now,
            expires_at=expires_at))  # fmt: skip

    async def take_link_code(self, code_hash: str) -> LinkCodeRow | None:
        """Find an unexpired, unused code and mark it used (one use only)."""
        q = select(link_codes).where(
            link_codes.c.code_hash == code_hash, link_codes.c.used_at.is_(None), link_codes.c.expires_at > self.now
        )
        row = (await self.conn.execute(q.order_by(link_codes.c.id.desc()).limit(1))).first()
        if row is None:
            return None
        result = await self.conn.execute(
            update(link_codes).where(link_codes.c.id == row.id, link_codes.c.used_at.is_(None)).values(used_at=self.now)
            .execution_options(preserve_rowcount=True)
        )  # fmt: skip
        return LinkCodeRow(row.id, row.person_id, row.channel, row.address) if result.rowcount == 1 else None

    async def add_link_failure(self, person_id: int, source: str | None = None) -> None:
        """Count one wrong link code entered by a person (through a session from `source`, if any)."""
        await self.conn.execute(link_failures.insert().values(person_id=person_id, at=self.now, source=source))

    async def link_failures_from(self, source: str, since: str) -> int:
        """Wrong link codes entered through sessions from one source since a time."""
        q = select(func.count()).where(link_failures.c.source == source, link_failures.c.at >= since)
        return int((await self.conn.execute(q)).scalar_one())

    async def link_failures_since(self, person_id: int | None, since: str) -> int:
        """Wrong link codes a person (or, with None, everyone) entered since a time."""
        q = select(func.count()).where(link_failures.c.at >= since)
        if person_id is not None:
            q = q.where(link_failures.c.person_id == person_id)
        return int((await self.conn.execute(q)).scalar_one())

    async def add_deposit_request(self, person_id: int, amount: int, requested_by: int) -> int:
        """Store a deposit that waits for a second admin."""
        result = await self.conn.execute(deposit_requests.insert().values(
            person_id=person_id, amount=amount, requested_by=requested_by, status=DepositStatus.PENDING, created_at=self.now))  # fmt: skip
        return new_id(result)

    async def deposit_request(self, request_id: int) -> DepositRequest | None:
        """Load one deposit request."""
        row = (await self.conn.execute(select(deposit_requests).where(deposit_requests.c.id == request_id))).first()
        return _deposit(row) if row else None

    async def decide_deposit(self, request_id: int, status: DepositStatus, admin_id: int) -> bool:
        """Close a pending request once; False if someone already decided it."""
        result = await self.conn.execute(
            update(deposit_requests)
            .where(and_(deposit_requests.c.id == request_id, deposit_requests.c.status == DepositStatus.PENDING))
            .values(status=status, decided_by=admin_id, decided_at=self.now)
            .execution_options(preserve_rowcount=True)
        )
        return result.rowcount == 1


def _deposit(row: Any) -> DepositRequest:
    return DepositRequest(row.id, row.person_id, row.amount, row.requested_by, DepositStatus(row.status))
