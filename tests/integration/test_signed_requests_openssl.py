"""A partner following the original instructions with openssl and curl only, against a real
server: make an RSA-2048 pair, hand over the public key, sign each XML body, send it.

The "console" step (an owner, a company, the signing keys) goes through the HTTP API with
httpx; everything the partner does is ``sh`` with openssl, base64 and curl. The server signs
its answers too (response_signing on), and the partner checks them with openssl.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.helpers import qiwi_code
from tests.integration.servers import BIN, need, propusk_env, propusk_server

pytestmark = pytest.mark.external

PASSWORD = "integration pass"
OWNER = "signer-owner@example.com"
QIWI_150 = 150  # the partner XML API's authorization error (spec section 3)

# The partner's script: sign body.xml with the given digest and post it as the login.
PRELUDE = r"""
set -eu
cd "$WORK"
send() {  # send DIGEST ALG LOGIN NAME: sign body.xml, POST it, keep status, body and headers
    sig=$(openssl dgst "-$1" -sign private.key body.xml | base64 -w0)
    curl -sS -o "$OUT/$4.body" -D "$OUT/$4.headers" -w '%{http_code}' \
        -H 'Content-Type: text/xml; charset=utf-8' \
        -H "X-Digital-Sign: $sig" -H "X-Digital-Sign-Alg: $2" -H "X-Digital-Sign-Login: $3" \
        --data-binary @body.xml "$URL/demo/payments/topup" > "$OUT/$4.status"
}
"""
BODY = (
    '<?xml version="1.0" encoding="utf-8"?>\n<request>\n  <request-type>pay</request-type>\n'
    '  <terminal-id>{terminal}</terminal-id>\n  <extra name="comment">первый</extra>\n'
    "</request>\n"
)


@dataclass(frozen=True)
class Partner:
    url: str
    work: Path

    def script(self, name: str, body: str) -> dict[str, str]:
        out = self.work / name
        out.mkdir()
        result = subprocess.run(
            ["sh", "-c", PRELUDE + body],
            env={"PATH": "/usr/bin:/bin", "WORK": str(self.work), "OUT": str(out), "URL": self.url},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
        return {p.name: p.read_text() for p in sorted(out.iterdir())}


@pytest.fixture(scope="module")
def partner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Partner]:
    need("openssl", "openssl")
    need("curl", "curl")
    need("base64", "coreutils")
    tmp = tmp_path_factory.mktemp("signer")
    work = tmp / "partner"
    work.mkdir()
    # The partner's part, exactly as the original instructions say.
    subprocess.run(
        ["sh", "-c", "openssl genrsa -out private.key 2048 && "
         "openssl rsa -in private.key -pubout -out public.key"],
        cwd=work, check=True, capture_output=True,
    )  # fmt: skip
    (work / "body.xml").write_bytes(BODY.format(terminal="70001").encode())
    with propusk_server(tmp, PROPUSK_RESPONSE_SIGNING="true") as url:
        created = subprocess.run(
            [
                str(BIN / "propusk"), "--data-dir", str(tmp / "data"), "admin", "create",
                "--email", OWNER, "--password", PASSWORD,
            ],
            env=propusk_env(tmp / "data"), capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert created.returncode == 0, created.stderr
        public = (work / "public.key").read_text()
        with httpx.Client(base_url=url, timeout=10) as http:
            login = http.post("/v1/auth/login", json={"username": OWNER, "password": PASSWORD})
            assert login.status_code == 200, login.text
            http.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
            org = http.post("/v1/orgs", json={"name": "Payments", "kind": "company"}).json()["id"]
            common = {"publicKeyPem": public, "methods": ["payments.topup"], "appIds": []}
            for body in (
                {"name": "legacy", "login": "legacy", "terminalId": "70001",
                 "algorithms": ["MD5withRSA", "SHA1withRSA"], "allowLegacyAlgorithms": True},
                {"name": "modern", "login": "modern"},
            ):  # fmt: skip
                r = http.post(f"/v1/orgs/{org}/signing-keys", json={**common, **body})
                assert r.status_code == 201, r.text
        yield Partner(url, work)


def test_sha1_and_md5_only_where_enabled_sha256_by_default(partner: Partner) -> None:
    files = partner.script(
        "main",
        r"""
send sha1 SHA1withRSA legacy sha1-legacy
send sha1 SHA1withRSA modern sha1-modern
send md5 MD5withRSA legacy md5-legacy
send md5 MD5withRSA modern md5-modern
send sha256 SHA256withRSA modern sha256-modern
send sha256 SHA256withRSA legacy sha256-legacy
# The login as Base64 of UTF-8, as the sibling gateway sends it.
send sha256 SHA256withRSA "$(printf modern | base64 -w0)" sha256-b64login
""",
    )
    size = len((partner.work / "body.xml").read_bytes())
    for accepted in ("sha1-legacy", "md5-legacy", "sha256-modern", "sha256-b64login"):
        assert files[f"{accepted}.status"] == "200", (accepted, files[f"{accepted}.body"])
        assert f"<received-bytes>{size}</received-bytes>" in files[f"{accepted}.body"]
    for refused in ("sha1-modern", "md5-modern", "sha256-legacy"):
        assert files[f"{refused}.status"] == "401", refused
        assert qiwi_code(files[f"{refused}.body"]) == QIWI_150, files[f"{refused}.body"]
        assert "application/xml" in files[f"{refused}.headers"]


def test_tampered_body_and_the_terminal_id_as_login(partner: Partner) -> None:
    files = partner.script(
        "tamper",
        r"""
sig=$(openssl dgst -sha1 -sign private.key body.xml | base64 -w0)
sed 's/pay/PAY/' body.xml > tampered.xml
for f in body tampered; do
    curl -sS -o "$OUT/$f.body" -w '%{http_code}' \
        -H "X-Digital-Sign: $sig" -H "X-Digital-Sign-Alg: SHA1withRSA" \
        --data-binary "@$f.xml" "$URL/demo/payments/topup" > "$OUT/$f.status"
done
""",
    )
    # No login header: the <terminal-id> 70001 names the "legacy" key, which allows SHA-1.
    assert files["body.status"] == "200", files["body.body"]
    assert files["tampered.status"] == "401" and qiwi_code(files["tampered.body"]) == QIWI_150


def test_signed_answers_verify_with_openssl(partner: Partner) -> None:
    files = partner.script(
        "answers",
        r"""
send sha256 SHA256withRSA modern ok
send sha256 SHA256withRSA legacy refused
curl -sS -o server.pub "$URL/v1/signing/public-key"
for name in ok refused; do
    sed -n 's/^[Xx]-[Dd]igital-[Ss]ign: *\([^\r]*\)\r*$/\1/p' "$OUT/$name.headers" \
        | base64 -d > "$name.sig"
    openssl dgst -sha256 -verify server.pub -signature "$name.sig" "$OUT/$name.body" \
        > "$OUT/$name.verify"
done
grep -i '^x-digital-sign-alg:' "$OUT/ok.headers" | tr -d '\r' > "$OUT/alg"
""",
    )
    assert files["ok.status"] == "200" and files["refused.status"] == "401"
    assert files["ok.verify"].strip() == "Verified OK"
    assert files["refused.verify"].strip() == "Verified OK"  # refusals are signed too
    assert files["alg"].lower().strip() == "x-digital-sign-alg: sha256withrsa"
