"""The guard: what a resource API embeds (ASGI middleware, FastAPI dependency) or calls
(forward-auth) to enforce Propusk's decisions.

Everything goes through one :class:`Gate`: a table of verifiers (one per credential kind),
the method catalog, and the dialect rules for refusals. The guard imports no storage,
services, web framework or configuration of the server: what it needs from the world is
named in :mod:`propusk.guard.ports`, and a resource API in another process plugs in the
remote verifiers of :mod:`propusk.guard.remote`.
"""

from __future__ import annotations

from propusk.core.principals import AuthMethod, Principal
from propusk.guard.dependency import GateRefused, GuardDependency, install
from propusk.guard.dialects import Answer, render
from propusk.guard.gate import Gate, Passed, Refusal
from propusk.guard.jwks import JWKSUnavailable, JWKSVerifier
from propusk.guard.middleware import DECISION_KEY, PRINCIPAL_KEY, PropuskGuard, principal_of
from propusk.guard.remote import IntrospectionUnavailable, RemoteIntrospection, remote_gate
from propusk.guard.replay import LocalReplayCache
from propusk.guard.request import RequestView, request_view
from propusk.guard.verifiers import Verifier
from propusk.guard.verifiers.api_key import ManagedApiKey
from propusk.guard.verifiers.bearer import BearerToken
from propusk.guard.verifiers.client_cert import CertificateSource, ClientCertificate
from propusk.guard.verifiers.digital_sign import DigitalSignature
from propusk.guard.verifiers.http_signature import HttpMessageSignature
from propusk.guard.verifiers.node_key import NodeApiKey, configured_hashes
from propusk.guard.verifiers.public_token import PublicToken
from propusk.guard.verifiers.xml_password import XmlPassword

__all__ = [
    "DECISION_KEY",
    "PRINCIPAL_KEY",
    "Answer",
    "AuthMethod",
    "BearerToken",
    "CertificateSource",
    "ClientCertificate",
    "DigitalSignature",
    "Gate",
    "GateRefused",
    "GuardDependency",
    "HttpMessageSignature",
    "IntrospectionUnavailable",
    "JWKSUnavailable",
    "JWKSVerifier",
    "LocalReplayCache",
    "ManagedApiKey",
    "NodeApiKey",
    "Passed",
    "Principal",
    "PropuskGuard",
    "PublicToken",
    "Refusal",
    "RemoteIntrospection",
    "RequestView",
    "Verifier",
    "XmlPassword",
    "configured_hashes",
    "install",
    "principal_of",
    "remote_gate",
    "render",
    "request_view",
]
