"""Snapshots of the main screens (review the SVGs when they change: `make snapshot-update`)."""

from __future__ import annotations

import pytest

from agent.config import Settings
from agent.sandbox import sandbox_support
from tests.tui.conftest import ManualClock, call, scenario, seen_before, until
from tests.tui.test_replay import FIXTURE
from tui.app import WIDE_ENOUGH_FOR_STATS, CodeassistApp
from tui.welcome import WelcomeApp
from tui.widgets.approval import ApprovalCard
from tui.widgets.prompt import PromptInput
from tui.widgets.status_line import StatusLine


def test_welcome_screen(snap_compare):
    """Expect the three ways forward: an API key, --base-url, codeassist demo."""
    assert snap_compare(WelcomeApp("~/.config/codeassist/config.toml"), terminal_size=(100, 30))


def test_replayed_session_with_stats_panel(snap_compare, tmp_path, monkeypatch):
    """Expect the prompt, reasoning, two tool cards with the approved diff, the answer with a code
    block, the recorded approval, and the stats panel with one turn and its sparklines."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    project = tmp_path / "project"
    project.mkdir()
    app = CodeassistApp(Settings(), project, replay=FIXTURE, replay_speed=None)

    async def finish(pilot) -> None:
        await app.workers.wait_for_complete()
        await pilot.pause(0.5)

    assert snap_compare(app, terminal_size=(150, 48), run_before=finish)


with_the_sandbox = pytest.mark.skipif(
    not sandbox_support().available,
    reason=f"live screens are pictured with the header naming the sandbox ({sandbox_support().detail})",
)


@with_the_sandbox
def test_approval_card_with_diff(snap_compare, start_server, tmp_path, monkeypatch):
    """Expect the write_file card waiting, and the approval card with the highlighted diff and keys."""
    from tests.agent.conftest import make_repo, settings_for

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    repo = make_repo(tmp_path / "repo", {"a.py": "print('hello')\n"})
    seen_before(repo, tmp_path / "data")
    server = start_server(
        scenario(
            {
                "output": [
                    {"type": "message", "text": "I'll add a greeting module."},
                    call("write_file", "w", path="greet.py", content="def greet():\n    return 'bye'\n"),
                ]
            },
        )
    )
    app = CodeassistApp(
        settings_for(server, model="scripted-demo"), repo, session_options={"log_root": tmp_path / "sessions"}
    )
    app.clock = ManualClock()  # the prompt was not typed in just before: the card takes the focus

    async def ask(pilot) -> None:
        still_status_line(pilot)
        prompt = app.query_one(PromptInput)
        prompt.load_text("Say bye instead")
        await pilot.press("enter")
        for _ in range(50):
            await pilot.pause(0.1)
            if app.query(ApprovalCard):
                break
        await pilot.pause(0.3)

    assert snap_compare(app, terminal_size=(WIDE_ENOUGH_FOR_STATS - 1, 36), run_before=ask)  # no live timings


# ---- the live screens: a real session against the scripted server, in a temp git repository ----
# A terminal narrower than 100 columns hides the stats panel (timings); the prompt's cursor does
# not blink, so the picture does not depend on when it is taken. The side panel is pictured by
# `test_replayed_session_with_stats_panel` (recorded figures, so they do not change).

NARROW = (WIDE_ENOUGH_FOR_STATS - 1, 30)


def live_app(start_server, tmp_path, monkeypatch, scene, **settings) -> CodeassistApp:
    from tests.agent.conftest import make_repo, settings_for
    from tui.history import PromptHistory

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    repo = make_repo(tmp_path / "repo", {"a.py": "print('hello')\n", "pkg/core.py": "X = 1\n"})
    seen_before(repo, tmp_path / "data")
    server = start_server(scene)
    app = CodeassistApp(
        settings_for(server, model="scripted-demo", **settings),
        repo,
        session_options={"log_root": tmp_path / "sessions"},
        history=PromptHistory(tmp_path / "history.jsonl"),
    )
    app.clock = ManualClock()
    return app


async def steady_cursor(pilot) -> None:
    """Keep the prompt's cursor shown: stop the blinking, let a tick already due run, then focus
    the prompt again (which shows the cursor) so that nothing hides it afterwards."""
    prompt = pilot.app.query_one(PromptInput)
    prompt.cursor_blink = False
    await pilot.pause(0.1)
    pilot.app.set_focus(None)
    await pilot.pause()
    prompt.focus()
    await pilot.pause(0.2)
    assert prompt.has_focus


def still_status_line(pilot) -> ManualClock:
    """Give the status line a frozen clock of its own (its times and spinner frame then hold
    still for the picture; the app's clock keeps its grace-period behaviour); returns it."""
    clock = ManualClock().freeze()
    pilot.app.query_one(StatusLine).clock = clock
    return clock


async def send(pilot, text: str) -> None:
    prompt = pilot.app.query_one(PromptInput)
    prompt.load_text(text)
    await pilot.press("enter")


@with_the_sandbox
def test_idle_live_session(snap_compare, start_server, tmp_path, monkeypatch):
    """Expect the header (repo ⎇ main ✓, scripted-demo, WebSocket), an empty transcript, the focused prompt."""
    app = live_app(start_server, tmp_path, monkeypatch, scenario({"output": [{"type": "message", "text": "Hi."}]}))

    async def opened(pilot) -> None:
        await until(pilot, lambda: app.session is not None)  # the header is filled when the session opens
        await steady_cursor(pilot)

    assert snap_compare(app, terminal_size=NARROW, run_before=opened)


# ---- completion lists and block navigation -------------------------------------------------


@with_the_sandbox
def test_slash_completion_list(snap_compare, start_server, tmp_path, monkeypatch):
    """Expect the list above the prompt: /resume highlighted, then /replay and /redo, each with its
    usage and help; the prompt holds "/re" and keeps the focus."""
    app = live_app(start_server, tmp_path, monkeypatch, scenario({"output": [{"type": "message", "text": "Hi."}]}))

    async def typed(pilot) -> None:
        await until(pilot, lambda: app.session is not None)
        await steady_cursor(pilot)
        await pilot.press("slash", "r", "e")
        await pilot.pause(0.2)

    assert snap_compare(app, terminal_size=NARROW, run_before=typed)


@with_the_sandbox
def test_file_completion_list(snap_compare, start_server, tmp_path, monkeypatch):
    """Expect the list of files for "@", shortest first: a.py (highlighted), the untracked
    .gitignore, pkg/core.py, the untracked notes/todo.md; not the ignored build/out.py. Above it,
    the start notice naming the two untracked files (dirty before the session)."""
    app = live_app(start_server, tmp_path, monkeypatch, scenario({"output": [{"type": "message", "text": "Hi."}]}))
    repo = app.cwd
    (repo / ".gitignore").write_text("build/\n")
    (repo / "build").mkdir()
    (repo / "build" / "out.py").write_text("")
    (repo / "notes").mkdir()
    (repo / "notes" / "todo.md").write_text("")

    async def typed(pilot) -> None:
        await until(pilot, lambda: app.session is not None)
        await steady_cursor(pilot)
        await pilot.press(*"look at @")
        await app.workers.wait_for_complete()
        await pilot.pause(0.2)

    assert snap_compare(app, terminal_size=NARROW, run_before=typed)


@with_the_sandbox
def test_focused_tool_card_expanded(snap_compare, start_server, tmp_path, monkeypatch):
    """Expect the read_file card of a.py focused (tinted, a bar on its right) and expanded with the
    file's content; the footer offers Esc (to the prompt), Enter (expand) and c (copy)."""
    scene = scenario(
        {"output": [call("read_file", "r", path="a.py", offset=None, limit=None)]},
        {"output": [{"type": "message", "text": "It prints hello."}]},
    )
    app = live_app(start_server, tmp_path, monkeypatch, scene)

    async def focused(pilot) -> None:
        await send(pilot, "Read a.py")
        await until(pilot, lambda: app.session is not None and len(app.session.turns) == 1 and not app.running)
        await pilot.press("ctrl+up", "up", "enter")
        await pilot.pause(0.2)

    assert snap_compare(app, terminal_size=NARROW, run_before=focused)


STREAMED = (
    "Here is what `a.py` does:\n\n"
    "1. It prints a **fixed** greeting.\n"
    "2. It takes no input.\n\n"
    "A version that greets someone:\n\n"
    "```python\n"
    "def greet(name: str) -> str:\n"
    '    return f"hello {name}"\n'
    "\n"
    'print(greet("world"))\n'
    "```\n\n"
    "Shall I make that change?"
)
STREAM_PREAMBLE = 4
"""Events before the first delta: response.created, .in_progress, output_item.added, content_part.added."""
STREAMED_DELTAS = 30
"""Deltas sent before the server stalls: the answer stops inside the code block."""


@with_the_sandbox
def test_streaming_answer_stopped_half_way(snap_compare, start_server, tmp_path, monkeypatch):
    """Expect the prompt and the answer cut inside its code block: two list items, two highlighted lines."""
    from server.engines.scripted import chunk_text
    from tui.widgets.transcript import AssistantMessage

    expected = "".join(chunk_text(STREAMED)[:STREAMED_DELTAS])
    assert "```python" in expected and not expected.rstrip().endswith("```")
    scene = scenario(
        {
            "output": [{"type": "message", "text": STREAMED}],
            "fault": {"kind": "stall", "after_events": STREAM_PREAMBLE + STREAMED_DELTAS},
        },
        tokens_per_second=40,
    )
    # A long idle timeout: the stalled stream must not be given up on before the picture is taken.
    app = live_app(start_server, tmp_path, monkeypatch, scene, idle_timeout_s=60.0)

    async def half_streamed(pilot) -> None:
        still_status_line(pilot)
        await send(pilot, "What does a.py do?")
        await until(pilot, lambda: any(m.text == expected for m in app.query(AssistantMessage)))
        assert app.running
        await steady_cursor(pilot)
        await pilot.pause(0.3)  # the last flush of the stream buffer (every 1/15 s) has rendered

    assert snap_compare(app, terminal_size=NARROW, run_before=half_streamed)


@with_the_sandbox
def test_tool_failure(snap_compare, start_server, tmp_path, monkeypatch):
    """Expect the read_file card of missing.py "failed · 0.0s" with its error, then the model's answer."""
    from tui.widgets.tool_card import ToolCard

    scene = scenario(
        {"output": [call("read_file", "r", path="missing.py", offset=None, limit=None)]},
        {
            "expect": [{"type": "function_call_output", "call_id": "r", "contains": "does not exist"}],
            "output": [{"type": "message", "text": "There is no `missing.py` here. The code is in `a.py`."}],
        },
    )
    app = live_app(start_server, tmp_path, monkeypatch, scene)

    async def failed(pilot) -> None:
        await send(pilot, "Read missing.py")
        await until(pilot, lambda: app.session is not None and len(app.session.turns) == 1 and not app.running)
        card = app.query_one(ToolCard)
        assert card.status == "error"
        # The card shows the duration with one decimal: reading a missing file takes well under 50 ms.
        assert card.duration_s is not None and card.duration_s < 0.05, card.duration_s
        await steady_cursor(pilot)

    assert snap_compare(app, terminal_size=NARROW, run_before=failed)


@with_the_sandbox
def test_running_command_with_live_output_and_status_line(snap_compare, start_server, tmp_path, monkeypatch):
    """Expect the checkpoint line ("◇ checkpoint saved before this turn's first change") above the
    shell card "running" with its output so far (`one`, `two`) under its title, and the status
    line above the prompt: spinner, "running shell …", 3s, turn 3s, Esc to interrupt."""
    from tui.widgets.tool_card import ToolCard

    command = "echo one; echo two; sleep 60"
    scene = scenario({"output": [call("shell", "s", command=command, timeout_s=None, workdir=None)]})
    app = live_app(start_server, tmp_path, monkeypatch, scene, approval="full-auto")

    async def running(pilot) -> None:
        clock = still_status_line(pilot)
        await send(pilot, "Run it")
        await until(pilot, lambda: bool(app.query(ToolCard)) and "two" in app.query_one(ToolCard).live_output)
        clock.advance(3)
        await steady_cursor(pilot)

    assert snap_compare(app, terminal_size=NARROW, run_before=running)


@with_the_sandbox
def test_reading_calls_running_together(snap_compare, start_server, tmp_path, monkeypatch):
    """Expect the answer, then three `held` cards (path='part1.py', 'part2.py', 'part3.py') all
    "running" at once, and the status line above the prompt: "running 3 calls together: held
    path='part1.py' and 2 more", 0s, turn 0s, Esc to interrupt."""
    from agent.tools import read_only_tools
    from tests.tui.test_parallel_cards import Held

    held = Held(3)
    text = {"type": "message", "text": "Looking at three things at once."}
    scene = scenario({"output": [text, *(call("held", f"c{n}", path=f"part{n}.py") for n in (1, 2, 3))]})
    app = live_app(start_server, tmp_path, monkeypatch, scene)
    app.session_options["tools"] = [*read_only_tools(), held]

    async def running(pilot) -> None:
        still_status_line(pilot)
        await send(pilot, "Look around")
        await until(pilot, held.all_running.is_set)
        await steady_cursor(pilot)

    assert snap_compare(app, terminal_size=NARROW, run_before=running)


# ---- pickers --------------------------------------------------------------------------------


@with_the_sandbox
def test_model_picker(snap_compare, start_server, tmp_path, monkeypatch):
    """Expect the model picker over the dimmed app: "Model (now scripted-demo)", the filter, then
    scripted-demo marked ● and highlighted, the catalogue's models with window, reasoning and price,
    the endpoint's local-coder (32.8k window) and gpt-5.2 as "catalogue+endpoint"."""
    from tests.agent.model_endpoint import ModelEndpoint
    from tui.screens.picker import PickerScreen

    with ModelEndpoint() as endpoint:
        scene = scenario({"output": [{"type": "message", "text": "Hi."}]})
        app = live_app(start_server, tmp_path, monkeypatch, scene, base_url=endpoint.base_url)

        async def opened(pilot) -> None:
            await until(pilot, lambda: app.session is not None)
            await send(pilot, "/model")
            await until(pilot, lambda: isinstance(app.screen, PickerScreen))
            await app.workers.wait_for_complete()
            await until(pilot, lambda: "local-coder" in [row.value for row in app.screen.shown])
            app.screen.query_one("#picker-filter").cursor_blink = False
            await pilot.pause(0.2)

        assert snap_compare(app, terminal_size=NARROW, run_before=opened)


# ---- the git safety net: the diff and commit screens over a replayed session ------------------


def replayed_app(tmp_path, monkeypatch) -> CodeassistApp:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    project = tmp_path / "project"
    project.mkdir()
    return CodeassistApp(Settings(), project, replay=FIXTURE, replay_speed=None)


def test_diff_screen(snap_compare, tmp_path, monkeypatch):
    """Expect the diff over the dimmed replay: "Turn 2 · 3 files changed +5 −2, 1 binary", the
    files (M pkg/core.py +3 −1 highlighted, A notes.txt +2 −0, R old.py → new.py +0 −1, A logo.png
    binary), then the highlighted patch of pkg/core.py first, and the keys."""
    from tests.tui.safety_net import SAMPLE_DIFF
    from tui.screens.diff import DiffScreen

    app = replayed_app(tmp_path, monkeypatch)

    async def opened(pilot) -> None:
        await app.workers.wait_for_complete()

        async def load():
            return SAMPLE_DIFF

        app.push_screen(DiffScreen("Turn 2", load))
        await until(pilot, lambda: isinstance(app.screen, DiffScreen) and app.screen.diff is not None)
        await pilot.pause(0.3)

    assert snap_compare(app, terminal_size=(100, 32), run_before=opened)


def test_commit_screen(snap_compare, tmp_path, monkeypatch):
    """Expect the commit box over the dimmed replay: "Commit this session's changes on main", the
    drafted message in the text area (cursor at its end), "drafted by the model…", the two files,
    and the left-out file changed before the session with the --include-dirty hint; the keys."""
    from tests.tui.safety_net import SAMPLE_DRAFT, never_commit
    from tui.screens.commit import CommitScreen

    app = replayed_app(tmp_path, monkeypatch)

    async def opened(pilot) -> None:
        await app.workers.wait_for_complete()

        async def draft():
            return SAMPLE_DRAFT

        app.push_screen(CommitScreen(draft, never_commit, branch="main"))
        await until(pilot, lambda: isinstance(app.screen, CommitScreen) and app.screen.draft is not None)
        app.screen.query_one("#commit-message").cursor_blink = False
        await pilot.pause(0.3)

    assert snap_compare(app, terminal_size=(100, 32), run_before=opened)


def test_undo_question_over_hand_edited_files(snap_compare, tmp_path, monkeypatch):
    """Expect the question over the dimmed replay: "Undo turn 3? You changed 2 files by hand since",
    the two files listed, then "Cancel" (highlighted) and "Overwrite my edits", each with what it
    does on one line, and the keys; no filter."""
    from agent.session import UndoPlan
    from tui.screens.picker import PickerScreen
    from tui.slash_git import confirm_and_restore

    app = replayed_app(tmp_path, monkeypatch)

    async def asked(pilot) -> None:
        await app.workers.wait_for_complete()
        plan = UndoPlan(turn=3, files=["a.py", "pkg/core.py", "notes.txt"], conflicts=["a.py", "pkg/core.py"])
        confirm_and_restore(app, plan, redo=False)
        await until(pilot, lambda: isinstance(app.screen, PickerScreen))
        await pilot.pause(0.3)

    assert snap_compare(app, terminal_size=(100, 32), run_before=asked)


@with_the_sandbox
def test_turn_changes_and_undo_in_the_transcript(snap_compare, start_server, tmp_path, monkeypatch):
    """Expect the prompt, the quiet "◇ checkpoint saved before this turn's first change" line above
    the write_file card of greet.py (done, with its diff), "Done.", then "± 1 file changed +2 −0 ·
    /diff 1" focused (tinted; the footer offers d Diff), and "↶ turn 1 undone: 1 file back as before it
    (greet.py) · /redo re-applies it"."""
    from tui.widgets.changes import TurnChangesLine, UndoneLine
    from tui.widgets.tool_card import ToolCard

    scene = scenario(
        {"output": [call("write_file", "w", path="greet.py", content="def greet():\n    return 'hi'\n")]},
        {"output": [{"type": "message", "text": "Done."}]},
    )
    app = live_app(start_server, tmp_path, monkeypatch, scene, approval="full-auto")

    async def undone(pilot) -> None:
        await send(pilot, "Add greet.py")
        await until(pilot, lambda: app.session is not None and len(app.session.turns) == 1 and not app.running)
        card = app.query_one(ToolCard)
        # The card shows the duration with one decimal: writing a small file takes well under 50 ms.
        assert card.duration_s is not None and card.duration_s < 0.05, card.duration_s
        await send(pilot, "/undo")
        await until(pilot, lambda: bool(app.query(UndoneLine)) and not app.running)
        app.query_one(TurnChangesLine).focus()
        await pilot.pause(0.3)

    assert snap_compare(app, terminal_size=NARROW, run_before=undone)
