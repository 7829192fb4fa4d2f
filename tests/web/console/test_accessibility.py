"""Every form control of every main page has a label, and ids are unique."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from tests.web.console.conftest import Owned


class Controls(HTMLParser):
    """Collects form controls, the ids labels point at, wrapping labels and all ids."""

    def __init__(self) -> None:
        super().__init__()
        self.controls: list[dict[str, str | None]] = []
        self.label_for: set[str] = set()
        self.ids: list[str] = []
        self._in_label = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("id"):
            self.ids.append(str(a["id"]))
        if tag == "label":
            self._in_label += 1
            if a.get("for"):
                self.label_for.add(str(a["for"]))
        if tag in ("input", "select", "textarea") and a.get("type") != "hidden":
            self.controls.append({**a, "wrapped": "yes" if self._in_label else None})

    def handle_endtag(self, tag: str) -> None:
        if tag == "label":
            self._in_label -= 1


async def test_every_control_is_labelled(owned: Owned) -> None:
    org = owned.org
    paths = [
        "/console/signup", "/console/confirm", "/console/password/forgot",
        "/console/password/reset", "/console/orgs",
        *(f"/console/orgs/{org}/{p}" for p in ("service-keys", "service-keys/new", "api-keys",
          "signing-keys", "certificates", "apps", "members", "audit")),
    ]  # fmt: skip
    await owned.console.post(
        f"/console/orgs/{org}/service-keys",
        {"name": "k", "all_apps": "on", "method": ["reviews.read"]},
        page=f"/console/orgs/{org}/service-keys/new",
    )
    for path in paths:
        page = (await owned.console.get(path)).text
        parser = Controls()
        parser.feed(page)
        assert parser.controls, path
        for control in parser.controls:
            labelled = control["wrapped"] or (control.get("id") in parser.label_for)
            assert labelled, (path, control)
        assert len(parser.ids) == len(set(parser.ids)), path
        assert re.search(r'<html lang="(en|ru)">', page)
        assert 'class="skip" href="#main"' in page and '<main id="main"' in page


async def test_the_style_sheet_and_script_are_served_from_the_package(owned: Owned) -> None:
    css = await owned.console.get("/console/static/console.css")
    js = await owned.console.get("/console/static/console.js")
    assert css.status_code == 200 and "text/css" in css.headers["content-type"]
    assert js.status_code == 200 and "javascript" in js.headers["content-type"]
    assert ":focus-visible" in css.text and "showModal" in js.text
    # Nothing from elsewhere: every script and style sheet is the console's own.
    page = (await owned.console.get(f"/console/orgs/{owned.org}/service-keys")).text
    sources = re.findall(r'(?:src|href)="([^"]+\.(?:js|css))"', page)
    assert sources and all(s.startswith("/console/static/") for s in sources)
