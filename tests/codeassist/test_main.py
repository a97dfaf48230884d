"""The dispatcher: lazy command modules, fast `--version` / `--help`, shared endpoint flags."""

from __future__ import annotations

import argparse
import importlib
import json
import subprocess
import sys
from typing import get_args

import pytest

from agent.approvals import Policy
from agent.config import Settings
from codeassist.main import COMMANDS, build_app_parser, build_parser

HEAVY = ("server", "uvicorn", "starlette", "textual", "rich", "tui", "pydantic", "httpx", "websockets")


def _loaded_after(argv: list[str]) -> list[str]:
    code = (
        "import json, sys\nfrom codeassist.main import main\ntry:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
        f"print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & {set(HEAVY)!r})))"
    )
    result = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, check=True)
    loaded: list[str] = json.loads(result.stdout.strip().splitlines()[-1])
    return loaded


@pytest.mark.parametrize("flag", ["--version", "--help", "-h"])
def test_version_and_help_load_no_command_module(flag):
    assert _loaded_after([flag]) == []


def test_a_command_loads_its_own_module_only():
    code = (
        "import sys\nfrom codeassist.main import build_parser\nbuild_parser('sessions')\n"
        "print(sorted(m for m in sys.modules if m.startswith('codeassist.')))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    modules = result.stdout.strip()
    assert "codeassist.sessions" in modules
    for other in ("codeassist.serve", "codeassist.exec", "codeassist.bench", "codeassist.app"):
        assert other not in modules


def test_every_command_names_functions_that_exist():
    for name, spec in COMMANDS.items():
        module = importlib.import_module(spec.module)
        assert callable(getattr(module, spec.add_arguments)), name
        assert callable(getattr(module, spec.run)), name


def _choices(parser: argparse.ArgumentParser, flag: str) -> tuple[str, ...]:
    [action] = [action for action in parser._actions if flag in action.option_strings]
    return tuple(action.choices or ())


def _subparser(command: str) -> argparse.ArgumentParser:
    parser = build_parser(command)
    [commands] = [action for action in parser._actions if isinstance(action, argparse._SubParsersAction)]
    return commands.choices[command]


def test_endpoint_flag_choices_come_from_the_settings_types():
    policies = tuple(policy.value for policy in Policy)
    transports = get_args(Settings.model_fields["transport"].annotation)
    assert policies == ("read-only", "ask", "auto-edit", "full-auto") and transports == ("websocket", "http")
    for parser in (build_app_parser(), _subparser("exec")):
        assert _choices(parser, "--approval") == policies
        assert _choices(parser, "--transport") == transports
    bench = _subparser("bench")
    assert {"--model", "--base-url"} <= set(bench._option_string_actions)
    assert "--approval" not in bench._option_string_actions


def test_python_dash_m_codeassist_is_the_console_script():
    result = subprocess.run([sys.executable, "-m", "codeassist", "--version"], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.startswith("codeassist ")
