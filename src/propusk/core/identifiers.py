"""Validation of the identifiers accounts are made of (e-mail, locale, source, address)."""

from __future__ import annotations

import re

from propusk.core.errors import InvalidRequest

__all__ = [
    "LOCALES",
    "check_address",
    "check_locale",
    "check_name",
    "check_source",
    "normalize_email",
]

LOCALES = ("en", "ru")
# Deliberately simple: one @, no spaces or control characters, a dot in the domain.
_EMAIL = re.compile(r"^[^@\s\x00-\x1f\x7f]{1,64}@[^@\s\x00-\x1f\x7f]+\.[^@\s\x00-\x1f\x7f]+$")
_SOURCE = re.compile(r"^[\w.\-]{1,64}$")
_ADDRESS = re.compile(r"^[A-Za-z0-9_.:\-]{1,128}$")


def normalize_email(value: str) -> str:
    email = value.strip().lower()
    if len(email) > 320 or not _EMAIL.fullmatch(email):
        raise InvalidRequest("The login must be an e-mail address")
    return email


def check_locale(value: str) -> str:
    if value not in LOCALES:
        raise InvalidRequest("locale must be one of: en, ru")
    return value


def check_source(value: str) -> str:
    if not _SOURCE.fullmatch(value):
        raise InvalidRequest("source must be 1-64 letters, digits, '.', '_' or '-'")
    return value


def check_name(name: str, what: str = "name") -> str:
    """A display name (org, app, key): 1-255 printable characters, surrounding spaces cut."""
    clean = name.strip()
    if not 1 <= len(clean) <= 255 or any(ord(c) < 32 or ord(c) == 127 for c in clean):
        raise InvalidRequest(f"{what} must be 1-255 printable characters")
    return clean


def check_address(value: str) -> str:
    if not _ADDRESS.fullmatch(value):
        raise InvalidRequest("address must be 1-128 letters, digits, '.', ':', '_' or '-'")
    return value
