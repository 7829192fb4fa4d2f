"""Settings: read once at the edge (the web app factory, the CLI).

Sources, later ones winning: built-in defaults, a TOML file (``--config``, ``PROPUSK_CONFIG``
or ``./propusk.toml``), then ``PROPUSK_<NAME>`` environment variables. Names are flat
(``access_token_ttl``); a TOML table is flattened with ``_`` (``[smtp] host`` →
``smtp_host``). Secrets are ``SecretStr`` and print masked.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qsl

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

__all__ = ["ConfigError", "Settings", "load_settings"]

ENV_PREFIX = "PROPUSK_"
DEFAULT_CONFIG_FILE = "propusk.toml"


class ConfigError(Exception):
    """The configuration is invalid or unsafe; the message says which setting and why."""


class Settings(BaseModel):
    """Every setting Propusk reads. See docs/configuration.md for each one."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: Literal["development", "production"] = "production"
    data_dir: Path = Path("var")
    database_url: str | None = None
    redis_url: str | None = None
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    issuer: str = "http://127.0.0.1:8080"
    public_url: str | None = None

    master_key: SecretStr | None = None
    master_key_file: Path | None = None

    access_token_ttl: int = Field(default=900, ge=60, le=86400)
    refresh_token_ttl: int = Field(default=30 * 86400, ge=300)
    refresh_reuse_grace: int = Field(default=10, ge=0, le=300)
    token_leeway: int = Field(default=0, ge=0, le=300)

    # Service keys (RuStore model): the exchanged token's lifetime, the accepted clock
    # difference of the signed timestamp, how often the token encryption key changes, and
    # how long a node may take to notice that another node rotated/disabled/deleted a key.
    service_token_ttl: int = Field(default=900, ge=60, le=86400)
    exchange_window: int = Field(default=60, ge=5, le=3600)
    jwe_key_rotation: int = Field(default=86400, ge=3600)
    key_state_ttl: float = Field(default=5.0, ge=0.0, le=300.0)

    # The Bearer token secret scanners present to POST /v1/api-keys/leaked (None: off).
    leak_report_token: SecretStr | None = None

    require_email_confirmation: bool = True
    confirmation_ttl: int = Field(default=48 * 3600, ge=300)
    reset_token_ttl: int = Field(default=3600, ge=300)

    # "introspect" lets a resource server's account call POST /v1/introspect.
    roles: list[str] = Field(
        default_factory=lambda: ["user", "admin", "privacy", "confidential_contracts", "introspect"]
    )

    # Organization roles beyond owner/admin/developer/viewer (e.g. "release_manager",
    # "support"); they can read the organization but manage nothing.
    org_roles_extra: list[str] = Field(default_factory=list)
    # The provider's method catalog (TOML); None uses the demo catalog shipped with Propusk.
    method_catalog: Path | None = None

    # Mount the demo protected API under /demo (guarded by the method catalog).
    demo_api: bool = True
    # Who may call the forward-auth endpoint GET /v1/authorize (proxies, not end users).
    forward_auth_clients: list[str] = Field(default_factory=lambda: ["127.0.0.0/8", "::1/128"])

    password_min_length: int = Field(default=8, ge=1, le=256)
    password_max_bytes: int = Field(default=1024, ge=64, le=4096)
    argon2_time_cost: int = Field(default=2, ge=1)
    argon2_memory_kib: int = Field(default=19456, ge=8)
    argon2_parallelism: int = Field(default=1, ge=1)

    login_max_failures_per_account: int = Field(default=5, ge=1)
    login_max_failures_per_ip: int = Field(default=50, ge=1)
    login_failure_window: int = Field(default=900, ge=1)

    # GET /v1/user/address/exists tells whether an account exists: look-ups per e-mail
    # address and per source address in lookup_window seconds, as logins are limited.
    lookup_max_per_address: int = Field(default=5, ge=1)
    lookup_max_per_ip: int = Field(default=50, ge=1)
    lookup_window: int = Field(default=900, ge=1)

    # Mails a caller can trigger (resendEmail, password/restore) per address and per
    # source address in mail_window seconds.
    mail_max_per_address: int = Field(default=3, ge=1)
    mail_max_per_ip: int = Field(default=20, ge=1)
    mail_window: int = Field(default=3600, ge=60)

    # Waves-compatible API keys (spec section 2, docs/api-keys-waves.md): the Base58
    # secureHash of the X-API-Key accepted for each role, as in a node's `auth` section;
    # waves_errors answers a missing or wrong key in the node's {"error": <int>} shape.
    api_key_hash: str | None = None
    privacy_api_key_hash: str | None = None
    confidential_contracts_api_key_hash: str | None = None
    waves_errors: bool = False

    # Signed requests (docs/signing-keys.md): the largest body the guard reads to verify a
    # signature (refused with 413 before hashing); signing every guarded response with the
    # server's response-signing key; and HTTP 200 (instead of 4xx) for refusals in the QIWI
    # XML envelope, for partner clients that treat any other status as a network error.
    max_signed_body_bytes: int = Field(default=1 << 20, ge=1024, le=64 << 20)
    response_signing: bool = False
    qiwi_errors_http_200: bool = False

    # RFC 9421 HTTP Message Signatures (docs/http-signatures.md): the components every
    # signature must cover ("a|b" = either), the oldest `created` accepted and the clock
    # difference forgiven (seconds), whether a nonce is required (reuse is always refused),
    # the signature label to verify when a request carries several, and the origin
    # ("https://api.example.com") that @target-uri/@authority/@scheme are built from behind
    # a proxy (default: the request's own scheme and Host header).
    http_signature_components: list[str] = Field(
        default_factory=lambda: ["@method", "@target-uri|@path"]
    )
    http_signature_max_age: int = Field(default=300, ge=5, le=86400)
    http_signature_clock_skew: int = Field(default=5, ge=0, le=300)
    http_signature_require_nonce: bool = True
    http_signature_label: str | None = None
    http_signature_origin: str | None = None

    max_body_bytes: int = Field(default=65536, ge=1024)
    trusted_proxies: list[str] = Field(default_factory=list)

    # The built-in CA (docs/certificates.md): defaults for `propusk ca init`, how long client
    # certificates last, and how long a CRL is valid (nextUpdate) and when it is rebuilt.
    ca_key_type: Literal["ec", "rsa"] = "ec"
    ca_validity_days: int = Field(default=3650, ge=1, le=36500)
    ca_subject: str = "/O=Propusk/CN=Propusk Client CA"
    certificate_validity_days: int = Field(default=365, ge=1, le=3650)
    crl_validity: int = Field(default=7 * 86400, ge=3600, le=365 * 86400)
    crl_refresh: int = Field(default=86400, ge=60, le=365 * 86400)

    # Mutual TLS (docs/mtls.md). `propusk serve` terminates TLS itself when tls_cert and
    # tls_key are set, asking every client for a certificate (verified against the Propusk
    # CA and tls_client_ca); tls_client_cert_required refuses handshakes without one.
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_client_ca: list[Path] = Field(default_factory=list)
    tls_client_cert_required: bool = False
    # Behind a TLS-terminating proxy: the header carrying the client certificate, believed
    # only from trusted_proxies ("nginx": $ssl_client_escaped_cert, "envoy": XFCC).
    client_cert_header: str | None = None
    client_cert_header_format: Literal["nginx", "envoy"] = "nginx"
    # RFC 8705: tokens issued over mutual TLS carry cnf.x5t#S256 and need that certificate.
    certificate_bound_tokens: bool = False

    smtp_host: str | None = None
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    smtp_timeout: float = Field(default=10.0, gt=0)
    mail_from: str = "Propusk <no-reply@localhost>"

    log_level: Literal["critical", "error", "warning", "info", "debug", "trace"] = "info"

    # The web console under /console (docs/console.md): on or off, and how long a console
    # sign-in lasts at most (the sealed session cookie's absolute lifetime).
    console: bool = True
    console_session_ttl: int = Field(default=8 * 3600, ge=300, le=30 * 86400)

    @field_validator("roles")
    @classmethod
    def _roles_include_user(cls, value: list[str]) -> list[str]:
        if "user" not in value or "admin" not in value:
            raise ValueError("roles must include 'user' and 'admin'")
        return value

    @field_validator("api_key_hash", "privacy_api_key_hash", "confidential_contracts_api_key_hash")
    @classmethod
    def _hash_is_base58_32_bytes(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None  # empty (e.g. PROPUSK_API_KEY_HASH=""): not configured
        from propusk.core.hashes import HASH_SIZE, base58_decode

        value = value.strip()
        try:
            size = len(base58_decode(value))
        except ValueError:
            raise ValueError("must be Base58 (Bitcoin alphabet)") from None
        if size != HASH_SIZE:
            # A plain key pasted where its hash belongs lands here: `propusk hash secure`.
            raise ValueError(
                f"must decode to {HASH_SIZE} bytes (got {size}); set the Base58 secureHash"
                " of the key (`propusk hash secure`), not the key itself"
            )
        return value

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'propusk.db').resolve()}"

    @property
    def effective_master_key_file(self) -> Path:
        return self.master_key_file or self.data_dir / "master.key"

    @property
    def effective_public_url(self) -> str:
        return (self.public_url or self.issuer).rstrip("/")

    def masked(self) -> dict[str, Any]:
        """The effective settings as plain data, every secret replaced by ``'**********'``."""
        out: dict[str, Any] = {}
        for name, value in self.model_dump().items():
            if isinstance(value, SecretStr):
                out[name] = "**********"
            elif isinstance(value, Path):
                out[name] = str(value)
            else:
                out[name] = value
        out["database_url"] = _mask_url(self.effective_database_url)
        if self.redis_url:
            out["redis_url"] = _mask_url(self.redis_url)
        return out


_SECRET_PARAMS = ("password", "secret", "token", "key")


def _mask_url(url: str) -> str:
    """Hide secrets in a URL: the password of ``user:password@host`` and the values of
    query parameters named like secrets (``?password=…``, ``sslkey``…). Everything else is
    left byte for byte (``sqlite:////abs/path`` keeps its slashes)."""
    base, question, query = url.partition("?")
    scheme, sep, rest = base.partition("://")
    if sep:
        netloc, slash, path = rest.partition("/")
        creds, at, host = netloc.rpartition("@")
        if at and ":" in creds:
            netloc = f"{creds.split(':', 1)[0]}:**********@{host}"
        base = f"{scheme}://{netloc}{slash}{path}"
    if question:
        query = "&".join(
            f"{name}=**********"
            if any(word in name.lower() for word in _SECRET_PARAMS)
            else f"{name}={value}"
            for name, value in parse_qsl(query, keep_blank_values=True)
        )
    return f"{base}{question}{query}"


def _flatten(table: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in table.items():
        name = f"{prefix}{key}".replace("-", "_")
        if isinstance(value, dict):
            out.update(_flatten(value, f"{name}_"))
        else:
            out[name] = value
    return out


def _from_env(environ: Mapping[str, str]) -> dict[str, Any]:
    fields = Settings.model_fields
    out: dict[str, Any] = {}
    for key, raw in environ.items():
        if not key.startswith(ENV_PREFIX) or key == f"{ENV_PREFIX}CONFIG":
            continue
        name = key[len(ENV_PREFIX) :].lower()
        if name not in fields:
            continue
        value: Any = raw
        if name in (
            "roles",
            "trusted_proxies",
            "org_roles_extra",
            "forward_auth_clients",
            "tls_client_ca",
            "http_signature_components",
        ):
            value = (
                json.loads(raw)
                if raw.startswith("[")
                else [p.strip() for p in raw.split(",") if p.strip()]
            )
        out[name] = value
    return out


def load_settings(
    config_file: str | Path | None = None,
    environ: Mapping[str, str] | None = None,
    **overrides: Any,
) -> Settings:
    """Build the effective Settings from file, environment and explicit overrides."""
    env = os.environ if environ is None else environ
    path = Path(config_file) if config_file else None
    if path is None and env.get(f"{ENV_PREFIX}CONFIG"):
        path = Path(env[f"{ENV_PREFIX}CONFIG"])
    if path is None and Path(DEFAULT_CONFIG_FILE).is_file():
        path = Path(DEFAULT_CONFIG_FILE)
    data: dict[str, Any] = {}
    if path is not None:
        try:
            data.update(_flatten(tomllib.loads(path.read_text(encoding="utf-8"))))
        except FileNotFoundError as exc:
            raise ConfigError(f"configuration file {path} does not exist") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"configuration file {path} is not valid TOML: {exc}") from exc
    try:
        data.update(_from_env(env))
    except json.JSONDecodeError as exc:
        raise ConfigError(f"an environment list setting is not valid JSON: {exc}") from exc
    data.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return Settings(**data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"invalid configuration: {problems}") from None
