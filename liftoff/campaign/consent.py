"""Consent: unforgeable unsubscribe tokens and the opt-out store the audience honours.

A token is `<payload>.<signature>`: the payload names the customer, the channel the message came
on and the campaign; the signature is HMAC-SHA256 over the payload with a secret only the
platform holds, so nobody can unsubscribe someone else by editing a link.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import psycopg

from liftoff.campaign.config import UNSUBSCRIBE_CONN_ID, UNSUBSCRIBE_SECRET_ENV
from liftoff.private_files import generated_secret

log = logging.getLogger(__name__)

CHANNELS = ("email", "telegram", "all")
SECRET_FILE = "campaign-unsubscribe.secret"  # noqa: S105 - a file name, not a secret
# HMAC-SHA256's own block of strength: a shorter key (an empty one, a word) is guessable offline
# from any link, and a guessed key unsubscribes anyone. Signing and verifying refuse it.
MIN_SECRET_BYTES = 32


class InvalidToken(ValueError):
    """The token was not issued by this platform (forged, truncated or signed with another secret)."""


@dataclass(frozen=True)
class Unsubscribe:
    customer_id: int
    channel: str
    campaign_id: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signature(payload: str, secret: bytes) -> str:
    return _b64(hmac.new(checked_secret(secret, "the key given"), payload.encode(), hashlib.sha256).digest())


def unsubscribe_token(customer_id: int, channel: str, campaign_id: str, secret: bytes) -> str:
    """A link's token; WeakUnsubscribeSecret if `secret` is shorter than MIN_SECRET_BYTES."""
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}; expected one of {CHANNELS}")
    payload = _b64(f"{customer_id}:{channel}:{campaign_id}".encode())
    return f"{payload}.{_signature(payload, secret)}"


def verify_token(token: str, secret: bytes) -> Unsubscribe:
    """The unsubscribe a token stands for; InvalidToken unless this platform signed it.
    WeakUnsubscribeSecret (never a verified token) if `secret` is shorter than MIN_SECRET_BYTES."""
    checked_secret(secret, "the key given")
    payload, _, signature = token.strip().partition(".")
    # A token is URL-safe base64 (ASCII): anything else is malformed, and compare_digest would
    # raise TypeError on a non-ASCII str instead of answering.
    if not payload or not signature or not token.isascii():
        raise InvalidToken("malformed unsubscribe token: expected <payload>.<signature>")
    if not hmac.compare_digest(signature, _signature(payload, secret)):
        raise InvalidToken("unsubscribe token signature does not verify (forged or from another secret)")
    try:
        customer, channel, campaign_id = _unb64(payload).decode().split(":", 2)
        return Unsubscribe(int(customer), channel, campaign_id)
    except (ValueError, UnicodeDecodeError) as error:  # signed but unreadable: a bug, not an attack
        raise InvalidToken(f"unsubscribe token payload is unreadable: {error}") from None


class UnsubscribeSecretMissing(RuntimeError):
    """No unsubscribe secret is configured: a link signed now could never be verified."""


class WeakUnsubscribeSecret(UnsubscribeSecretMissing):
    """The configured unsubscribe secret is too short to be one (empty, a word): fail closed."""


def checked_secret(secret: bytes, source: str) -> bytes:
    """`secret` if it has at least MIN_SECRET_BYTES; else WeakUnsubscribeSecret naming `source`."""
    if len(secret) < MIN_SECRET_BYTES:
        raise WeakUnsubscribeSecret(
            f"the unsubscribe secret from {source} has {len(secret)} bytes; at least "
            f"{MIN_SECRET_BYTES} are needed (a short key can be guessed from any link). Set a random "
            "one, e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`, the same value "
            "on every worker and on the unsubscribe endpoint"
        )
    return secret


def unsubscribe_secret() -> bytes:
    """The HMAC key: the `campaign_unsubscribe` connection's password, else the
    LIFTOFF_UNSUBSCRIBE_SECRET variable. Never invented here: every machine that signs a link (each
    worker's send task) and the endpoint that verifies it must hold the same key, so a key made up
    on one machine's disk would sign links nobody else can verify. The embedded stack generates one
    per state folder and exports it (`liftoff.devstack.stack.environment`).

    A key shorter than MIN_SECRET_BYTES raises WeakUnsubscribeSecret naming where it came from:
    the endpoint refuses to start and a send refuses to sign rather than accept forgeable links.
    """
    try:
        from airflow.sdk import BaseHook

        password = BaseHook.get_connection(UNSUBSCRIBE_CONN_ID).password
    except Exception:  # no such connection (or no Airflow): the next source applies
        password = None
    if password:
        source = f"the Airflow connection {UNSUBSCRIBE_CONN_ID!r} (its password)"
        return checked_secret(password.encode(), source)
    if UNSUBSCRIBE_SECRET_ENV in os.environ:
        return checked_secret(
            os.environ[UNSUBSCRIBE_SECRET_ENV].encode(), f"the environment variable {UNSUBSCRIBE_SECRET_ENV}"
        )
    raise UnsubscribeSecretMissing(
        f"no unsubscribe secret: set the password of the Airflow connection {UNSUBSCRIBE_CONN_ID!r} "
        f"or the environment variable {UNSUBSCRIBE_SECRET_ENV} (the same value on every worker and "
        "on the unsubscribe endpoint)"
    )


def local_unsubscribe_secret(state_dir: Path) -> str:
    """The embedded stack's unsubscribe secret: generated once into its state folder (one machine:
    the stack exports it to every process it starts), so links already sent stay valid. Written
    atomically, 0600 (liftoff.private_files); a file too short to be a key is refused, naming it."""
    path = state_dir / SECRET_FILE
    secret = generated_secret(path, lambda: secrets.token_urlsafe(MIN_SECRET_BYTES))
    checked_secret(secret.encode(), f"the file {path} (delete it to generate a new one)")
    return secret


def record_opt_out(dsn: str, customer_id: int, channel: str, reason: str, source: str) -> bool:
    """Store an opt-out (idempotent); True when it is new. The next campaign's audience and any
    batch not yet sent honour it."""
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}; expected one of {CHANNELS}")
    with psycopg.connect(dsn) as conn:
        inserted = conn.execute(
            "insert into campaign.opt_outs (customer_id, channel, reason, source) values (%s, %s, %s, %s)"
            " on conflict (customer_id, channel) do nothing returning 1",
            (customer_id, channel, reason, source),
        ).fetchone()
    return inserted is not None


class ConsentUnavailable(RuntimeError):
    """The CRM's opt-outs cannot be read: sending now could message someone who said no."""


def sync_crm_opt_outs(dsn: str, crm_dsn: str | None) -> int | None:
    """Copy the CRM's live opt-outs (crm.opt_outs, the CRM API's door) into campaign.crm_opt_outs,
    and the customers deleted in the CRM (crm.customers.deleted_at) into
    campaign.crm_deleted_customers: campaign.consent_exclusions reads both with every other
    opt-out (a deleted customer is out of every channel). Returns how many opt-outs were synced,
    None when there is no `crm` connection (then only the warehouse's own opt-outs exist).

    A configured CRM that cannot be reached raises ConsentUnavailable: the campaign stops rather
    than risk messaging someone who opted out there. A CRM database that was never migrated has
    no opt-out table, so nobody can have opted out through it: nothing to sync (logged).
    """
    if crm_dsn is None:
        log.info("no crm connection: only the warehouse's opt-outs (campaign.opt_outs) apply")
        return None
    try:
        with psycopg.connect(crm_dsn, connect_timeout=10) as crm:
            if crm.execute("select to_regclass('crm.opt_outs')").fetchone()[0] is None:
                log.warning("the CRM database has no crm.opt_outs (not migrated): no CRM opt-outs to sync")
                rows, deleted = [], []
            else:
                rows = crm.execute(
                    "select opt_out_id, customer_id, lower(email), channel, reason, created_at"
                    " from crm.opt_outs where deleted_at is null"
                ).fetchall()
                deleted = crm.execute(
                    "select customer_id, deleted_at from crm.customers where deleted_at is not null"
                ).fetchall()
    except psycopg.Error as error:
        raise ConsentUnavailable(
            f"the CRM's opt-outs cannot be read through the crm connection ({error}); the campaign "
            "stops rather than risk messaging someone who opted out. Restore the CRM (or remove "
            "the crm connection if there is no CRM) and re-run: nothing already sent is re-sent."
        ) from error
    with psycopg.connect(dsn) as conn:
        conn.execute("select pg_advisory_xact_lock(hashtext('liftoff.crm_opt_outs'))")
        conn.execute("delete from campaign.crm_opt_outs")
        with conn.cursor() as cursor:
            cursor.executemany(
                "insert into campaign.crm_opt_outs (opt_out_id, customer_id, email, channel, reason,"
                " created_at) values (%s, %s, %s, %s, %s, %s)",
                rows,
            )
        conn.execute("delete from campaign.crm_deleted_customers")
        with conn.cursor() as cursor:
            cursor.executemany(
                "insert into campaign.crm_deleted_customers (customer_id, deleted_at) values (%s, %s)",
                deleted,
            )
        if conn.execute("select to_regclass('silver.customers')").fetchone()[0] is not None:
            conn.execute(
                "update campaign.crm_opt_outs as opt_outs set customer_id = customers.customer_id"
                " from silver.customers as customers"
                " where opt_outs.customer_id is null and lower(customers.customer_email) = opt_outs.email"
            )
        unmatched = conn.execute(
            "select count(*) from campaign.crm_opt_outs where customer_id is null"
        ).fetchone()[0]
    if unmatched:
        log.warning("%d CRM opt-outs name an e-mail no customer has (yet)", unmatched)
    log.info("synced %d opt-outs and %d deleted customers from the CRM", len(rows), len(deleted))
    return len(rows)
