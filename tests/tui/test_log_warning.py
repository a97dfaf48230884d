"""The app when the session log cannot be written: a notice and a toast, the turn goes on."""

from __future__ import annotations

from typing import Any

from tests.agent.test_durability import disk_full, needs_dev_full
from tests.tui.conftest import SIZE, scenario, wait_idle
from tests.tui.test_app import send
from tui.widgets.transcript import AssistantMessage, NoticeLine

TWO_ANSWERS = scenario(
    {"output": [{"type": "message", "text": "First answer."}]},
    {"output": [{"type": "message", "text": "Second answer."}]},
)


@needs_dev_full
async def test_a_full_disk_is_a_notice_and_a_toast_and_the_turns_go_on(make_app):
    app = make_app(TWO_ANSWERS)
    toasts: list[tuple[str, Any]] = []
    shown = app.notify
    app.notify = lambda message, **options: (
        toasts.append((message, options.get("severity"))),
        shown(message, **options),
    )  # type: ignore[method-assign]
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        session = app.session
        assert session is not None and session.recorder is not None
        with disk_full(session.recorder.log):
            await send(pilot, "hi")
            await wait_idle(app, pilot)
        await send(pilot, "again")
        await wait_idle(app, pilot)
        notices = [line.message for line in app.query(NoticeLine)]
        answers = [message.text for message in app.query(AssistantMessage)]
    assert answers == ["First answer.", "Second answer."], "both turns completed"
    failing = [message for message in notices if "The session log cannot be written (the disk is full)" in message]
    assert len(failing) == 1, notices
    assert any("The session log is written again" in message for message in notices), notices
    assert [severity for message, severity in toasts if "cannot be written" in message] == ["warning"]


async def test_a_session_log_that_cannot_be_created_is_said_at_the_start(make_app, tmp_path):
    (tmp_path / "sessions").write_text("a file where the sessions directory should be\n")
    app = make_app(TWO_ANSWERS)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await send(pilot, "hi")
        await wait_idle(app, pilot)
        notices = [line for line in app.query(NoticeLine) if "The session log cannot be created" in line.message]
        answers = [message.text for message in app.query(AssistantMessage)]
    assert len(notices) == 1 and "this session is not saved" in notices[0].message
    assert notices[0].has_class("-error")
    assert answers == ["First answer."]
