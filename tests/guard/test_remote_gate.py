"""``remote_gate``: the whole table over the real app (ASGI), each credential in its own
header and each refusal in its own dialect, outages as 503, replays refused per process."""

from __future__ import annotations

import httpx
import pytest

from propusk.client import PasswordAuth
from propusk.guard import Gate, LocalReplayCache, Passed, Refusal, RequestView, remote_gate
from propusk.wiring import Services
from tests.guard.remote_support import SERVER, Credentials, Switch, credentials, signature_headers
from tests.support import Mailbox, ManualClock
from tests.web.signing_key_helpers import TOPUP, xml_body

Http = tuple[httpx.AsyncClient, Switch]
XML = xml_body(terminal="10001")


@pytest.fixture
async def creds(client: httpx.AsyncClient, mailbox: Mailbox, clock: ManualClock) -> Credentials:
    return await credentials(
        client, mailbox, clock, "gate@example.com", replayWindow=60, terminalId="10001"
    )


@pytest.fixture
def gate(switch: Http, introspector: PasswordAuth, services: Services) -> Gate:
    return remote_gate(
        SERVER, catalog=services.catalog, auth=introspector, client=switch[0], jwks=True
    )


def view(method: str, path: str, headers: dict[str, str], body: bytes | None = None) -> RequestView:
    return RequestView(method, path, headers, client="203.0.113.7", body=body)


async def passed(gate: Gate, request: RequestView) -> Passed:
    outcome = await gate.check(request)
    assert isinstance(outcome, Passed), outcome
    return outcome


async def refused(gate: Gate, request: RequestView) -> tuple[int, bytes, dict[str, str]]:
    outcome = await gate.check(request)
    assert isinstance(outcome, Refusal), outcome
    answer = gate.answer(outcome)
    return answer.status, answer.body, answer.header_dict()


async def test_each_credential_passes_in_its_own_header(gate: Gate, creds: Credentials) -> None:
    app = creds.apps[0]
    cases = [
        ({"public-token": creds.public_token}, "GET", f"/demo/apps/{app}", creds.service_key),
        ({"x-api-key": creds.api_key}, "GET", "/demo/reports", creds.api_key_id),
        ({"authorization": f"Bearer {creds.access_token}"}, "GET", f"/demo/apps/{app}", None),
    ]
    for headers, verb, path, subject in cases:
        outcome = await passed(gate, view(verb, path, headers))
        assert outcome.principal is not None
        if subject is not None:
            assert outcome.principal.subject == subject
    signed = await passed(gate, view("POST", TOPUP, signature_headers(XML), XML))
    assert signed.principal is not None and signed.principal.subject == creds.signing_key
    assert signed.principal.method == "signature" and signed.principal.org_id == creds.org
    # The policy is the server's: the service key holds apps.read for its first app only.
    status, _, _ = await refused(
        gate, view("GET", f"/demo/apps/{creds.apps[1]}", {"public-token": creds.public_token})
    )
    assert status == 403


async def test_garbage_is_refused_in_each_dialect(gate: Gate, creds: Credentials) -> None:
    app = creds.apps[0]
    status, body, _ = await refused(gate, view("GET", f"/demo/apps/{app}", {"public-token": "x"}))
    assert status == 401 and b'"code":"ERROR"' in body and b'"body":null' in body
    status, body, headers = await refused(
        gate, view("GET", "/demo/reports", {"x-api-key": "propusk_" + "0" * 81})
    )
    assert status == 401 and b'"error":"invalid_token"' in body
    assert "www-authenticate" in headers
    status, body, _ = await refused(
        gate, view("GET", "/demo/reports", {"authorization": "Bearer a.b.c"})
    )
    assert status == 401 and b'"error":"invalid_token"' in body
    bad = {**signature_headers(XML), "x-digital-sign": "AAAA"}
    status, body, _ = await refused(gate, view("POST", TOPUP, bad, XML))
    assert status == 401 and b">150</result-code>" in body


async def test_replays_are_refused_by_this_process(
    gate: Gate, creds: Credentials, switch: Http, introspector: PasswordAuth, services: Services
) -> None:
    body = xml_body(terminal="10001", extra="<amount>7</amount>")
    await passed(gate, view("POST", TOPUP, signature_headers(body), body))
    status, answer, _ = await refused(gate, view("POST", TOPUP, signature_headers(body), body))
    assert status == 401 and b">150</result-code>" in answer
    # Another process has its own cache: there the same body passes once (docs say so);
    # a shared cache passed to both closes that gap.
    shared = LocalReplayCache()
    gates = [
        remote_gate(
            SERVER,
            catalog=services.catalog,
            auth=introspector,
            client=switch[0],
            replay_cache=shared,
        )
        for _ in range(2)
    ]
    again = xml_body(terminal="10001", extra="<amount>8</amount>")
    await passed(gates[0], view("POST", TOPUP, signature_headers(again), again))
    await refused(gates[1], view("POST", TOPUP, signature_headers(again), again))


async def test_xml_passwords_are_not_checked_remotely(gate: Gate, creds: Credentials) -> None:
    body = xml_body(terminal="10001", password="terminal secret")
    status, answer, _ = await refused(gate, view("POST", TOPUP, {}, body))
    # No verifier takes the password here: the request carries no credential it knows.
    assert status == 401 and b">150</result-code>" in answer


async def test_an_outage_is_503_in_each_dialect(
    gate: Gate, creds: Credentials, switch: Http
) -> None:
    _, counter = switch
    counter.down = True
    app = creds.apps[0]
    status, body, headers = await refused(
        gate, view("GET", f"/demo/apps/{app}", {"public-token": creds.public_token})
    )
    assert status == 503 and b'"code":"ERROR"' in body and headers["retry-after"] == "1"
    status, body, headers = await refused(
        gate, view("GET", "/demo/reports", {"x-api-key": creds.api_key})
    )
    assert status == 503 and b'"error":"auth_unavailable"' in body
    status, body, _ = await refused(gate, view("POST", TOPUP, signature_headers(XML), XML))
    assert b">13</result-code>" in body  # the XML API's "retry in a minute"
    counter.down = False
    await passed(gate, view("GET", "/demo/reports", {"x-api-key": creds.api_key}))
