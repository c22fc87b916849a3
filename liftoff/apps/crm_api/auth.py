"""API keys: minted by a command, shown once, kept only as a SHA-256 digest.

Why a plain SHA-256 and not bcrypt/argon2: a key is 256 random bits, not a password a person
chose, so it cannot be guessed from its digest; a deliberately slow hash would only add its cost
to every request. A stolen copy of `crm.api_keys` therefore grants nothing. Keys are revoked, never
deleted, so the table says who could write when.

Scopes: every key may create, read, change and delete live records (`standard`); only an `admin`
key may also read soft-deleted records (`include_deleted=true`), whose personal data a deletion
was meant to take out of everyday use.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Engine

from liftoff.apps.crm_api.database import api_keys

KEY_PREFIX = "lok_"  # "LiftOff key": recognisable by secret scanners and people
HEADER = "X-API-Key"
STANDARD, ADMIN = "standard", "admin"
SCOPES = (STANDARD, ADMIN)  # as the check constraint of crm.api_keys.scope (migration 0002)
# A key is 47 characters; anything much longer is not a key and is refused unread (431).
MAX_KEY_LENGTH = 256


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class MintedKey:
    api_key_id: int
    name: str
    key: str  # shown once; only its digest is stored
    scope: str = STANDARD


@dataclass(frozen=True)
class KeyHolder:
    """Who a live key belongs to, and what it may do."""

    name: str
    scope: str

    @property
    def is_admin(self) -> bool:
        return self.scope == ADMIN


def mint_key(engine: Engine, name: str, scope: str = STANDARD) -> MintedKey:
    if not name.strip():
        raise ValueError("a key needs a name saying who or what uses it (e.g. 'sales-team-form')")
    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope!r}: one of {', '.join(SCOPES)}")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    with engine.begin() as conn:
        key_id = conn.execute(
            insert(api_keys)
            .values(name=name.strip(), key_prefix=key[:10], key_sha256=digest(key), scope=scope)
            .returning(api_keys.c.api_key_id)
        ).scalar_one()
    return MintedKey(key_id, name.strip(), key, scope)


def revoke_key(engine: Engine, api_key_id: int) -> bool:
    from sqlalchemy import func

    with engine.begin() as conn:
        result = conn.execute(
            update(api_keys)
            .where(api_keys.c.api_key_id == api_key_id, api_keys.c.revoked_at.is_(None))
            .values(revoked_at=func.now())
        )
    return result.rowcount == 1


def list_keys(engine: Engine) -> list[dict]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(api_keys.c.api_key_id, api_keys.c.name, api_keys.c.key_prefix, api_keys.c.created_at,
                   api_keys.c.revoked_at, api_keys.c.scope).order_by(api_keys.c.api_key_id)
        )  # fmt: skip
        return [dict(row._mapping) for row in rows]


def key_holder(engine: Engine, key: str | None) -> KeyHolder | None:
    """The holder of the live key `key`, or None (missing, unknown, revoked or not even key-shaped)."""
    if not key or len(key) > MAX_KEY_LENGTH:
        return None
    with engine.connect() as conn:
        row = conn.execute(
            select(api_keys.c.name, api_keys.c.scope).where(
                api_keys.c.key_sha256 == digest(key), api_keys.c.revoked_at.is_(None)
            )
        ).one_or_none()
    return None if row is None else KeyHolder(row.name, row.scope)
