"""`codeassist exec` with MCP servers from the user's config, against `codeassist serve` (both real
processes), the MCP server a real SDK process too."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.agent.conftest import make_repo
from tests.agent.mcp.conftest import SERVER_SCRIPT
from tests.codeassist.test_serve import running

CODEASSIST = str(Path(sys.executable).with_name("codeassist"))


def toml_string(value: str) -> str:
    return json.dumps(value)


def config(tmp_path: Path, extra: str = "") -> Path:
    home = tmp_path / "config"
    (home / "codeassist").mkdir(parents=True)
    (home / "codeassist" / "config.toml").write_text(
        "[mcp_servers.t]\n"
        f"command = {toml_string(sys.executable)}\n"
        f'args = [{toml_string(SERVER_SCRIPT)}, "stdio"]\n' + extra
    )
    return home


def scenario_file(tmp_path: Path, *calls: dict[str, Any]) -> Path:
    turns = [{"output": list(calls)}, {"output": [{"type": "message", "text": "All done."}]}]
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps({"name": "mcp", "turns": turns}))
    return path


def exec_json(tmp_path: Path, url: str, *flags: str) -> tuple[subprocess.CompletedProcess[str], list[dict[str, Any]]]:
    work = make_repo(tmp_path / "work", {"a.py": "print('hello')\n"})
    environ = {
        "PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin",
        "HOME": str(tmp_path),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "OPENAI_API_KEY": "sk-exec-0123456789abcdefghijklmnop",
    }
    done = subprocess.run(
        [CODEASSIST, "exec", "go", "--base-url", url, "--json", "--no-log", *flags],
        cwd=work,
        env=environ,
        capture_output=True,
        text=True,
        timeout=90,
    )
    return done, [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def call(tool: str, call_id: str, **arguments: Any) -> dict[str, Any]:
    return {"type": "function_call", "name": tool, "call_id": call_id, "arguments": arguments}


def test_exec_offers_and_calls_a_servers_tools(tmp_path):
    config(tmp_path)
    script = scenario_file(tmp_path, call("mcp__t__add", "c1", a=40, b=2), call("mcp__t__picture", "c2"))
    with running("serve", "--port", "0", "--script", str(script)) as (_, url):
        done, events = exec_json(tmp_path, url, "--approval", "full-auto")
    assert done.returncode == 0, done.stderr
    finished = {event["call_id"]: event for event in events if event["type"] == "tool_finished"}
    assert finished["c1"]["output"] == "42" and finished["c1"]["status"] == "ok"
    assert finished["c2"]["images"] == 1


def test_exec_denies_what_asks_and_says_which_server_failed(tmp_path):
    config(tmp_path, '\n[mcp_servers.gone]\ncommand = "codeassist-no-such-server"\n')
    script = scenario_file(tmp_path, call("mcp__t__write_note", "c1", name="note.txt", text="x"))
    with running("serve", "--port", "0", "--script", str(script)) as (_, url):
        done, events = exec_json(tmp_path, url, "--approval", "ask")
    assert done.returncode == 0, done.stderr
    finished = {event["call_id"]: event for event in events if event["type"] == "tool_finished"}
    assert finished["c1"]["status"] == "denied"
    assert not (tmp_path / "work" / "note.txt").exists()
    assert (
        "MCP server 'gone' failed to start: the command 'codeassist-no-such-server' was not found on PATH"
        in done.stderr
    )
