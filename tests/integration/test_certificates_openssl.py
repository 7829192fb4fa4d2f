"""The partner's side of spec §3 "Client-certificate authentication" with openssl only,
against a real ``propusk serve`` process: ``openssl req`` makes the key and CSR, the CSR is
submitted and approved over the HTTP API, and ``openssl verify`` checks the certificate
against the served CA, then refuses it with the served CRL after revocation."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx
import pytest

from tests.integration.servers import BIN, need, propusk_env, propusk_server

pytestmark = pytest.mark.external

ADMIN = "ca-operator@example.com"
PASSWORD = "integration pass"
SUBJECT = "/C=RU/ST=Moscow/L=Moscow/O=Partner LLC/emailAddress=ops@partner.example"


def sh(script: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["sh", "-c", script],
        cwd=cwd,
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_openssl_request_verify_revoke(tmp_path: Path) -> None:
    need("openssl", "openssl")
    work = tmp_path / "partner"
    work.mkdir()
    with propusk_server(tmp_path) as url:
        env = propusk_env(tmp_path / "data")
        for args in (["ca", "init"], ["admin", "create", "--email", ADMIN, "--password", PASSWORD]):
            done = subprocess.run(
                [str(BIN / "propusk"), *args], env=env, capture_output=True, text=True, check=False
            )
            assert done.returncode == 0, done.stderr
        # The partner: the exact command from the spec.
        made = sh(
            f'openssl req -new -nodes -batch -subj "{SUBJECT}" -newkey rsa:2048'
            " -keyout private.key -out cert_request.csr",
            work,
        )
        assert made.returncode == 0, made.stderr
        with httpx.Client(base_url=url, timeout=10) as http:
            login = http.post("/v1/auth/login", json={"username": ADMIN, "password": PASSWORD})
            http.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
            org = http.post("/v1/orgs", json={"name": "Partner", "kind": "company"}).json()["id"]
            app = http.post(f"/v1/orgs/{org}/apps", json={"name": "Shop"}).json()["id"]
            # As sent by a partner's script: the CSR file itself, scope in the query.
            request = http.post(
                f"/v1/orgs/{org}/certificate-requests",
                params={"appIds": app, "methods": "reviews.read"},
                content=(work / "cert_request.csr").read_bytes(),
                headers={"Content-Type": "application/pkcs10"},
            )
            assert request.status_code == 201, request.text
            approved = http.post(f"/v1/ca/requests/{request.json()['id']}/approve")
            assert approved.status_code == 200, approved.text
            serial = approved.json()["serial"]
            cert_url = f"/v1/orgs/{org}/certificates/{serial}"
            (work / "cert.pem").write_text(http.get(cert_url, params={"format": "pem"}).text)
            (work / "bundle.pem").write_text(http.get(cert_url, params={"format": "bundle"}).text)
            (work / "ca.pem").write_text(http.get("/v1/ca/certificate").text)
            (work / "crl-before.der").write_bytes(http.get("/v1/ca/crl").content)
            revoked = http.post(f"{cert_url}/revoke", json={"reason": "keyCompromise"})
            assert revoked.status_code == 200, revoked.text
            crl = http.get("/v1/ca/crl", headers={"Accept": "application/x-pem-file"})
            (work / "crl.pem").write_text(crl.text)
    ok = sh("openssl verify -CAfile ca.pem cert.pem", work)
    assert ok.returncode == 0 and "cert.pem: OK" in ok.stdout, ok.stdout + ok.stderr
    text = sh("openssl x509 -in cert.pem -noout -text", work).stdout
    assert "TLS Web Client Authentication" in text and f"URI:urn:propusk:org:{org}:request:" in text
    assert "Subject: C = RU, ST = Moscow, L = Moscow, O = Partner LLC" in text
    assert (
        sh("openssl x509 -in cert.pem -noout -modulus", work).stdout
        == sh("openssl rsa -in private.key -noout -modulus", work).stdout
    )  # the certificate carries the partner's own key
    assert (
        sh("openssl crl -inform DER -in crl-before.der -CAfile ca.pem -noout", work).returncode == 0
    )
    clean = sh("openssl verify -crl_check -CAfile ca.pem -CRLfile crl-before.der cert.pem", work)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    refused = sh("openssl verify -crl_check -CAfile ca.pem -CRLfile crl.pem cert.pem", work)
    assert refused.returncode != 0
    assert "certificate revoked" in refused.stdout + refused.stderr
    # The bundle (certificate, then the CA) is what TLS clients load with --cert.
    bundle = sh("openssl verify -CAfile ca.pem -untrusted bundle.pem bundle.pem", work)
    assert bundle.returncode == 0, bundle.stdout + bundle.stderr
