"""Introspection answers read strictly: the server's JSON becomes a :class:`Principal` or a
:class:`RemotePartner` field by field, or it is refused.

Two kinds of refusal, because they mean different things:

- :class:`MalformedAnswer`: the answer is not what a Propusk server sends (wrong types,
  oversized lists, a key that does not load). The server, a proxy in between or the URL
  is wrong; the credential may be fine. The caller answers 503 and caches nothing.
- :class:`~propusk.core.errors.InvalidToken`: a well-formed answer that does not make the
  credential valid *here*, e.g. an active account token presented as a ``Public-Token``.
  That is the credential's fault, and as final as ``{"active": false}``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field

from propusk.core import digital_sign
from propusk.core.cnf import read_cnf
from propusk.core.errors import InvalidToken, PropuskError
from propusk.core.networks import Network
from propusk.core.partner_identity import PartnerIdentity
from propusk.core.principals import AUTH_METHODS, AuthMethod, Principal

__all__ = ["MalformedAnswer", "RemotePartner", "partner_from", "principal_from"]

MAX_TEXT = 512  # ids, names: far longer than any Propusk id (a UUID is 36)
MAX_ITEMS = 10_000  # methods, apps, roles, networks
MAX_REPLAY_WINDOW = 86_400


class MalformedAnswer(Exception):
    """The introspection endpoint answered something that is not a Propusk answer."""


def _text(answer: Mapping[str, object], name: str, *, optional: bool = False) -> str | None:
    value = answer.get(name)
    if value is None and optional:
        return None
    if type(value) is not str or not value or len(value) > MAX_TEXT:
        raise MalformedAnswer(f"{name} is not a short non-empty string")
    return value


def _required(answer: Mapping[str, object], name: str) -> str:
    value = _text(answer, name)
    assert value is not None
    return value


def _names(answer: Mapping[str, object], name: str, *, optional: bool) -> frozenset[str] | None:
    value = answer.get(name)
    if value is None and optional:
        return None
    if type(value) is not list or len(value) > MAX_ITEMS:
        raise MalformedAnswer(f"{name} is not a list of at most {MAX_ITEMS} names")
    for item in value:
        if type(item) is not str or not item or len(item) > MAX_TEXT:
            raise MalformedAnswer(f"{name} holds something other than short strings")
    return frozenset(value)


def _integer(answer: Mapping[str, object], name: str) -> int | None:
    value = answer.get(name)
    if value is None:
        return None
    if type(value) is not int:  # bool is an int subclass: `type(...) is` refuses it
        raise MalformedAnswer(f"{name} is not an integer")
    return value


def principal_from(answer: Mapping[str, object], expected: AuthMethod) -> Principal:
    """The Principal an active token answer describes; ``expected`` is the credential
    kind of the header it came in (``service-key`` for ``Public-Token``, …)."""
    method = answer.get("auth_method")
    if type(method) is not str or method not in AUTH_METHODS:
        raise MalformedAnswer("auth_method is missing or unknown (no remote-mode fields?)")
    if method != expected:
        # Each header takes its own kind only, as on the server (an account token sent
        # as Public-Token is refused there by the exchange, here by this check).
        raise InvalidToken(detail=f"introspection: a {method} credential presented as {expected}")
    methods = _names(answer, "methods", optional=True)
    apps = _names(answer, "apps", optional=True)
    roles = _names(answer, "roles", optional=True) or frozenset()
    try:
        thumbprint = read_cnf(answer)
    except PropuskError as exc:
        raise MalformedAnswer("cnf is not an x5t#S256 binding") from exc
    return Principal(
        subject=_required(answer, "sub"),
        method=expected,
        roles=roles,
        kind=_required(answer, "propusk_kind"),
        org_id=_text(answer, "org", optional=True),
        methods=methods,
        apps=apps,
        cert_thumbprint=thumbprint,
        token_id=_text(answer, "jti", optional=True),
        expires_at=_integer(answer, "exp"),
    )


@dataclass(frozen=True)
class RemotePartner(PartnerIdentity):
    """A signing key as the server described it: the :class:`~propusk.guard.ports.Partner`
    the signature verifiers need, public data only."""

    key_id: str
    org_id: str | None
    kind: str
    public_key: digital_sign.PartnerPublicKey
    algorithms: frozenset[str]
    replay_window: int
    allowed_networks: tuple[Network, ...]  # empty: any address
    methods: frozenset[str]
    apps: frozenset[str] | None
    _principals: dict[AuthMethod, Principal] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )


def _networks(answer: Mapping[str, object]) -> tuple[Network, ...]:
    names = _names(answer, "allowed_networks", optional=False)
    assert names is not None
    try:
        return tuple(sorted((ipaddress.ip_network(n) for n in names), key=str))
    except ValueError as exc:
        raise MalformedAnswer("allowed_networks holds something that is not a network") from exc


def partner_from(answer: Mapping[str, object]) -> RemotePartner:
    """The signing key an active ``signing_key`` answer describes."""
    pem = answer.get("public_key")
    if type(pem) is not str:
        raise MalformedAnswer("public_key is not a PEM text")
    try:
        # The same checks as on upload: size, one block, no private key, key strength.
        public_key = digital_sign.load_public_pem(pem)
    except PropuskError as exc:
        raise MalformedAnswer(f"public_key: {exc.message}") from exc
    algorithms = _names(answer, "algorithms", optional=False)
    assert algorithms is not None
    # Names this guard does not know are dropped (a newer server may know more); names
    # that do not fit the key are refused by digital_sign.verify itself.
    known = frozenset(a for a in algorithms if a in digital_sign.ALGORITHMS)
    window = _integer(answer, "replay_window") or 0
    if not 0 <= window <= MAX_REPLAY_WINDOW:
        raise MalformedAnswer("replay_window is out of range")
    methods = _names(answer, "methods", optional=False)
    assert methods is not None
    return RemotePartner(
        key_id=_required(answer, "key_id"),
        org_id=_text(answer, "org", optional=True),
        kind=_text(answer, "propusk_kind", optional=True) or "signing-key",
        public_key=public_key,
        algorithms=known,
        replay_window=window,
        allowed_networks=_networks(answer),
        methods=methods,
        apps=_names(answer, "apps", optional=True),
    )
