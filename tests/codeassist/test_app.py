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
