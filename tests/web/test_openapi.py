from __future__ import annotations

import httpx


async def test_openapi_documents_bearer_and_every_account_route(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    schemes = spec["components"]["securitySchemes"]
    assert any(
        s == {"type": "http", "scheme": "bearer", "description": s.get("description")}
        for s in schemes.values()
    )
    paths = set(spec["paths"])
    for path in (
        "/status",
        "/v1/user",
        "/v1/user/profile",
        "/v1/user/confirm/{code}",
        "/v1/user/resendEmail",
        "/v1/user/password/restore",
        "/v1/user/password/reset",
        "/v1/user/password/change",
        "/v1/user/address",
        "/v1/user/address/exists",
        "/v1/auth/login",
        "/v1/auth/token",
        "/v1/auth/refresh",
        "/v1/auth/logout",
        "/v1/auth/publicKey",
        "/.well-known/jwks.json",
    ):
        assert path in paths, path
    profile = spec["paths"]["/v1/user/profile"]["get"]
    assert profile["security"] == [{next(iter(schemes)): []}]
    docs = await client.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
