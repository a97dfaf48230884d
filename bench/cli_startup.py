"""Command-line start-up: `codeassist --version` and `codeassist --help`, spawn to exit.

Each launch is a fresh process of the installed console script (or `python -m codeassist` when
there is none), timed by the parent from spawning it to seeing it exit, with bytecode cached
(one uncounted launch per arm first). Arms, interleaved:

- `python`: `python -c pass`, the floor of any Python program;
- `version`: `codeassist --version`;
- `help`: `codeassist --help`;
- `exec_help`: `codeassist exec --help` (loads the command's module, not the app), for reference.

The result also lists which heavy packages each of `--version` and `--help` loads (none of the
server, uvicorn, textual or pydantic should be). Goal: `version` and `help` medians under 150 ms.

    python -m bench.cli_startup [--runs N] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.machine import describe

GOAL_MS = 150.0
GOAL_ARMS = ("version", "help")
HEAVY = ("server", "uvicorn", "starlette", "textual", "rich", "pydantic", "httpx", "websockets", "tui")
"""Packages `--version` and `--help` have no reason to load."""


def codeassist_command() -> list[str]:
    """The installed console script next to this interpreter, else `python -m codeassist`."""
    script = Path(sys.executable).with_name("codeassist")
    return [str(script)] if script.exists() else [sys.executable, "-m", "codeassist"]


def arms() -> dict[str, list[str]]:
    """The command line of every arm."""
    codeassist = codeassist_command()
    return {
        "python": [sys.executable, "-c", "pass"],
        "version": [*codeassist, "--version"],
        "help": [*codeassist, "--help"],
        "exec_help": [*codeassist, "exec", "--help"],
    }


def child_env(scratch: Path) -> dict[str, str]:
    """Cached bytecode in a scratch folder, empty config and data folders."""
    dropped = ("PYTHONDONTWRITEBYTECODE", "PYTHONPROFILEIMPORTTIME", "PYTHONSTARTUP")
    env = {key: value for key, value in os.environ.items() if key not in dropped}
    env.update(
        PYTHONPYCACHEPREFIX=str(scratch / "pycache"),
        XDG_CONFIG_HOME=str(scratch / "config"),
        XDG_DATA_HOME=str(scratch / "data"),
    )
    return env


def launch(command: list[str], env: dict[str, str]) -> float:
    """Milliseconds from spawning `command` to seeing it exit (it must exit 0)."""
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    elapsed = (time.perf_counter() - started) * 1000
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return elapsed


def heavy_imports(argv: list[str], env: dict[str, str]) -> list[str]:
    """The packages of `HEAVY` that `codeassist ARGV` has loaded by the time it exits."""
    code = (
        "import json, sys\nfrom codeassist.main import main\ntry:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
        f"print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & {set(HEAVY)!r})))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, *argv], env=env, capture_output=True, text=True, timeout=60, check=True
    )
    loaded: list[str] = json.loads(done.stdout.strip().splitlines()[-1])
    return loaded


def run(runs: int = 20) -> dict[str, Any]:
    """Launch every arm `runs` times (interleaved) and return the JSON-able result."""
    commands = arms()
    with tempfile.TemporaryDirectory(prefix="codeassist-cli-startup-") as folder:
        env = child_env(Path(folder))
        for command in commands.values():
            launch(command, env)  # writes the bytecode cache; not counted
        samples: dict[str, list[float]] = {arm: [] for arm in commands}
        for _ in range(runs):
            for arm, command in commands.items():
                samples[arm].append(launch(command, env))
        loaded = {arm: heavy_imports(commands[arm][-1:], env) for arm in GOAL_ARMS}
    summary = {
        arm: {
            "median": round(statistics.median(values), 1),
            "min": round(min(values), 1),
            "max": round(max(values), 1),
        }
        for arm, values in samples.items()
    }
    floor = summary["python"]["median"]
    return {
        "benchmark": "cli_startup",
        "runs": runs,
        "unit": "ms from spawning the process to its exit",
        "command": commands["version"][:-1],
        "arms": summary,
        "over_python_ms": {arm: round(values["median"] - floor, 1) for arm, values in summary.items()},
        "heavy_imports": loaded,
        "goal_ms": GOAL_MS,
        "goal_arms": list(GOAL_ARMS),
        "within_goal": all(summary[arm]["median"] <= GOAL_MS for arm in GOAL_ARMS),
        "machine": describe("pydantic", "textual", "uvicorn"),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="launches per arm (default 20)")
    parser.add_argument("--out", type=Path, help="also write the JSON result here")
    args = parser.parse_args(argv)
    result = run(args.runs)
    text = json.dumps(result, indent=1)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
