"""The composition root: settings → storage → services → gate → web app, in one place."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta

from propusk.config import ConfigError, Settings
from propusk.core.catalog import CatalogError, MethodCatalog, load_catalog
from propusk.core.changes import Changes
from propusk.core.passwords import PasswordPolicy
from propusk.demo import DEMO_CATALOG
from propusk.guard.gate import Gate
from propusk.guard.verifiers import Verifier
from propusk.guard.verifiers.api_key import ManagedApiKey
from propusk.guard.verifiers.bearer import BearerToken
from propusk.guard.verifiers.client_cert import CertificateSource, ClientCertificate
from propusk.guard.verifiers.digital_sign import DigitalSignature
from propusk.guard.verifiers.http_signature import HttpMessageSignature, policy_from
from propusk.guard.verifiers.node_key import NodeApiKey, configured_hashes
from propusk.guard.verifiers.public_token import PublicToken
from propusk.guard.verifiers.xml_password import XmlPassword
from propusk.services.accounts import Accounts
from propusk.services.api_keys import ApiKeys
from propusk.services.audit import Audit
from propusk.services.ca import CertificateAuthority
from propusk.services.certificates import Certificates
from propusk.services.clock import Clock, SystemClock
from propusk.services.exchange import Exchange
from propusk.services.health import Health
from propusk.services.keyring import Keyring, load_master_key
from propusk.services.mail import Mailer, create_mailer
from propusk.services.orgs import Orgs
from propusk.services.passwords import PasswordService
from propusk.services.response_signing import ResponseSigning
from propusk.services.service_keys import ServiceKeys
from propusk.services.sessions import Sessions
from propusk.services.signing_keys import SigningKeys
from propusk.services.throttle import LoginThrottle, LookupThrottle, MailThrottle
from propusk.storage.cache import Cache, create_cache
from propusk.storage.db import Database, is_sqlite
from propusk.storage.relay import RedisRelay

__all__ = [
    "Services",
    "build_gate",
    "build_services",
    "password_policy",
    "require_shared_state",
    "shared_state",
    "worker_count",
]


def password_policy(settings: Settings) -> PasswordPolicy:
    return PasswordPolicy(
        time_cost=settings.argon2_time_cost,
        memory_cost_kib=settings.argon2_memory_kib,
        parallelism=settings.argon2_parallelism,
        min_length=settings.password_min_length,
        max_bytes=settings.password_max_bytes,
    )


def catalog_from(settings: Settings) -> MethodCatalog:
    """The provider's method catalog, validated at start-up (the demo one by default)."""
    path = settings.method_catalog or DEMO_CATALOG
    try:
        return load_catalog(path)
    except (OSError, CatalogError) as exc:
        message = str(exc)
        raise ConfigError(
            message if str(path) in message else f"method catalog {path}: {message}"
        ) from None


def node_api_keys(settings: Settings) -> NodeApiKey:
    """X-API-Key checked against the node-style hashes in the settings (spec section 2)."""
    hashes = configured_hashes(
        {
            "admin": settings.api_key_hash,
            "privacy": settings.privacy_api_key_hash,
            "confidential_contracts": settings.confidential_contracts_api_key_hash,
        }
    )
    return NodeApiKey(hashes, waves_errors=settings.waves_errors)


def http_signatures(
    settings: Settings, keys: SigningKeys, cache: Cache, clock: Clock
) -> HttpMessageSignature:
    """RFC 9421 verification as the ``http_signature_*`` settings configure it."""
    try:
        policy = policy_from(
            settings.http_signature_components,
            max_age=settings.http_signature_max_age,
            clock_skew=settings.http_signature_clock_skew,
            require_nonce=settings.http_signature_require_nonce,
            label=settings.http_signature_label,
        )
    except ValueError as exc:
        raise ConfigError(f"http_signature_components: {exc}") from None
    return HttpMessageSignature(
        keys,
        cache,
        policy=policy,
        origin=settings.http_signature_origin,
        clock=lambda: clock.now().timestamp(),
    )


def certificate_source(settings: Settings) -> CertificateSource:
    """The client-certificate rule from the settings (docs/mtls.md)."""
    try:
        return CertificateSource(
            header=settings.client_cert_header,
            header_format=settings.client_cert_header_format,
            trusted_proxies=settings.trusted_proxies,
        )
    except ValueError as exc:
        raise ConfigError(f"trusted_proxies: {exc}") from None


@dataclass
class Services:
    settings: Settings
    db: Database
    clock: Clock
    cache: Cache
    mailer: Mailer
    audit: Audit
    keyring: Keyring
    passwords: PasswordService
    accounts: Accounts
    sessions: Sessions
    orgs: Orgs
    catalog: MethodCatalog
    service_keys: ServiceKeys
    api_keys: ApiKeys
    exchange: Exchange
    ca: CertificateAuthority
    certificates: Certificates
    signing_keys: SigningKeys
    response_signing: ResponseSigning
    # Where a request's client certificate comes from (TLS, or a trusted proxy's header).
    cert_source: CertificateSource
    # The one pipeline every guarded request goes through (docs/architecture.md).
    gate: Gate
    # Whether the database and Redis answer (/status, /readyz).
    health: Health
    # Carries credential changes to the other processes (None: this process is alone).
    relay: RedisRelay | None = None

    async def start(self) -> None:
        """What runs in the background while the server serves."""
        if self.relay is not None:
            await self.relay.start()

    async def close(self) -> None:
        if self.relay is not None:
            await self.relay.close()
        await self.api_keys.close()  # writes the pending lastUsedAt values
        await self.signing_keys.close()
        await self.cache.close()
        await self.db.dispose()


def build_services(
    settings: Settings,
    *,
    db: Database | None = None,
    clock: Clock | None = None,
    cache: Cache | None = None,
    mailer: Mailer | None = None,
    master_key: bytes | None = None,
) -> Services:
    db = db or Database.from_url(settings.effective_database_url)
    clock = clock or SystemClock()
    cache = cache or create_cache(settings.redis_url)
    mailer = mailer or create_mailer(settings)
    key = master_key if master_key is not None else load_master_key(settings)
    audit = Audit(db, clock)
    # Credential changes: every cache of credential state hears them, in this process at
    # once and, through Redis, in every other process and node (docs/deployment.md).
    changes = Changes()
    relay = RedisRelay.from_url(settings.redis_url, changes) if settings.redis_url else None
    changes.relay = relay
    keyring = Keyring(
        db,
        key,
        clock,
        jwe_rotation=timedelta(seconds=settings.jwe_key_rotation),
        jwe_token_ttl=timedelta(seconds=settings.service_token_ttl),
    )
    passwords = PasswordService(password_policy(settings))
    throttle = LoginThrottle(
        cache,
        per_account=settings.login_max_failures_per_account,
        per_ip=settings.login_max_failures_per_ip,
        window=settings.login_failure_window,
    )
    sessions = Sessions(db, clock, audit, keyring, passwords, throttle, settings, changes=changes)
    orgs = Orgs(db, clock, audit, settings)
    catalog = catalog_from(settings)
    service_keys = ServiceKeys(db, clock, audit, orgs, catalog, changes=changes)
    exchange = Exchange(db, clock, audit, keyring, cache, settings, changes=changes)
    api_keys = ApiKeys(db, clock, audit, orgs, keyring, catalog, settings, changes=changes)
    ca = CertificateAuthority(db, clock, audit, keyring, settings)
    certificates = Certificates(db, clock, audit, orgs, catalog, ca, settings, changes=changes)
    signing_keys = SigningKeys(
        db, clock, audit, orgs, catalog, passwords, settings, changes=changes
    )
    cert_source = certificate_source(settings)
    return Services(
        settings=settings,
        db=db,
        clock=clock,
        cache=cache,
        mailer=mailer,
        audit=audit,
        keyring=keyring,
        passwords=passwords,
        accounts=Accounts(
            db,
            clock,
            audit,
            mailer,
            passwords,
            settings,
            MailThrottle(
                cache,
                per_address=settings.mail_max_per_address,
                per_ip=settings.mail_max_per_ip,
                window=settings.mail_window,
            ),
            LookupThrottle(
                cache,
                per_address=settings.lookup_max_per_address,
                per_ip=settings.lookup_max_per_ip,
                window=settings.lookup_window,
            ),
            changes=changes,
        ),
        sessions=sessions,
        orgs=orgs,
        catalog=catalog,
        service_keys=service_keys,
        api_keys=api_keys,
        exchange=exchange,
        ca=ca,
        certificates=certificates,
        signing_keys=signing_keys,
        response_signing=ResponseSigning(keyring),
        cert_source=cert_source,
        health=Health(db, cache),
        relay=relay,
        gate=build_gate(
            settings,
            catalog=catalog,
            clock=clock,
            cert_source=cert_source,
            verifiers=[
                BearerToken(sessions),
                PublicToken(exchange),
                ManagedApiKey(api_keys),
                node_api_keys(settings),
                # Mutual TLS: the connection's client certificate (docs/mtls.md).
                ClientCertificate(cert_source, certificates),
                # RFC 9421 Signature-Input/Signature by a signing key (docs/http-signatures.md).
                http_signatures(settings, signing_keys, cache, clock),
                # Body signatures and the XML password last (after client certificates and
                # RFC 9421): they make the gate read the body (docs/signing-keys.md).
                DigitalSignature(signing_keys, cache),
                XmlPassword(signing_keys),
            ],
        ),
    )


def build_gate(
    settings: Settings,
    *,
    catalog: MethodCatalog,
    clock: Clock,
    cert_source: CertificateSource,
    verifiers: list[Verifier],
) -> Gate:
    """The gate over ``verifiers``, in the order credentials are looked for."""
    node_keys = [v for v in verifiers if isinstance(v, NodeApiKey) and v.configured]
    # With waves_errors, a node-style deployment answers a missing key as a node in
    # API-key mode does (error 2); otherwise a Waves route says 618.
    node_mode = settings.waves_errors and bool(node_keys)
    return Gate(
        catalog=catalog,
        verifiers=verifiers,
        certificates=cert_source,
        anonymous_dialect="waves" if node_mode else None,
        waves_api_key_mode=node_mode,
        qiwi_http_200=settings.qiwi_errors_http_200,
        clock=lambda: clock.now().timestamp(),
    )


def shared_state(settings: Settings) -> bool:
    """True when every piece of state lives outside the process: PostgreSQL and Redis."""
    return bool(settings.redis_url) and not is_sqlite(settings.effective_database_url)


def worker_count(settings: Settings, requested: str | None) -> int:
    """The number of server processes: ``requested`` is a number, ``auto`` (one per core
    this process may run on), or None for the default: ``auto`` on shared state, else 1."""
    if requested is None:
        requested = "auto" if shared_state(settings) else "1"
    if requested == "auto":
        return max(1, len(os.sched_getaffinity(0)))
    if not requested.isascii() or not requested.isdigit() or not 1 <= int(requested) <= 256:
        raise ConfigError(f"workers must be a number from 1 to 256 or auto, not {requested!r}")
    return int(requested)


def require_shared_state(settings: Settings, processes: int) -> None:
    """Refuse to run several processes on state that only one process can hold: replay
    caches, throttles and console sessions live in process memory without ``redis_url``,
    and SQLite takes one writer process at a time."""
    if processes <= 1:
        return
    if not settings.redis_url:
        raise ConfigError(
            f"{processes} processes need shared state: set redis_url (PROPUSK_REDIS_URL);"
            " without it replay caches, throttles and sessions live in one process's memory"
        )
    if is_sqlite(settings.effective_database_url):
        raise ConfigError(
            f"{processes} processes need a shared database: set database_url"
            " (PROPUSK_DATABASE_URL) to PostgreSQL; SQLite takes one writer process at a time"
        )
