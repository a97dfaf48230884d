"""The app driven by keypresses (Pilot) against a real scripted server."""

from __future__ import annotations

import shutil
from pathlib import Path

from agent.session import Policy
from server.faults import Fault
from tests.tui.conftest import SIZE, call, scenario, wait_idle
from tui.app import CodeassistApp
from tui.widgets.approval import ApprovalCard
from tui.widgets.prompt import PromptInput
from tui.widgets.stats_panel import StatsPanel
from tui.widgets.tool_card import ToolCard
from tui.widgets.transcript import AssistantMessage, NoticeLine, Transcript, UserMessage

HELLO = scenario(
    {"output": [{"type": "message", "text": "Hello **there**.\n\n```python\nprint(1)\n```"}]},
    {"output": [{"type": "message", "text": "Second answer."}]},
    {"output": [{"type": "message", "text": "Third answer."}]},
)

EDIT = scenario(
    {"output": [call("read_file", "r", path="a.py", offset=None, limit=None)]},
    {"output": [call("edit_file", "e", path="a.py", old="hello", new="bye", replace_all=None)]},
    {"output": [{"type": "message", "text": "Done."}]},
)


async def send(pilot, text: str) -> None:
    prompt = pilot.app.query_one(PromptInput)
    prompt.focus()
    prompt.load_text(text)
    await pilot.press("enter")


async def test_enter_sends_and_the_answer_streams_into_the_transcript(make_app):
    app = make_app(HELLO)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "hi")
        await wait_idle(app, pilot)
        assert [m.text for m in app.query(UserMessage)] == ["hi"]
        assert app.query_one(AssistantMessage).text.startswith("Hello **there**.")
        assert len(app.query_one(StatsPanel).turns) == 1
        assert app.query_one(PromptInput).text == ""


async def test_y_approves_the_edit_and_the_file_changes(make_app, repo):
    app = make_app(EDIT)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "change it")
        await pilot.pause(1.0)
        card = app.query_one(ApprovalCard)
        assert "-print('hello')" in card.request.diff
        card.focus()
        await pilot.press("y")
        await wait_idle(app, pilot)
        assert (repo / "a.py").read_text() == "print('bye')\n"
        assert card.decided == "approve_once"
        assert [c.status for c in app.query(ToolCard)] == ["ok", "ok"]


async def test_a_approves_always_for_the_session(make_app, repo):
    app = make_app(EDIT)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "change it")
        await pilot.pause(1.0)
        app.query_one(ApprovalCard).focus()
        await pilot.press("a")
        await wait_idle(app, pilot)
        assert "edit_file" in app.session.agent.approvals.rules


async def test_n_denies_with_a_reason_that_reaches_the_model(make_app, repo):
    denied = scenario(
        {"output": [call("read_file", "r", path="a.py", offset=None, limit=None)]},
        {"output": [call("edit_file", "e", path="a.py", old="hello", new="bye", replace_all=None)]},
        {
            "expect": [{"type": "function_call_output", "call_id": "e", "contains": "not now"}],
            "output": [{"type": "message", "text": "Understood."}],
        },
    )
    app = make_app(denied)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "change it")
        await pilot.pause(1.0)
        app.query_one(ApprovalCard).focus()
        await pilot.press("n")
        await pilot.press(*"not now", "enter")
        await wait_idle(app, pilot)
        assert (repo / "a.py").read_text() == "print('hello')\n"
        assert app.query(AssistantMessage).last().text == "Understood."


async def test_escape_on_an_approval_cancels_the_turn(make_app, repo):
    app = make_app(EDIT)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "change it")
        await pilot.pause(1.0)
        app.query_one(ApprovalCard).focus()
        await pilot.press("escape")
        await wait_idle(app, pilot)
        assert (repo / "a.py").read_text() == "print('hello')\n"
        assert app.session.turns[-1].turn == 1
        assert any("Cancelled" in n.message for n in app.query(NoticeLine))
        edit = app.query(ToolCard).last()
        title = edit.content.renderables[0].plain
        assert edit.status == "aborted" and "waited" in title and "ran" not in title, "it never ran"


async def test_escape_interrupts_a_streaming_answer(make_app):
    slow = scenario({"output": [{"type": "message", "text": " ".join(["word"] * 400)}]}, tokens_per_second=80)
    app = make_app(slow)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "talk")
        await pilot.pause(0.5)
        await pilot.press("escape")
        await wait_idle(app, pilot)
        assert app.query_one(AssistantMessage).has_class("-interrupted")
        await send(pilot, "again")
        await wait_idle(app, pilot)
        # The abandoned answer is not part of the conversation, so the model starts afresh.
        assert len(app.query(AssistantMessage)) == 2
        assert not app.query(AssistantMessage).last().has_class("-interrupted")
        body = app.server.state.received[-1].body
        assert "previous_response_id" not in body and len(body["input"]) == 2


async def test_a_connection_lost_mid_answer_shows_the_final_answer_once(make_app):
    text = "The whole answer, said once: " + " ".join(f"word{n}" for n in range(40)) + "."
    app = make_app(scenario({"output": [{"type": "message", "text": text}]}))
    app.server.state.faults.add(Fault(kind="close", after_events=8))
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "say it")
        await wait_idle(app, pilot)
        assert app.session.turns[-1].responses[-1].status == "completed"
        notices = [n.message for n in app.query(NoticeLine)]
        assert "↺ connection lost — answer restarted" in notices, "the abandoned attempt had shown text"
        assert any(n.startswith("↻ reconnecting") for n in notices)
        assert [m.text for m in app.query(AssistantMessage)] == [text]
        assert [m.source for m in app.query(AssistantMessage)] == [text]
        assert not app.query_one(AssistantMessage).has_class("-interrupted")
        await pilot.press("ctrl+o")
        assert app.clipboard == text


async def test_typing_while_a_turn_runs_queues_the_message(make_app):
    slow = scenario(
        {"output": [{"type": "message", "text": " ".join(["w"] * 200)}]},
        {"output": [{"type": "message", "text": "Queued answer."}]},
        tokens_per_second=80,
    )
    app = make_app(slow)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "first")
        assert app.running
        app.submit("second")
        assert app.queued == ["second"]
        assert app.query_one("#queue").display
        for _ in range(100):
            await wait_idle(app, pilot)
            if len(app.session.turns) == 2:
                break
        assert [m.text for m in app.query(UserMessage)] == ["first", "second"]
        assert app.query(AssistantMessage).last().text == "Queued answer."


async def test_ctrl_b_toggles_the_stats_panel(make_app):
    app = make_app(HELLO)
    async with app.run_test(size=SIZE) as pilot:
        panel = app.query_one(StatsPanel)
        visible = not panel.has_class("-hidden")
        await pilot.press("ctrl+b")
        assert panel.has_class("-hidden") == visible
        await pilot.press("ctrl+b")
        assert panel.has_class("-hidden") != visible


async def test_ctrl_o_copies_the_last_answer(make_app):
    app = make_app(HELLO)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "hi")
        await wait_idle(app, pilot)
        await pilot.press("ctrl+o")
        assert app.clipboard.startswith("Hello **there**.")


async def test_ctrl_n_starts_a_new_session(make_app):
    app = make_app(HELLO)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "hi")
        await wait_idle(app, pilot)
        first = app.session
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert app.session is not first
        assert not app.query(UserMessage)
        assert app.query_one(StatsPanel).turns == []


async def test_prompt_keys_newline_history_search_and_mentions(make_app):
    app = make_app(HELLO)
    async with app.run_test(size=SIZE) as pilot:
        prompt = app.query_one(PromptInput)
        prompt.focus()
        await pilot.press(*"line one", "ctrl+j", *"line two")
        assert prompt.text == "line one\nline two"
        prompt.load_text("")
        await send(pilot, "hi")
        await wait_idle(app, pilot)
        await send(pilot, "hello again")
        await wait_idle(app, pilot)
        prompt.focus()
        await pilot.press("up")
        assert prompt.text == "hello again"
        await pilot.press("up")
        assert prompt.text == "hi"
        await pilot.press("down")
        assert prompt.text == "hello again"
        prompt.load_text("hi")
        await pilot.press("ctrl+r")
        assert prompt.text == "hi"
        prompt.load_text("look at @cor")
        prompt.move_cursor(prompt.document.end)
        await pilot.press("tab")
        assert prompt.text == "look at @pkg/core.py "


async def test_slash_commands(make_app, tmp_path):
    app = make_app(HELLO)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "/help")
        await pilot.pause()
        assert "/approval" in app.query(NoticeLine).last().message
        await send(pilot, "/approval read-only")
        assert app.session.policy is Policy.READ_ONLY
        assert app.session.agent.approvals.policy is Policy.READ_ONLY
        await send(pilot, "/model other-model")
        assert app.session.model == "other-model"
        assert app.session.agent.conversation.settings.model == "other-model"
        await send(pilot, "/theme codeassist-light")
        assert app.theme == "codeassist-light"
        assert "codeassist-light" in (tmp_path / "config/codeassist/config.toml").read_text()
        await send(pilot, "/nonsense")
        await pilot.pause()
        assert "Unknown command" in app.query(NoticeLine).last().message
        await send(pilot, "/stats")
        await send(pilot, "/quit")
        await pilot.pause()
    assert app.return_code == 0 or app.return_code is None


async def test_the_command_palette_runs_slash_commands(make_app):
    app = make_app(HELLO)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"/help")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await pilot.pause(0.5)
        assert "/approval" in app.query(NoticeLine).last().message


async def test_a_resumed_session_shows_its_earlier_turns_as_they_were(make_app, repo, tmp_path):
    path = await record_approved_edit(make_app)
    app = make_app(HELLO)
    app.resume_path = path
    async with app.run_test(size=SIZE) as pilot:
        await wait_idle(app, pilot)
        assert [m.text for m in app.query(UserMessage)] == ["change it"]
        assert [(c.tool_name, c.status) for c in app.query(ToolCard)] == [("read_file", "ok"), ("edit_file", "ok")]
        assert [c.description.summary for c in app.query(ToolCard)] == ["a.py", "a.py"]
        [card] = app.query(ApprovalCard)
        assert card.decided == "approve_once" and not card.interactive
        assert app.query(AssistantMessage).last().text == "Done."
        assert len(app.query_one(StatsPanel).turns) == 1
        assert f"resumed session {path.stem}" in app.query(NoticeLine).last().message
        await send(pilot, "hi")
        await wait_idle(app, pilot)
        assert [m.text for m in app.query(UserMessage)] == ["change it", "hi"]


async def test_a_long_resumed_session_draws_its_latest_turns_and_keeps_every_turn_in_the_stats(
    make_app, tmp_path, monkeypatch
):
    from bench.sessions import write_v2

    path = write_v2(tmp_path / "saved", 3)
    monkeypatch.setattr(CodeassistApp, "RESUMED_TURNS_DRAWN", 2)
    app = make_app(HELLO)
    app.resume_path = path
    async with app.run_test(size=SIZE) as pilot:
        await wait_idle(app, pilot)
        assert [m.text.split(":")[0] for m in app.query(UserMessage)] == ["Turn 2", "Turn 3"]
        assert any("1 earlier turns are not drawn" in line.message for line in app.query(NoticeLine))
        assert [turn.turn for turn in app.query_one(StatsPanel).turns] == [1, 2, 3]


async def test_help_lists_the_commands_and_the_keys_of_every_binding(make_app):
    from tui.slash import COMMANDS

    app = make_app(HELLO)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "/help")
        await pilot.pause()
        shown = app.query(NoticeLine).last().message
        assert all(f"/{name}" in shown for name in COMMANDS)
        for key in ("Enter Send", "Ctrl+R History search", "Esc Interrupt", "Ctrl+B Stats", "Ctrl+Q Quit"):
            assert key in shown
        assert "y Approve" in shown and "Esc Cancel turn" in shown and "Space Pause" in shown


async def test_the_approval_card_shows_each_chained_command_as_the_tool_describes_it(make_app, repo):
    chained = scenario(
        {"output": [call("shell", "s", command="cd pkg && ls | sort", timeout_s=None, workdir=None)]},
        {"output": [{"type": "message", "text": "ok"}]},
    )
    app = make_app(chained)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "list")
        await pilot.pause(1.0)
        card = app.query_one(ApprovalCard)
        assert card.segments == ("cd pkg", "ls", "sort")
        assert app.query_one(ToolCard).description.summary == "cd pkg && ls | sort"
        assert app.title == "codeassist — approval needed"
        card.focus()
        await pilot.press("n", "enter")
        await wait_idle(app, pilot)
        assert app.title == "codeassist"
        assert [c.status for c in app.query(ToolCard)] == ["denied"]


async def record_approved_edit(make_app) -> Path:
    """Run the EDIT scenario with its edit approved; the saved session file."""
    recorded = make_app(EDIT)
    async with recorded.run_test(size=SIZE) as pilot:
        await send(pilot, "change it")
        await pilot.pause(1.0)
        recorded.query_one(ApprovalCard).focus()
        await pilot.press("y")
        await wait_idle(recorded, pilot)
        path = recorded.session.log_path
    assert path is not None
    return path


def transcript_lines(app: CodeassistApp) -> list[tuple[str, str]]:
    """What the transcript shows, widget by widget: its kind and its text."""
    shown = []
    for widget in app.query_one(Transcript).children:
        text = getattr(widget, "text", None) or getattr(widget, "message", None) or ""
        if isinstance(widget, ToolCard):
            text = f"{widget.tool_name} {widget.status}"
        shown.append((type(widget).__name__, text))
    return shown


async def test_a_turn_cancelled_while_its_answer_streams_comes_back_when_resumed(make_app):
    story = " ".join(f"word{n}" for n in range(300))
    scene = scenario(
        {"output": [{"type": "message", "text": "First answer."}]},
        {"output": [{"type": "message", "text": story}], "tokens_per_second": 40},
    )
    recorded = make_app(scene)
    async with recorded.run_test(size=SIZE) as pilot:
        await send(pilot, "one")
        await wait_idle(recorded, pilot)
        await send(pilot, "tell a story")
        while len(recorded.query(AssistantMessage)) < 2 or not recorded.query(AssistantMessage).last().text:
            await pilot.pause(0.05)
        await pilot.press("escape")
        await wait_idle(recorded, pilot)
        live = transcript_lines(recorded)
        path = recorded.session.log_path
    assert [kind for kind, _ in live] == [
        "UserMessage",
        "AssistantMessage",
        "UserMessage",
        "AssistantMessage",
        "NoticeLine",
    ]
    assert live[3][1].startswith("word0") and live[4][1] == "turn ended: Cancelled by the user."
    app = make_app(scene)
    app.resume_path = path
    async with app.run_test(size=SIZE) as pilot:
        await wait_idle(app, pilot)
        resumed = transcript_lines(app)
        assert resumed[:-1] == live
        assert resumed[-1][1].startswith(f"resumed session {path.stem}")
        assert [turn.turn for turn in app.query_one(StatsPanel).turns] == [1, 2]
        assert app.query(AssistantMessage).last().has_class("-interrupted")


async def test_the_prompt_given_on_the_command_line_is_sent_with_warm_up_off(make_app):
    app = make_app(HELLO)  # the test settings turn warm-up off
    assert not app.settings.warmup
    app.initial_prompt = "hi"
    async with app.run_test(size=SIZE) as pilot:
        await wait_idle(app, pilot)
        assert [m.text for m in app.query(UserMessage)] == ["hi"]
        assert app.query_one(AssistantMessage).text.startswith("Hello **there**.")


async def test_a_resumed_session_draws_its_history_before_the_first_prompt_runs(make_app, tmp_path):
    path = await record_approved_edit(make_app)
    again = scenario(
        *EDIT.turns,
        {"output": [call("shell", "s", command="echo again", timeout_s=None, workdir=None)]},
        {"output": [{"type": "message", "text": "Ran it."}]},
    )
    for warmup in (False, True):
        app = make_app(again, warmup=warmup)
        app.resume_path = Path(shutil.copy(path, tmp_path / f"warmup-{warmup}.jsonl"))
        app.initial_prompt = "again"
        async with app.run_test(size=SIZE) as pilot:
            for _ in range(200):
                if len(app.query(ApprovalCard)) == 2:
                    break
                await pilot.pause(0.05)
            assert len(app.query(ApprovalCard)) == 2, transcript_lines(app)[5:]
            earlier, live = app.query(ApprovalCard)
            assert not earlier.interactive and live.interactive, "the live card takes keys"
            kinds = [kind for kind, _ in transcript_lines(app)]
            notice = kinds.index("NoticeLine")
            assert [m.text for m in app.query(UserMessage)] == ["change it", "again"]
            assert kinds[notice + 1] == "UserMessage", "the live turn starts after the history and its notice"
            live.focus()
            await pilot.press("y")
            await wait_idle(app, pilot)
            assert app.query(AssistantMessage).last().text == "Ran it."
            assert [c.status for c in app.query(ToolCard)][-1] == "ok"


async def test_a_new_session_started_while_an_answer_streams_records_the_old_turn_as_cancelled(make_app):
    from agent.events import TurnEnded
    from agent.session_record import EventEntry, read_session

    story = " ".join(f"word{n}" for n in range(300))
    app = make_app(scenario({"output": [{"type": "message", "text": story}], "tokens_per_second": 40}))
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "tell a story")
        while not app.query(AssistantMessage) or not app.query(AssistantMessage).last().text:
            await pilot.pause(0.05)
        path = app.session.log_path
        await pilot.press("ctrl+n")
        await wait_idle(app, pilot)
        assert not app.running
    events = [entry.event for entry in read_session(path).entries if isinstance(entry, EventEntry)]
    assert isinstance(events[-1], TurnEnded) and events[-1].reason == "cancelled"
