"""Remote mode: the guard in a resource API that runs in another process than Propusk.

The credentials a resource API receives are checked with the Propusk server over HTTP:

- tokens and API keys by RFC 7662 introspection (``POST /v1/introspect``), with a short
  positive cache (never past ``exp``, never longer than the revocation delay) and a
  bounded negative cache (:class:`RemoteIntrospection`);
- account access tokens, optionally, locally from the JWKS
  (:class:`~propusk.guard.jwks.JWKSVerifier`);
- ``X-Digital-Sign`` here, with the signing key's public half fetched by introspection
  (:class:`RemotePartners`) and the same verifier module the server uses.

:func:`remote_gate` builds the whole table; docs/guard.md#remote-mode explains it.
"""

from __future__ import annotations

from propusk.guard.remote.answers import MalformedAnswer, RemotePartner
from propusk.guard.remote.build import remote_gate
from propusk.guard.remote.introspection import (
    IntrospectedTokens,
    IntrospectionUnavailable,
    RemoteIntrospection,
    RemotePartners,
)
from propusk.guard.replay import LocalReplayCache

__all__ = [
    "IntrospectedTokens",
    "IntrospectionUnavailable",
    "LocalReplayCache",
    "MalformedAnswer",
    "RemoteIntrospection",
    "RemotePartner",
    "RemotePartners",
    "remote_gate",
]
