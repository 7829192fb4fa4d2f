"""A real ``propusk serve``: its access log (uvicorn's, on stdout) shows requests but none
of the secrets they carried in the query string or the confirmation path."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.integration.servers import propusk_server

pytestmark = pytest.mark.external

SECRETS = {
    "api_key": "node-key-value-1",
    "apiKey": "node-key-value-2",
    "token": "bearer-value-3",
    "access_token": "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln",
    "code": "one-time-code-4",
    "password": "hunter2-value-5",
}


def test_secret_query_values_never_reach_the_access_log(tmp_path: Path) -> None:
    with propusk_server(tmp_path) as url, httpx.Client(base_url=url, timeout=10) as http:
        for name, value in SECRETS.items():
            http.get(f"/demo/health?{name}={value}&page=2")
            http.get("/v1/authorize", params={name: value, "page": "2"})
        http.get("/v1/user/confirm/propusk_ec_confirmation-code-6")
    log = (tmp_path / "propusk.log").read_text()
    # The requests are logged, with their ordinary parameters...
    assert log.count("GET /demo/health?") == len(SECRETS)
    assert "page=2" in log and "/v1/user/confirm/[redacted]" in log
    # ...and none of the secret values.
    for value in [*SECRETS.values(), "confirmation-code-6"]:
        assert value not in log, value
