"""The mutual-TLS settings: environment and TOML forms, and refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from propusk.config import ConfigError, load_settings
from propusk.wiring import certificate_source


def test_environment_forms() -> None:
    s = load_settings(
        environ={
            "PROPUSK_TLS_CERT": "/etc/propusk/api.pem",
            "PROPUSK_TLS_KEY": "/etc/propusk/api.key",
            "PROPUSK_TLS_CLIENT_CA": "root.pem, extra.pem",
            "PROPUSK_TLS_CLIENT_CERT_REQUIRED": "true",
            "PROPUSK_CLIENT_CERT_HEADER": "X-Forwarded-Client-Cert",
            "PROPUSK_CLIENT_CERT_HEADER_FORMAT": "envoy",
            "PROPUSK_CERTIFICATE_BOUND_TOKENS": "1",
        }
    )
    assert s.tls_cert == Path("/etc/propusk/api.pem") and s.tls_key == Path("/etc/propusk/api.key")
    assert s.tls_client_ca == [Path("root.pem"), Path("extra.pem")]
    assert s.tls_client_cert_required and s.certificate_bound_tokens
    source = certificate_source(s)
    assert (source.header, source.header_format) == ("x-forwarded-client-cert", "envoy")


def test_defaults_are_off() -> None:
    s = load_settings(environ={})
    assert (s.tls_cert, s.tls_key, s.tls_client_ca) == (None, None, [])
    assert not s.tls_client_cert_required and not s.certificate_bound_tokens
    assert certificate_source(s).header is None


def test_toml_table(tmp_path: Path) -> None:
    config = tmp_path / "propusk.toml"
    config.write_text(
        'client_cert_header = "X-SSL-Client-Cert"\ntrusted_proxies = ["10.0.0.5"]\n'
        '[tls]\ncert = "api.pem"\nkey = "api.key"\nclient_ca = ["a.pem"]\n'
    )
    s = load_settings(config, environ={})
    assert s.tls_cert == Path("api.pem") and s.tls_client_ca == [Path("a.pem")]
    assert s.client_cert_header == "X-SSL-Client-Cert"


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"PROPUSK_CLIENT_CERT_HEADER_FORMAT": "apache"}, "client_cert_header_format"),
        ({"PROPUSK_TLS_CLIENT_CERT_REQUIRED": "maybe"}, "tls_client_cert_required"),
    ],
)
def test_bad_values_name_the_setting(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(environ=environ)


def test_bad_trusted_proxy_is_a_config_error() -> None:
    s = load_settings(environ={"PROPUSK_TRUSTED_PROXIES": "10.0.0.0/8,not-an-address"})
    with pytest.raises(ConfigError, match="trusted_proxies"):
        certificate_source(s)
