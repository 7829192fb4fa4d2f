"""Signed responses (beyond the original scheme): the guard signs each response body of the
protected API with the server's response-signing key and sends ``X-Digital-Sign`` and
``X-Digital-Sign-Alg``, as partners sign their requests; the public key is published at
``GET /v1/signing/public-key`` so partners can check with ``openssl dgst -verify``.
"""

from __future__ import annotations

import base64

from propusk.core import digital_sign
from propusk.services.keyring import Keyring

__all__ = ["RESPONSE_ALG", "ResponseSigning"]

RESPONSE_ALG = "SHA256withRSA"


class ResponseSigning:
    def __init__(self, keyring: Keyring) -> None:
        self._keyring = keyring

    async def sign_body(self, body: bytes) -> tuple[str, str]:
        """(algorithm, Base64 signature) over the exact response bytes."""
        key = await self._keyring.response_signing_key()
        signature = digital_sign.sign(RESPONSE_ALG, key, body)
        return RESPONSE_ALG, base64.b64encode(signature).decode("ascii")

    async def public_key_pem(self) -> str:
        key = await self._keyring.response_signing_key()
        return digital_sign.public_pem(key.public_key())
