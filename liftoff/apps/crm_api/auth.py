"""API keys: minted by a command, shown once, kept only as a SHA-256 digest.

Why a plain SHA-256 and not bcrypt/argon2: a key is 256 random bits, not a password a person
chose, so it cannot be guessed from its digest; a deliberately slow hash would only add its cost
to every request. A stolen copy of `crm.api_keys` therefore grants nothing. Keys are revoked, never
deleted, so the table says who could write when.

Each API process remembers a live key's holder for a few seconds (`KeyHolders`): a revoked key is
refused everywhere within HOLDER_TTL_SECONDS.

Scopes: every key may create, read, change and delete live records (`standard`); only an `admin`
key may also read soft-deleted records (`include_deleted=true`), whose personal data a deletion
was meant to take out of everyday use.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
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
# How long an API process trusts a live key it has looked up: a revocation takes effect within this.
HOLDER_TTL_SECONDS = 5.0


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


# A key made elsewhere (`register_key`): the prefix and at least 256 bits of URL-safe base64.
KEY_PATTERN = re.compile(KEY_PREFIX + r"[A-Za-z0-9_-]{43,}")


class KeyRegistrationError(ValueError):
    """A key handed to `register_key` cannot be registered; the message says why and what to do."""


def register_key(engine: Engine, name: str, key: str, scope: str = STANDARD) -> int:
    """Register a key made elsewhere, as `mint_key` would have minted it; return its id.

    For a deployment that must know a key before the API runs: `astro dev start` hands the same
    key from `.env` to Airflow's `crm_api` connection and to the CRM API, which registers it at
    start (docker-compose.override.yml). Idempotent: a live key with this digest is kept as it is
    (its id returned) when its name and scope match; a revoked one is never brought back.
    """
    if not name.strip():
        raise KeyRegistrationError("a key needs a name saying who or what uses it (e.g. 'airbyte-extract')")
    if scope not in SCOPES:
        raise KeyRegistrationError(f"unknown scope {scope!r}: one of {', '.join(SCOPES)}")
    if not KEY_PATTERN.fullmatch(key) or len(key) > MAX_KEY_LENGTH:
        raise KeyRegistrationError(
            f"key {name!r} is not a CRM API key: it must be {KEY_PREFIX!r} followed by at least 43 "
            "URL-safe characters; make one with "
            f"python -c 'import secrets; print(\"{KEY_PREFIX}\" + secrets.token_urlsafe(32))'"
        )
    with engine.begin() as conn:
        found = conn.execute(
            select(api_keys.c.api_key_id, api_keys.c.name, api_keys.c.scope, api_keys.c.revoked_at)
            .where(api_keys.c.key_sha256 == digest(key))
            .with_for_update()
        ).one_or_none()
        if found is None:
            return conn.execute(
                insert(api_keys)
                .values(name=name.strip(), key_prefix=key[:10], key_sha256=digest(key), scope=scope)
                .returning(api_keys.c.api_key_id)
            ).scalar_one()
    if found.revoked_at is not None:
        raise KeyRegistrationError(
            f"key {name!r} (id {found.api_key_id}) was revoked on {found.revoked_at:%Y-%m-%d}: "
            "make a new one and set it where the old one was"
        )
    if (found.name, found.scope) != (name.strip(), scope):
        raise KeyRegistrationError(
            f"this key is already registered as {found.name!r}, scope {found.scope} (id "
            f"{found.api_key_id}), not as {name.strip()!r}, scope {scope}: use a key of its own"
        )
    return found.api_key_id


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


class KeyHolders:
    """Who holds each live key, remembered by one API process for `ttl` seconds.

    Every request needs its key's holder; asking the database each time was a connection and a
    round trip per request (a third of a read's time, `make bench`). The price: a revoked key
    keeps working for at most `ttl` seconds in a process that saw it just before. Only live keys
    are remembered (an unknown key always goes to the database, and the throttle bounds that);
    at most `max_keys` of them, the least recently used dropped first.
    """

    def __init__(
        self,
        engine: Engine,
        ttl: float = HOLDER_TTL_SECONDS,
        max_keys: int = 1_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.engine, self.ttl, self.max_keys, self.clock = engine, ttl, max_keys, clock
        self._holders: OrderedDict[str, tuple[KeyHolder, float]] = OrderedDict()  # digest: (holder, until)
        self._lock = threading.Lock()

    def cached(self, key: str | None) -> KeyHolder | None:
        """The holder of `key` if this process saw it live less than `ttl` seconds ago (no I/O)."""
        if not key or len(key) > MAX_KEY_LENGTH:
            return None
        with self._lock:
            found = self._holders.get(digest(key))
            if found is None or found[1] <= self.clock():
                return None
            return found[0]

    def lookup(self, key: str | None) -> KeyHolder | None:
        """The holder of the live key `key` (remembered, or from the database), or None."""
        holder = self.cached(key)
        if holder is not None or not key or len(key) > MAX_KEY_LENGTH:
            return holder
        holder = key_holder(self.engine, key)
        if holder is not None:
            with self._lock:
                self._holders[digest(key)] = (holder, self.clock() + self.ttl)
                self._holders.move_to_end(digest(key))
                while len(self._holders) > self.max_keys:
                    self._holders.popitem(last=False)
        return holder


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
