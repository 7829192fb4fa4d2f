from __future__ import annotations

import pytest

from propusk.core.errors import TooManyAttempts
from propusk.services.throttle import LoginThrottle
from propusk.storage.cache import Cache


async def test_account_limit_then_reset_on_success(any_cache: Cache) -> None:
    throttle = LoginThrottle(any_cache, per_account=3, per_ip=100, window=60)
    for _ in range(3):
        await throttle.check("A@x.io", "1.2.3.4")
        await throttle.failed("a@x.io", "1.2.3.4")
    with pytest.raises(TooManyAttempts) as info:
        await throttle.check("a@x.io", "5.6.7.8")
    assert 1 <= info.value.retry_after <= 60
    await throttle.check("b@x.io", "1.2.3.4")  # other accounts are not affected
    await throttle.succeeded("a@x.io")
    await throttle.check("a@x.io", "1.2.3.4")


async def test_ip_limit_spans_accounts(any_cache: Cache) -> None:
    throttle = LoginThrottle(any_cache, per_account=100, per_ip=4, window=60)
    for i in range(4):
        await throttle.failed(f"user{i}@x.io", "9.9.9.9")
    with pytest.raises(TooManyAttempts):
        await throttle.check("new@x.io", "9.9.9.9")
    await throttle.check("new@x.io", "9.9.9.8")


async def test_mail_throttle(any_cache: Cache) -> None:
    from propusk.services.throttle import MailThrottle

    throttle = MailThrottle(any_cache, per_address=2, per_ip=2, window=60)
    assert await throttle.allow("A@x.io", "1.1.1.1")
    assert await throttle.allow("a@x.io", "1.1.1.1")
    assert not await throttle.allow("a@x.io", "1.1.1.1")  # third mail to the same address
    assert await throttle.allow("b@x.io", None)
    assert not await throttle.allow("c@x.io", "1.1.1.1")  # third counted from the same source


async def test_lookup_throttle_counts_every_lookup(any_cache: Cache) -> None:
    from propusk.services.throttle import LookupThrottle

    throttle = LookupThrottle(any_cache, per_address=2, per_ip=2, window=60)
    await throttle.check("A@x.io", "1.1.1.1")
    await throttle.check("a@x.io", "2.2.2.2")  # the same address, whatever the letter case
    with pytest.raises(TooManyAttempts) as info:
        await throttle.check("a@x.io", "3.3.3.3")
    assert 1 <= info.value.retry_after <= 60
    await throttle.check("b@x.io", "1.1.1.1")  # other addresses are not affected...
    with pytest.raises(TooManyAttempts):
        await throttle.check("c@x.io", "1.1.1.1")  # ...until the source's own cap (2)
    await throttle.check("d@x.io", None)  # no source address: the address cap alone
