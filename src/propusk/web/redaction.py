"""Keeps one-time codes out of access logs.

The confirmation link carries its code in the path (``/v1/user/confirm/<code>``, fixed by
the Waves contract), and the ASGI server's access log prints paths. This filter rewrites
the logged path; it is installed on uvicorn's access logger by the app factory.
"""

from __future__ import annotations

import logging
import re

__all__ = ["RedactSecretsFilter", "install_log_redaction", "redact_path"]

_SECRET_PATH = re.compile(r"(/v1/user/confirm/)[^/?#\s]+")
_SECRET_VALUE = re.compile(r"propusk_[a-z]{2}_[A-Za-z0-9_\-]+")


def redact_path(text: str) -> str:
    text = _SECRET_PATH.sub(r"\1[redacted]", text)
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
