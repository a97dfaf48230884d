"""`codeassist serve` as a real process: who it answers, what it keeps, what it logs, and that its
log never stops it (a stderr nobody reads, a process out of file descriptors)."""

from __future__ import annotations

import json
import logging
import os
import re
import resource
import socket
import subprocess
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx
import pytest
from openai import OpenAI
from websockets.exceptions import InvalidStatus

from bench.serve_process import CODEASSIST, launch, listening_url, stop
from server.guard import AccessPolicy
from server.logs import RateLimitedStderr
from server.received import ENTRY_OVERHEAD_BYTES, ReceivedLog, ReceivedRequest
from tests.conftest import TOOL_SCENARIO
from tests.server.wsclient import create, open_socket, read_response, user

FOREIGN_HOST = "attacker.example"
FOREIGN_ORIGIN = "https://attacker.example"


@dataclass
class Served:
    """A running `codeassist serve`: its process, port, and what it wrote on stderr so far."""

    process: subprocess.Popen[str]
    port: int
    stderr_lines: list[str] = field(default_factory=list)
    stderr_reader: threading.Thread | None = None

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def stderr(self) -> str:
        return "".join(self.stderr_lines)


def _collect(stream: IO[str], into: list[str]) -> None:
    into.extend(stream)


@contextmanager
def serving(
    *args: str, read_stderr: bool = True, preexec_fn: Callable[[], None] | None = None, script: Path | None = None
) -> Iterator[Served]:
    """`codeassist serve ARGS` on a free port; stderr is collected, or left unread as a pipe."""
    command = ["serve", "--port", "0", *args]
    if script is not None:
        command += ["--script", str(script)]
    process = launch(*command, stderr=subprocess.PIPE, preexec_fn=preexec_fn)
    served = Served(process, 0)
    if read_stderr:
        served.stderr_reader = threading.Thread(
            target=_collect, args=(process.stderr, served.stderr_lines), daemon=True
        )
        served.stderr_reader.start()
    try:
        url = listening_url(process)
        if url:
            served.port = int(url.rsplit(":", 1)[1].split("/", 1)[0])
        assert served.port, f"codeassist serve did not start: {served.stderr}"
        yield served
    finally:
        try:
            stop(process)
        finally:
            if served.stderr_reader is not None:
                served.stderr_reader.join(timeout=10)


@pytest.fixture
def scenario_file(tmp_path: Path) -> Path:
    path = tmp_path / "tools.json"
    path.write_text(json.dumps(TOOL_SCENARIO))
    return path


def upgrade_status(port: int, host: str, origin: str | None = None) -> int:
    """The status a WebSocket handshake to `/v1/responses` naming `host` (and `origin`) gets."""
    lines = [
        "GET /v1/responses HTTP/1.1",
        f"Host: {host}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version: 13",
    ]
    if origin is not None:
        lines.append(f"Origin: {origin}")
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        status_line = sock.makefile("rb").readline().decode()
    return int(status_line.split()[1])


def http_statuses(served: Served, headers: dict[str, str]) -> dict[str, int]:
    """The status of each kind of request (API, faults, received, health) sent with `headers`."""
    with httpx.Client(base_url=served.root, headers=headers, timeout=10) as client:
        return {
            "responses": client.post("/v1/responses", json={"model": "m", "input": "read a.py"}).status_code,
            "faults": client.post("/_codeassist/faults", json={"kind": "forget"}).status_code,
            "received": client.get("/_codeassist/received").status_code,
            "health": client.get("/_codeassist/health").status_code,
        }


def test_a_foreign_host_is_refused_everywhere_and_arms_nothing(scenario_file):
    with serving(script=scenario_file) as served:
        host = f"{FOREIGN_HOST}:{served.port}"
        assert set(http_statuses(served, {"Host": host}).values()) == {421}
        assert upgrade_status(served.port, host) == 421
        refusal = httpx.get(f"{served.root}/_codeassist/received", headers={"Host": host}, timeout=10).json()
        assert refusal["error"]["code"] == "host_not_allowed" and "--allow-host" in refusal["error"]["message"]
        # The refused POST armed no fault: a WebSocket still opens and answers.
        with open_socket(f"ws://127.0.0.1:{served.port}/v1/responses") as ws:
            create(ws, input=user("read a.py"))
            assert read_response(ws)[-1]["type"] == "response.completed"
        [entry] = httpx.get(f"{served.root}/_codeassist/received", timeout=10).json()  # refused ones are not kept
        assert entry["transport"] == "websocket" and entry["body"]["input"] == user("read a.py")


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "[::1]", "LOCALHOST.", "127.0.0.2"])
def test_loopback_hosts_are_answered(scenario_file, host):
    with serving(script=scenario_file) as served:
        statuses = http_statuses(served, {"Host": f"{host}:{served.port}"})
        assert statuses == {"responses": 200, "faults": 200, "received": 200, "health": 200}
        assert upgrade_status(served.port, f"{host}:{served.port}") == 101


def test_a_foreign_origin_is_refused_and_loopback_origins_are_answered(scenario_file):
    with serving(script=scenario_file) as served:
        assert set(http_statuses(served, {"Origin": FOREIGN_ORIGIN}).values()) == {403}
        assert upgrade_status(served.port, f"127.0.0.1:{served.port}", FOREIGN_ORIGIN) == 403
        with pytest.raises(InvalidStatus) as refused:
            open_socket(f"ws://127.0.0.1:{served.port}/v1/responses", origin=FOREIGN_ORIGIN)
        assert refused.value.response.status_code == 403
        assert upgrade_status(served.port, f"127.0.0.1:{served.port}", "null") == 403
        for origin in ("http://localhost:3000", "http://127.0.0.1", "https://[::1]:8443"):
            assert set(http_statuses(served, {"Origin": origin}).values()) == {200}
        with open_socket(f"ws://127.0.0.1:{served.port}/v1/responses", origin="http://localhost:5173") as ws:
            create(ws, input=user("read a.py"))
            assert read_response(ws)[-1]["type"] == "response.completed"


def test_allow_origin_and_allow_host_add_exactly_what_they_name(scenario_file):
    allowed = "https://devbox.example:8443"
    with serving("--allow-origin", allowed, "--allow-host", "devbox.example", script=scenario_file) as served:
        assert set(http_statuses(served, {"Origin": allowed}).values()) == {200}
        assert upgrade_status(served.port, f"127.0.0.1:{served.port}", allowed + "/") == 101
        assert set(http_statuses(served, {"Origin": "https://devbox.example:9999"}).values()) == {403}
        assert set(http_statuses(served, {"Origin": FOREIGN_ORIGIN}).values()) == {403}
        assert http_statuses(served, {"Host": f"devbox.example:{served.port}"})["health"] == 200
        assert http_statuses(served, {"Host": f"{FOREIGN_HOST}:{served.port}"})["health"] == 421


def test_clients_without_an_origin_keep_working(scenario_file):
    """The official SDK (HTTP and WebSocket mode) and the websockets client send no Origin."""
    with serving(script=scenario_file) as served:
        client = OpenAI(base_url=f"{served.root}/v1", api_key="anything", max_retries=0, timeout=10)
        assert client.responses.create(model="m", input="read a.py").output_text == "Let me check the file."
        with client.responses.connect() as connection:
            connection.response.create(model="m", input="read a.py", store=False)
            for event in connection:
                if event.type == "response.completed":
                    break
        assert event.type == "response.completed"
        with open_socket(f"ws://localhost:{served.port}/v1/responses") as ws:
            create(ws, input=user("read a.py"))
            assert read_response(ws)[-1]["type"] == "response.completed"


def post_request(served: Served, marker: int, padding: int) -> None:
    body = {"model": "m", "input": f"request {marker} " + "x" * padding, "stream": False}
    assert httpx.post(f"{served.root}/v1/responses", json=body, timeout=30).status_code == 200


def test_received_keeps_the_newest_requests_within_its_byte_cap(scenario_file):
    cap = 1024 * 1024
    with serving("--max-received-mb", "1", script=scenario_file) as served:
        for marker in range(12):
            post_request(served, marker, 200_000)
        answer = httpx.get(f"{served.root}/_codeassist/received", timeout=30)
        entries = answer.json()
        markers = [int(entry["body"]["input"].split()[1]) for entry in entries]
        assert markers == list(range(12 - len(markers), 12)) and 0 < len(markers) < 12
        assert sum(entry["size"] for entry in entries) <= cap
        assert int(answer.headers["X-Codeassist-Received-Bytes"]) <= cap
        assert int(answer.headers["X-Codeassist-Received-Max-Bytes"]) == cap
        assert int(answer.headers["X-Codeassist-Received-Dropped"]) == 12 - len(markers)
        health = httpx.get(f"{served.root}/_codeassist/health", timeout=10).json()
        assert health["received"]["dropped"] == 12 - len(markers)

        post_request(served, 99, 2 * cap)  # larger than the whole ring: kept without its body
        entries = httpx.get(f"{served.root}/_codeassist/received", timeout=30).json()
        assert entries[-1]["body"] is None and entries[-1]["size"] > 2 * cap
        assert httpx.get(f"{served.root}/_codeassist/health", timeout=10).json()["received"]["bodies_dropped"] == 1

        assert httpx.delete(f"{served.root}/_codeassist/received", timeout=10).status_code == 200
        assert httpx.get(f"{served.root}/_codeassist/health", timeout=10).json()["received"]["dropped"] == 0


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def test_many_large_requests_leave_the_memory_bounded(scenario_file):
    """60 one-MB requests (not stored for chaining) grow the process by about the ring's 4 MiB, not 60 MB."""
    with serving("--max-received-mb", "4", script=scenario_file) as served, httpx.Client(timeout=60) as client:
        body = {"model": "m", "input": "x" * 1_000_000, "stream": False, "store": False}
        for _ in range(10):  # warm up: allocator arenas, buffers, caches
            client.post(f"{served.root}/v1/responses", json=body)
        baseline = _rss_mib(served.process.pid)
        for _ in range(60):
            assert client.post(f"{served.root}/v1/responses", json=body).status_code == 200
        grown = _rss_mib(served.process.pid) - baseline
    assert grown < 32, f"the server grew by {grown:.0f} MiB"


def test_a_non_loopback_bind_without_a_key_warns(scenario_file):
    with serving("--host", "0.0.0.0", script=scenario_file) as served:
        assert httpx.get(f"{served.root}/_codeassist/health", timeout=10).status_code == 200
        # A wildcard bind answers the machine's addresses, not names a DNS-rebinding page controls.
        assert http_statuses(served, {"Host": f"192.0.2.7:{served.port}"})["health"] == 200
        assert http_statuses(served, {"Host": f"{FOREIGN_HOST}:{served.port}"})["health"] == 421
    warning = served.stderr
    assert "WARNING: listening on 0.0.0.0 without --api-key" in warning
    assert "/_codeassist/received" in warning and "--api-key KEY" in warning and "127.0.0.1" in warning

    with serving("--host", "0.0.0.0", "--api-key", "sk-local", script=scenario_file) as keyed:
        pass
    with serving(script=scenario_file) as loopback:
        pass
    assert "WARNING" not in keyed.stderr and "WARNING" not in loopback.stderr


def answers_within(served: Served, timeout: float = 20) -> bool:
    """Whether the server answers a health check before `timeout` (a guard, not a measurement)."""
    try:
        return httpx.get(f"{served.root}/_codeassist/health", timeout=timeout).status_code == 200
    except httpx.TimeoutException:
        return False


def send_raw(port: int, data: bytes) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        while sock.recv(4096):
            pass


def test_a_stderr_nobody_reads_never_stops_the_server(scenario_file):
    with serving(read_stderr=False, script=scenario_file) as served:
        for _ in range(4000):  # each logs the same warning: more than a pipe holds
            send_raw(served.port, b"NOT HTTP AT ALL\r\n\r\n")
        for number in range(1500):  # each logs a different warning
            send_raw(served.port, f"GET /_codeassist/health HTTP/1.1\r\nHost: h{number}.example\r\n\r\n".encode())
        assert answers_within(served), "the server stopped answering while its stderr was not read"
        with open_socket(f"ws://127.0.0.1:{served.port}/v1/responses") as ws:
            create(ws, input=user("read a.py"))
            assert read_response(ws)[-1]["type"] == "response.completed"
    log = served.process.stderr.read()  # type: ignore[union-attr]
    assert "Invalid HTTP request received." in log and "repeated" in log
    assert "suppressed" in log or "lost" in log
    assert len(log) < 1024 * 1024


def test_the_log_handler_drops_and_counts_instead_of_blocking():
    read_end, write_end = os.pipe()
    handler = RateLimitedStderr(write_end, per_second=10**9, queue_lines=100)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger("tests.hygiene.flood")
    logger.propagate = False
    logger.addHandler(handler)
    flood = threading.Thread(target=lambda: [logger.warning("line %d %s", n, "x" * 200) for n in range(20_000)])
    try:
        flood.start()
        flood.join(timeout=60)
        assert not flood.is_alive(), "logging blocked on a pipe nobody reads"
        assert handler.dropped > 0
        os.read(read_end, 1024)
    finally:
        logger.removeHandler(handler)
        os.close(read_end)  # the blocked writer gets EPIPE and ends
        handler.close()
        os.close(write_end)


def _low_descriptor_limit() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))


def test_running_out_of_file_descriptors_neither_floods_nor_spins(scenario_file):
    with serving(preexec_fn=_low_descriptor_limit, script=scenario_file) as served:
        clients: list[socket.socket] = []
        try:
            for _ in range(150):
                clients.append(socket.create_connection(("127.0.0.1", served.port), timeout=10))
            seen = threading.Event()

            def exhausted() -> bool:
                return "out of system resource" in served.stderr

            for _ in range(200):  # wait (at most 20 s) for the server to meet the limit, then 2 more retries
                if exhausted():
                    break
                seen.wait(0.1)
            assert exhausted(), served.stderr[-2000:]
            seen.wait(2.5)
        finally:
            for client in clients:
                client.close()
        assert answers_within(served)
    log = served.stderr
    assert len(log) < 64 * 1024, f"{len(log)} bytes of log"
    assert log.count("out of system resource") <= 3
    # One accept attempt a second while out of descriptors, not thousands: the repeats say how many.
    attempts = sum(int(count) for count in re.findall(r"repeated (\d+) times", log))
    assert attempts < 100, log[-2000:]


def test_the_new_flags_are_in_the_help():
    help_text = subprocess.run([CODEASSIST, "serve", "--help"], capture_output=True, text=True, check=True).stdout
    for flag in ("--allow-origin", "--allow-host", "--max-received-mb"):
        assert flag in help_text


@pytest.mark.parametrize(
    ("bound", "host", "allowed"),
    [
        ("127.0.0.1", None, True),  # HTTP/1.0 sends no Host; browsers always do
        ("127.0.0.1", "LocalHost:8080", True),
        ("127.0.0.1", "[::ffff:127.0.0.1]:80", True),
        ("127.0.0.1", "::1", True),
        ("127.0.0.1", "localhost.attacker.example", False),
        ("127.0.0.1", "127.0.0.1.nip.io:80", False),
        ("127.0.0.1", "192.168.1.5:80", False),
        ("192.168.1.5", "192.168.1.5:80", True),
        ("devbox.lan", "DEVBOX.LAN:80", True),
        ("0.0.0.0", "10.1.2.3:80", True),
        ("0.0.0.0", "attacker.example:80", False),
    ],
)
def test_the_host_rule(bound, host, allowed):
    assert AccessPolicy.build(bound).host_allowed(host) is allowed


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        (None, True),
        ("http://localhost:3000", True),
        ("https://[::1]", True),
        ("http://127.0.0.1", True),
        ("null", False),
        ("file://", False),
        ("http://localhost.attacker.example", False),
        ("chrome-extension://abcdef", False),
        ("https://devbox.example:8443", True),
        ("HTTPS://DEVBOX.EXAMPLE:8443/", True),
        ("https://devbox.example", False),
    ],
)
def test_the_origin_rule(origin, allowed):
    policy = AccessPolicy.build("127.0.0.1", origins=["https://devbox.example:8443"])
    assert policy.origin_allowed(origin) is allowed


@pytest.mark.parametrize(
    ("origin", "host", "allowed"),
    [
        ("http://devbox.example:8000", "devbox.example:8000", True),
        ("ws://devbox.example:8000", "DEVBOX.example:8000", True),
        ("http://devbox.example", "devbox.example:80", True),
        ("http://devbox.example:9000", "devbox.example:8000", False),
        ("http://other.example:8000", "devbox.example:8000", False),
        ("ws://localhost:8000", "127.0.0.1:8000", True),
    ],
)
def test_an_origin_naming_the_server_as_its_host_does_is_answered(origin, host, allowed):
    """Some WebSocket clients send the server's own origin; the Host check has vetted that name."""
    policy = AccessPolicy.build("0.0.0.0", hosts=["devbox.example"])
    assert policy.origin_allowed(origin, host) is allowed
    assert (policy.refusal(host, origin) is None) is allowed


def test_the_ring_drops_the_oldest_and_counts_them():
    ring = ReceivedLog(max_bytes=10 * (ENTRY_OVERHEAD_BYTES + 100))
    for number in range(25):
        ring.append(ReceivedRequest("c", "http", float(number), 100, b'{"n":%d,"pad":"%s"}' % (number, b"x" * 83)))
    stats = ring.stats()
    assert stats.bytes <= ring.max_bytes and stats.kept + stats.dropped == 25
    assert [entry.body["n"] for entry in ring] == list(range(25 - stats.kept, 25))
    assert ring[-1].body["n"] == 24 and len(ring) == stats.kept
