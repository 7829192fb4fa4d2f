"""Request and response bodies shared by the API routers.

Requests refuse unknown fields and take strict types (a number is not a string), with a
length cap on every string so nothing unbounded reaches a service.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, Protocol

from fastapi import Path
from pydantic import BaseModel, ConfigDict, Field, StrictStr
from pydantic.alias_generators import to_camel

from propusk.services.scopes import KeyScope

__all__ = [
    "ID_TEXT",
    "NO_STORE",
    "AccountId",
    "AppId",
    "CredentialCreate",
    "CredentialUpdate",
    "Ids",
    "KeyId",
    "Message",
    "Name",
    "OrgId",
    "Request",
    "Scoped",
    "Str",
    "TokenResponse",
    "wire",
]

Str = Annotated[StrictStr, Field(max_length=4096)]
Name = Annotated[Str, Field(max_length=255)]
# A list of ids in a body (apps, methods of a scope).
Ids = Annotated[list[Annotated[Str, Field(max_length=64)]], Field(max_length=1000)]

# Ids in paths: bounded, and no control characters. A NUL would reach the database, where
# PostgreSQL refuses it in text (a 500); such an id can never exist, so it is a 400 here.
ID_TEXT = r"^[^\x00-\x1f\x7f]+$"
OrgId = Annotated[str, Path(max_length=36, pattern=ID_TEXT)]
AccountId = Annotated[str, Path(max_length=36, pattern=ID_TEXT)]
AppId = Annotated[str, Path(max_length=36, pattern=ID_TEXT)]
KeyId = Annotated[str, Path(max_length=64, pattern=ID_TEXT)]

# For answers that carry a secret shown once: no cache may keep a copy.
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


# The fields a service key's and an API key's bodies start with (a signing key's body
# orders them otherwise). No docstrings: FastAPI would publish them as schema descriptions.
class CredentialCreate(Request):
    name: Name
    appIds: Ids | None = None
    allApps: bool = False
    methods: Ids

    @property
    def scope(self) -> KeyScope:
        return KeyScope(self.appIds, self.allApps, self.methods)


class CredentialUpdate(Request):
    name: Annotated[Str | None, Field(max_length=255)] = None
    appIds: Ids | None = None
    allApps: bool | None = None
    methods: Ids | None = None


class Message(BaseModel):
    message: str


class TokenResponse(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str = "Bearer"  # noqa: S105 - a scheme name
    expires_in: int


class Scoped(Protocol):
    """A credential's view, as far as its scope goes."""

    @property
    def apps(self) -> Sequence[str]: ...

    @property
    def methods(self) -> Sequence[str]: ...


def wire(view: object, *names: str) -> dict[str, Any]:
    """The named attributes of a service's view as an answer's fields, in that order: each
    under its camelCase name (``key_id`` is ``keyId``), a datetime in ISO 8601, a tuple or
    list as a list, anything else (None included) as it is."""
    return {_camel(name): _wire_value(getattr(view, name)) for name in names}


_camel = functools.cache(to_camel)  # a few dozen names, each converted once


def _wire_value(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return list(value)
    return value
