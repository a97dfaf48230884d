"""Startup to first frame: process start until the app has drawn its first screen.

Each launch is a fresh `python -c` process, headless, in a small temporary git repository. The
parent reads the monotonic clock (`time.perf_counter`, `CLOCK_MONOTONIC`, system-wide on Linux)
just before spawning it; the child reads the same clock when its code starts, when its imports
are done and in the callback that runs after the first refresh of the screen following
`on_mount`, then exits and prints those readings as JSON. Arms:

- `python`: an empty interpreter (the floor of any Python program).
- `textual_floor`: a bare Textual app (one `Static`, a `Footer`): the floor of any Textual app.
- `app_replay`: `import tui.app`, then `CodeassistApp` replaying `tests/tui/fixtures/session.jsonl`
  instantly (with the default settings as the command line gives them: a `SettingsDraft`).
- `cli_replay`: the same through the console script's code, `codeassist replay FILE --instant`.
- `cli_live`: `codeassist` opening a live session in the repository (what a user launches; the
  endpoint is a closed loopback port, reached only after the first frame, if at all).

Bytecode is cached (in a temporary `PYTHONPYCACHEPREFIX`, warmed by one uncounted launch per
arm), as it is for an installed package. The arms are interleaved. `python -X importtime` then
lists the costliest imports of `tui.app`, and a fresh `import tui.app` says which heavy modules
(pydantic, httpx, websockets, git…) it loaded, if any.

Goal: every codeassist arm's median first frame within 1.5× of `textual_floor`'s in the same run
(`ratio_to_floor`, `within_goal`); absolute figures are kept beside it (they depend on the
machine and its load, the ratio much less).

    python -m bench.startup [--runs N] [--warmup N] [--arms A,B] [--out FILE]
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

GOAL_RATIO = 1.5
"""First frame of each codeassist arm against `textual_floor`'s, medians of the same run."""
FLOOR_ARM = "textual_floor"
HEAVY_MODULES = (
    "pydantic",
    "httpx",
    "websockets",
    "git",
    "agent.session",
    "agent.events",
    "agent.settings_model",
    "markdown_it",
    "pygments",
    "rich.markdown",
)
"""Top-level packages and agent modules the first frame must not need."""
ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests" / "tui" / "fixtures" / "session.jsonl"
HEADLESS_DRIVER = "textual.drivers.headless_driver:HeadlessDriver"
CLOSED_ENDPOINT = "http://127.0.0.1:9/v1"
"""The discard port: nothing listens there, so a connection attempt is refused at once."""

_PROBE = """
import time
code_start = time.perf_counter()
import json, sys
from pathlib import Path
{imports}
imported = time.perf_counter()
first_frame = []
original_on_mount = CodeassistApp.on_mount

def on_mount(self):
    def drawn():
        first_frame.append(time.perf_counter())
        self.exit()

    self.call_after_refresh(drawn)  # before on_mount runs: its deferred start comes after this
    original_on_mount(self)

CodeassistApp.on_mount = on_mount
{run}
print(json.dumps({{"code_start": code_start, "imported": imported, "first_frame": first_frame[0]}}))
"""

ARMS: dict[str, str] = {
    "python": "import time, json\nprint(json.dumps({'code_start': time.perf_counter()}))",
    "textual_floor": _PROBE.format(  # the bare app takes the name the probe hooks
        imports="from textual.app import App\nfrom textual.widgets import Footer, Static\n\n"
        "class CodeassistApp(App):\n"
        "    def compose(self):\n        yield Static('codeassist')\n        yield Footer()\n\n"
        "    def on_mount(self):\n        pass\n",
        run="CodeassistApp().run(headless=True)",
    ),
    "app_replay": _PROBE.format(
        imports="from agent.config import SettingsDraft\nfrom tui.app import CodeassistApp",
        run="CodeassistApp(SettingsDraft({}), Path.cwd(), replay=Path(sys.argv[1]), replay_speed=None)"
        ".run(headless=True)",
    ),
    "cli_replay": _PROBE.format(
        imports="import codeassist.main\nfrom tui.app import CodeassistApp",
        run='assert codeassist.main.main(["replay", "--instant", sys.argv[1]]) == 0',
    ),
    "cli_live": _PROBE.format(
        imports="import codeassist.main\nfrom tui.app import CodeassistApp",
        run="assert codeassist.main.main([]) == 0",
    ),
}
"""The child programs (the `cli_*` ones run headless because `TEXTUAL_DRIVER` says so)."""


def child_env(scratch: Path) -> dict[str, str]:
    """Cached bytecode, empty config and data folders, the headless driver, a closed endpoint."""
    dropped = (
        "PYTHONDONTWRITEBYTECODE",
        "PYTHONPROFILEIMPORTTIME",
        "PYTHONSTARTUP",
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
    )
    env = {key: value for key, value in os.environ.items() if key not in dropped and not key.startswith("CODEASSIST_")}
    env.update(
        PYTHONPYCACHEPREFIX=str(scratch / "pycache"),
        XDG_CONFIG_HOME=str(scratch / "config"),
        XDG_DATA_HOME=str(scratch / "data"),
        TEXTUAL_DRIVER=HEADLESS_DRIVER,
        CODEASSIST_BASE_URL=CLOSED_ENDPOINT,
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    )
    return env


def make_repository(folder: Path) -> Path:
    """A one-commit git repository for the app to open in."""
    folder.mkdir(parents=True)
    (folder / "main.py").write_text("print('hello')\n")
    git = {"cwd": folder, "check": True, "capture_output": True}
    subprocess.run(["git", "init", "-q", "-b", "main"], **git)
    subprocess.run(["git", "add", "-A"], **git)
    subprocess.run(
        ["git", "-c", "user.name=bench", "-c", "user.email=bench@example.invalid", "commit", "-qm", "init"], **git
    )
    return folder


def launch(arm: str, env: dict[str, str], workdir: Path) -> dict[str, float]:
    """One fresh process: milliseconds from spawning it to interpreter ready, imports done, first
    frame, and the parent seeing it exit."""
    spawned = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", ARMS[arm], str(FIXTURE)],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    exited = time.perf_counter()
    if done.returncode != 0:
        raise RuntimeError(f"startup arm {arm!r} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    marks = json.loads(done.stdout.strip().splitlines()[-1])
    sample = {"interpreter_ms": (marks["code_start"] - spawned) * 1000}
    if "imported" in marks:
        sample["imports_done_ms"] = (marks["imported"] - spawned) * 1000
        sample["first_frame_ms"] = (marks["first_frame"] - spawned) * 1000
    sample["exit_ms"] = (exited - spawned) * 1000
    return sample


def summarise(samples: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    """Median, min and max of every mark over the launches."""
    summary = {}
    for mark in samples[0]:
        values = sorted(sample[mark] for sample in samples)
        summary[mark] = {
            "median": round(statistics.median(values), 1),
            "min": round(values[0], 1),
            "max": round(values[-1], 1),
        }
    return summary


def import_costs(env: dict[str, str], workdir: Path, top: int = 10) -> dict[str, Any]:
    """`python -X importtime -c "import tui.app"`: the top imports by cumulative and by own time.

    `-X importtime` slows imports down, so these figures are larger than in the launches."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import tui.app"],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    rows = []
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "[us]" in line:
            continue
        own, cumulative, name = line.removeprefix("import time:").split("|", 2)
        rows.append(
            {
                "module": name.strip(),
                "depth": (len(name) - len(name.lstrip()) - 1) // 2,
                "self_ms": round(int(own) / 1000, 1),
                "cumulative_ms": round(int(cumulative) / 1000, 1),
            }
        )
    total = next((row["cumulative_ms"] for row in rows if row["module"] == "tui.app"), None)
    by_cumulative = sorted(
        (row for row in rows if row["module"] != "tui.app"), key=lambda row: row["cumulative_ms"], reverse=True
    )
    by_self = sorted(rows, key=lambda row: row["self_ms"], reverse=True)
    return {
        "tui_app_cumulative_ms": total,
        "modules": len(rows),
        "cumulative_top": by_cumulative[:top],
        "self_top": by_self[:top],
    }


def heavy_modules_loaded(env: dict[str, str], workdir: Path) -> list[str]:
    """The `HEAVY_MODULES` a fresh `import tui.app` loads (none, when the first frame needs none)."""
    probe = (
        "import json, sys, tui.app\n"
        f"heavy = {HEAVY_MODULES!r}\n"
        "print(json.dumps(sorted(m for m in sys.modules if m in heavy or m.split('.')[0] in heavy)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=workdir, env=env, capture_output=True, text=True, timeout=120, check=True
    )
    loaded: list[str] = json.loads(done.stdout)
    return loaded


def run(runs: int = 15, arms: list[str] | None = None, warmup: int = 1) -> dict[str, Any]:
    chosen = list(ARMS) if arms is None else arms
    with tempfile.TemporaryDirectory(prefix="codeassist-startup-") as folder:
        scratch = Path(folder)
        workdir = make_repository(scratch / "project")
        env = child_env(scratch)
        for _ in range(warmup):
            for arm in chosen:
                launch(arm, env, workdir)  # writes the bytecode cache; not counted
        samples: dict[str, list[dict[str, float]]] = {arm: [] for arm in chosen}
        for _ in range(runs):  # interleaved, so drift affects every arm alike
            for arm in chosen:
                samples[arm].append(launch(arm, env, workdir))
        imports = import_costs(env, workdir)
        imports["heavy_modules_loaded"] = heavy_modules_loaded(env, workdir)
    summaries = {arm: summarise(values) for arm, values in samples.items()}
    first_frame = {
        arm: summary["first_frame_ms"]["median"] for arm, summary in summaries.items() if "first_frame_ms" in summary
    }
    floor = first_frame.get(FLOOR_ARM)
    ratios = {
        arm: round(value / floor, 2) for arm, value in first_frame.items() if floor and arm not in (FLOOR_ARM, "python")
    }
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {
        "benchmark": "startup",
        "runs": runs,
        "warmup_runs": warmup,
        "headless": True,
        "bytecode_cached": warmup > 0,
        "unit": "ms since spawning the process",
        "first_frame_ms_median": first_frame,
        "arms": summaries,
        "imports": imports,
        "goal": f"first frame within {GOAL_RATIO}× of {FLOOR_ARM} (medians, same run)",
        "goal_ratio": GOAL_RATIO,
        "ratio_to_floor": ratios,
        "within_goal": {arm: ratio <= GOAL_RATIO for arm, ratio in ratios.items()},
        "load_average_after": [round(value, 2) for value in load] if load else None,
        "machine": describe("textual", "rich", "pydantic", "httpx", "websockets", "pygments", "gitpython"),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.startup", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="launches per arm (default 15)")
    parser.add_argument(
        "--warmup", type=int, default=1, help="uncounted launches per arm first, to cache the bytecode (default 1)"
    )
    parser.add_argument("--arms", default=",".join(ARMS), help=f"comma-separated subset of {','.join(ARMS)}")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    arms = [arm.strip() for arm in args.arms.split(",") if arm.strip()]
    unknown = sorted(set(arms) - set(ARMS))
    if unknown or not arms:
        parser.error(f"unknown arms {unknown}; choose from {', '.join(ARMS)}")
    result = json.dumps(run(max(1, args.runs), arms, max(0, args.warmup)), indent=2)
    print(result)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(result + "\n")


if __name__ == "__main__":
    main()
