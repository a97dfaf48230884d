"""`codeassist`: after the app exits, the saved session's id and the command that resumes it."""

from __future__ import annotations

import shlex

from codeassist.app import resume_hint
from codeassist.main import build_app_parser
from tests.tui.conftest import SIZE, scenario, wait_idle
from tests.tui.test_app import send

ANSWER = scenario({"output": [{"type": "message", "text": "ok"}]})


async def test_quitting_after_a_turn_names_the_session_and_a_resume_command_that_works(make_app, tmp_path):
    app = make_app(ANSWER)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "hello")
        await wait_idle(app, pilot)
        session_id = app.session.id
    assert app.saved_session_id == session_id
    line = resume_hint(session_id)
    assert line.startswith(f"session {session_id}  resume: codeassist --resume {session_id}")
    argv = shlex.split(line.split("resume: ", 1)[1])
    assert argv[0] == "codeassist"
    args = build_app_parser().parse_args(argv[1:])
    assert args.resume == session_id
    [saved] = (tmp_path / "sessions").rglob(f"{session_id}.jsonl")
    assert saved.is_file()


async def test_quitting_before_any_turn_prints_nothing(make_app):
    app = make_app(ANSWER)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
    assert app.saved_session_id is None


def test_command_line_errors_quoting_outside_text_hold_no_control_characters(tmp_path):
    """A file name (here, a scenario's) quoted in an error line is made safe before it is printed."""
    import subprocess
    import sys

    hostile = tmp_path / "x\x1b]0;PWNED\x07\x1b[2J.json"
    result = subprocess.run(
        [sys.executable, "-m", "codeassist", "serve", "--script", str(hostile)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "cannot read scenario" in result.stderr
    assert "\x1b" not in result.stderr and "\x07" not in result.stderr
