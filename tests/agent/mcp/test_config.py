"""The `mcp_servers` setting: what is accepted, and what is refused with a clear message."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.config import ConfigError, SettingsDraft, draft_settings, load_settings
from agent.mcp.config import parse_servers


def test_a_stdio_and_an_http_server():
    servers = parse_servers(
        {
            "files": {"command": "npx", "args": ["-y", "server"], "env": {"A": "1"}, "cwd": "sub"},
            "web": {"url": "https://mcp.example.com/mcp", "headers": {"Authorization": "Bearer x"}, "enabled": False},
        }
    )
    files, web = servers["files"], servers["web"]
    assert (files.transport, files.target, files.args, dict(files.env), files.cwd) == (
        "stdio",
        "npx -y server",
        ("-y", "server"),
        {"A": "1"},
        "sub",
    )
    assert (web.transport, web.target, web.enabled, web.trust_read_only_hint) == (
        "http",
        "https://mcp.example.com/mcp",
        False,
        False,
    )
    assert files.start_timeout_s == 30.0 and files.call_timeout_s == 120.0


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"bad name!": {"command": "x"}}, "server 'bad name!': a server name is 1 to 32 letters"),
        ({"s": "npx"}, "server 's': must be a table"),
        ({"s": {}}, "give either command"),
        ({"s": {"command": "x", "url": "http://h/mcp"}}, "give either command"),
        ({"s": {"comand": "x"}}, "unknown key 'comand'"),
        ({"s": {"command": "x", "args": "-y"}}, "args must be a list of strings"),
        ({"s": {"command": "x", "env": {"A": 1}}}, "env must be a table of strings"),
        ({"s": {"command": "x", "headers": {"A": "b"}}}, "headers is for url servers only"),
        ({"s": {"url": "http://h/mcp", "args": ["a"]}}, "args is for command servers only"),
        ({"s": {"url": "ftp://h/mcp"}}, "url must be an http:// or https:// URL"),
        ({"s": {"command": "x", "start_timeout_s": 0}}, "start_timeout_s must be a positive number"),
        ({"s": {"command": "x", "call_timeout_s": True}}, "call_timeout_s must be a positive number"),
        ({"s": {"command": "x", "enabled": "yes"}}, "enabled must be true or false"),
        ({"s": {"command": ""}}, "command must be a non-empty string"),
    ],
)
def test_bad_tables_are_refused_naming_the_server_and_the_key(table, message):
    with pytest.raises(ValueError, match=message):
        parse_servers(table)


def test_the_config_file_reports_a_bad_server_with_the_file_and_the_field(tmp_path: Path):
    config = tmp_path / "config.toml"
    config.write_text('[mcp_servers.files]\ncommand = "npx"\nurl = "http://h/mcp"\n')
    with pytest.raises(ConfigError, match=r"config.toml: invalid mcp_servers: server 'files': give either command"):
        load_settings(path=config, environ={})


def test_a_bad_server_table_is_not_dumped_back_at_the_user(tmp_path: Path):
    config = tmp_path / "config.toml"
    config.write_text('[mcp_servers.files]\ncommand = "npx"\nargs = "-y"\nenv = { TOKEN = "s3cret" }\n')
    with pytest.raises(ConfigError) as raised:
        load_settings(path=config, environ={})
    assert "args must be a list of strings" in str(raised.value)
    assert "(got {" not in str(raised.value) and "s3cret" not in str(raised.value)


def test_the_config_file_and_the_environment_give_servers(tmp_path: Path):
    config = tmp_path / "config.toml"
    config.write_text('[mcp_servers.files]\ncommand = "npx"\nargs = ["-y", "s"]\n')
    assert load_settings(path=config, environ={}).mcp_servers == {"files": {"command": "npx", "args": ["-y", "s"]}}
    environ = {"CODEASSIST_MCP_SERVERS": json.dumps({"web": {"url": "http://127.0.0.1:9/mcp"}})}
    assert list(load_settings(path=tmp_path / "none.toml", environ=environ).mcp_servers) == ["web"]
    with pytest.raises(ConfigError, match="CODEASSIST_MCP_SERVERS: invalid mcp_servers: must be a JSON object"):
        load_settings(path=tmp_path / "none.toml", environ={"CODEASSIST_MCP_SERVERS": "{nope"})


@pytest.mark.parametrize("variable", ["CODEASSIST_MCP_SERVERS", "CODEASSIST_MODELS"])
def test_json_tables_nested_too_deeply_in_the_environment_are_a_config_error(tmp_path: Path, variable: str):
    environ = {variable: "[" * 20_000 + "]" * 20_000}
    with pytest.raises(ConfigError, match=f"environment variable {variable}: invalid .*must be a JSON object"):
        load_settings(path=tmp_path / "none.toml", environ=environ)


def test_servers_keep_the_first_frame_a_draft_and_a_bad_one_does_not(tmp_path: Path):
    config = tmp_path / "config.toml"
    config.write_text('[mcp_servers.files]\ncommand = "npx"\n')
    assert isinstance(draft_settings(path=config, environ={}), SettingsDraft)
    config.write_text("[mcp_servers.files]\ncommand = 3\n")
    with pytest.raises(ConfigError, match="command must be a non-empty string"):
        draft_settings(path=config, environ={})


def test_display_hides_env_and_header_values(tmp_path: Path):
    config = tmp_path / "config.toml"
    config.write_text('[mcp_servers.web]\nurl = "http://h/mcp"\nheaders = { Authorization = "Bearer sk-secret" }\n')
    shown = load_settings(path=config, environ={}).redacted_dict()["mcp_servers"]
    assert shown == {"web": {"url": "http://h/mcp", "headers": {"Authorization": "…"}}}
