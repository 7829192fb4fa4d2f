"""``remote_gate``: the gate of a resource API in another process, in one call."""

from __future__ import annotations

import httpx

from propusk.core.catalog import MethodCatalog
from propusk.guard.gate import Gate
from propusk.guard.jwks import JWKSVerifier
from propusk.guard.ports import ReplayCache, TokenVerifier
from propusk.guard.remote.introspection import RemoteIntrospection
from propusk.guard.replay import LocalReplayCache
from propusk.guard.verifiers.api_key import ManagedApiKey
from propusk.guard.verifiers.bearer import BearerToken
from propusk.guard.verifiers.client_cert import CertificateSource
from propusk.guard.verifiers.digital_sign import DigitalSignature
from propusk.guard.verifiers.public_token import PublicToken

__all__ = ["remote_gate"]


def remote_gate(
    server_url: str,
    *,
    catalog: MethodCatalog,
    auth: httpx.Auth | None,
    revocation_delay: float = 1.0,
    jwks: bool = True,
    replay_cache: ReplayCache | None = None,
    issuer: str | None = None,
    client: httpx.AsyncClient | None = None,
    negative_ttl: float = 5.0,
    certificates: CertificateSource | None = None,
) -> Gate:
    """A :class:`Gate` that verifies every credential with the Propusk server at
    ``server_url`` (docs/guard.md#remote-mode). Its table, in this order:

    1. ``Authorization: Bearer``: locally from the server's JWKS (``jwks=True``: no call
       per request; access tokens are valid until their ``exp`` whatever happens on the
       server), or by introspection (``jwks=False``);
    2. ``Public-Token`` and 3. ``X-API-Key: propusk_…``: by introspection;
    4. ``X-Digital-Sign``: verified here, with the signing key's public half fetched by
       introspection, and a replay cache (``replay_cache``; default a
       :class:`~propusk.guard.replay.LocalReplayCache`, per process).

    ``auth`` authenticates this guard at the introspection endpoint (an account with
    the ``introspect`` role, e.g. ``propusk.client.PasswordAuth``); ``issuer`` is the
    server's ``issuer`` setting (default: ``server_url``); ``client`` is used for every
    call to the server (its lifetime is yours; without one, a client is made on first
    use and lives as long as the process); ``certificates`` says where a request's
    client certificate comes from, for tokens bound to one (RFC 8705): without it, a
    bound token is refused.
    """
    base = server_url.rstrip("/")
    remote = RemoteIntrospection(
        f"{base}/v1/introspect",
        auth=auth,
        client=client,
        revocation_delay=revocation_delay,
        negative_ttl=negative_ttl,
    )
    # `is None`, not `or`: an empty cache (len 0) is falsy and would be silently replaced.
    replays = LocalReplayCache() if replay_cache is None else replay_cache
    access: TokenVerifier = (
        JWKSVerifier(f"{base}/.well-known/jwks.json", issuer=issuer or base, client=client)
        if jwks
        else remote.access_tokens
    )
    return Gate(
        catalog=catalog,
        verifiers=[
            BearerToken(access),
            PublicToken(remote.public_tokens),
            ManagedApiKey(remote.api_keys),
            DigitalSignature(remote.partners, replays),
        ],
        certificates=certificates,
    )
