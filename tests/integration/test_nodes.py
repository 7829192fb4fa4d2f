"""Two nodes: two ``propusk serve`` processes over one PostgreSQL database and one Redis, in
CI's PostgreSQL + Redis pass. A login on node A refreshes on node B; a service key, API key
or signing key disabled or revoked on A is refused on B within a second, although B had
its state cached and ``key_state_ttl`` is 300 s here, so only the push through Redis can
explain the refusal; one refresh token presented to A and B at once has one successor."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from tests.integration.nodes import assert_one_chain, cluster, race_refreshes
from tests.integration.provision import provision
from tests.integration.shared_state import NEEDS_SHARED_STATE
from tests.web.signing_key_helpers import signed, xml_body

pytestmark = [pytest.mark.external, NEEDS_SHARED_STATE]

OWNER = "nodes-owner@example.com"
PASSWORD = "integration pass"
LOGIN = "shop-nodes"
XML = xml_body(terminal="30003", extra="<amount>5</amount>")
# The bound for a change on one node to be refused on the others: the deadline of
# a polling loop (the relay takes milliseconds), not a measurement.
PUSHED_WITHIN = 1.0
ROUNDS = 50


@dataclass
class TwoNodes:
    a: str
    b: str
    database_url: str
    made: dict[str, str]

    @property
    def owner(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.made['token']}"}


@pytest.fixture(scope="module")
def two(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TwoNodes]:
    tmp = tmp_path_factory.mktemp("nodes")
    # A node trusts cached key state for 300 s: a refusal within 1 s must be the push.
    settings = {"PROPUSK_KEY_STATE_TTL": "300", "PROPUSK_REFRESH_REUSE_GRACE": "10"}
    with cluster(tmp, 2, settings) as nodes:
        a, b = nodes.urls
        made = provision(a, nodes.env, owner=OWNER, password=PASSWORD, login=LOGIN)
        yield TwoNodes(a, b, nodes.database_url, made)


def login(node: str) -> dict[str, str]:
    r = httpx.post(
        f"{node}/v1/auth/login", json={"username": OWNER, "password": PASSWORD}, timeout=10
    )
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_a_login_on_one_node_refreshes_on_the_other(two: TwoNodes) -> None:
    pair = login(two.a)
    r = httpx.post(f"{two.b}/v1/auth/refresh", json={"token": pair["refresh_token"]}, timeout=10)
    assert r.status_code == 200, r.text
    rotated = r.json()
    assert rotated["refresh_token"] != pair["refresh_token"]
    # B's access token is good on A, and B's successor rotates on A.
    profile = httpx.get(
        f"{two.a}/v1/user/profile",
        headers={"Authorization": f"Bearer {rotated['access_token']}"},
        timeout=10,
    )
    assert profile.status_code == 200 and profile.json()["id"] == two.made["account"]
    again = httpx.post(
        f"{two.a}/v1/auth/refresh", json={"token": rotated["refresh_token"]}, timeout=10
    )
    assert again.status_code == 200, again.text


def use(two: TwoNodes, kind: str) -> httpx.Response:
    """One request to node B carrying the credential ``kind``, on a route its scope allows."""
    made = two.made
    if kind == "service-key":  # forward-auth, as nginx asks it
        headers = {
            "Public-Token": made["public_token"],
            "X-Original-Method": "GET",
            "X-Original-URI": f"/demo/apps/{made['app']}",
        }
        return httpx.get(f"{two.b}/v1/authorize", headers=headers, timeout=10)
    if kind == "api-key":
        return httpx.get(
            f"{two.b}/demo/reports", headers={"X-API-Key": made["api_key"]}, timeout=10
        )
    headers = signed(XML, X_Digital_Sign_Login=LOGIN)
    return httpx.post(f"{two.b}/demo/payments/topup", headers=headers, content=XML, timeout=10)


# What node A is asked, and how node B must refuse afterwards.
CHANGES = {
    "service-key": ("service-keys/{service_key}/disable", 401),
    "api-key": ("api-keys/{api_key_id}/revoke", 401),
    "signature": ("signing-keys/{signing_key}/disable", 401),
}


@pytest.mark.parametrize("kind", list(CHANGES))
def test_a_change_on_one_node_is_refused_on_the_other_within_a_second(
    two: TwoNodes, kind: str
) -> None:
    # B verifies the credential once, and so holds its state in its cache (for 300 s).
    first = use(two, kind)
    assert first.status_code == 200, first.text
    path, refused = CHANGES[kind]
    url = f"{two.a}/v1/orgs/{two.made['org']}/{path.format(**two.made)}"
    changed = httpx.post(url, headers=two.owner, timeout=10)
    assert changed.status_code == 200, changed.text
    deadline = time.monotonic() + PUSHED_WITHIN
    answer = use(two, kind)
    while answer.status_code == 200 and time.monotonic() < deadline:
        time.sleep(0.02)
        answer = use(two, kind)
    assert answer.status_code == refused, f"{kind} still accepted by B: {answer.text}"
    if kind == "signature":
        assert ">150</result-code>" in answer.text  # in the partner's XML dialect
    elif kind == "api-key":
        assert answer.json()["error"] == "invalid_token"


async def test_one_refresh_token_on_both_nodes_at_once_has_one_successor(two: TwoNodes) -> None:
    first = login(two.a)["refresh_token"]
    last = await race_refreshes([two.a, two.b], first, ROUNDS)
    await assert_one_chain(two.database_url, first, last, ROUNDS)
