"""Service tokens: known answer, round trip, interop with joserfc, and a table of refusals."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from joserfc import jwe
from joserfc.errors import DecodeError
from joserfc.jwk import OctKey

from propusk.core.catalog import load_catalog
from propusk.core.errors import InvalidToken, TokenExpired
from propusk.core.policy import authorize
from propusk.core.principals import Principal
from propusk.core.service_tokens import (
    MAX_SERVICE_TOKEN_CHARS,
    SERVICE_TOKEN_TTL,
    ServiceTokenClaims,
    ServiceTokenDecryptor,
    issue_service_token,
)
from propusk.core.tokens import UnknownKeyId
from propusk.demo import DEMO_CATALOG

VECTOR = Path(__file__).parent.parent / "vectors" / "service_key" / "service_token.json"
ISSUER = "https://propusk.test"
NOW = 1_800_000_000
KID = "stk-1"
KEY = bytes(range(32))
OTHER_KEY = bytes(range(100, 132))
IV = bytes(12)
JOSE_ALGS = ["dir", "A256GCM"]


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "iss": ISSUER,
        "sub": "key-1",
        "org": "org-1",
        "apps": ["A1", "A2"],
        "methods": ["apps.read", "reviews.read"],
        "iat": NOW,
        "exp": NOW + SERVICE_TOKEN_TTL,
        "jti": "jti-1",
        "gen": 2,
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not ...}


def issue(key: bytes = KEY, kid: str = KID, **overrides: Any) -> str:
    args: dict[str, Any] = {
        "key_id": "key-1",
        "org_id": "org-1",
        "apps": ["A2", "A1"],
        "methods": ["reviews.read", "apps.read"],
        "issuer": ISSUER,
        "issued_at": NOW,
        "ttl": SERVICE_TOKEN_TTL,
        "jti": "jti-1",
        "generation": 2,
        "iv": IV,
    }
    args.update(overrides)
    return issue_service_token(key, kid, **args)


def forge(
    header: Any = None,
    payload: Any = None,
    *,
    key: bytes = KEY,
    encrypted_key: bytes = b"",
    iv: bytes = IV,
    raw_header: bytes | None = None,
) -> str:
    """A correctly encrypted and authenticated token of any header and payload: the
    refusals below must come from the checks, not from a broken tag."""
    if raw_header is None:
        raw_header = json.dumps(
            {"alg": "dir", "enc": "A256GCM", "kid": KID} if header is None else header
        ).encode()
    if payload is None:
        payload = claims()
    plaintext = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    header_b64 = b64(raw_header)
    sealed = AESGCM(key).encrypt(iv, plaintext, header_b64.encode())
    parts = (header_b64, b64(encrypted_key), b64(iv), b64(sealed[:-16]), b64(sealed[-16:]))
    return ".".join(parts)


@pytest.fixture
def decryptor() -> ServiceTokenDecryptor:
    return ServiceTokenDecryptor({KID: KEY, "stk-0": OTHER_KEY}, issuer=ISSUER)


# --- known answer, round trip -------------------------------------------------------------


def test_known_answer_vector() -> None:
    vector = json.loads(VECTOR.read_text(encoding="utf-8"))
    key = bytes.fromhex(vector["key_hex"])
    token = issue_service_token(
        key, vector["kid"], iv=bytes.fromhex(vector["iv_hex"]), **vector["args"]
    )
    assert token == vector["token"]
    # An independent JOSE implementation reads it the same way.
    opened = jwe.decrypt_compact(token, OctKey.import_key(key), algorithms=JOSE_ALGS)
    assert opened.headers() == vector["header"]
    assert opened.plaintext is not None
    assert json.loads(opened.plaintext) == vector["claims"]
    decryptor = ServiceTokenDecryptor({vector["kid"]: key}, issuer=vector["args"]["issuer"])
    read = decryptor.decrypt(token, now=vector["claims"]["iat"])
    assert read.key_id == vector["claims"]["sub"]
    assert read.generation == vector["claims"]["gen"]


def test_round_trip(decryptor: ServiceTokenDecryptor) -> None:
    token = issue()
    assert len(token.split(".")) == 5
    assert token.split(".")[1] == ""
    read = decryptor.decrypt(token, now=NOW + 10)
    assert read == ServiceTokenClaims(
        issuer=ISSUER,
        key_id="key-1",
        org_id="org-1",
        apps=frozenset({"A1", "A2"}),
        methods=frozenset({"apps.read", "reviews.read"}),
        issued_at=NOW,
        expires_at=NOW + 900,
        jti="jti-1",
        generation=2,
        kid=KID,
    )
    # The same header again comes from the cache of authenticated headers.
    assert decryptor.decrypt(issue(jti="jti-2", iv=bytes(range(12))), now=NOW).jti == "jti-2"


def test_round_trip_other_kid(decryptor: ServiceTokenDecryptor) -> None:
    read = decryptor.decrypt(issue(OTHER_KEY, "stk-0"), now=NOW)
    assert read.kid == "stk-0"


def test_empty_scopes_round_trip(decryptor: ServiceTokenDecryptor) -> None:
    read = decryptor.decrypt(issue(apps=[], methods=[]), now=NOW)
    assert read.apps == frozenset()
    assert read.methods == frozenset()


def test_unknown_claims_are_ignored(decryptor: ServiceTokenDecryptor) -> None:
    # (cnf is no longer unknown: RFC 8705 binding, tested in tests/core/test_cnf.py.)
    read = decryptor.decrypt(forge(payload=claims(ext={"future": "claim"})), now=NOW)
    assert read.jti == "jti-1"


def test_principal_and_policy(decryptor: ServiceTokenDecryptor) -> None:
    principal = decryptor.decrypt(issue(), now=NOW).principal()
    assert principal == Principal(
        subject="key-1",
        method="service-key",
        kind="service-key",
        org_id="org-1",
        methods=frozenset({"apps.read", "reviews.read"}),
        apps=frozenset({"A1", "A2"}),
        token_id="jti-1",
        expires_at=NOW + 900,
    )
    catalog = load_catalog(DEMO_CATALOG)
    assert authorize(principal, "GET", "/demo/apps/A1/reviews", catalog).allowed
    assert authorize(principal, "GET", "/demo/apps/A3/reviews", catalog).reason == (
        "app_not_in_scope"
    )
    assert authorize(principal, "GET", "/demo/reports", catalog).reason == "method_not_held"


@pytest.mark.parametrize(
    ("now", "leeway", "outcome"),
    [
        (NOW, 0, None),
        (NOW + 899, 0, None),
        (NOW + 900, 0, TokenExpired),  # valid *before* exp (RFC 7519 section 4.1.4)
        (NOW + 900, 30, None),
        (NOW + 930, 30, TokenExpired),
        (NOW + 10**6, 0, TokenExpired),
        (NOW - 1, 0, InvalidToken),  # issued in the future
        (NOW - 30, 30, None),
        (NOW - 31, 30, InvalidToken),
    ],
)
def test_times(
    decryptor: ServiceTokenDecryptor, now: int, leeway: int, outcome: type[Exception] | None
) -> None:
    token = issue()
    if outcome is None:
        assert decryptor.decrypt(token, now=now, leeway=leeway).jti == "jti-1"
    else:
        with pytest.raises(outcome):
            decryptor.decrypt(token, now=now, leeway=leeway)


# --- interop with joserfc -----------------------------------------------------------------


def test_joserfc_decrypts_propusk_tokens() -> None:
    token = issue(jti="interop-1", iv=bytes(range(1, 13)))
    opened = jwe.decrypt_compact(token, OctKey.import_key(KEY), algorithms=JOSE_ALGS)
    assert opened.headers() == {"alg": "dir", "enc": "A256GCM", "kid": KID, "typ": "JWT"}
    assert opened.plaintext is not None
    assert json.loads(opened.plaintext) == claims(jti="interop-1")


def test_joserfc_with_wrong_key_refuses_propusk_tokens() -> None:
    with pytest.raises(DecodeError):
        jwe.decrypt_compact(issue(), OctKey.import_key(OTHER_KEY), algorithms=JOSE_ALGS)


@pytest.mark.parametrize(
    "header",
    [
        {"alg": "dir", "enc": "A256GCM", "kid": KID},
        {"enc": "A256GCM", "kid": KID, "alg": "dir", "typ": "JWT"},
    ],
)
def test_propusk_decrypts_joserfc_tokens(
    decryptor: ServiceTokenDecryptor, header: dict[str, str]
) -> None:
    plaintext = json.dumps(claims(jti="from-joserfc"))
    token = jwe.encrypt_compact(header, plaintext, OctKey.import_key(KEY), algorithms=JOSE_ALGS)
    read = decryptor.decrypt(token, now=NOW)
    assert read.jti == "from-joserfc"
    assert read.kid == KID


def test_propusk_refuses_joserfc_tokens_of_other_algorithms(
    decryptor: ServiceTokenDecryptor,
) -> None:
    oct_key = OctKey.import_key(KEY)
    plaintext = json.dumps(claims())
    made = [
        jwe.encrypt_compact(
            {"alg": "A256KW", "enc": "A256GCM", "kid": KID},
            plaintext,
            oct_key,
            algorithms=["A256KW", "A256GCM"],
        ),
        jwe.encrypt_compact(
            {"alg": "dir", "enc": "A128GCM", "kid": KID},
            plaintext,
            OctKey.import_key(KEY[:16]),
            algorithms=["dir", "A128GCM"],
        ),
        jwe.encrypt_compact(
            {"alg": "dir", "enc": "A256CBC-HS512", "kid": KID},
            plaintext,
            OctKey.import_key(KEY + KEY),
            algorithms=["dir", "A256CBC-HS512"],
        ),
        jwe.encrypt_compact(
            {"alg": "dir", "enc": "A256GCM", "kid": KID, "zip": "DEF"},
            plaintext,
            oct_key,
            algorithms=[*JOSE_ALGS, "DEF"],
        ),
    ]
    for token in made:
        with pytest.raises(InvalidToken):
            decryptor.decrypt(token, now=NOW)


# --- refusals -----------------------------------------------------------------------------


def _flip(part_index: int, char_index: int = 0) -> Callable[[str], str]:
    def tamper(token: str) -> str:
        parts = token.split(".")
        part = parts[part_index]
        old = part[char_index]
        parts[part_index] = (
            part[:char_index] + ("B" if old == "A" else "A") + part[char_index + 1 :]
        )
        return ".".join(parts)

    return tamper


def _parts(count: int) -> Callable[[str], str]:
    def change(token: str) -> str:
        parts = token.split(".")
        return ".".join(parts[:count]) if count < 5 else ".".join([*parts, parts[-1]])

    return change


def _replace(part_index: int, value: str) -> Callable[[str], str]:
    def change(token: str) -> str:
        parts = token.split(".")
        parts[part_index] = value
        return ".".join(parts)

    return change


TAMPERED: dict[str, Callable[[str], str]] = {
    "header flipped": _flip(0, 5),
    "header flipped at the end": _flip(0, -1),
    "header re-encoded without typ": _replace(
        0, b64(b'{"alg":"dir","enc":"A256GCM","kid":"stk-1"}')
    ),
    "header of the other kid": _replace(0, b64(b'{"alg":"dir","enc":"A256GCM","kid":"stk-0"}')),
    "iv flipped": _flip(2),
    "ciphertext flipped": _flip(3, 10),
    "tag flipped": _flip(4),
    "tag not canonical": lambda t: t[:-1] + chr(ord(t[-1]) + 1),
    "4 parts": _parts(4),
    "6 parts": _parts(6),
    "3 parts": _parts(3),
    "encrypted key present": _replace(1, "AAAA"),
    "iv of 16 bytes": _replace(2, b64(bytes(16))),
    "iv of 8 bytes": _replace(2, b64(bytes(8))),
    "tag truncated": lambda t: t[:-2],
    "tag of 12 bytes": lambda t: t.rsplit(".", 1)[0] + "." + b64(bytes(12)),
    "empty ciphertext": _replace(3, ""),
    "ciphertext of impossible length": _replace(3, "AAAAA"),
    "ciphertext not canonical": _replace(3, "AB"),
    "padded base64": lambda t: t + "==",
    "standard alphabet": lambda t: t.replace("-", "+").replace("_", "/") + "+/",
    "space": lambda t: t[:10] + " " + t[10:],
    "newline at the end": lambda t: t + "\n",
    "bad character": lambda t: t[:10] + "!" + t[10:],
    "non-ASCII": lambda t: t[:10] + "\u00e9" + t[10:],
    "oversized": lambda t: t + "A" * MAX_SERVICE_TOKEN_CHARS,
    "empty": lambda t: "",
    "dots only": lambda t: "....",
    "a JWS": lambda t: "eyJhbGciOiJub25lIn0.e30.",
}


@pytest.mark.parametrize("tamper", TAMPERED.values(), ids=TAMPERED.keys())
def test_tampered_tokens_refused(
    decryptor: ServiceTokenDecryptor, tamper: Callable[[str], str]
) -> None:
    token = issue()
    decryptor.decrypt(token, now=NOW)  # fine before tampering (and its header is cached)
    with pytest.raises(InvalidToken):
        decryptor.decrypt(tamper(token), now=NOW)


def _nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


FORGED: dict[str, Callable[[], str]] = {
    "alg RSA-OAEP": lambda: forge({"alg": "RSA-OAEP", "enc": "A256GCM", "kid": KID}),
    "alg RSA-OAEP with a key": lambda: forge(
        {"alg": "RSA-OAEP", "enc": "A256GCM", "kid": KID}, encrypted_key=bytes(256)
    ),
    "alg A256KW with a key": lambda: forge(
        {"alg": "A256KW", "enc": "A256GCM", "kid": KID}, encrypted_key=bytes(40)
    ),
    "alg none": lambda: forge({"alg": "none", "enc": "A256GCM", "kid": KID}),
    "alg DIR": lambda: forge({"alg": "DIR", "enc": "A256GCM", "kid": KID}),
    "alg missing": lambda: forge({"enc": "A256GCM", "kid": KID}),
    "enc A128GCM": lambda: forge({"alg": "dir", "enc": "A128GCM", "kid": KID}),
    "enc A256CBC-HS512": lambda: forge({"alg": "dir", "enc": "A256CBC-HS512", "kid": KID}),
    "enc missing": lambda: forge({"alg": "dir", "kid": KID}),
    "zip DEF": lambda: forge({"alg": "dir", "enc": "A256GCM", "kid": KID, "zip": "DEF"}),
    "crit": lambda: forge({"alg": "dir", "enc": "A256GCM", "kid": KID, "crit": ["exp"]}),
    "jku": lambda: forge({"alg": "dir", "enc": "A256GCM", "kid": KID, "jku": "https://x"}),
    "typ other": lambda: forge({"alg": "dir", "enc": "A256GCM", "kid": KID, "typ": "at+jwt"}),
    "kid missing": lambda: forge({"alg": "dir", "enc": "A256GCM"}),
    "kid a number": lambda: forge({"alg": "dir", "enc": "A256GCM", "kid": 1}),
    "kid a list": lambda: forge({"alg": "dir", "enc": "A256GCM", "kid": [KID]}),
    "header an array": lambda: forge(["dir", "A256GCM", KID]),
    "header a string": lambda: forge("dir"),
    "header not JSON": lambda: forge(raw_header=b"{alg: dir}"),
    "header not UTF-8": lambda: forge(raw_header=b'{"alg":"dir","enc":"A256GCM","kid":"\xff"}'),
    "header deeply nested": lambda: forge(raw_header=_nested(1500)),
    "wrong key, same kid": lambda: forge(key=OTHER_KEY),
    "wrong issuer": lambda: forge(payload=claims(iss="https://evil.test")),
    "claims not JSON": lambda: forge(payload=b"not json"),
    "claims not UTF-8": lambda: forge(payload=b'{"iss":"\xff"}'),
    "claims an array": lambda: forge(payload=[claims()]),
    "claims null": lambda: forge(payload=b"null"),
    "claims deeply nested": lambda: forge(payload=_nested(1500)),
    "iat a string": lambda: forge(payload=claims(iat=str(NOW))),
    "iat a float": lambda: forge(payload=claims(iat=NOW + 0.5)),
    "exp a float": lambda: forge(payload=claims(exp=float(NOW + 900))),
    "exp true": lambda: forge(payload=claims(exp=True)),
    "exp null": lambda: forge(payload=claims(exp=None)),
    "gen a string": lambda: forge(payload=claims(gen="2")),
    "gen false": lambda: forge(payload=claims(gen=False)),
    "sub a number": lambda: forge(payload=claims(sub=123)),
    "org null": lambda: forge(payload=claims(org=None)),
    "jti a list": lambda: forge(payload=claims(jti=["a"])),
    "apps a string": lambda: forge(payload=claims(apps="A1")),
    "apps an object": lambda: forge(payload=claims(apps={"A1": True})),
    "apps with a number": lambda: forge(payload=claims(apps=["A1", 2])),
    "methods with null": lambda: forge(payload=claims(methods=[None])),
    "methods nested": lambda: forge(payload=claims(methods=[["apps.read"]])),
}


def _without(name: str) -> Callable[[], str]:
    return lambda: forge(payload=claims(**{name: ...}))


for _name in ("iss", "sub", "org", "apps", "methods", "iat", "exp", "jti", "gen"):
    FORGED[f"{_name} missing"] = _without(_name)


@pytest.mark.parametrize("make", FORGED.values(), ids=FORGED.keys())
def test_forged_tokens_refused(decryptor: ServiceTokenDecryptor, make: Callable[[], str]) -> None:
    with pytest.raises(InvalidToken) as caught:
        decryptor.decrypt(make(), now=NOW)
    assert not isinstance(caught.value, TokenExpired | UnknownKeyId)
    assert caught.value.message == InvalidToken.message  # nothing specific for the caller
    assert caught.value.detail is not None
    assert KEY.hex() not in caught.value.detail


def test_forged_header_variant_is_accepted_when_authentic(
    decryptor: ServiceTokenDecryptor,
) -> None:
    # Another spelling of an allowed header (spaces, order) is fine if it authenticates.
    token = forge(raw_header=b'{ "kid" : "stk-1", "enc": "A256GCM", "alg": "dir" }')
    assert decryptor.decrypt(token, now=NOW).kid == KID


def test_unknown_kid(decryptor: ServiceTokenDecryptor) -> None:
    with pytest.raises(UnknownKeyId):
        decryptor.decrypt(issue(kid="stk-9"), now=NOW)
    with pytest.raises(UnknownKeyId):
        decryptor.decrypt(forge({"alg": "dir", "enc": "A256GCM", "kid": "stk-9"}), now=NOW)
    # After the keyring drops a kid, its tokens are refused.
    fewer = ServiceTokenDecryptor({"stk-0": OTHER_KEY}, issuer=ISSUER)
    with pytest.raises(UnknownKeyId):
        fewer.decrypt(issue(), now=NOW)


def test_expired_is_token_expired(decryptor: ServiceTokenDecryptor) -> None:
    with pytest.raises(TokenExpired):
        decryptor.decrypt(forge(payload=claims(exp=NOW)), now=NOW)


def test_non_string_token_refused(decryptor: ServiceTokenDecryptor) -> None:
    with pytest.raises(InvalidToken):
        decryptor.decrypt(issue().encode(), now=NOW)  # type: ignore[arg-type]


def test_failed_headers_are_not_cached(decryptor: ServiceTokenDecryptor) -> None:
    # A token whose header is allowed but whose tag fails must not teach the cache anything.
    bad = forge(raw_header=b'{"alg":"dir","enc":"A256GCM","kid":"stk-1" }', key=OTHER_KEY)
    with pytest.raises(InvalidToken):
        decryptor.decrypt(bad, now=NOW)
    with pytest.raises(InvalidToken):
        decryptor.decrypt(bad, now=NOW)
    good = forge(raw_header=b'{"alg":"dir","enc":"A256GCM","kid":"stk-1" }')
    assert decryptor.decrypt(good, now=NOW).kid == KID


def test_smaller_size_cap() -> None:
    small = ServiceTokenDecryptor({KID: KEY}, issuer=ISSUER, max_token_chars=100)
    with pytest.raises(InvalidToken):
        small.decrypt(issue(), now=NOW)


# --- arguments ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "kid", "overrides"),
    [
        (KEY[:16], KID, {}),
        (KEY + b"\x00", KID, {}),
        (KEY, "", {}),
        (KEY, KID, {"iv": bytes(16)}),
        (KEY, KID, {"apps": "A1"}),
        (KEY, KID, {"methods": [1]}),
        (KEY, KID, {"key_id": ""}),
        (KEY, KID, {"issuer": ""}),
        (KEY, KID, {"ttl": 0}),
        (KEY, KID, {"ttl": -1}),
        (KEY, KID, {"generation": -1}),
        (KEY, KID, {"generation": True}),
        (KEY, KID, {"issued_at": 1.5}),
        (KEY, KID, {"apps": [f"app-{n:020d}" for n in range(400)]}),  # token too long
    ],
)
def test_issue_refuses_bad_arguments(key: bytes, kid: str, overrides: dict[str, Any]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - each case has its own message
        issue(key, kid, **overrides)


def test_issue_sorts_and_dedupes(decryptor: ServiceTokenDecryptor) -> None:
    token = issue(apps=["B", "A", "B"], methods=("m2", "m1", "m1"))
    opened = jwe.decrypt_compact(token, OctKey.import_key(KEY), algorithms=JOSE_ALGS)
    assert opened.plaintext is not None
    payload = json.loads(opened.plaintext)
    assert payload["apps"] == ["A", "B"]
    assert payload["methods"] == ["m1", "m2"]


@pytest.mark.parametrize("keys", [{KID: KEY[:16]}, {"": KEY}, {KID: "x" * 32}])
def test_decryptor_refuses_bad_keys(keys: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"kid|bytes"):
        ServiceTokenDecryptor(keys, issuer=ISSUER)


def test_decryptor_kids(decryptor: ServiceTokenDecryptor) -> None:
    assert decryptor.kids == frozenset({KID, "stk-0"})
