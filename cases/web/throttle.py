"""Login throttling: after too many failed sign-ins for one username (or from one address) within a
window, further attempts are refused until the window has passed. Counters live in the shared cache
so every web process sees them."""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.core.cache import cache


def _key(kind: str, value: str) -> str:
    digest = hashlib.sha256(value.strip().lower().encode()).hexdigest()[:32]
    return f"login-failures:{kind}:{digest}"


def _limits() -> tuple[int, int, int]:
    cfg = settings.MEHR
    return (
        int(cfg.get("LOGIN_MAX_FAILURES_PER_USERNAME", 5)),
        int(cfg.get("LOGIN_MAX_FAILURES_PER_ADDRESS", 20)),
        int(cfg.get("LOGIN_LOCKOUT_SECONDS", 15 * 60)),
    )


def is_locked_out(*, username: str, address: str) -> bool:
    per_user, per_address, _ = _limits()
    return (cache.get(_key("user", username), 0) >= per_user) or (
        bool(address) and cache.get(_key("addr", address), 0) >= per_address
    )


def record_failure(*, username: str, address: str) -> None:
    _, _, window = _limits()
    for key in (_key("user", username), _key("addr", address) if address else None):
        if key is None:
            continue
        # add() starts the window on the first failure; incr() keeps the window's expiry.
        if not cache.add(key, 1, timeout=window):
            try:
                cache.incr(key)
            except ValueError:  # expired between add and incr
                cache.add(key, 1, timeout=window)


def reset(*, username: str) -> None:
    cache.delete(_key("user", username))


def clear(*, username: str, address: str) -> None:
    """Forget both counters (tests and support staff)."""
    cache.delete_many([_key("user", username), _key("addr", address)])
