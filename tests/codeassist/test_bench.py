"""`codeassist bench`: the comparison against a local server, and the refusal in front of a paid one."""

from __future__ import annotations

import argparse
import json
import socket

import pytest

from codeassist import bench as benchmark
from codeassist.bench import add_bench_arguments, estimate_tokens, run_bench
from server.scenario import Scenario

BENCH_SCENARIO = {
    "name": "bench",
    "turns": [
        {
            "output": [
                {"type": "reasoning", "summary": ["Look at the tokenizer first."]},
                {"type": "function_call", "name": "read_file", "arguments": {"path": "src/wordcount/core.py"}},
            ]
        },
        {
            "expect": [{"type": "function_call_output"}],
            "output": [
                {"type": "message", "text": "Searching for the split."},
                {"type": "function_call", "name": "grep", "arguments": {"pattern": "split"}},
            ],
        },
        {
            "expect": [{"type": "function_call_output"}],
            "output": [{"type": "message", "text": "The split ignores combining marks."}],
        },
        {
            "expect": [{"type": "message", "role": "user"}],
            "output": [{"type": "function_call", "name": "shell", "arguments": {"command": "pytest -q"}}],
        },
    ],
}


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch, tmp_path):
    """No user config, no key, results under a temporary data directory."""
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "CODEASSIST_API_KEY", "CODEASSIST_BASE_URL", "CODEASSIST_MODEL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="codeassist bench")
    add_bench_arguments(parser)
    return parser.parse_args(list(argv))


def test_a_local_server_needs_no_yes_and_gets_a_table_and_json(start_server, tmp_path, capsys):
    server = start_server(Scenario.model_validate(BENCH_SCENARIO))
    code = run_bench(parse("--base-url", server.address.base_url, "--turns", "4", "--model", "scripted-test"))
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "input tokens" in printed.splitlines()[0]
    for label in (
        "HTTP full resend",
        "HTTP chained",
        "WebSocket",
        "turn time median / p95 ms",
        "first token median / p95 ms",
        "bytes sent",
        "cached tokens",
    ):
        assert label in printed
    saved = list((tmp_path / "data" / "codeassist" / "bench").glob("bench-*.json"))
    assert len(saved) == 1 and f"saved: {saved[0]}" in printed
    result = json.loads(saved[0].read_text())
    assert result["local"] is True and result["turns"] == 4
    arms = result["arms"]
    assert set(arms) == {"http_full", "http_chained", "websocket"}
    for name, arm in arms.items():
        assert arm["summary"]["requests"] == 4, (name, arm["summary"]["errors"])
        assert arm["summary"]["errors"] == []
    assert arms["http_full"]["summary"]["incremental_requests"] == 0
    assert arms["http_chained"]["summary"]["incremental_requests"] == 3
    assert arms["websocket"]["summary"]["incremental_requests"] == 3
    assert arms["websocket"]["summary"]["cached_tokens"] > 0
    assert arms["http_full"]["summary"]["cached_tokens"] == 0
    assert arms["http_full"]["summary"]["bytes_sent"] > arms["websocket"]["summary"]["bytes_sent"]
    # tool calls got canned outputs; the text-only answer got a nudge
    run = arms["websocket"]["runs"][0]
    assert run["tool_calls"] == 2 and run["nudges"] == 1


def test_no_store_skips_the_chained_arm_and_out_chooses_the_file(start_server, tmp_path, capsys):
    server = start_server(Scenario.model_validate(BENCH_SCENARIO))
    out = tmp_path / "result.json"
    code = run_bench(parse("--base-url", server.address.base_url, "--turns", "2", "--no-store", "--out", str(out)))
    assert code == 0
    assert set(json.loads(out.read_text())["arms"]) == {"http_full", "websocket"}
    assert "HTTP chained" not in capsys.readouterr().out


def test_a_non_local_endpoint_without_yes_is_refused_before_any_connection(monkeypatch, capsys):
    def no_network(*args, **kwargs):
        raise AssertionError("codeassist bench connected before refusing")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(benchmark, "run_comparison", no_network)
    code = run_bench(parse("--base-url", "https://llm.example.com/v1", "--turns", "5"))
    captured = capsys.readouterr()
    assert code == 2
    expected = estimate_tokens(5, 3, 800)
    assert f"{expected['input_tokens']:,} input tokens" in captured.out
    assert f"{expected['output_tokens_max']:,} output tokens" in captured.out
    assert "--yes" in captured.err


def test_the_default_endpoint_without_a_key_is_a_configuration_error(capsys):
    assert run_bench(parse("--turns", "2")) == 2
    assert "OPENAI_API_KEY" in capsys.readouterr().err


def test_bad_arguments_are_refused(capsys):
    assert run_bench(parse("--base-url", "http://127.0.0.1:9/v1", "--arms", "carrier-pigeon")) == 2
    assert run_bench(parse("--base-url", "http://127.0.0.1:9/v1", "--turns", "0")) == 2


def test_the_estimate_grows_faster_than_the_turns():
    two, four = estimate_tokens(2, 1, 100), estimate_tokens(4, 1, 100)
    assert four["input_tokens"] > 2 * two["input_tokens"]
    assert four["output_tokens_max"] == 400
    assert estimate_tokens(4, 3, 100)["input_tokens"] == 3 * four["input_tokens"]


def test_the_command_does_not_load_the_openai_sdk_or_the_ui():
    import subprocess
    import sys

    code = (
        "import sys, codeassist.bench; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('openai', 'textual', 'tui', 'bench')))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
