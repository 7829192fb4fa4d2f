"""Mutual TLS for httpx: a client context from the certificate Propusk's CA issued.

    context = client_ssl_context("my_cert.pem", "private.key", "ca.pem")
    with httpx.Client(verify=context, timeout=10) as http:
        http.get("https://api.example.com/demo/apps/APP/reviews")

The certificate comes from ``GET /v1/orgs/{org}/certificates/{serial}`` (or ``propusk cert
fetch``), the key is the one the CSR was made with (``openssl req -new -nodes -newkey
rsa:2048 …`` or ``propusk csr``), and ``ca`` is the CA that signed the *server's*
certificate — the Propusk CA (``GET /v1/ca/certificate``) when the server's TLS certificate
comes from it too, or the system store (``ca=None``) for a public one.

Token flows combine with it: ``httpx.Client(verify=context, auth=ServiceKeyAuth(...))``;
with certificate-bound tokens (RFC 8705) the token is then usable only over this context.
"""

from __future__ import annotations

import os
import ssl

__all__ = ["client_ssl_context"]

StrPath = str | os.PathLike[str]


def client_ssl_context(
    cert: StrPath,
    key: StrPath,
    ca: StrPath | None = None,
    *,
    key_password: str | None = None,
) -> ssl.SSLContext:
    """An ``ssl.SSLContext`` for httpx (``verify=``) that presents ``cert``/``key``.

    TLS 1.2 or later; server certificates and host names are verified, against ``ca``
    (a PEM file, may hold several certificates) or the system's trust store. Files that
    are missing or do not match raise ``OSError`` / ``ssl.SSLError`` here, not at the
    first request.
    """
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key, password=key_password)
    return context
