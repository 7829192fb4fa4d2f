"""A partner's shell script as the client: openssl and curl only, against a real server.

The "console" step (an owner, a company, an app and a service key) goes through the HTTP
API with httpx; the partner then holds only what the console showed: the key ID and the
private key as standard Base64 of DER PKCS#8. Everything after that is ``sh`` with
coreutils (``base64``, ``date``, ``sed``), ``openssl`` and ``curl``, as in the public
clients' README files; the script writes what it got into files the test reads.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.integration.servers import BIN, need, propusk_env, propusk_server

pytestmark = pytest.mark.external

PASSWORD = "integration pass"
OWNER = "partner-owner@example.com"

# Shared by every script: decode the console's key, convert it to PEM, and the functions
# the partner's script would have. No python, no jq: sed pulls the token out of the JSON.
PRELUDE = r"""
set -eu
cd "$WORK"
base64 -d key.b64 > key.der
openssl pkey -inform DER -outform PEM -in key.der -out key.pem 2>/dev/null
chmod 600 key.der key.pem

stamp() {  # ISO-8601, milliseconds, offset: 2024-06-18T08:49:08.290+00:00
    date -u "$@" +%Y-%m-%dT%H:%M:%S.%3N+00:00
}

body() {  # body KEY_ID TIMESTAMP: the signed exchange request
    sig=$(printf '%s' "$1$2" | openssl dgst -sha512 -sign key.pem | base64 -w0)
    printf '{"keyId":"%s","timestamp":"%s","signature":"%s"}' "$1" "$2" "$sig"
}

post() {  # post PATH BODY_FILE OUT_FILE: prints the HTTP status
    curl -sS -o "$3" -w '%{http_code}' -H 'Content-Type: application/json' \
        --data-binary "@$2" "$URL$1"
}

jwe_of() {
    sed -n 's/.*"jwe":"\([^"]*\)".*/\1/p' "$1"
}
"""


@dataclass(frozen=True)
class Partner:
    url: str
    work: Path
    key_id: str
    app: str
    other_app: str

    def script(self, name: str, body: str) -> dict[str, str]:
        """Run PRELUDE + ``body`` with sh; return the files it wrote, by name."""
        out = self.work / name
        out.mkdir()
        result = subprocess.run(
            ["sh", "-c", PRELUDE + body],
            env={
                "PATH": "/usr/bin:/bin",
                "WORK": str(self.work),
                "OUT": str(out),
                "URL": self.url,
                "KEY_ID": self.key_id,
                "APP": self.app,
                "OTHER_APP": self.other_app,
            },
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
    tmp = tmp_path_factory.mktemp("partner")
    with propusk_server(tmp) as url:
        created = subprocess.run(
            [
                str(BIN / "propusk"), "--data-dir", str(tmp / "data"), "admin", "create",
                "--email", OWNER, "--password", PASSWORD,
            ],
            env=propusk_env(tmp / "data"), capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert created.returncode == 0, created.stderr
        # The console's part, over the HTTP API.
        with httpx.Client(base_url=url, timeout=10) as http:
            login = http.post("/v1/auth/login", json={"username": OWNER, "password": PASSWORD})
            assert login.status_code == 200, login.text
            http.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
            org = http.post("/v1/orgs", json={"name": "Partner", "kind": "company"}).json()["id"]
            app, other = (
                http.post(f"/v1/orgs/{org}/apps", json={"name": name}).json()["id"]
                for name in ("Shop", "Other")
            )
            key = http.post(
                f"/v1/orgs/{org}/service-keys",
                json={"name": "shell", "appIds": [app], "methods": ["reviews.read"]},
            )
            assert key.status_code == 201, key.text
        answer = key.json()
        assert answer["privateKey"].startswith("MII")
        work = tmp / "partner"
        work.mkdir()
        # What the partner copies from the console: one line of Base64.
        (work / "key.b64").write_text(answer["privateKey"])
        (work / "key.b64").chmod(0o600)
        yield Partner(url, work, answer["keyId"], app, other)


def envelope(text: str) -> dict[str, object]:
    value = json.loads(text)
    assert isinstance(value, dict)
    assert set(value) == {"code", "message", "body", "timestamp"}
    return value


def test_exchange_call_and_replay_with_openssl_and_curl(partner: Partner) -> None:
    files = partner.script(
        "main",
        r"""
TS=$(stamp)
printf '%s' "$TS" > "$OUT/timestamp"
body "$KEY_ID" "$TS" > "$OUT/request.json"
post /public/auth/ "$OUT/request.json" "$OUT/exchange.json" > "$OUT/exchange.status"
JWE=$(jwe_of "$OUT/exchange.json")
curl -sS -o "$OUT/reviews.json" -w '%{http_code}' -H "Public-Token: $JWE" \
    "$URL/demo/apps/$APP/reviews" > "$OUT/reviews.status"
curl -sS -o /dev/null -w '%{http_code}' -H "Public-Token: $JWE" \
    "$URL/demo/apps/$OTHER_APP/reviews" > "$OUT/other.status"
curl -sS -o /dev/null -w '%{http_code}' -H "Public-Token: $JWE" \
    "$URL/demo/reports" > "$OUT/reports.status"
# The same body again: the signature was used once already.
post /public/auth/ "$OUT/request.json" "$OUT/replay.json" > "$OUT/replay.status"
""",
    )

    assert files["exchange.status"] == "200", files["exchange.json"]
    answer = envelope(files["exchange.json"])
    assert answer["code"] == "OK" and answer["message"] is None
    assert isinstance(answer["body"], dict)
    assert answer["body"]["ttl"] == 900
    assert set(answer["body"]) == {"jwe", "ttl"}
    request = json.loads(files["request.json"])
    assert request["timestamp"] == files["timestamp"]
    assert files["timestamp"].endswith("+00:00") and len(files["timestamp"]) == 29

    assert files["reviews.status"] == "200", files["reviews.json"]
    reviews = json.loads(files["reviews.json"])
    assert reviews["app"] == partner.app
    assert reviews["authenticatedBy"] == "service-key"
    assert files["other.status"] == "403"  # not one of the key's apps
    assert files["reports.status"] == "403"  # not one of the key's methods

    assert files["replay.status"] == "401"
    replay = envelope(files["replay.json"])
    assert replay["code"] == "ERROR" and replay["body"] is None
    assert replay["message"] == "The key or the signature is not valid"


def test_without_the_trailing_slash_and_with_a_local_offset(partner: Partner) -> None:
    files = partner.script(
        "noslash",
        r"""
# A local time with its offset, as Java's OffsetDateTime prints it (MSK-3 is UTC+03:00).
TS=$(TZ=MSK-3 date +%Y-%m-%dT%H:%M:%S.%3N%:z)
printf '%s' "$TS" > "$OUT/timestamp"
body "$KEY_ID" "$TS" > "$OUT/request.json"
post /public/auth "$OUT/request.json" "$OUT/exchange.json" > "$OUT/exchange.status"
JWE=$(jwe_of "$OUT/exchange.json")
curl -sS -o /dev/null -w '%{http_code}' -H "Public-Token: $JWE" \
    "$URL/demo/apps/$APP/reviews" > "$OUT/reviews.status"
""",
    )
    assert files["timestamp"].endswith("+03:00")
    assert files["exchange.status"] == "200", files["exchange.json"]
    assert envelope(files["exchange.json"])["code"] == "OK"
    assert files["reviews.status"] == "200"


def test_a_timestamp_two_minutes_old_is_out_of_range(partner: Partner) -> None:
    files = partner.script(
        "stale",
        r"""
body "$KEY_ID" "$(stamp -d '2 minutes ago')" > "$OUT/request.json"
post /public/auth/ "$OUT/request.json" "$OUT/exchange.json" > "$OUT/exchange.status"
""",
    )
    assert files["exchange.status"] == "400"
    answer = envelope(files["exchange.json"])
    assert answer == {
        "code": "ERROR",
        "message": "Range timestamp not valid",
        "body": None,
        "timestamp": answer["timestamp"],
    }


def test_a_signature_by_another_key_is_refused(partner: Partner) -> None:
    files = partner.script(
        "forged",
        r"""
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$OUT/other.pem" 2>/dev/null
TS=$(stamp)
SIG=$(printf '%s' "$KEY_ID$TS" | openssl dgst -sha512 -sign "$OUT/other.pem" | base64 -w0)
rm "$OUT/other.pem"
printf '{"keyId":"%s","timestamp":"%s","signature":"%s"}' "$KEY_ID" "$TS" "$SIG" \
    > "$OUT/request.json"
post /public/auth/ "$OUT/request.json" "$OUT/exchange.json" > "$OUT/exchange.status"
""",
    )
    assert files["exchange.status"] == "401"
    assert envelope(files["exchange.json"])["message"] == "The key or the signature is not valid"
