"""``POST /utils/hash/secure`` and ``POST /utils/hash/fast``: a node's hash utilities.

As on a Waves Enterprise node (spec section 2), the body is the raw string, whatever the
Content-Type, and the answer is ``{"message": <input>, "hash": <Base58>}``. The routes are
public, as the node's are: they compute a hash of what the caller sent and know nothing
else. Operators use ``secure`` to produce an ``api_key_hash`` setting; the offline
equivalent is ``propusk hash secure`` (which keeps the key off the network).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from propusk.core.errors import InvalidRequest, PayloadTooLarge
from propusk.core.hashes import base58_encode, fast_hash, secure_hash

router = APIRouter(tags=["utils"])

# Keys and short messages, not documents: a smaller cap than the server-wide body limit.
MAX_MESSAGE_BYTES = 8192

_TEXT_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": f"The string to hash, UTF-8, at most {MAX_MESSAGE_BYTES} bytes",
        "content": {"text/plain": {"schema": {"type": "string"}, "example": "ridethewaves!"}},
    }
}


async def _message(request: Request) -> tuple[str, bytes]:
    raw = await request.body()
    if len(raw) > MAX_MESSAGE_BYTES:
        raise PayloadTooLarge(f"The message must be at most {MAX_MESSAGE_BYTES} bytes")
    try:
        return raw.decode("utf-8"), raw
    except UnicodeDecodeError:
        raise InvalidRequest("The body must be UTF-8 text") from None


def _answer(message: str, digest: bytes) -> JSONResponse:
    # no-store: the message may well be an API key.
    return JSONResponse(
        {"message": message, "hash": base58_encode(digest)},
        headers={"Cache-Control": "no-store"},
    )


def _route(hash_function: Callable[[bytes], bytes]) -> Callable[[Request], Any]:
    async def endpoint(request: Request) -> JSONResponse:
        message, raw = await _message(request)
        return _answer(message, hash_function(raw))

    return endpoint


for name, hash_function, summary in (
    ("secure", secure_hash, "secureHash: Keccak-256(Blake2b-256(body)), Base58"),
    ("fast", fast_hash, "fastHash: Blake2b-256(body), Base58"),
):
    router.add_api_route(
        f"/utils/hash/{name}",
        _route(hash_function),
        methods=["POST"],
        name=f"hash_{name}",
        summary=summary,
        openapi_extra=_TEXT_BODY,
    )
