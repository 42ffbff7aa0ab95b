"""Money received outside (cash, UPI) recorded by admins; above a governed limit, by two."""

from __future__ import annotations

from core.ledger.model import DepositRequest, DepositStatus
from core.ledger.service import record_deposit
from core.members.model import Person
from core.ports import UnitOfWork
from core.shared.events import DepositDecided, DepositRequested


class DepositError(Exception):
    """A deposit refused; `reason` is not_admin | decided | own_request."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


async def needs_second_admin(uow: UnitOfWork, amount: int) -> bool:
    """Whether a deposit is above the governed amount one admin may record alone."""
    return amount > (await uow.params.current()).deposit_second_admin_above


async def record_by_admin(uow: UnitOfWork, admin: Person, target: Person, amount: int, ref: str, memo: str) -> int:
    """Credit a person with money an admin received (the admin is the actor in the chain)."""
    if not admin.is_admin:
        raise DepositError("not_admin")
    return await record_deposit(uow, target.id, amount, ref, admin.actor, memo)


async def request_deposit(uow: UnitOfWork, admin: Person, target: Person, amount: int) -> int:
    """Ask the other admins to confirm a large deposit; return the request's id."""
    if not admin.is_admin:
        raise DepositError("not_admin")
    request_id = await uow.identity.add_deposit_request(target.id, amount, admin.id)
    uow.record(DepositRequested(actor=admin.actor, request_id=request_id, person_id=target.id, amount=amount))
    return request_id


async def decide_deposit(uow: UnitOfWork, admin: Person, request_id: int, confirm: bool) -> DepositRequest:
    """A second admin confirms (the money is recorded) or refuses a request, once."""
    if not admin.is_admin:
        raise DepositError("not_admin")
    request = await uow.identity.deposit_request(request_id)
    if request is None or request.status is not DepositStatus.PENDING:
        raise DepositError("decided")
    if request.requested_by == admin.id:
        raise DepositError("own_request")
    if not await uow.identity.decide_deposit(request.id, DepositStatus.RECORDED if confirm else DepositStatus.REFUSED, admin.id):
        raise DepositError("decided")
    asked_by = f"person:{request.requested_by}"
    uow.record(DepositDecided(actor=admin.actor, request_id=request.id, person_id=request.person_id, amount=request.amount,
                              requested_by=asked_by, recorded=confirm))  # fmt: skip
    if confirm:
        await record_deposit(uow, request.person_id, request.amount, f"deposit-request:{request.id}", admin.actor,
                             f"cash/UPI, asked by {asked_by}")  # fmt: skip
    return request
