from __future__ import annotations

from pathlib import Path

import pytest

from propusk.config import ConfigError, _mask_url, load_settings


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("postgresql+asyncpg://u:pw@h:5432/db", "postgresql+asyncpg://u:**********@h:5432/db"),
        ("postgresql+asyncpg://u@h/db", "postgresql+asyncpg://u@h/db"),
        ("redis://:s3cret@h:6379/0", "redis://:**********@h:6379/0"),
        ("sqlite+aiosqlite:////var/lib/propusk/p.db", "sqlite+aiosqlite:////var/lib/propusk/p.db"),
        (
            "postgresql://u@h/db?sslpassword=zz&application_name=p",
            "postgresql://u@h/db?sslpassword=**********&application_name=p",
        ),
        ("postgresql://u:p@w@h/db", "postgresql://u:**********@h/db"),
    ],
)
def test_urls_are_masked(url: str, masked: str) -> None:
    assert _mask_url(url) == masked


def test_precedence_file_then_environment(tmp_path: Path) -> None:
    config = tmp_path / "propusk.toml"
    config.write_text('port = 9000\nissuer = "https://file"\n[smtp]\nhost = "mail.example"\n')
    s = load_settings(config, environ={"PROPUSK_PORT": "9100", "PROPUSK_ROLES": "user,admin,x"})
    assert (s.port, s.issuer, s.smtp_host) == (9100, "https://file", "mail.example")
    assert s.roles == ["user", "admin", "x"]
    s = load_settings(config, environ={"PROPUSK_FORWARD_AUTH_CLIENTS": '["10.0.0.0/8"]'})
    assert s.forward_auth_clients == ["10.0.0.0/8"]


@pytest.mark.parametrize(
    ("text", "env", "message"),
    [
        ("port = 70000", {}, "port"),
        ("nonsense = 1", {}, "nonsense"),
        ("port = ", {}, "not valid TOML"),
        ("", {"PROPUSK_ROLES": "[not json"}, "JSON"),
        ("", {"PROPUSK_ROLES": "user"}, "roles"),
        ("", {"PROPUSK_ACCESS_TOKEN_TTL": "5"}, "access_token_ttl"),
    ],
)
def test_invalid_configuration_names_the_setting(
    tmp_path: Path, text: str, env: dict[str, str], message: str
) -> None:
    config = tmp_path / "propusk.toml"
    config.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_settings(config, environ=env)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nope.toml", environ={})


def test_secrets_masked_in_show(tmp_path: Path) -> None:
    s = load_settings(
        environ={"PROPUSK_MASTER_KEY": "A" * 43, "PROPUSK_SMTP_PASSWORD": "hunter2"},
        data_dir=tmp_path,
    )
    shown = str(s.masked())
    assert "hunter2" not in shown and "A" * 43 not in shown and "**********" in shown
    assert "hunter2" not in repr(s)
