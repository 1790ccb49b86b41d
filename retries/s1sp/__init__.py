"""Talking to the S1SP: ``establish_session(installation, *, timeout) -> SessionResult``.

Two implementations, chosen by ``settings.MEHR["S1SP_BACKEND"]``: the HTTP client (``"http"``) and
the simulator (``"simulator"``, the default for development, demos and benchmarks).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

from django.conf import settings

if TYPE_CHECKING:
    from cases.models import Installation


class SessionStatus(StrEnum):
    CONNECTED = "CONNECTED"
    REFUSED = "REFUSED"  # the S1SP answered: no session, with a code
    NO_RESPONSE = "NO_RESPONSE"  # nothing within the timeout
    ERROR = "ERROR"  # the S1SP itself failed (5xx, dropped connection, bad answer)


@dataclass(frozen=True)
class SessionResult:
    status: SessionStatus
    code: str = ""
    detail: str = ""
    sms_sent: int = 0
    # After connecting, the later stages (simulated for now): a check code when one failed
    # (e.g. "GT01" = electricity only, "DV001"), blank when the migration completed.
    later_stage_check: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def connected(self) -> bool:
        return self.status == SessionStatus.CONNECTED


class S1SPClient(Protocol):
    def establish_session(
        self, installation: Installation, *, timeout: float, idempotency_key: str = "", wake_sms: int = 0
    ) -> SessionResult: ...


def get_s1sp_client() -> S1SPClient:
    backend = settings.MEHR.get("S1SP_BACKEND", "simulator")
    if backend == "http":
        from .http import HttpS1SPClient

        return HttpS1SPClient.from_settings()
    if backend == "simulator":
        from .simulator import S1SPSimulator

        return S1SPSimulator.from_settings()
    raise ValueError(f"Unknown MEHR['S1SP_BACKEND'] {backend!r}: use 'simulator' or 'http'.")


def establish_session(
    installation: Installation, *, timeout: float, idempotency_key: str = "", wake_sms: int = 0
) -> SessionResult:
    return get_s1sp_client().establish_session(
        installation, timeout=timeout, idempotency_key=idempotency_key, wake_sms=wake_sms
    )
