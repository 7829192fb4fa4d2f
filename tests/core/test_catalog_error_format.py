"""The catalog's optional ``errors`` field: which envelope the guard answers refusals in."""

from __future__ import annotations

import pytest

from propusk.core.catalog import CatalogError, load_catalog, parse_catalog
from propusk.demo import DEMO_CATALOG

METHOD = """
[[methods]]
name = "pay"
kind = "general"
routes = ["POST /pay"]
{extra}
"""


def test_default_and_qiwi_xml() -> None:
    assert parse_catalog(METHOD.format(extra="")).methods["pay"].errors == "propusk"
    xml = parse_catalog(METHOD.format(extra='errors = "qiwi-xml"'))
    assert xml.methods["pay"].errors == "qiwi-xml"
    assert load_catalog(DEMO_CATALOG).methods["payments.topup"].errors == "qiwi-xml"
    assert load_catalog(DEMO_CATALOG).methods["reports.read"].errors == "propusk"


@pytest.mark.parametrize("value", ['"xml"', '"QIWI-XML"', "1", '["qiwi-xml"]', '""'])
def test_unknown_formats_are_refused(value: str) -> None:
    with pytest.raises(CatalogError, match='method "pay": errors must be one of'):
        parse_catalog(METHOD.format(extra=f"errors = {value}"))
