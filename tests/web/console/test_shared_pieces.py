"""The pieces the console's pages share: one home for the CSRF field, and the confirm
pages (rotate, reroll, delete) that post to the address they are shown at."""

from __future__ import annotations

import re

from propusk.web.console.render import HERE
from tests.web.console.conftest import Owned
from tests.web.console.test_key_pages import create_key, key_id_of

FORMS = "_forms.html"


def test_the_csrf_field_is_written_in_one_template_only() -> None:
    # Every post form comes from _forms.html's post_form, so none can forget the token.
    writers = sorted(
        t.name for t in (HERE / "templates").glob("*.html") if 'name="csrf"' in t.read_text()
    )
    assert writers == [FORMS]
    for template in (HERE / "templates").glob("*.html"):
        if template.name != FORMS:
            assert not re.search(r'<form[^>]*method="post"', template.read_text()), template.name


async def test_confirm_pages_post_to_their_own_address(owned: Owned) -> None:
    key_id = key_id_of((await create_key(owned, "Asked")).text)
    base = f"/console/orgs/{owned.org}"
    r = await owned.console.post(
        f"{base}/api-keys", {"name": "Asked too", "all_apps": "on", "method": ["reports.read"]},
        page=f"{base}/api-keys",
    )  # fmt: skip
    assert r.status_code == 200
    table = (await owned.console.get(f"{base}/api-keys")).text
    api_id = re.search(r"/api-keys/([^/\"]+)/reroll", table)
    assert api_id
    for path in (
        f"{base}/service-keys/{key_id}/rotate",
        f"{base}/service-keys/{key_id}/delete",
        f"{base}/api-keys/{api_id.group(1)}/reroll",
    ):
        page = (await owned.console.get(path)).text
        main = page.split('<main id="main"', 1)[1]
        assert re.findall(r'<form method="post" action="([^"]+)"', main) == [path]
        cancel = path.rsplit("/", 2)[0]
        assert f'<a class="button" href="{cancel}">Cancel</a>' in page
