"""One vocabulary: every error code belongs to one class and is documented, and every
``X-Propusk-Auth`` value is documented (docs/errors.md)."""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Iterator
from pathlib import Path

import propusk
from propusk.core.errors import PropuskError
from propusk.core.principals import AUTH_METHODS

DOC = Path(__file__).resolve().parents[2] / "docs" / "errors.md"


def _import_everything() -> None:
    for module in pkgutil.walk_packages(propusk.__path__, "propusk."):
        if ".migrations" not in module.name:  # Alembic scripts run only under Alembic
            importlib.import_module(module.name)


def _subclasses(root: type[PropuskError]) -> Iterator[type[PropuskError]]:
    for sub in root.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def _declared() -> dict[str, list[str]]:
    """code -> the classes that declare it in their own body."""
    _import_everything()
    owners: dict[str, list[str]] = {}
    for cls in set(_subclasses(PropuskError)):
        if "code" in cls.__dict__:
            owners.setdefault(cls.__dict__["code"], []).append(cls.__qualname__)
    return owners


def _documented() -> set[str]:
    return set(re.findall(r"^\| `([a-z_]+)` \|", DOC.read_text(encoding="utf-8"), re.MULTILINE))


def test_error_codes_are_found() -> None:
    assert {"invalid_token", "forbidden", "invalid_signature", "waves_invalid_token"} <= set(
        _declared()
    )


def test_each_code_is_declared_by_one_class() -> None:
    shared = {code: owners for code, owners in _declared().items() if len(owners) > 1}
    assert not shared, f"codes declared by several classes (subclass one instead): {shared}"


def test_each_code_is_documented_and_nothing_else() -> None:
    declared = set(_declared())
    documented = _documented() - AUTH_METHODS - {"api-key"}
    assert declared - documented == set(), "undocumented codes"
    assert documented - declared == set(), "documented codes that no class raises"


def test_each_auth_method_is_documented() -> None:
    text = DOC.read_text(encoding="utf-8")
    for method in AUTH_METHODS:
        assert f"| `{method}` |" in text, method


def test_codes_are_machine_words() -> None:
    for code in _declared():
        assert re.fullmatch(r"[a-z][a-z_]*[a-z]", code), code
