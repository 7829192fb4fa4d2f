"""The API-key flow for httpx: the key in the ``X-API-Key`` header of every request.

Two kinds of key travel in that header and both work here: Propusk's managed keys
(``propusk_<16 hex keyId>_<64 hex secret>``) and Waves-compatible node keys (any other
value, checked against configured hashes)::

    auth = ApiKeyAuth(os.environ["PROPUSK_API_KEY"])
    with httpx.Client(auth=auth, timeout=10) as http:
        http.get("https://api.example.com/demo/apps/APP/reviews")

There is nothing to exchange or renew, so the flow needs no I/O of its own and one object
serves ``httpx.Client`` and ``httpx.AsyncClient`` alike. A key that cannot be right (empty,
with spaces or control characters, a ``propusk_`` key of the wrong shape) is refused when
the object is made, with a ``ValueError`` that never quotes the key; the object's ``repr``
shows at most the managed key's public key ID.
"""

from __future__ import annotations

from collections.abc import Generator

import httpx

from propusk.core.apikeys import KEY_PREFIX, parse_api_key

__all__ = ["API_KEY_HEADER", "MAX_API_KEY_CHARS", "ApiKeyAuth"]

API_KEY_HEADER = "X-API-Key"
MAX_API_KEY_CHARS = 1024  # far above any real key; a pasted file is not a key


def _check(key: str) -> tuple[str, str | None]:
    """The key as it will be sent and its managed key ID (None for a node-style key).

    Messages describe the problem, never the value: it may be a secret pasted in the
    wrong place.
    """
    if not isinstance(key, str):
        raise TypeError("the API key must be a str")
    value = key.strip()  # a trailing newline from a file or `echo` is not part of the key
    if not value:
        raise ValueError("the API key is empty")
    if len(value) > MAX_API_KEY_CHARS:
        raise ValueError(f"the API key is longer than {MAX_API_KEY_CHARS} characters")
    if not all("!" <= c <= "~" for c in value):
        raise ValueError("the API key may contain only printable ASCII characters without spaces")
    if value.startswith(KEY_PREFIX):
        parsed = parse_api_key(value)
        if parsed is None:
            raise ValueError(
                "the API key is malformed: a Propusk key is propusk_, 16 lowercase hex "
                "characters, _ and 64 lowercase hex characters"
            )
        return value, parsed.key_id
    return value, None


class ApiKeyAuth(httpx.Auth):
    """Sends ``X-API-Key: <key>`` with every request (and replaces one already set)."""

    def __init__(self, key: str) -> None:
        self._key, self._key_id = _check(key)

    @property
    def key_id(self) -> str | None:
        """A managed key's public ID (``propusk_<keyId>_…``); None for a node-style key."""
        return self._key_id

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers[API_KEY_HEADER] = self._key
        yield request

    def __repr__(self) -> str:
        shown = f"key_id={self._key_id!r}" if self._key_id else "node-style key"
        return f"ApiKeyAuth({shown})"

    __str__ = __repr__
