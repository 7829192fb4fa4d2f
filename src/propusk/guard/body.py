"""Request bodies for authenticators that sign them, and signed responses.

The body is read once, capped *before* anything hashes or parses it, and the very same
bytes are replayed to the application as one ``http.request`` message. A Content-Length
over the cap is refused without reading; a chunked body is refused as soon as the bytes
received pass the cap.
"""

from __future__ import annotations

from starlette.types import Message, Receive, Send

from propusk.core.errors import InvalidRequest, PayloadTooLarge
from propusk.guard.ports import ResponseSigner

__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "ClientGone",
    "content_length",
    "read_body",
    "replaying",
    "signing_send",
]

DEFAULT_MAX_BODY_BYTES = 1 << 20


class ClientGone(Exception):
    """The client disconnected before the body was complete: nothing to answer."""


def content_length(header: str | None, cap: int) -> int | None:
    """The Content-Length header's value, None without one: InvalidRequest when it is not
    a number, PayloadTooLarge when it is over ``cap``, decided before anything is read."""
    if header is None:
        return None
    digits = header.strip()
    # isascii too: str.isdigit() is true for "²" (a Latin-1 header byte), int() is not.
    if not (digits.isascii() and digits.isdigit()):
        raise InvalidRequest("Bad Content-Length")
    # More significant digits than the cap has is over it: decided without int(),
    # which raises ValueError (a 500) beyond 4300 digits.
    significant = digits.lstrip("0") or "0"
    if len(significant) > len(str(cap)) or int(significant) > cap:
        raise PayloadTooLarge(detail=f"Content-Length {significant[:20]} over {cap}")
    return int(significant)


async def read_body(receive: Receive, length: str | None, cap: int) -> bytes:
    """The whole body, at most ``cap`` bytes (PayloadTooLarge beyond); ``length`` is the
    Content-Length header, if any."""
    content_length(length, cap)
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise ClientGone()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > cap:
            raise PayloadTooLarge(detail=f"body over {cap} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def replaying(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that yields ``body`` once, then whatever the server sends next
    (a disconnect), so the app sees exactly the bytes that were verified."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def signing_send(send: Send, signer: ResponseSigner) -> Send:
    """A ``send`` that holds the response until its body is complete, then sends it with
    ``X-Digital-Sign`` and ``X-Digital-Sign-Alg`` over the exact body bytes."""
    start: Message | None = None
    chunks: list[bytes] = []

    async def wrapped(message: Message) -> None:
        nonlocal start
        if message["type"] == "http.response.start":
            start = message
            return
        if message["type"] != "http.response.body" or start is None:
            await send(message)
            return
        chunks.append(message.get("body", b""))
        if message.get("more_body", False):
            return
        body = b"".join(chunks)
        alg, signature = await signer.sign_body(body)
        headers = [
            (k, v)
            for k, v in start.get("headers", [])
            if k.lower() not in (b"x-digital-sign", b"x-digital-sign-alg")
        ]
        headers += [(b"x-digital-sign", signature.encode()), (b"x-digital-sign-alg", alg.encode())]
        await send({**start, "headers": headers})
        await send({"type": "http.response.body", "body": body, "more_body": False})

    return wrapped
