"""Keeps secrets out of access logs.

The confirmation link carries its code in the path (``/v1/user/confirm/<code>``, fixed by
the Waves contract), clients put keys and tokens in query strings (``?api_key=…``), and the
ASGI server's access log prints the request target. This filter rewrites the logged text:
the confirmation code, the value of every query parameter whose name says it is a secret,
and anything shaped like a secret Propusk issued (``propusk_…``). It is installed on
uvicorn's access logger by the app factory.
"""

from __future__ import annotations

import logging
import re

__all__ = ["SECRET_PARAMETERS", "RedactSecretsFilter", "install_log_redaction", "redact_path"]

_SECRET_PATH = re.compile(r"(/v1/user/confirm/)[^/?#\s]+")
# Every secret Propusk generates starts with propusk_<kind or key id>_: refresh tokens,
# e-mail codes, managed API keys (propusk_<keyId>_<secret>).
_SECRET_VALUE = re.compile(r"propusk_[A-Za-z0-9]{2,32}_[A-Za-z0-9_\-]+")
# Query parameters whose values are secrets, whatever their shape (names compared without
# case, "-" and "_": apiKey, api-key and API_KEY are one name).
SECRET_PARAMETERS = frozenset(
    {
        "apikey",
        "key",
        "token",
        "accesstoken",
        "refreshtoken",
        "idtoken",
        "code",
        "password",
        "secret",
        "clientsecret",
        "signature",
        "sig",
        "jwe",
        "publictoken",
        "privatekey",
        "assertion",
        "clientassertion",
    }
)
_QUERY_PARAMETER = re.compile(r"([?&;])([^=&;#\s]+)=([^&;#\s\"]*)")


def _parameter(match: re.Match[str]) -> str:
    name = match.group(2).lower().replace("-", "").replace("_", "")
    if name in SECRET_PARAMETERS:
        return f"{match.group(1)}{match.group(2)}=[redacted]"
    return match.group(0)


def redact_path(text: str) -> str:
    text = _SECRET_PATH.sub(r"\1[redacted]", text)
    text = _QUERY_PARAMETER.sub(_parameter, text)
    return _SECRET_VALUE.sub("[redacted]", text)


class RedactSecretsFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact_path(a) if isinstance(a, str) else a for a in record.args)
        if isinstance(record.msg, str):
            record.msg = redact_path(record.msg)
        return True


def install_log_redaction(logger_name: str = "uvicorn.access") -> None:
    logger = logging.getLogger(logger_name)
    if not any(isinstance(f, RedactSecretsFilter) for f in logger.filters):
        logger.addFilter(RedactSecretsFilter())
