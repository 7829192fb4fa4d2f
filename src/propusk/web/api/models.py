"""Request and response bodies shared by the API routers.

Requests refuse unknown fields and take strict types (a number is not a string), with a
length cap on every string so nothing unbounded reaches a service.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictStr

__all__ = ["Message", "Request", "Str", "TokenResponse"]

Str = Annotated[StrictStr, Field(max_length=4096)]


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Message(BaseModel):
    message: str


class TokenResponse(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str = "Bearer"  # noqa: S105 - a scheme name
    expires_in: int
