"""The HTTP S1SP client against a real local HTTP server (slow answers, refusals, 500s, drops)."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from retries.s1sp import SessionStatus, get_s1sp_client
from retries.s1sp.http import HttpS1SPClient
from tests.factories import DeviceFactory, InstallationFactory

PORT = 8311


class FakeS1SP(BaseHTTPRequestHandler):
    behaviour: dict[int, str] = {}
    calls: list[dict] = []

    def log_message(self, *args) -> None:  # type: ignore[no-untyped-def]
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        FakeS1SP.calls.append({"path": self.path, "key": self.headers.get("Idempotency-Key"), "body": body})
        what = FakeS1SP.behaviour.get(body["installation_id"], "connect")
        if what == "drop":
            self.connection.shutdown(socket.SHUT_RDWR)
            self.connection.close()
            return
        if what == "slow":
            time.sleep(body["timeout_seconds"] + 3)
        status, answer = {
            "connect": (200, {"status": "connected", "sms_sent": 2}),
            "gt01": (200, {"status": "connected", "sms_sent": 2, "later_stage_check": "GT01"}),
            "refuse": (422, {"status": "refused", "code": "CH_UNREACHABLE", "detail": "No answer to SMS"}),
            "no_response": (200, {"status": "no_response", "sms_sent": 2}),
            "slow": (200, {"status": "connected"}),
            "500": (500, {"error": "boom"}),
            "garbage": (200, "not json at all"),
        }[what]
        data = answer.encode() if isinstance(answer, str) else json.dumps(answer).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass


@pytest.fixture(scope="module")
def s1sp_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", PORT), FakeS1SP)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{PORT}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def client(s1sp_server: str) -> HttpS1SPClient:
    FakeS1SP.calls.clear()
    FakeS1SP.behaviour.clear()
    return HttpS1SPClient(base_url=s1sp_server, connect_timeout=1.0, read_margin=0.5)


def _installation(what: str):  # type: ignore[no-untyped-def]
    installation = InstallationFactory()
    DeviceFactory(installation=installation)
    FakeS1SP.behaviour[installation.pk] = what
    return installation


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("what", "status", "code", "later"),
    [
        ("connect", SessionStatus.CONNECTED, "", ""),
        ("gt01", SessionStatus.CONNECTED, "", "GT01"),
        ("refuse", SessionStatus.REFUSED, "CH_UNREACHABLE", ""),
        ("no_response", SessionStatus.NO_RESPONSE, "", ""),
        ("500", SessionStatus.ERROR, "HTTP_500", ""),
        ("garbage", SessionStatus.ERROR, "HTTP_200", ""),
        ("drop", SessionStatus.ERROR, "TRANSPORT", ""),
    ],
)
def test_answers(client: HttpS1SPClient, what: str, status: str, code: str, later: str) -> None:
    installation = _installation(what)
    result = client.establish_session(installation, timeout=2, idempotency_key="mehr-session-77", wake_sms=2)
    assert (result.status, result.code, result.later_stage_check) == (status, code, later)
    [call] = FakeS1SP.calls
    assert call["path"] == "/sessions" and call["key"] == "mehr-session-77"
    assert call["body"]["installation_id"] == installation.pk and call["body"]["wake_sms"] == 2
    assert call["body"]["devices"][0]["eui64"] == installation.devices.get().eui64


@pytest.mark.django_db
def test_slow_answer_is_no_response_within_the_timeout(client: HttpS1SPClient) -> None:
    installation = _installation("slow")
    result = client.establish_session(installation, timeout=1, idempotency_key="k")
    assert result.status == SessionStatus.NO_RESPONSE and result.code == "TIMEOUT"


@pytest.mark.django_db
def test_nothing_listening_is_an_error(settings) -> None:  # type: ignore[no-untyped-def]
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings.MEHR = {**settings.MEHR, "S1SP_BACKEND": "http", "S1SP_URL": f"http://127.0.0.1:{port}"}
    client = get_s1sp_client()
    assert isinstance(client, HttpS1SPClient)
    result = client.establish_session(InstallationFactory(), timeout=1, idempotency_key="k")
    assert result.status == SessionStatus.ERROR


def test_backend_setting_is_checked(settings) -> None:  # type: ignore[no-untyped-def]
    settings.MEHR = {**settings.MEHR, "S1SP_BACKEND": "carrier-pigeon"}
    with pytest.raises(ValueError, match="carrier-pigeon"):
        get_s1sp_client()
    settings.MEHR = {**settings.MEHR, "S1SP_BACKEND": "http", "S1SP_URL": ""}
    with pytest.raises(ValueError, match="S1SP_URL"):
        get_s1sp_client()
