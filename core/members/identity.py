"""Who is who: web-chat sessions, admin sign-in links, linking channels, admins from settings.

A web-chat identity is proven only by a server-issued session (random id + secret); a name in
a URL proves nothing. Provider identities (Telegram, WhatsApp, SMS) are proven by the
provider's signature before a message gets here."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Collection
from dataclasses import dataclass
from datetime import timedelta

from core.ledger.model import donor_account
from core.members.model import Person, SessionRow
from core.ports import UnitOfWork
from core.shared.events import AdminsChanged, AdminSignedIn, IdentityLinked

SESSION_TTL = timedelta(days=30)
ADMIN_SESSION_TTL = timedelta(hours=12)
ADMIN_LINK_TTL_S = 15 * 60
LINK_CODE_TTL = timedelta(minutes=10)
LINK_CODE_TRIES = 5
LINK_CODE_DIGITS = 8
# Wrong codes from everyone together within LINK_CODE_TTL before linking pauses for all: the
# per-person limit alone lets an attacker with many sessions and addresses guess on.
LINK_CODE_SERVICE_FAILURES = 200
# Wrong codes counted within LINK_CODE_TTL through web-chat sessions opened from one source (the
# web layer's tag of a network): past it that source's tries are refused uncounted, so a single
# network with many sessions cannot spend the service-wide budget and pause linking for everyone.
LINK_CODE_SOURCE_FAILURES = 20
PERSON_NUMBER = re.compile(r"^#[0-9]{1,9}$")  # how people are named to admins: "#12"
VISITOR_PREFIX = "w-"  # web-chat addresses handed to new visitors: never a chosen name
_TOKEN = re.compile(r"^[0-9a-f]{32}\.[A-Za-z0-9_-]{20,64}$")


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class WebSession:
    """A proven web-chat identity: the session id and the web-chat address it is bound to."""

    id: str
    address: str
    kind: str  # visitor | admin | demo


async def open_session(
    uow: UnitOfWork, address: str | None = None, kind: str = "visitor", source: str | None = None
) -> tuple[str, WebSession]:
    """Start a session (for a fresh random address unless one is given) opened from `source` (an
    opaque tag of where the request came from, if known); return (token, session)."""
    address = address or VISITOR_PREFIX + secrets.token_hex(8)
    session_id, secret = secrets.token_hex(16), secrets.token_urlsafe(32)
    ttl = ADMIN_SESSION_TTL if kind == "admin" else SESSION_TTL
    await uow.identity.add_session(session_id, _digest(secret), address, kind, (uow.at + ttl).isoformat(), source)
    return f"{session_id}.{secret}", WebSession(session_id, address, kind)


def well_formed(token: str | None) -> bool:
    """Tell whether a token has the shape of a session token (checked before any database read)."""
    return bool(token) and _TOKEN.fullmatch(token or "") is not None


def _proven(row: SessionRow | None, secret: str, now: str) -> WebSession | None:
    """The session a stored row and the token's secret prove at `now`, or None."""
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        return None
    if not hmac.compare_digest(row.secret_hash, _digest(secret)):
        return None
    return WebSession(row.id, row.address, row.kind)


async def check_session(uow: UnitOfWork, token: str | None) -> WebSession | None:
    """The session a token proves, or None (malformed, unknown, wrong secret, expired, revoked)."""
    if not token or not well_formed(token):
        return None
    session_id, secret = token.split(".", 1)
    return _proven(await uow.identity.session(session_id), secret, uow.now)


async def check_sessions(uow: UnitOfWork, tokens: Collection[str]) -> dict[str, WebSession | None]:
    """What each token proves, read in one query (the accept path checks a batch of POSTs at once)."""
    good = [t for t in tokens if well_formed(t)]
    rows = await uow.identity.sessions([t.split(".", 1)[0] for t in good])
    out: dict[str, WebSession | None] = dict.fromkeys(tokens)
    for token in good:
        session_id, secret = token.split(".", 1)
        out[token] = _proven(rows.get(session_id), secret, uow.now)
    return out


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def admin_link_token(secret: bytes, name: str, now: float) -> str:
    """A signed, single-use sign-in token for the web-chat admin `name`, valid 15 minutes."""
    body = _b64(json.dumps({"n": name, "e": int(now) + ADMIN_LINK_TTL_S, "r": secrets.token_hex(16)}).encode())
    return f"{body}.{_b64(hmac.new(secret, body.encode(), hashlib.sha256).digest())}"


def read_admin_link(secret: bytes, token: str, now: float) -> tuple[str, str] | None:
    """(name, nonce) of a well-signed, unexpired admin sign-in token; None otherwise."""
    if len(token) > 512 or token.count(".") != 1:
        return None
    body, sig = token.split(".")
    try:
        expected = _b64(hmac.new(secret, body.encode(), hashlib.sha256).digest())
        if not hmac.compare_digest(expected, sig):
            return None
        claims = json.loads(_unb64(body))
        name, expires, nonce = str(claims["n"]), int(claims["e"]), str(claims["r"])
    except (ValueError, KeyError, TypeError):
        return None
    return (name, nonce) if expires >= now else None


async def sign_in_admin(
    uow: UnitOfWork, secret: bytes, token: str, admins: Collection[tuple[str, str]], now: float
) -> tuple[str, WebSession] | None:
    """Spend an admin sign-in token: a session for that web-chat admin, or None (bad, used, no admin)."""
    claims = read_admin_link(secret, token, now)
    if claims is None or ("webchat", claims[0]) not in admins:
        return None
    if not await uow.identity.use_token(claims[1]):
        return None  # single use: the link was opened before
    person = await uow.people.get_or_create("webchat", claims[0])
    if not person.is_admin:
        return None
    opened = await open_session(uow, claims[0], kind="admin")
    uow.record(AdminSignedIn(actor=person.actor, channel="webchat"))
    return opened


async def sync_admins(uow: UnitOfWork, admins: Collection[tuple[str, str]]) -> tuple[list[int], list[int]]:
    """Make exactly the configured identities admins (added and removed); record any change."""
    wanted = [(await uow.people.get_or_create(channel, address)).id for channel, address in sorted(admins)]
    added, removed = await uow.people.set_admins(wanted)
    if added or removed:
        uow.record(AdminsChanged(actor="config", added=added, removed=removed))
    return added, removed


class LinkError(Exception):
    """Linking refused; `reason` is too_many | source_busy | paused | wrong_code | same_person |
    both_have_records."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


async def issue_link_code(uow: UnitOfWork, person: Person, channel: str, address: str) -> str:
    """A fresh 8-digit code for the identity that asked; valid 10 minutes, earlier ones lapse."""
    code = f"{secrets.randbelow(10**LINK_CODE_DIGITS):0{LINK_CODE_DIGITS}d}"
    await uow.identity.add_link_code(person.id, channel, address, _digest(code), (uow.at + LINK_CODE_TTL).isoformat())
    return code


async def has_records(uow: UnitOfWork, person: Person) -> bool:
    """Whether a person holds anything of their own: money, a role, orders, admin rights,
    membership (their votes are theirs), identities."""
    if person.is_admin or person.is_member or len(await uow.people.identities_of(person.id)) > 1:
        return True
    if await uow.ledger.balance(donor_account(person.id)) != 0:
        return True
    if await uow.restaurants.by_person(person.id) or await uow.workers.by_person(person.id):
        return True
    return bool(await uow.orders.find(donor_id=person.id, limit=1))


async def redeem_link_code(uow: UnitOfWork, person: Person, channel: str, address: str, code: str) -> Person:
    """Join the identity that typed the code with the one the code was sent to; return the person
    both now lead to. The side holding nothing joins the other; if both hold records, refuse."""
    since = (uow.at - LINK_CODE_TTL).isoformat()
    if await uow.identity.link_failures_since(person.id, since) >= LINK_CODE_TRIES:
        raise LinkError("too_many")
    source = await uow.identity.session_source(address) if channel == "webchat" else None
    if source is not None and await uow.identity.link_failures_from(source, since) >= LINK_CODE_SOURCE_FAILURES:
        raise LinkError("source_busy")  # refused before, and without, counting toward the service-wide budget
    if await uow.identity.link_failures_since(None, since) >= LINK_CODE_SERVICE_FAILURES:
        raise LinkError("paused")  # someone is guessing at scale: nobody's code can be found by chance
    row = await uow.identity.take_link_code(_digest(code))
    if row is None:
        await uow.identity.add_link_failure(person.id, source)
        raise LinkError("wrong_code")
    if row.person_id == person.id:
        raise LinkError("same_person")
    issuer = await uow.people.get(row.person_id)
    assert issuer is not None
    if not await has_records(uow, person):
        keeper, moved, retired = issuer, (channel, address), person
    elif not await has_records(uow, issuer):
        keeper, moved, retired = person, (row.channel, row.address), issuer
    else:
        raise LinkError("both_have_records")
    await uow.people.move_identity(*moved, to_person=keeper.id)
    await uow.people.retire(retired.id)
    if keeper.channel == "webchat" and moved[0] != "webchat":
        await uow.people.set_home(keeper.id, *moved)  # notifications go where they are pushed
    uow.record(IdentityLinked(actor=keeper.actor, person_id=keeper.id, channel=moved[0], retired_person_id=retired.id))
    joined = await uow.people.get(keeper.id)
    assert joined is not None
    return joined

