"""The catalog's optional ``dialect`` field (and its older name ``errors``): the protocol
a method's refusals are answered in (docs/dialects.md)."""

from __future__ import annotations

import pytest

from propusk.core.catalog import DIALECTS, CatalogError, load_catalog, parse_catalog
from propusk.demo import DEMO_CATALOG

METHOD = """
[[methods]]
name = "pay"
kind = "general"
routes = ["POST /pay"]
{extra}
"""


def dialect_of(extra: str) -> str | None:
    return parse_catalog(METHOD.format(extra=extra)).methods["pay"].dialect


def test_no_dialect_leaves_it_to_the_credential() -> None:
    assert dialect_of("") is None
    assert load_catalog(DEMO_CATALOG).methods["reports.read"].dialect is None


@pytest.mark.parametrize("name", sorted(DIALECTS))
def test_every_dialect_can_be_named(name: str) -> None:
    assert dialect_of(f'dialect = "{name}"') == name


def test_the_demo_topup_speaks_the_partner_xml_api() -> None:
    assert load_catalog(DEMO_CATALOG).methods["payments.topup"].dialect == "qiwi-xml"


@pytest.mark.parametrize(("legacy", "dialect"), [("qiwi-xml", "qiwi-xml"), ("propusk", "propusk")])
def test_the_older_errors_key_still_reads(legacy: str, dialect: str) -> None:
    assert dialect_of(f'errors = "{legacy}"') == dialect


@pytest.mark.parametrize("value", ['"xml"', '"QIWI-XML"', "1", '["qiwi-xml"]', '""', '"waves"'])
def test_unknown_error_formats_are_refused(value: str) -> None:
    with pytest.raises(CatalogError, match='method "pay": errors must be one of'):
        dialect_of(f"errors = {value}")


@pytest.mark.parametrize("value", ['"xml"', '"Waves"', "1", '["waves"]', '""', '"json"'])
def test_unknown_dialects_are_refused(value: str) -> None:
    with pytest.raises(CatalogError, match='method "pay": dialect must be one of'):
        dialect_of(f"dialect = {value}")


def test_both_names_at_once_are_refused() -> None:
    with pytest.raises(CatalogError, match="not both"):
        dialect_of('dialect = "waves"\nerrors = "propusk"')
