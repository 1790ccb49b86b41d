"""JSON over HTTP to the S1SP.

``POST {url}/sessions`` with ``Idempotency-Key: <one per session attempt>`` and::

    {"installation_id": 12, "mpan": "...", "mprn": "...", "devices": [{"eui64": ..., "type": ...}],
     "wake_sms": 2, "timeout_seconds": 300}

Answers: ``200 {"status": "connected", "later_stage_check": ""}``;
``200/409/422 {"status": "refused", "code": "CH_UNREACHABLE", "detail": "..."}``;
``200 {"status": "no_response"}`` (the S1SP gave up waiting for the CH). A read timeout is
NO_RESPONSE; 5xx, a dropped connection or an unreadable body is ERROR.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import requests
from django.conf import settings

from . import SessionResult, SessionStatus

if TYPE_CHECKING:
    from cases.models import Installation

_STATUS = {
    "connected": SessionStatus.CONNECTED,
    "refused": SessionStatus.REFUSED,
    "no_response": SessionStatus.NO_RESPONSE,
}


@dataclass
class HttpS1SPClient:
    base_url: str
    connect_timeout: float = 5.0
    # The S1SP answers after at most the session timeout; allow a little for the answer to travel.
    read_margin: float = 2.0

    @classmethod
    def from_settings(cls) -> HttpS1SPClient:
        url = settings.MEHR.get("S1SP_URL", "")
        if not url:
            raise ValueError("MEHR['S1SP_URL'] is not set (MEHR_S1SP_URL).")
        return cls(base_url=url.rstrip("/"), connect_timeout=float(settings.MEHR["S1SP_CONNECT_TIMEOUT_SECONDS"]))

    def establish_session(
        self, installation: Installation, *, timeout: float, idempotency_key: str = "", wake_sms: int = 0
    ) -> SessionResult:
        payload = {
            "installation_id": installation.pk,
            "mpan": installation.mpan,
            "mprn": installation.mprn,
            "cohort": installation.cohort,
            "devices": [
                {"eui64": d.eui64, "type": d.device_type, "model": d.model}
                for d in installation.devices.all()
            ],
            "wake_sms": wake_sms,
            "timeout_seconds": timeout,
        }
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        try:
            response = requests.post(
                f"{self.base_url}/sessions",
                json=payload,
                headers=headers,
                timeout=(self.connect_timeout, timeout + self.read_margin),
            )
        except requests.ReadTimeout:
            return SessionResult(SessionStatus.NO_RESPONSE, code="TIMEOUT", detail=f"No answer within {timeout:g} s.")
        except requests.ConnectTimeout:
            return SessionResult(SessionStatus.ERROR, code="CONNECT_TIMEOUT", detail="Could not connect to the S1SP.")
        except requests.RequestException as exc:
            return SessionResult(SessionStatus.ERROR, code="TRANSPORT", detail=f"{type(exc).__name__}: {exc}"[:500])

        if response.status_code >= 500:
            return SessionResult(
                SessionStatus.ERROR, code=f"HTTP_{response.status_code}", detail=response.text[:500]
            )
        try:
            body = response.json()
            status = _STATUS[str(body["status"]).lower()]
        except (ValueError, KeyError, TypeError):
            return SessionResult(
                SessionStatus.ERROR,
                code=f"HTTP_{response.status_code}",
                detail=f"Unreadable S1SP answer: {response.text[:300]}",
            )
        if response.status_code >= 400 and status == SessionStatus.CONNECTED:
            return SessionResult(SessionStatus.ERROR, code=f"HTTP_{response.status_code}", detail=response.text[:500])
        return SessionResult(
            status,
            code=str(body.get("code") or ""),
            detail=str(body.get("detail") or "")[:2000],
            sms_sent=int(body.get("sms_sent", wake_sms) or 0),
            later_stage_check=str(body.get("later_stage_check") or ""),
        )
