"""Ids in paths with control characters are refused at the edge with 400, on every
router: PostgreSQL refuses a NUL in text, so without the check such a path was a 500
there (and a 404 on SQLite)."""

from __future__ import annotations

import httpx
import pytest

from tests.helpers import bearer, signed_up
from tests.support import Mailbox
from tests.web.service_key_helpers import owner_with_org

# {org} and {app} are replaced by the caller's real ones, so only the hostile part is wrong.
ROUTES = [
    ("GET", "/v1/orgs/%00"),
    ("GET", "/v1/orgs/a%0Ab"),
    ("GET", "/v1/orgs/{org}/apps/%00"),
    ("DELETE", "/v1/orgs/{org}/apps/%7F"),
    ("DELETE", "/v1/orgs/{org}/members/%00"),
    ("GET", "/v1/orgs/{org}/api-keys/%00"),
    ("POST", "/v1/orgs/{org}/api-keys/%00/revoke"),
    ("GET", "/v1/orgs/{org}/service-keys/%00"),
    ("DELETE", "/v1/orgs/{org}/service-keys/%1F"),
    ("GET", "/v1/orgs/{org}/signing-keys/%00"),
    ("GET", "/v1/orgs/%00/certificates"),
]


@pytest.mark.parametrize(("verb", "path"), ROUTES)
async def test_control_characters_in_path_ids_are_a_400(
    client: httpx.AsyncClient, mailbox: Mailbox, verb: str, path: str
) -> None:
    owner, org, apps = await owner_with_org(client, mailbox, "ids@example.com", apps=1)
    url = path.format(org=org, app=apps[0])
    r = await client.request(verb, url, headers=owner, json={} if verb in ("PUT", "POST") else None)
    assert r.status_code == 400, (url, r.status_code, r.text)
    assert r.json()["error"] == "invalid_request"


async def test_ordinary_unknown_ids_are_still_a_404(
    client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    tokens = await signed_up(client, mailbox, "plain-ids@example.com")
    r = await client.get("/v1/orgs/no-such-org", headers=bearer(tokens))
    assert r.status_code == 404
