"""The console in a real browser: Debian's chromium driven by Playwright against a real
``propusk serve`` process, with a real SMTP sink for the confirmation mail.

Screenshots of the main pages (desktop 1280 px and phone 390 px) go to build/screenshots/.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from playwright.sync_api import Browser, Page, expect, sync_playwright

from propusk.services.accounts import CONFIRM_PREFIX
from tests.helpers import PASSWORD
from tests.integration.servers import BIN, need, propusk_env, propusk_server
from tests.support import Mailbox
from tests.web.service_key_helpers import load_private, sign, timestamp

pytestmark = pytest.mark.external


SHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"
DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 390, "height": 844}


@dataclass
class World:
    url: str
    mailbox: Mailbox
    browser: Browser
    data: Path  # the server's data directory, for the CLI

    def page(self, viewport: dict[str, int] = DESKTOP) -> Page:
        context = self.browser.new_context(
            viewport=viewport,  # type: ignore[arg-type]
            accept_downloads=True,
            locale="en-US",
        )
        context.set_default_timeout(10_000)
        return context.new_page()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    chromium = need("chromium", "chromium")
    box = Mailbox()
    box.start()
    tmp = tmp_path_factory.mktemp("console")
    smtp = {"PROPUSK_SMTP_HOST": "127.0.0.1", "PROPUSK_SMTP_PORT": str(box.port)}
    try:
        with propusk_server(tmp, **smtp) as url, sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium)
            yield World(url, box, browser, tmp / "data")
            browser.close()
    finally:
        box.stop()


def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.read_bytes().startswith(b"\x89PNG\r\n")


def sign_up_in_browser(world: World, page: Page, email: str) -> None:
    page.goto(f"{world.url}/console/signup")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Repeat the password").fill(PASSWORD)
    page.get_by_role("button", name="Create the account").click()
    expect(page).to_have_url(re.compile(r"/console/confirm$"))
    code = world.mailbox.last(email).code(CONFIRM_PREFIX)
    page.goto(f"{world.url}/console/confirm/{code}")
    page.get_by_role("button", name="Confirm", exact=True).click()
    expect(page).to_have_url(re.compile(r"/console/login$"))


def sign_in(page: Page, email: str) -> None:
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def download(page: Page, name: str) -> str:
    with page.expect_download() as info:
        page.get_by_role("link", name=name).click()
    return Path(info.value.path()).read_text()


def exchange(url: str, key_id: str, b64_key: str) -> httpx.Response:
    ts = timestamp(datetime.now(UTC))
    body = {"keyId": key_id, "timestamp": ts, "signature": sign(load_private(b64_key), key_id, ts)}
    return httpx.post(f"{url}/public/auth/", json=body, timeout=10)


def test_owner_creates_rotates_and_deletes_a_service_key(world: World) -> None:
    page = world.page()
    email = "browser-owner@example.com"
    page.goto(f"{world.url}/console/")
    shot(page, "sign-in")
    sign_up_in_browser(world, page, email)
    sign_in(page, email)
    expect(page).to_have_url(re.compile(r"/console/orgs$"))

    page.get_by_label("Name", exact=True).fill("Northwind")
    page.get_by_label("Company").check()
    page.get_by_role("button", name="Create", exact=True).click()
    expect(page).to_have_url(re.compile(r"/apps$"))
    for app in ("Shop", "Radio"):
        page.get_by_label("New app").fill(app)
        page.get_by_role("button", name="Add app").click()
    shot(page, "apps")

    page.get_by_role("link", name="Service keys").click()
    page.get_by_role("link", name="Create key").click()
    expect(page).to_have_url(re.compile(r"/service-keys/new$"))
    name = page.get_by_label("Name", exact=True)
    name.fill("CI deploy")
    expect(page.locator("#key-name-count")).to_have_text("9 / 255")
    page.get_by_label("All apps").check()
    expect(page.get_by_label("Shop")).to_be_disabled()
    page.get_by_label("reviews.read").check()
    page.get_by_label("reports.read").check()
    shot(page, "create-key")
    page.get_by_role("button", name="Create", exact=True).click()

    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    expect(page.locator("#secret-value")).to_be_focused()  # focus moved into the dialog
    expect(dialog).to_contain_text("shown only once")
    shot(page, "private-key-dialog")
    key_id = page.locator("#new-key-id").inner_text()
    first = download(page, "Download (Base64)")
    assert first == page.locator("#secret-value").input_value()
    answer = exchange(world.url, key_id, first)
    assert answer.status_code == 200, answer.text
    assert answer.json()["code"] == "OK"
    page.get_by_role("button", name="I have saved it").click()
    expect(dialog).to_be_hidden()
    expect(page.locator("#back-to-keys")).to_be_focused()  # and back to the page

    page.locator("#back-to-keys").click()
    expect(page.get_by_role("dialog")).to_have_count(0)  # the key is not shown again
    assert first[:40] not in page.content()
    table = page.locator("#keys-table")
    expect(table).to_contain_text("CI deploy")
    expect(table).to_contain_text("Shop")
    expect(table).to_contain_text("Radio")
    shot(page, "service-keys")

    page.get_by_role("link", name="Rotate CI deploy").click()
    page.get_by_role("button", name="Rotate").click()
    expect(page.get_by_role("dialog")).to_be_visible()
    second = download(page, "Download (Base64)")
    assert second != first
    assert exchange(world.url, key_id, first).status_code == 401
    assert exchange(world.url, key_id, second).status_code == 200
    page.get_by_role("button", name="I have saved it").click()
    page.locator("#back-to-keys").click()

    phone = world.page(PHONE)
    # The same session on a phone: Cookie and SetCookieParam are the same fields.
    phone.context.add_cookies(page.context.cookies())  # type: ignore[arg-type]
    phone.goto(page.url)
    shot(phone, "service-keys-phone")
    phone.get_by_role("link", name="Create key").click()
    shot(phone, "create-key-phone")
    phone.context.close()

    for section, image in (
        ("Signing keys", "signing-keys"),
        ("Certificates", "certificates"),
        ("Members", "members"),
        ("Audit log", "audit"),
    ):
        page.get_by_role("navigation", name="Sections").get_by_role("link", name=section).click()
        shot(page, image)
    expect(page.locator("table")).to_contain_text("service_key.rotated")
    page.get_by_role("link", name="Service keys").click()
    page.get_by_role("link", name="Delete CI deploy").click()
    button = page.get_by_role("button", name="Delete the key")
    expect(button).to_be_disabled()
    page.get_by_label("Type").fill("CI deplo")
    expect(button).to_be_disabled()
    page.get_by_label("Type").fill("CI deploy")
    expect(button).to_be_enabled()
    button.click()
    expect(page.get_by_role("status")).to_have_text("The key is deleted.")
    expect(page.get_by_text("No keys yet.")).to_be_visible()
    assert exchange(world.url, key_id, second).status_code == 401
    page.context.close()


def _api_account(url: str, mailbox: Mailbox, email: str) -> dict[str, str]:
    with httpx.Client(base_url=url, timeout=10) as http:
        r = http.post("/v1/user", json={"login": email, "password": PASSWORD})
        assert r.status_code == 201, r.text
        code = mailbox.last(email).code(CONFIRM_PREFIX)
        assert http.get(f"/v1/user/confirm/{code}").status_code == 200
        login = http.post("/v1/auth/login", json={"username": email, "password": PASSWORD})
        return {"Authorization": f"Bearer {login.json()['access_token']}"}


def test_a_developer_cannot_see_or_use_create_and_delete(world: World) -> None:
    owner = _api_account(world.url, world.mailbox, "api-owner@example.com")
    _api_account(world.url, world.mailbox, "browser-dev@example.com")
    with httpx.Client(base_url=world.url, headers=owner, timeout=10) as http:
        org = http.post("/v1/orgs", json={"name": "Acme", "kind": "company"}).json()["id"]
        http.post(f"/v1/orgs/{org}/apps", json={"name": "Shop"})
        key = http.post(
            f"/v1/orgs/{org}/service-keys",
            json={"name": "Owner key", "allApps": True, "methods": ["reviews.read"]},
        ).json()
        r = http.post(
            f"/v1/orgs/{org}/members",
            json={"email": "browser-dev@example.com", "role": "developer"},
        )
        assert r.status_code == 201, r.text

    page = world.page()
    page.goto(f"{world.url}/console/login")
    sign_in(page, "browser-dev@example.com")
    expect(page.locator("#keys-table")).to_contain_text("Owner key")
    expect(page.get_by_role("link", name="Create key")).to_have_count(0)
    expect(page.get_by_role("link", name=re.compile("^Delete"))).to_have_count(0)
    expect(page.get_by_role("link", name=re.compile("^Rotate"))).to_have_count(0)
    shot(page, "service-keys-developer")
    # Forged posts with the page's own valid CSRF token: the server still refuses.
    base = f"/console/orgs/{org}/service-keys"
    for path, fields in (
        (base, {"name": "sneaky", "all_apps": "on", "method": "reviews.read"}),
        (f"{base}/{key['keyId']}/delete", {"confirm_name": "Owner key"}),
    ):
        status = page.evaluate(
            """async ([path, fields]) => {
                const body = new URLSearchParams(fields);
                body.set("csrf", document.querySelector("input[name=csrf]").value);
                const r = await fetch(path, {method: "POST", body});
                return [r.status, await r.text()];
            }""",
            [path, fields],
        )
        assert status[0] == 200 and "does not allow this" in status[1], status[1][:300]
        assert "secret-value" not in status[1]
    page.goto(f"{world.url}/console/orgs/{org}/service-keys/new")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Your role")
    page.context.close()
    with httpx.Client(base_url=world.url, headers=owner, timeout=10) as http:
        items = http.get(f"/v1/orgs/{org}/service-keys").json()["items"]
    assert [k["name"] for k in items] == ["Owner key"]


def test_a_form_without_its_csrf_token_is_refused(world: World) -> None:
    email = "browser-csrf@example.com"
    _api_account(world.url, world.mailbox, email)
    page = world.page()
    page.goto(f"{world.url}/console/login")
    sign_in(page, email)
    page.get_by_label("Name", exact=True).fill("Forged Org")
    page.evaluate("document.querySelectorAll('input[name=csrf]').forEach(e => e.remove())")
    response_status = []
    page.on("response", lambda r: response_status.append(r.status))
    page.get_by_role("button", name="Create", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("The form expired")
    assert 403 in response_status
    page.goto(f"{world.url}/console/orgs")
    expect(page.get_by_text("Forged Org")).to_have_count(0)
    page.context.close()


def test_russian_pages_at_phone_width_and_the_keyboard(world: World) -> None:
    page = world.page(PHONE)
    page.goto(f"{world.url}/console/signup")
    page.get_by_role("button", name="RU").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Регистрация")
    shot(page, "sign-up-ru-phone")
    # Keyboard: the first Tab reaches "skip to content", Enter moves focus to the page
    # (on a page without an autofocus field).
    page.goto(f"{world.url}/console/confirm")
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Перейти к содержимому")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()
    page.context.close()


def test_a_server_admin_decides_requests_in_the_ca_queue(world: World) -> None:
    admin = "browser-ca-admin@example.com"
    env = propusk_env(world.data)
    for args in (["ca", "init"], ["admin", "create", "--email", admin, "--password", PASSWORD]):
        done = subprocess.run(
            [str(BIN / "propusk"), *args], env=env, capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stderr
    owner = _api_account(world.url, world.mailbox, "browser-csr-owner@example.com")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "browser-gateway")])
    csr = x509.CertificateSigningRequestBuilder().subject_name(name).sign(key, hashes.SHA256())
    with httpx.Client(base_url=world.url, headers=owner, timeout=10) as http:
        org = http.post("/v1/orgs", json={"name": "Partner Co", "kind": "company"}).json()["id"]
        app = http.post(f"/v1/orgs/{org}/apps", json={"name": "Shop"}).json()["id"]
        r = http.post(
            f"/v1/orgs/{org}/certificate-requests",
            params={"appIds": app, "methods": "reviews.read"},
            content=csr.public_bytes(serialization.Encoding.PEM),
            headers={"Content-Type": "application/pkcs10"},
        )
        assert r.status_code == 201, r.text
    page = world.page()
    page.goto(f"{world.url}/console/login")
    sign_in(page, admin)
    page.get_by_role("link", name="CA requests").click()
    row = page.locator("#ca-requests-table tbody tr", has_text="browser-gateway")
    expect(row).to_contain_text("Partner Co")
    shot(page, "ca-requests")
    row.get_by_role("button", name="Approve").click()
    expect(page.get_by_role("status")).to_have_text("The certificate is issued.")
    expect(page.get_by_text("No requests are waiting.")).to_be_visible()
    page.context.close()
