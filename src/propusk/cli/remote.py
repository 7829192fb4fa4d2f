"""Commands that act on a running server as the account ``propusk login`` stored for it:
the signed-in HTTP client, one API call with its failure turned into ``error: …``, and the
paths under an organization."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote

import httpx

from propusk.client.auth import AuthError, RefreshTokenAuth

from .account import load_tokens, save_tokens
from .context import fail

__all__ = ["TIMEOUT", "account_client", "call", "org_path"]

TIMEOUT = 30.0


@contextmanager
def account_client(server: str) -> Iterator[httpx.Client]:
    """An HTTP client signed in with the tokens ``propusk login`` stored for ``server``."""
    tokens = load_tokens(server)
    if tokens is None:
        fail(f"not logged in to {server}: run `propusk login --server {server}`")
    auth = RefreshTokenAuth(server, tokens, on_tokens=lambda t: save_tokens(server, t))
    try:
        with httpx.Client(auth=auth, timeout=TIMEOUT, base_url=server) as http:
            yield http
    except AuthError as exc:
        fail(f"{exc} (log in again)")
    except httpx.HTTPError as exc:
        fail(f"cannot reach {server}: {exc}")


def org_path(org: str, *parts: str) -> str:
    """``/v1/orgs/<org>/<part>/…``. Quoted as one segment each: an id with '/' or '..'
    must not reach another route."""
    return "/".join([f"/v1/orgs/{quote(org, safe='')}", *(quote(p, safe="") for p in parts)])


def call(http: httpx.Client, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    """The answer's JSON (None for a 204); a refusal fails the command with the server's
    message, or with the status when the answer has none."""
    response = http.request(method, path, json=body)
    if response.status_code >= 400:
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if isinstance(answer, dict) and isinstance(answer.get("message"), str):
            fail(f"{answer['message']} (HTTP {response.status_code})")
        fail(f"{method} {path} failed: HTTP {response.status_code}")
    if response.status_code == 204:
        return None
    try:
        return response.json()
    except ValueError:
        fail(f"{method} {path}: the server did not answer with JSON")
