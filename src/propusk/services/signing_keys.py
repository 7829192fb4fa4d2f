"""Signing keys (spec section 3): partners' public keys for signed requests, registered by
an organization and scoped to its apps and methods like every other credential.

A key may carry a ``login`` (sent by the partner as ``X-Digital-Sign-Login``) and a
``terminalId`` (the ``<terminal-id>`` of its XML requests). Both identify the partner
without any organization in the request, so each is unique across the server.

Verifiers read keys through :meth:`SigningKeys.partner_by_id` and friends, inherited from
:class:`~propusk.services.partner_keys.PartnerDirectory`.
"""

from __future__ import annotations

import ipaddress
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from propusk.config import Settings
from propusk.core import digital_sign
from propusk.core.catalog import MethodCatalog
from propusk.core.errors import Conflict, InvalidRequest
from propusk.core.identifiers import check_name
from propusk.services.audit import Origin
from propusk.services.credentials import CredentialKind, KeyView, Switchable
from propusk.services.partner_keys import TERMINAL_ID, PartnerDirectory, PartnerKey
from propusk.services.passwords import PasswordService
from propusk.services.scopes import KeyScope, resolve_scope
from propusk.services.views import view_of
from propusk.storage.models import SigningKey

__all__ = ["KeyOptions", "PartnerKey", "SigningKeyView", "SigningKeys"]

log = logging.getLogger("propusk.signing_keys")
NOT_FOUND = "No such signing key"
MANAGE: Final = "manage_signing_keys"
MAX_NETWORKS = 100
MAX_REPLAY_WINDOW = 86400
LEGACY_WARNING = (
    "{algs} use a broken hash (collisions can be forged); enabled for this key only because"
    " it was asked for. Move the partner to SHA256withRSA or better."
)


@dataclass(frozen=True)
class SigningKeyView(KeyView):
    """A partner's signing key and how it may be used; ``warnings`` only in the answer to
    the change that enabled a legacy algorithm."""

    key_type: str
    public_key_pem: str
    login: str | None
    terminal_id: str | None
    algorithms: tuple[str, ...]
    allowed_ips: tuple[str, ...]
    has_password: bool
    replay_window: int
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class KeyOptions:
    """The optional parts of a create or update; ``None`` = not given (keep as it is)."""

    algorithms: list[str] | None = None
    allow_legacy: bool = False
    login: str | None = None
    terminal_id: str | None = None
    allowed_ips: list[str] | None = None
    password: str | None = None
    replay_window: int | None = None


def _key_view(
    row: SigningKey, last_used_at: datetime | None, warnings: tuple[str, ...]
) -> SigningKeyView:
    return view_of(
        SigningKeyView,
        row,
        public_key_pem=digital_sign.public_pem(digital_sign.load_public_der(row.public_der)),
        has_password=row.password_hash is not None,
        last_used_at=last_used_at,
        warnings=warnings,
    )


def _check_login(value: str) -> str:
    if not 1 <= len(value) <= 128 or value != value.strip():
        raise InvalidRequest("login must be 1-128 characters without surrounding spaces")
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise InvalidRequest("login must be printable")
    return value


def _check_terminal(value: str) -> str:
    if TERMINAL_ID.fullmatch(value) is None:
        raise InvalidRequest("terminalId must be 1-64 letters, digits, '.', '_' or '-'")
    return value


def _check_networks(values: list[str]) -> list[str]:
    if len(values) > MAX_NETWORKS:
        raise InvalidRequest(f"allowedIps holds at most {MAX_NETWORKS} entries")
    out = []
    for value in values:
        try:
            out.append(str(ipaddress.ip_network(value.strip(), strict=False)))
        except ValueError:
            problem = f"allowedIps: {value[:64]!r} is not an address or network"
            raise InvalidRequest(problem) from None
    return sorted(set(out))


def _check_password(value: str | None) -> str | None:
    """The XML password, or None. It travels in ``<extra name="password">``, where XML 1.0
    cannot carry control characters (NUL not even as ``&#0;``): a password holding one could
    never be presented, so it is refused here rather than stored as a dead credential."""
    if value and any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise InvalidRequest("password must not contain control characters")
    return value


def _check_window(value: int) -> int:
    if not 0 <= value <= MAX_REPLAY_WINDOW:
        raise InvalidRequest(f"replayWindow must be 0 to {MAX_REPLAY_WINDOW} seconds")
    return value


@dataclass(eq=False, repr=False)
class SigningKeys(Switchable[SigningKey, SigningKeyView], PartnerDirectory):
    """Signing keys of organizations: management here, verifiers' lookups inherited."""

    catalog: MethodCatalog
    passwords: PasswordService
    settings: Settings

    kind = CredentialKind(SigningKey, "signing_key", MANAGE, NOT_FOUND)

    def _view(self, row: SigningKey, warnings: tuple[str, ...] = ()) -> SigningKeyView:
        return _key_view(row, self._used.latest(row.key_id, row.last_used_at), warnings)

    def _forget(self, key_id: str) -> None:
        self.changes.changed("signing-key", key_id)

    # -- management ---------------------------------------------------------------------

    async def _unique(
        self, session: AsyncSession, key_id: str, login: str | None, terminal: str | None
    ) -> None:
        for column, value, what in (
            (SigningKey.login, login, "login"),
            (SigningKey.terminal_id, terminal, "terminalId"),
        ):
            if value is None:
                continue
            other = await session.scalar(
                select(SigningKey.key_id).where(column == value, SigningKey.key_id != key_id)
            )
            if other is not None:
                raise Conflict(f"this {what} is already registered on this server")

    def _legacy_warnings(
        self,
        session: AsyncSession,
        actor: str,
        org_id: str,
        key_id: str,
        origin: Origin,
        added: set[str],
    ) -> tuple[str, ...]:
        legacy = sorted(added & digital_sign.LEGACY)
        if not legacy:
            return ()
        text = LEGACY_WARNING.format(algs=" and ".join(legacy))
        data = {"algorithms": legacy}
        event = "legacy_algorithm_enabled"
        self._event(session, event, actor, origin, org_id, key_id, data, outcome="warning")
        log.warning("signing key %s: legacy algorithms %s enabled", key_id, ", ".join(legacy))
        return (text,)

    async def create(
        self,
        actor: str,
        org_id: str,
        name: str,
        public_key_pem: str,
        scope: KeyScope,
        origin: Origin,
        options: KeyOptions,
    ) -> SigningKeyView:
        clean = check_name(name)
        key = digital_sign.load_public_pem(public_key_pem)
        requested = options.algorithms or self._default_algorithms(key)
        algorithms = digital_sign.check_algorithms(
            key, requested, allow_legacy=options.allow_legacy
        )
        login = _check_login(options.login) if options.login is not None else None
        terminal = _check_terminal(options.terminal_id) if options.terminal_id else None
        networks = _check_networks(options.allowed_ips or [])
        window = _check_window(options.replay_window or 0)
        password = _check_password(options.password)
        async with self.db.read() as session:
            await self._require_manager(session, org_id, actor)
        # argon2 outside the unit of work: it takes tens of milliseconds.
        hashed = await self.passwords.hash(password) if password else None
        key_id = str(uuid.uuid4())
        now = self.clock.now()
        try:
            async with self.db.session() as session:
                await self._require_manager(session, org_id, actor)
                apps, methods = await resolve_scope(session, self.catalog, org_id, scope)
                await self._unique(session, key_id, login, terminal)
                row = SigningKey(
                    key_id=key_id,
                    org_id=org_id,
                    name=clean,
                    public_der=digital_sign.public_der(key),
                    key_type=digital_sign.key_type(key),
                    login=login,
                    terminal_id=terminal,
                    algorithms=algorithms,
                    apps=apps,
                    methods=methods,
                    allowed_ips=networks,
                    password_hash=hashed,
                    replay_window=window,
                    status="active",
                    created_at=now,
                    updated_at=now,
                )
                session.add(row)
                data = {
                    "name": clean,
                    "type": row.key_type,
                    "algorithms": algorithms,
                    "apps": apps,
                    "methods": methods,
                    "login": login,
                    "terminal_id": terminal,
                    "allowed_ips": networks,
                    "xml_auth": hashed is not None,  # the audit refuses names like "password"
                    "replay_window": window,
                }
                self._event(session, "created", actor, origin, org_id, key_id, data)
                warnings = self._legacy_warnings(
                    session, actor, org_id, key_id, origin, set(algorithms)
                )
                view = self._view(row, warnings)
        except IntegrityError:  # a concurrent create took the login or terminal id
            raise Conflict("this login or terminalId is already registered") from None
        return view

    @staticmethod
    def _default_algorithms(key: digital_sign.PartnerPublicKey) -> list[str]:
        kind = digital_sign.key_type(key)
        return {
            "rsa": ["SHA256withRSA"],
            "ec-p256": ["SHA256withECDSA"],
            "ec-p384": ["SHA384withECDSA"],
        }.get(kind, ["Ed25519"])

    async def update(
        self,
        actor: str,
        org_id: str,
        key_id: str,
        origin: Origin,
        *,
        name: str | None = None,
        scope: KeyScope | None = None,
        options: KeyOptions,
        clear_password: bool = False,
    ) -> SigningKeyView:
        clean = check_name(name) if name is not None else None
        networks = _check_networks(options.allowed_ips) if options.allowed_ips is not None else None
        window = _check_window(options.replay_window) if options.replay_window is not None else None
        login = _check_login(options.login) if options.login is not None else None
        terminal = _check_terminal(options.terminal_id) if options.terminal_id else None
        password = _check_password(options.password)
        async with self.db.read() as session:
            await self._require_manager(session, org_id, actor)
            await self._row(session, org_id, key_id)
        hashed = await self.passwords.hash(password) if password else None
        try:
            async with self.db.session() as session:
                await self._require_manager(session, org_id, actor)
                row = await self._row(session, org_id, key_id)
                changes: dict[str, object] = {}
                warnings: tuple[str, ...] = ()
                await self._rename_rescope(session, row, org_id, clean, scope, changes)
                if options.algorithms is not None:
                    key = digital_sign.load_public_der(row.public_der)
                    algs = digital_sign.check_algorithms(
                        key, options.algorithms, allow_legacy=options.allow_legacy
                    )
                    if algs != list(row.algorithms):
                        added = set(algs) - set(row.algorithms)
                        row.algorithms = changes["algorithms"] = algs
                        warnings = self._legacy_warnings(
                            session, actor, org_id, key_id, origin, added
                        )
                if networks is not None and networks != list(row.allowed_ips):
                    row.allowed_ips = changes["allowed_ips"] = networks
                if window is not None and window != row.replay_window:
                    row.replay_window = changes["replay_window"] = window
                if (login is not None and login != row.login) or (
                    terminal is not None and terminal != row.terminal_id
                ):
                    await self._unique(session, key_id, login, terminal)
                    if login is not None and login != row.login:
                        row.login = changes["login"] = login
                    if terminal is not None and terminal != row.terminal_id:
                        row.terminal_id = changes["terminal_id"] = terminal
                if hashed is not None or (clear_password and row.password_hash is not None):
                    row.password_hash = hashed
                    changes["xml_auth"] = "set" if hashed else "removed"
                self._updated(session, row, actor, origin, org_id, changes)
                view = self._view(row, warnings)
        except IntegrityError:
            raise Conflict("this login or terminalId is already registered") from None
        self._forget(key_id)
        return view
