"""Client certificates: where the guard finds one, and who it makes the caller.

A client certificate reaches Propusk in one of two ways:

1. **Direct TLS.** The server terminated TLS itself and verified the chain in the
   handshake; the ASGI TLS extension (``scope["extensions"]["tls"]["client_cert_chain"]``)
   carries it, and :func:`propusk.guard.request.request_view` puts its DER into
   ``RequestView.extra["tls_client_cert"]``.
2. **A TLS-terminating proxy** (nginx, Envoy) forwards it in a header. A certificate is
   public — anyone who has seen it can paste it into a header — so the header proves
   nothing by itself; it means "this client proved it holds the key" only when the proxy
   that did the handshake wrote it. It is therefore read **only** when the direct peer is
   one of ``trusted_proxies``; from anyone else it is ignored and logged.

:class:`CertificateSource` applies that rule; :class:`ClientCertificate` hands the
certificate to a :class:`~propusk.guard.ports.CertificateVerifier` (Propusk's
``Certificates.principal_for``), which decides: issued by the Propusk CA, within
validity, EKU clientAuth, not revoked. The gate uses the same source to hold a token
bound to a certificate (RFC 8705 ``cnf.x5t#S256``) to that certificate.
"""

from __future__ import annotations

import base64
import ipaddress
import logging
import re
from collections.abc import Iterable
from typing import Literal
from urllib.parse import unquote

from cryptography import x509

from propusk.core.catalog import Dialect
from propusk.core.errors import InvalidToken
from propusk.core.principals import Principal
from propusk.guard.ports import CertificateVerifier
from propusk.guard.request import TLS_CLIENT_CERT, RequestView

__all__ = [
    "CertificateSource",
    "ClientCertificate",
    "HeaderFormat",
    "parse_escaped_pem",
    "parse_xfcc",
]

log = logging.getLogger("propusk.guard")

HeaderFormat = Literal["nginx", "envoy"]
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_PEM_BEGIN = "-----BEGIN CERTIFICATE-----"
_PEM_END = "-----END CERTIFICATE-----"


def _pem_to_der(pem: str) -> bytes:
    """The first certificate of a PEM text (a proxy may append the chain after the leaf),
    strictly: Base64 with nothing but whitespace around it."""
    pem = pem.strip()
    if not pem.startswith(_PEM_BEGIN):
        raise ValueError("not a PEM certificate")
    end = pem.find(_PEM_END)
    if end < 0:
        raise ValueError("no PEM end line")
    body = "".join(pem[len(_PEM_BEGIN) : end].split())
    der = base64.b64decode(body, validate=True)  # binascii.Error is a ValueError
    if not der:
        raise ValueError("empty PEM certificate")
    return der


def parse_escaped_pem(value: str) -> bytes:
    """nginx ``$ssl_client_escaped_cert``: the URL-escaped PEM certificate → DER.

    ``unquote``, not ``unquote_plus``: a ``+`` in the Base64 body is a plus.
    """
    return _pem_to_der(unquote(value, errors="strict"))


# XFCC (Envoy): elements separated by "," and pairs by ";", values optionally in double
# quotes with backslash escapes, in which "," and ";" are plain characters.
_XFCC_VALUE = r'(?:"(?:[^"\\]++|\\.)*+"|[^",;]*+)'
_XFCC_PAIR = re.compile(rf"\s*([A-Za-z]+)=({_XFCC_VALUE})\s*")
_XFCC_ELEMENT = re.compile(rf"{_XFCC_PAIR.pattern}(?:;{_XFCC_PAIR.pattern})*")
_XFCC_ESCAPE = re.compile(r"\\(.)")


def _xfcc_last_element(value: str) -> str:
    """The last element of a well-formed header (ValueError for anything else)."""
    position, last = 0, ""
    while True:
        match = _XFCC_ELEMENT.match(value, position)
        if match is None:
            raise ValueError("malformed x-forwarded-client-cert")
        last, position = match.group(0), match.end()
        if position == len(value):
            return last
        if value[position] != ",":
            raise ValueError("malformed x-forwarded-client-cert")
        position += 1


def _xfcc_fields(element: str) -> dict[str, str]:
    """``key=value;key="quoted; value"`` → dict (keys lower case, quotes removed)."""
    fields: dict[str, str] = {}
    for key, raw in _XFCC_PAIR.findall(element):
        if raw.startswith('"'):
            raw = _XFCC_ESCAPE.sub(r"\1", raw[1:-1])
        fields[key.lower()] = raw
    return fields


def parse_xfcc(value: str) -> bytes:
    """Envoy ``x-forwarded-client-cert`` → DER of the ``Cert`` of its **last** element
    (the one the nearest proxy, the trusted one, appended; earlier elements describe
    hops Propusk has no reason to believe)."""
    cert = _xfcc_fields(_xfcc_last_element(value)).get("cert")
    if not cert:
        raise ValueError("x-forwarded-client-cert has no Cert field")
    return parse_escaped_pem(cert)


class CertificateSource:
    """Finds the client certificate of a request, applying the trusted-proxy rule.

    - From a trusted proxy, with ``header`` configured: the header only (absent: no
      certificate). The TLS peer there is the proxy, so a certificate it presented on
      its own connection is the proxy's, never the end client's.
    - Otherwise: the certificate verified in this server's own TLS handshake, if any;
      a certificate header is ignored and logged.
    """

    def __init__(
        self,
        *,
        header: str | None = None,
        header_format: HeaderFormat = "nginx",
        trusted_proxies: Iterable[str | Network] = (),
    ) -> None:
        self.header = header.strip().lower() if header and header.strip() else None
        self.header_format = header_format
        self._parse = parse_xfcc if header_format == "envoy" else parse_escaped_pem
        self.trusted_proxies = tuple(
            p if not isinstance(p, str) else ipaddress.ip_network(p, strict=False)
            for p in trusted_proxies
        )

    def trusted(self, peer: str | None) -> bool:
        if peer is None or not self.trusted_proxies:
            return False
        try:
            address = ipaddress.ip_address(peer)
        except ValueError:
            return False
        return any(address in net for net in self.trusted_proxies)

    def presented(self, request: RequestView, *, warn: bool = True) -> bytes | None:
        """The DER of the client certificate the connection presented, or None.

        InvalidToken when a trusted proxy sent a header that is not a certificate (a
        misconfigured proxy must not turn into anonymous access silently).
        """
        if self.header is None:
            return self._from_tls(request)
        value = request.headers.get(self.header)
        if not self.trusted(request.client):
            if value is not None and warn:
                log.warning(
                    "client certificate header %s from %s ignored: not a trusted proxy",
                    self.header,
                    (request.client or "-")[:64],
                )
            return self._from_tls(request)
        if value is None or not value.strip():
            return None
        try:
            return self._parse(value.strip())
        except (ValueError, UnicodeDecodeError) as exc:
            raise InvalidToken(detail=f"unreadable client certificate header: {exc}") from None

    @staticmethod
    def _from_tls(request: RequestView) -> bytes | None:
        der = request.extra.get(TLS_CLIENT_CERT)
        return der if isinstance(der, bytes) else None


class ClientCertificate:
    """The client certificate of the connection (direct TLS or a trusted proxy's header)."""

    method: Literal["mtls"] = "mtls"
    dialect: Dialect | None = None

    def __init__(self, source: CertificateSource, verifier: CertificateVerifier) -> None:
        self._source = source
        self._verifier = verifier

    def present(self, request: RequestView) -> bool:
        # A trusted proxy's unreadable header raises InvalidToken here: a present
        # credential that proves nothing, refused (the gate catches it as this kind's).
        return self._source.presented(request) is not None

    def wants_body(self, request: RequestView) -> bool:
        return False

    async def verify(self, request: RequestView) -> Principal:
        der = self._source.presented(request, warn=False)  # present() warned already
        if der is None:
            raise InvalidToken(detail="client certificate vanished")  # present() said yes
        try:
            cert = x509.load_der_x509_certificate(der)
        except ValueError:
            raise InvalidToken(detail="client certificate does not parse") from None
        return await self._verifier.principal_for(cert)
