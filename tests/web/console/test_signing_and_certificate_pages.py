"""Signing keys (paste or upload a public key; legacy algorithms behind a warning) and
certificate requests (upload a CSR, decide, download, revoke) in the console."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from propusk.core.principals import Principal
from propusk.services.audit import Origin
from propusk.wiring import Services
from tests.web.console.conftest import Owned
from tests.web.console.helpers import csrf_of, flash_of

RSA_KEY = rsa.generate_private_key(65537, 2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())


def public_pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def csr(key: Any = EC_KEY, cn: str = "gateway") -> x509.CertificateSigningRequest:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    return x509.CertificateSigningRequestBuilder().subject_name(name).sign(key, hashes.SHA256())


async def upload(
    owned: Owned, path: str, page: str, fields: dict[str, Any], files: dict[str, Any]
) -> httpx.Response:
    token = csrf_of((await owned.console.get(page)).text)
    return await owned.console.http.post(
        path,
        data={"csrf": token, **fields},
        files=files,
        headers={"Referer": f"http://testserver{page}"},
    )


# -- signing keys --------------------------------------------------------------------


async def test_paste_a_public_key(owned: Owned) -> None:
    base = f"/console/orgs/{owned.org}/signing-keys"
    page = (await owned.console.get(base)).text
    assert "Legacy algorithms (MD5, SHA-1)" in page and "signatures with them can be forged" in page
    r = await owned.console.post(
        base,
        {"name": "Partner A", "public_key": public_pem(RSA_KEY), "method": ["reviews.read"],
         "all_apps": "on", "algorithm": ["SHA256withRSA"]},
        page=base,
    )  # fmt: skip
    assert r.status_code == 303
    page = (await owned.console.get(base)).text
    assert flash_of(page) == "The signing key is added."
    assert "Partner A" in page and "SHA256withRSA" in page and "rsa" in page


async def test_login_and_terminal_id_name_the_partner(owned: Owned, services: Services) -> None:
    base = f"/console/orgs/{owned.org}/signing-keys"
    fields = {
        "public_key": public_pem(RSA_KEY),
        "method": ["payments.topup"],
        "algorithm": ["SHA256withRSA"],
        "login": "shop-42",
        "terminal_id": "12345",
    }
    r = await owned.console.post(base, {"name": "Gateway", **fields}, page=base)
    assert r.status_code == 303
    page = (await owned.console.get(base)).text
    assert "shop-42" in page and "12345" in page
    by_login = await services.signing_keys.partner_by_login("shop-42")
    by_terminal = await services.signing_keys.partner_by_terminal("12345")
    assert by_login is not None and by_terminal is not None
    assert by_login.key_id == by_terminal.key_id
    # Logins are unique on the server: a second key with the same one is refused, unwritten.
    await owned.console.post(base, {"name": "Copy", **fields, "terminal_id": ""}, page=base)
    page = (await owned.console.get(base)).text
    assert flash_of(page) != "The signing key is added." and "Copy" not in page


async def test_upload_a_public_key_file(owned: Owned) -> None:
    base = f"/console/orgs/{owned.org}/signing-keys"
    r = await upload(
        owned, base, base,
        {"name": "Partner EC", "method": "reviews.read", "app": owned.apps["Shop"]},
        {"public_key_file": ("partner.pem", public_pem(EC_KEY).encode(), "application/x-pem-file")},
    )  # fmt: skip
    assert r.status_code == 303
    page = (await owned.console.get(base)).text
    assert "Partner EC" in page and "SHA256withECDSA" in page  # the default for P-256


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"algorithm": ["SHA1withRSA"]}, "SHA1withRSA use a broken hash"),
        ({"public_key": "not a key"}, None),
        ({"public_key": ""}, "Paste the public key or choose its file"),
    ],
)
async def test_legacy_needs_the_box_and_bad_keys_are_refused(
    owned: Owned, fields: dict[str, Any], message: str | None
) -> None:
    base = f"/console/orgs/{owned.org}/signing-keys"
    data = {"name": "Old", "public_key": public_pem(RSA_KEY), "method": ["reviews.read"],
            "all_apps": "on", **fields}  # fmt: skip
    await owned.console.post(base, data, page=base)
    page = (await owned.console.get(base)).text
    assert "No signing keys yet." in page
    flash = flash_of(page)
    assert flash and (message is None or flash.startswith(message))


async def test_legacy_with_the_box_is_enabled_and_warned_about(owned: Owned) -> None:
    base = f"/console/orgs/{owned.org}/signing-keys"
    await owned.console.post(
        base,
        {"name": "Old partner", "public_key": public_pem(RSA_KEY), "method": ["reviews.read"],
         "all_apps": "on", "algorithm": ["SHA1withRSA", "SHA256withRSA"], "allow_legacy": "on"},
        page=base,
    )  # fmt: skip
    page = (await owned.console.get(base)).text
    assert "Old partner" in page and "tag-legacy" in page
    assert "broken hash" in flash_of(page)


async def test_disable_enable_delete_signing_key(owned: Owned, services: Services) -> None:
    base = f"/console/orgs/{owned.org}/signing-keys"
    await owned.console.post(
        base,
        {"name": "Temp", "public_key": public_pem(EC_KEY), "method": ["reviews.read"],
         "all_apps": "on"},
        page=base,
    )  # fmt: skip
    (key,) = await services.signing_keys.list(await _owner_id(services, owned), owned.org)
    await owned.console.post(f"{base}/{key.key_id}/disable", page=base)
    assert "status-disabled" in (await owned.console.get(base)).text
    await owned.console.post(f"{base}/{key.key_id}/enable", page=base)
    assert "status-active" in (await owned.console.get(base)).text
    await owned.console.post(f"{base}/{key.key_id}/delete", page=base)
    assert "No signing keys yet." in (await owned.console.get(base)).text


async def _owner_id(services: Services, owned: Owned) -> str:
    return await services.accounts.find_id_by_email("owner@console.example")


# -- certificates --------------------------------------------------------------------


@pytest.fixture
async def ca_ready(services: Services) -> None:
    await services.ca.init(Origin())


async def test_request_decide_download_revoke(
    owned: Owned, services: Services, ca_ready: None
) -> None:
    base = f"/console/orgs/{owned.org}/certificates"
    pem = csr().public_bytes(serialization.Encoding.PEM).decode()
    r = await owned.console.post(
        f"{base}/requests",
        {"csr": pem, "app": [owned.apps["Shop"]], "method": ["reviews.read"]},
        page=base,
    )
    assert r.status_code == 303
    page = (await owned.console.get(base)).text
    assert flash_of(page) == "The request is submitted; a CA operator decides it."
    assert "CN=gateway" in page and "status-pending" in page
    owner = await _owner_id(services, owned)
    (pending,) = await services.certificates.list_requests(Principal(owner, "bearer"), owned.org)
    # An owner decides only when the CA lets the organization serve itself.
    await owned.console.post(f"{base}/requests/{pending.id}/approve", page=base)
    assert flash_of((await owned.console.get(base)).text) == (
        "Only a CA operator may decide certificate requests"
    )
    admin = Principal("ca-admin", "bearer", roles=frozenset({"admin"}))
    await services.certificates.set_self_service(admin, owned.org, True, Origin())
    await owned.console.post(f"{base}/requests/{pending.id}/approve", page=base)
    page = (await owned.console.get(base)).text
    assert flash_of(page) == "The certificate is issued." and "status-approved" in page
    (cert,) = await services.certificates.list(Principal(owner, "bearer"), owned.org)
    got = await owned.console.get(f"{base}/{cert.serial}/certificate.pem")
    assert got.status_code == 200 and "attachment" in got.headers["content-disposition"]
    issued = x509.load_pem_x509_certificate(got.content)
    assert format(issued.serial_number, "x") == cert.serial.lstrip("0")
    chain = await owned.console.get(f"{base}/{cert.serial}/chain.pem")
    ca = x509.load_pem_x509_certificates(chain.content)[0]
    issued.verify_directly_issued_by(ca)
    await owned.console.post(f"{base}/{cert.serial}/revoke", {"reason": "superseded"}, page=base)
    page = (await owned.console.get(base)).text
    assert flash_of(page) == "The certificate is revoked." and "status-revoked" in page


async def test_upload_a_der_csr_and_reject_it(
    owned: Owned, services: Services, ca_ready: None
) -> None:
    base = f"/console/orgs/{owned.org}/certificates"
    der = csr(cn="to-reject").public_bytes(serialization.Encoding.DER)
    r = await upload(
        owned, f"{base}/requests", base,
        {"all_apps": "on", "method": "reviews.read"},
        {"csr_file": ("gw.csr", der, "application/pkcs10")},
    )  # fmt: skip
    assert r.status_code == 303
    admin = Principal("ca-admin", "bearer", roles=frozenset({"admin"}))
    await services.certificates.set_self_service(admin, owned.org, True, Origin())
    owner = await _owner_id(services, owned)
    (pending,) = await services.certificates.list_requests(Principal(owner, "bearer"), owned.org)
    await owned.console.post(
        f"{base}/requests/{pending.id}/reject", {"reason": "wrong CN"}, page=base
    )
    page = (await owned.console.get(base)).text
    assert "status-rejected" in page and "wrong CN" in page


async def test_a_bad_csr_is_refused(owned: Owned, ca_ready: None) -> None:
    base = f"/console/orgs/{owned.org}/certificates"
    await owned.console.post(
        f"{base}/requests", {"csr": "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n"
                             "-----END CERTIFICATE REQUEST-----", "all_apps": "on",
                             "method": ["reviews.read"]}, page=base,
    )  # fmt: skip
    page = (await owned.console.get(base)).text
    assert flash_of(page) and "No requests yet." in page
