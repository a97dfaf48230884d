"""Commands the agent runs cannot read credentials from the agent's process (`agent.process_secrets`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from agent.process_secrets import _environment_bounds, _masked

KEY = "sk-proc-0123456789abcdefghijklmnop"

_PROBE = """
import json, os, subprocess
from agent.process_secrets import hide_environment_secrets
changed = hide_environment_secrets()
seen = subprocess.run(
    ["sh", "-c", "tr '\\\\0' '\\\\n' </proc/$PPID/environ"], env={"PATH": "/usr/bin:/bin"},
    capture_output=True, text=True,
).stdout
print(json.dumps({"changed": changed, "seen": seen, "kept": os.environ.get("OPENAI_API_KEY")}))
"""


@pytest.mark.skipif(not os.path.exists("/proc/self/environ"), reason="needs /proc")
def test_a_child_reading_the_parents_environment_finds_no_credential() -> None:
    env = {
        "PATH": os.environ["PATH"],
        "OPENAI_API_KEY": KEY,
        "DEPLOY_URL": "postgres://app:correct-horse-battery@db:5432/app",
        "PLAIN_SETTING": "visible-value",
    }
    result = subprocess.run([sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, check=True)
    report = json.loads(result.stdout)

    assert KEY not in report["seen"] and "correct-horse-battery" not in report["seen"]
    assert "OPENAI_API_KEY=" + "*" * len(KEY) in report["seen"].splitlines()
    assert "PLAIN_SETTING=visible-value" in report["seen"].splitlines()
    assert report["kept"] == KEY  # the process itself still has it
    assert report["changed"] > 0


def test_the_stat_line_is_read_past_a_process_name_with_spaces_and_parentheses() -> None:
    fields = " ".join(str(number) for number in range(3, 53))
    assert _environment_bounds(f"42 (odd) name)) {fields}") == (50, 51)


def test_only_credential_values_are_masked() -> None:
    block = b"HOME=/root\0OPENAI_API_KEY=abcdefghijkl\0EMPTY=\0NOEQUALS\0"
    assert _masked(block) == b"HOME=/root\0OPENAI_API_KEY=************\0EMPTY=\0NOEQUALS\0"
