"""How many server processes may run: one on process-local state, any number on shared
state (PostgreSQL + Redis), refused with the setting to change otherwise."""

from __future__ import annotations

import os

import pytest

from propusk.config import ConfigError, load_settings
from propusk.web import asgi
from propusk.wiring import require_shared_state, shared_state, worker_count

PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
REDIS = "redis://127.0.0.1:6379/15"
CORES = len(os.sched_getaffinity(0))


@pytest.mark.parametrize(
    ("overrides", "shared", "default"),
    [
        ({}, False, 1),  # the embedded default: SQLite and the in-process cache
        ({"redis_url": REDIS}, False, 1),  # SQLite still takes one writer process
        ({"database_url": PG}, False, 1),  # replay caches would be per process
        ({"database_url": PG, "redis_url": REDIS}, True, CORES),
    ],
)
def test_the_default_follows_the_state(
    overrides: dict[str, str], shared: bool, default: int
) -> None:
    s = load_settings(environ={}, mode="development", **overrides)
    assert shared_state(s) is shared
    assert worker_count(s, None) == default
    require_shared_state(s, worker_count(s, None))  # the default always starts


@pytest.mark.parametrize(
    ("overrides", "setting"),
    [
        ({}, "redis_url"),
        ({"database_url": PG}, "redis_url"),
        ({"redis_url": REDIS}, "database_url"),
    ],
)
def test_several_processes_on_local_state_are_refused(
    overrides: dict[str, str], setting: str
) -> None:
    s = load_settings(environ={}, mode="development", **overrides)
    with pytest.raises(ConfigError, match=setting):
        require_shared_state(s, 2)


@pytest.mark.parametrize("value", ["0", "-1", "two", "\uff12", "257", "1.5", ""])
def test_bad_worker_counts_are_refused(value: str) -> None:
    s = load_settings(environ={}, mode="development")
    with pytest.raises(ConfigError, match="workers must be"):
        worker_count(s, value)


def test_explicit_and_auto_counts() -> None:
    s = load_settings(environ={}, mode="development", database_url=PG, redis_url=REDIS)
    assert worker_count(s, "3") == 3
    assert worker_count(s, "auto") == CORES


@pytest.mark.parametrize(("name", "value"), [("PROPUSK_WORKERS", "2"), ("WEB_CONCURRENCY", "4")])
def test_the_asgi_factory_refuses_several_workers_on_local_state(
    monkeypatch: pytest.MonkeyPatch, tmp_path: object, name: str, value: str
) -> None:
    for var in [v for v in os.environ if v.startswith("PROPUSK_")] + ["WEB_CONCURRENCY"]:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("PROPUSK_MODE", "development")
    monkeypatch.setenv("PROPUSK_DATA_DIR", str(tmp_path))
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match="redis_url"):
        asgi.create_app()
