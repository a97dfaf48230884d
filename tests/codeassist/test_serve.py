"""`codeassist serve` and `codeassist demo` as real subprocesses."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from openai import OpenAI
from websockets.exceptions import InvalidStatus

from bench.serve_process import CODEASSIST, launch, listening_url, stop
from tests.conftest import TOOL_SCENARIO
from tests.server.wsclient import create, open_socket, read_response, user


@contextmanager
def running(*args: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """Start `codeassist ARGS`, wait for its URL line, stop it with Ctrl+C at the end."""
    process = launch(*args, stderr=subprocess.PIPE)
    try:
        url = listening_url(process)
        assert url, process.stderr.read()  # type: ignore[union-attr]
        yield process, url
    finally:
        stop(process)


@pytest.fixture
def scenario_file(tmp_path: Path) -> Path:
    path = tmp_path / "tools.json"
    path.write_text(json.dumps(TOOL_SCENARIO))
    return path


def test_serve_prints_its_url_and_answers_the_sdk_over_both_transports(scenario_file):
    with running("serve", "--port", "0", "--script", str(scenario_file)) as (process, url):
        assert url.startswith("http://127.0.0.1:") and url.endswith("/v1")
        client = OpenAI(base_url=url, api_key="anything", max_retries=0, timeout=10)
        assert client.responses.create(model="m", input="read a.py").output_text == "Let me check the file."
        with client.responses.connect() as connection:
            connection.response.create(model="m", input="read a.py", store=False)
            for event in connection:
                if event.type == "response.completed":
                    break
        assert event.response.output[1].call_id == "call_a"
    assert process.returncode == 0


def test_serve_with_an_api_key_refuses_other_keys(scenario_file):
    with running("serve", "--script", str(scenario_file), "--api-key", "sk-local") as (_, url):
        ws_url = url.replace("http://", "ws://") + "/responses"
        with pytest.raises(InvalidStatus):
            open_socket(ws_url, additional_headers={"Authorization": "Bearer nope"})
        with open_socket(ws_url, additional_headers={"Authorization": "Bearer sk-local"}) as ws:
            create(ws, input=user("read a.py"))
            assert read_response(ws)[-1]["type"] == "response.completed"


def test_serve_arms_faults_from_the_command_line(scenario_file):
    fault = json.dumps({"kind": "reject_upgrade", "status": 426})
    with running("serve", "--script", str(scenario_file), "--fault", fault) as (_, url):
        with pytest.raises(InvalidStatus) as refused:
            open_socket(url.replace("http://", "ws://") + "/responses")
        assert refused.value.response.status_code == 426


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--fault", '{"kind": "explode"}'], "invalid --fault"),
        (["--script", "/nonexistent/scenario.json"], "cannot read scenario"),
    ],
)
def test_serve_reports_bad_options_clearly(args, message):
    result = subprocess.run([CODEASSIST, "serve", *args], capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert message in result.stderr


def test_version_and_help():
    version = subprocess.run([CODEASSIST, "--version"], capture_output=True, text=True, check=True)
    assert version.stdout.startswith("codeassist ")
    help_text = subprocess.run([CODEASSIST, "serve", "--help"], capture_output=True, text=True, check=True).stdout
    for flag in ("--host", "--port", "--engine", "--script", "--api-key", "--max-connection-minutes", "--fault"):
        assert flag in help_text


def test_the_listening_socket_is_tcp_so_asyncio_disables_nagle():
    import socket

    from server.runner import bind

    sock = bind("127.0.0.1", 0)
    try:
        assert sock.proto == socket.IPPROTO_TCP
    finally:
        sock.close()
