"""Salted commitments: how the permanent chain refers to personal data without holding it.

An event that concerns free text or other personal data carries `commit(value, salt)` instead of
the value. The value stays in its own table, and the salt (16 random bytes) in `commitment_salts`,
both outside the chain. Whoever holds the value and its salt can show it is the one the event
committed to; once the salt is deleted (with /forget or retention) nobody can test a guess of the
value against the chain, while the chain still verifies byte for byte."""

from __future__ import annotations

import hashlib
import secrets

PREFIX = "sha256:"


def new_salt() -> str:
    """A fresh 128-bit salt, hex."""
    return secrets.token_hex(16)


def commit(value: str, salt: str) -> str:
    """The commitment to `value` under `salt`: "sha256:" + sha256(salt bytes + UTF-8 value)."""
    return PREFIX + hashlib.sha256(bytes.fromhex(salt) + value.encode("utf-8")).hexdigest()


def opens(commitment: str, value: str, salt: str) -> bool:
    """Tell whether `value` and `salt` open `commitment`."""
    return secrets.compare_digest(commit(value, salt), commitment)
