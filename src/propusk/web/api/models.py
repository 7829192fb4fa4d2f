"""Request and response bodies shared by the API routers.

Requests refuse unknown fields and take strict types (a number is not a string), with a
length cap on every string so nothing unbounded reaches a service.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path
from pydantic import BaseModel, ConfigDict, Field, StrictStr

__all__ = [
    "ID_TEXT",
    "AccountId",
    "AppId",
    "Ids",
    "KeyId",
    "Message",
    "OrgId",
    "Request",
    "Str",
    "TokenResponse",
]

Str = Annotated[StrictStr, Field(max_length=4096)]
# A list of ids in a body (apps, methods of a scope).
Ids = Annotated[list[Annotated[Str, Field(max_length=64)]], Field(max_length=1000)]

# Ids in paths: bounded, and no control characters. A NUL would reach the database, where
# PostgreSQL refuses it in text (a 500); such an id can never exist, so it is a 400 here.
ID_TEXT = r"^[^\x00-\x1f\x7f]+$"
OrgId = Annotated[str, Path(max_length=36, pattern=ID_TEXT)]
AccountId = Annotated[str, Path(max_length=36, pattern=ID_TEXT)]
AppId = Annotated[str, Path(max_length=36, pattern=ID_TEXT)]
KeyId = Annotated[str, Path(max_length=64, pattern=ID_TEXT)]


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Message(BaseModel):
    message: str


class TokenResponse(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str = "Bearer"  # noqa: S105 - a scheme name
    expires_in: int
