"""The message catalog: complete in both languages, and complete for the templates."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from propusk.web.console import i18n
from propusk.web.console.i18n import MESSAGES, translate
from tests.web.console.conftest import Owned

PACKAGE = Path(i18n.__file__).parent
LITERAL = re.compile(r"""_\(\s*["']([a-z_]+\.[a-z0-9_]+)["']""")
SAID = re.compile(r"""["']((?:flash|error)\.[a-z0-9_]+)["']""")


def used_keys() -> set[str]:
    keys: set[str] = set()
    for template in (PACKAGE / "templates").glob("*.html"):
        # A literal ending in "_" is a prefix joined with a value (``"role." ~ r``).
        keys |= {k for k in LITERAL.findall(template.read_text()) if not k.endswith("_")}
    for module in PACKAGE.glob("*.py"):
        keys |= {k for k in SAID.findall(module.read_text()) if k != "error.html"}
    # Keys built from values: statuses, kinds, method groups, base roles.
    keys |= {f"status.{s}" for s in ("active", "disabled", "revoked")}
    keys |= {f"orgs.kind_{k}" for k in ("company", "individual")}
    keys |= {f"scope.methods_{k}{h}" for k in ("app", "general") for h in ("", "_hint")}
    keys |= {f"role.{r}" for r in ("owner", "admin", "developer", "viewer")}
    return keys


def test_every_used_key_is_in_the_catalog() -> None:
    keys = used_keys()
    assert len(keys) > 100
    assert sorted(keys - MESSAGES.keys()) == []


@pytest.mark.parametrize("key", sorted(MESSAGES))
def test_every_key_has_both_languages(key: str) -> None:
    en, ru = MESSAGES[key]
    assert en.strip() and ru.strip()
    assert re.findall(r"\{\w+\}", en) == re.findall(r"\{\w+\}", ru)
    assert re.search("[\u0400-\u04ff]", ru), "the Russian text is not Russian"


def test_unknown_text_passes_through_and_unknown_locale_is_english() -> None:
    assert translate("ru", "Some service message") == "Some service message"
    assert translate("de", "nav.apps") == "Apps"
    assert translate("ru", "rotate.explain", name="X").count("«X»") == 1


async def test_a_russian_account_gets_russian_pages(owned: Owned) -> None:
    await owned.console.post("/console/locale", {"locale": "ru", "next": "/console/orgs"},
                             page="/console/orgs")  # fmt: skip
    page = (await owned.console.get(f"/console/orgs/{owned.org}/service-keys/new")).text
    assert '<html lang="ru">' in page
    assert "Приложения, созданные позже, не войдут" in page and "Методы приложений" in page
