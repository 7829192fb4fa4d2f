"""The service-key flow for httpx (spec §1, the RuStore API model).

A service key is an RSA pair whose private half the console shows once. The flow signs
``keyId + timestamp`` with SHA512withRSA, exchanges the signature at ``POST /public/auth/``
for a 900-second token, and sends the token in the ``Public-Token`` header::

    auth = ServiceKeyAuth("https://auth.example.com", key_id, private_key_b64)
    with httpx.Client(auth=auth, timeout=10) as http:
        http.get("https://api.example.com/demo/apps/APP/reviews")

Like :mod:`propusk.client.auth`, the flow is a generator that never does I/O itself, so one
object serves ``httpx.Client`` and ``httpx.AsyncClient`` alike. The token is renewed
``refresh_margin`` seconds before it expires and, once, when the API answers 401 (the key
was rotated, disabled or re-scoped, which makes its earlier tokens fail).
"""

from __future__ import annotations

import base64
import binascii
import threading
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from propusk.client.auth import AuthError

__all__ = [
    "EXCHANGE_PATH",
    "ExchangeError",
    "ServiceKeyAuth",
    "ServiceToken",
    "exchange_timestamp",
    "load_service_private_key",
    "sign_exchange",
]

EXCHANGE_PATH = "/public/auth/"
PUBLIC_TOKEN_HEADER = "Public-Token"  # noqa: S105 (a header name, not a secret)
MAX_KEY_TEXT = 64 * 1024  # an RSA-8192 PEM is about 6.5 KiB

# The last millisecond each key id signed in this process (see _next_stamp).
_LAST_STAMPS: dict[str, int] = {}
_STAMPS_LOCK = threading.Lock()


class ExchangeError(AuthError):
    """The exchange was refused: the envelope's ``message`` (``Range timestamp not valid``,
    ``The key or the signature is not valid``, …), or what answered instead of Propusk."""

    def __init__(
        self, status: int, code: str, message: str, server_time: str | None = None
    ) -> None:
        super().__init__(status, code, message)
        self.message = message
        self.server_time = server_time  # the envelope's timestamp: helps spot clock skew


@dataclass(frozen=True)
class ServiceToken:
    jwe: str = field(repr=False)  # a bearer credential: kept out of reprs and logs
    ttl: int
    expires_at: float  # client clock, seconds since the epoch


def load_service_private_key(data: rsa.RSAPrivateKey | str | bytes) -> rsa.RSAPrivateKey:
    """The private half of a service key, from any form it is handed around in.

    Accepted: a ``cryptography`` RSA private key; PEM text or bytes (PKCS#8 ``PRIVATE KEY``
    or PKCS#1 ``RSA PRIVATE KEY``, unencrypted); the console's standard Base64 of DER
    (``MIIE…``, line breaks allowed); raw DER bytes. Anything else is a ``ValueError`` whose
    message never quotes the input (it may be a secret pasted in the wrong place).
    """
    if isinstance(data, rsa.RSAPrivateKey):
        return data
    if not isinstance(data, str | bytes):
        raise TypeError("private_key must be an RSA private key, PEM, or Base64 DER")
    if len(data) > MAX_KEY_TEXT:
        raise ValueError("the private key is too large")
    if isinstance(data, str):
        try:
            raw = data.strip().encode("ascii")
        except UnicodeEncodeError:
            raise ValueError("the private key is neither PEM nor Base64 DER") from None
    else:
        # Raw DER is binary: stripping it would cut a last byte that happens to be
        # whitespace (0x09-0x0d, 0x20), about one key in forty.
        raw = data if data.startswith(b"\x30") else data.strip()
    if raw.startswith(b"-----BEGIN"):
        if b"PUBLIC KEY-----" in raw.split(b"\n", 1)[0]:
            raise ValueError("this is a public key: the flow needs the private key")
        loader, der_or_pem = serialization.load_pem_private_key, raw
    elif raw.startswith(b"\x30"):  # DER: an ASN.1 SEQUENCE
        loader, der_or_pem = serialization.load_der_private_key, raw
    else:
        try:
            der_or_pem = base64.b64decode(b"".join(raw.split()), validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("the private key is neither PEM nor Base64 DER") from None
        loader = serialization.load_der_private_key
    try:
        key = loader(der_or_pem, password=None)
    except TypeError:  # encrypted PEM or DER: it needs a password
        raise ValueError(
            "encrypted private keys are not supported: decrypt it first "
            "(openssl pkey -in key.pem -out plain.pem)"
        ) from None
    except (ValueError, UnsupportedAlgorithm):
        raise ValueError("the private key could not be read (PEM or Base64 DER)") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("service keys are RSA keys (SHA512withRSA)")
    return key


def exchange_timestamp(now: float) -> str:
    """``now`` as the exchange wants it: UTC, ISO-8601, milliseconds and an explicit offset
    (``2024-06-18T08:49:08.290+00:00``), the format Java's ``OffsetDateTime`` clients send."""
    return _stamp(round(now * 1000))


def _stamp(ms: int) -> str:
    # From whole milliseconds: a float such as 1718700548.29 is 1718700548.2899999…, which
    # isoformat would truncate to ".289".
    seconds, millis = divmod(ms, 1000)
    moment = datetime.fromtimestamp(seconds, UTC).replace(microsecond=millis * 1000)
    return moment.isoformat(timespec="milliseconds")


def sign_exchange(key: rsa.RSAPrivateKey, key_id: str, timestamp: str) -> str:
    """Standard Base64 (with padding) of SHA512withRSA over UTF-8 ``key_id + timestamp``."""
    message = (key_id + timestamp).encode("utf-8")
    signature = key.sign(message, padding.PKCS1v15(), hashes.SHA512())
    return base64.b64encode(signature).decode("ascii")


def _envelope_error(response: httpx.Response) -> ExchangeError:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and body.get("code") == "ERROR":
        message = body.get("message")
        stamp = body.get("timestamp")
        return ExchangeError(
            response.status_code,
            "ERROR",
            message if isinstance(message, str) and message else "the exchange was refused",
            stamp if isinstance(stamp, str) else None,
        )
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        # Propusk's own envelope (a proxy rewrote the path, or a framework-level refusal).
        code = body["error"]
        return ExchangeError(response.status_code, code, str(body.get("message") or code))
    return ExchangeError(
        response.status_code,
        "http_error" if response.status_code != 200 else "invalid_response",
        f"{response.request.url} did not answer with a service token"
        if response.status_code == 200
        else (response.text[:200] or response.reason_phrase),
    )


class ServiceKeyAuth(httpx.Auth):
    """Signs in with a service key and keeps its ``Public-Token`` fresh.

    ``private_key`` is anything :func:`load_service_private_key` reads. ``clock`` is the
    client's time source: it stamps the exchange and decides when the token is due.
    """

    requires_response_body = True

    def __init__(
        self,
        server: str,
        key_id: str,
        private_key: rsa.RSAPrivateKey | str | bytes,
        *,
        refresh_margin: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not key_id:
            raise ValueError("key_id is required")
        self._server = server.rstrip("/")
        self._key_id = key_id
        self._key = load_service_private_key(private_key)
        self._margin = refresh_margin
        self._clock = clock
        self._token: ServiceToken | None = None
        self._lock = threading.Lock()

    @property
    def key_id(self) -> str:
        return self._key_id

    @property
    def token(self) -> ServiceToken | None:
        return self._token

    def _due(self, token: ServiceToken | None) -> bool:
        if token is None:
            return True
        # With a short server ttl the margin would swallow the whole lifetime and every
        # request would exchange: never renew earlier than half-way.
        margin = min(self._margin, token.ttl / 2)
        return token.expires_at - margin <= self._clock()

    def _next_stamp(self) -> tuple[str, float]:
        """A timestamp this process has not signed for this key yet.

        PKCS#1 v1.5 signatures are deterministic and the server accepts each signature
        once, so two exchanges with one key in the same millisecond (a 401 re-exchange right
        after the first, two flow objects, a frozen test clock) must not sign the same
        timestamp: the later one moves on by a millisecond. A clock stepped back by more
        than a second is followed, not outrun (the stamps would drift out of the window).
        """
        now = self._clock()
        wanted = round(now * 1000)
        with _STAMPS_LOCK:
            last = _LAST_STAMPS.get(self._key_id)
            ms = last + 1 if last is not None and wanted <= last < wanted + 1000 else wanted
            _LAST_STAMPS[self._key_id] = ms
        return _stamp(ms), now

    def exchange_request(self, like: httpx.Request | None = None) -> tuple[httpx.Request, float]:
        """A signed ``POST /public/auth/`` and the client time it was stamped at.

        It inherits ``like``'s timeout and User-Agent: requests an auth flow yields bypass
        ``Client.build_request``, and without the ``timeout`` extension they would wait for
        a silent server forever.
        """
        timestamp, stamped_at = self._next_stamp()
        body = {
            "keyId": self._key_id,
            "timestamp": timestamp,
            "signature": sign_exchange(self._key, self._key_id, timestamp),
        }
        headers: dict[str, str] = {}
        extensions: dict[str, object] = {}
        if like is not None:
            if "User-Agent" in like.headers:
                headers["User-Agent"] = like.headers["User-Agent"]
            if "timeout" in like.extensions:
                extensions["timeout"] = like.extensions["timeout"]
        request = httpx.Request(
            "POST",
            f"{self._server}{EXCHANGE_PATH}",
            json=body,
            headers=headers,
            extensions=extensions,
        )
        return request, stamped_at

    def _store(self, response: httpx.Response, stamped_at: float) -> ServiceToken:
        if response.status_code != 200:
            raise _envelope_error(response)
        try:
            envelope = response.json()
            grant = envelope["body"]
            jwe, ttl = grant["jwe"], grant["ttl"]
        except (ValueError, TypeError, KeyError):
            raise _envelope_error(response) from None
        if (
            envelope.get("code") != "OK"
            or not isinstance(jwe, str)
            or not jwe
            or isinstance(ttl, bool)
            or not isinstance(ttl, int)
            or ttl <= 0
        ):
            raise _envelope_error(response)
        # Counted from when the request was stamped, not when the answer came: the server
        # started the lifetime no later than that (within the clock skew it tolerates).
        token = ServiceToken(jwe, ttl, stamped_at + ttl)
        with self._lock:
            self._token = token
        return token

    def _renew(
        self, like: httpx.Request | None
    ) -> Generator[httpx.Request, httpx.Response, ServiceToken]:
        request, stamped_at = self.exchange_request(like)
        response = yield request
        return self._store(response, stamped_at)

    def _current(
        self, like: httpx.Request | None
    ) -> Generator[httpx.Request, httpx.Response, ServiceToken]:
        token = self._token
        if self._due(token):
            token = yield from self._renew(like)
        assert token is not None
        return token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        token = yield from self._current(request)
        request.headers[PUBLIC_TOKEN_HEADER] = token.jwe
        response = yield request
        if response.status_code != 401:
            return
        current = self._token
        if current is None or current is token or self._due(current):
            current = yield from self._renew(request)
        # else: another request renewed it meanwhile; retry with that one.
        request.headers[PUBLIC_TOKEN_HEADER] = current.jwe
        yield request

    # -- the token itself, for callers that pass it on (the CLI's `token` command) ---------

    def get_token(self, client: httpx.Client) -> ServiceToken:
        """The current token, exchanged over ``client`` first when none is fresh."""
        like = client.build_request("POST", f"{self._server}{EXCHANGE_PATH}")
        flow = self._current(like)
        try:
            request = next(flow)
            while True:
                # auth=None: the client's own auth (this object, say) must not wrap the
                # exchange in a Public-Token of its own.
                request = flow.send(client.send(request, auth=None))
        except StopIteration as done:
            token: ServiceToken = done.value
            return token

    async def aget_token(self, client: httpx.AsyncClient) -> ServiceToken:
        """:meth:`get_token` for ``httpx.AsyncClient``."""
        like = client.build_request("POST", f"{self._server}{EXCHANGE_PATH}")
        flow = self._current(like)
        try:
            request = next(flow)
            while True:
                request = flow.send(await client.send(request, auth=None))
        except StopIteration as done:
            token: ServiceToken = done.value
            return token
