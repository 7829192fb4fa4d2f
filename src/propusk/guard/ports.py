"""What the gate needs from the world, as Protocols.

The guard is embedded in resource APIs that are not Propusk, so it names its needs here
and imports no implementation: Propusk's server plugs in its services and storage
(``propusk.wiring``), a resource API in another process plugs in the remote verifiers of
:mod:`propusk.guard.remote`, and tests plug in whatever they like.

============================  =========================================  ======================
port                          what it answers                            server side
============================  =========================================  ======================
:class:`TokenVerifier`        key look-up and revocation of a token      ``Sessions``,
                              (JWT, Public-Token, managed API key)       ``Exchange``, ``ApiKeys``
:class:`PartnerDirectory`     signing keys by id, login or terminal      ``SigningKeys``
:class:`PasswordDirectory`    the above, plus the XML terminal password  ``SigningKeys``
:class:`CertificateVerifier`  what a client certificate may do           ``Certificates``
:class:`ReplayCache`          "first use of this marker?"                ``storage.cache``
:data:`WallClock`             seconds since the epoch                    ``SystemClock``
:class:`AuditSink`            where refusals are reported                ``LogAudit`` (below)
:class:`ResponseSigner`       signatures of response bodies              ``ResponseSigning``
============================  =========================================  ======================

In remote mode (:mod:`propusk.guard.remote`): ``RemoteIntrospection``'s token verifiers or
``JWKSVerifier`` (JWT), ``RemotePartners`` (a PartnerDirectory only: the password hash
stays on the server) and ``LocalReplayCache``; no certificate verifier.

The method catalog is :class:`propusk.core.catalog.MethodCatalog`: pure data, loaded once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

from cryptography import x509

from propusk.core import digital_sign
from propusk.core.principals import AuthMethod, Principal

__all__ = [
    "AuditSink",
    "CertificateVerifier",
    "LogAudit",
    "Partner",
    "PartnerDirectory",
    "PasswordDirectory",
    "ReplayCache",
    "ResponseSigner",
    "TokenVerifier",
    "WallClock",
]

WallClock = Callable[[], float]
"""Seconds since the epoch (``time.time`` in production; a fixed value in tests)."""


class TokenVerifier(Protocol):
    """Turns a presented token into a Principal, or raises InvalidToken/TokenExpired.

    Revocation is the verifier's business: a revoked or disabled credential raises.
    """

    async def verify(self, token: str) -> Principal: ...


class Partner(Protocol):
    """What the signature verifiers need of a signing key."""

    @property
    def key_id(self) -> str: ...
    @property
    def public_key(self) -> digital_sign.PartnerPublicKey: ...
    @property
    def algorithms(self) -> frozenset[str]: ...
    @property
    def replay_window(self) -> int: ...

    def principal(self, method: AuthMethod) -> Principal: ...
    def address_allowed(self, address: str | None) -> bool: ...


class PartnerDirectory(Protocol):
    """Signing keys by id, login or terminal; None for unknown or disabled ones.

    Everything here is public data (a public key and its scope), so a resource API in
    another process can have it too (:class:`propusk.guard.remote.RemotePartners`).
    """

    async def partner_by_id(self, key_id: str) -> Partner | None: ...
    async def partner_by_login(self, login: str) -> Partner | None: ...
    async def partner_by_terminal(self, terminal_id: str) -> Partner | None: ...
    async def note_used(self, key_id: str) -> None: ...


class PasswordDirectory(PartnerDirectory, Protocol):
    """A directory that can also check a terminal's XML password.

    Separate because the password's argon2id hash must never leave the server: only the
    server's own directory implements it, so the XML password scheme works only there.
    """

    async def check_password(self, partner: Partner | None, password: str) -> bool: ...


class CertificateVerifier(Protocol):
    """Decides what a client certificate may do: issued by the CA, valid, not revoked."""

    async def principal_for(self, cert: x509.Certificate) -> Principal: ...


class ReplayCache(Protocol):
    async def add(self, key: str, ttl: int) -> bool:
        """Set ``key`` for ``ttl`` seconds if absent; True when this call set it. An
        implementation that cannot remember must answer False (fail closed)."""
        ...


class AuditSink(Protocol):
    """Told of every refusal, once, by whichever entry point refused."""

    def refused(
        self, entry: str, verb: str, path: str, method: AuthMethod | None, code: str, why: str
    ) -> None: ...


class ResponseSigner(Protocol):
    """Signs response bodies with the provider's key: returns (algorithm, Base64)."""

    async def sign_body(self, body: bytes) -> tuple[str, str]: ...


class LogAudit:
    """Refusals into the ``propusk.guard`` log: INFO from an embedded guard, DEBUG from
    forward-auth, where the caller controls how many refusals there are."""

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self._log = logger or logging.getLogger("propusk.guard")

    def refused(
        self, entry: str, verb: str, path: str, method: AuthMethod | None, code: str, why: str
    ) -> None:
        level = logging.DEBUG if entry == "forward-auth" else logging.INFO
        if self._log.isEnabledFor(level):
            # repr: the path and the reason may carry the caller's text (forged log lines).
            self._log.log(
                level,
                "%s: %s %r refused (%s): %s %r",
                entry,
                verb,
                path[:200],
                method or "-",
                code,
                why,
            )
