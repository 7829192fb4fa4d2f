"""Password hashing with argon2id.

The salt is a parameter (the core takes no randomness); verification and the "needs
rehash" check come from argon2-cffi. Passwords are capped in bytes *before* hashing so a
huge password cannot make the server burn memory and CPU.
"""

from __future__ import annotations

from dataclasses import dataclass

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from argon2.low_level import hash_secret

from propusk.core.errors import InvalidRequest

__all__ = ["SALT_BYTES", "PasswordPolicy"]

SALT_BYTES = 16


@dataclass(frozen=True)
class PasswordPolicy:
    """argon2id parameters and length limits.

    The defaults are OWASP's recommendation for argon2id (m=19 MiB, t=2, p=1).
    """

    time_cost: int = 2
    memory_cost_kib: int = 19456
    parallelism: int = 1
    hash_len: int = 32
    min_length: int = 8
    max_bytes: int = 1024

    def _hasher(self) -> PasswordHasher:
        return PasswordHasher(
            time_cost=self.time_cost,
            memory_cost=self.memory_cost_kib,
            parallelism=self.parallelism,
            hash_len=self.hash_len,
            salt_len=SALT_BYTES,
            type=Type.ID,
        )

    def check(self, password: str) -> bytes:
        """Return the UTF-8 bytes of an acceptable new password, or raise InvalidRequest."""
        data = password.encode("utf-8")
        if len(data) > self.max_bytes:
            raise InvalidRequest(f"The password must be at most {self.max_bytes} bytes")
        if len(password) < self.min_length:
            raise InvalidRequest(f"The password must be at least {self.min_length} characters")
        return data

    def hash(self, password: str, salt: bytes) -> str:
        """Hash a new password (validated with :meth:`check`) under ``salt``."""
        if len(salt) < SALT_BYTES:
            raise ValueError("salt too short")
        encoded = hash_secret(
            self.check(password),
            salt,
            time_cost=self.time_cost,
            memory_cost=self.memory_cost_kib,
            parallelism=self.parallelism,
            hash_len=self.hash_len,
            type=Type.ID,
        )
        return encoded.decode("ascii")

    def verify(self, encoded: str, password: str) -> bool:
        """True when ``password`` matches ``encoded``. Over-long passwords never match.

        The length cap is checked before any hashing; a mismatch, a malformed stored hash
        and an over-long password all give False so callers have a single failure path.
        """
        data = password.encode("utf-8")
        if len(data) > self.max_bytes:
            return False
        try:
            return self._hasher().verify(encoded, data)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, encoded: str) -> bool:
        """True when ``encoded`` was made with other parameters than this policy's."""
        try:
            return self._hasher().check_needs_rehash(encoded)
        except InvalidHashError:
            return True
