"""The real terminal's title while an approval waits, and turn-end notifications: what the app
writes through its driver (captured at the terminal boundary)."""

from __future__ import annotations

import re

import pytest
from textual import events

from tests.tui.conftest import SIZE, call, scenario, wait_idle
from tests.tui.test_app import send
from tui.terminal_signals import POP_TITLE, PUSH_TITLE, TerminalSignals, notification_method
from tui.widgets.approval import ApprovalCard

HOSTILE_COMMAND = "printf 'x\x1b]0;PWNED\x07\x1b[2J'"
ASKS = scenario(
    {"output": [call("shell", "s", command=HOSTILE_COMMAND, timeout_s=None, workdir=None)]},
    {"output": [{"type": "message", "text": "ok"}]},
)
ANSWERS = scenario({"output": [{"type": "message", "text": "ok"}]})
OSC = re.compile(r"\x1b\](\d+);([^\x07]*)\x07")


def capture(app, monkeypatch) -> list[str]:
    written: list[str] = []
    monkeypatch.setattr(app._driver, "write", written.append)
    return written


def oscs(written: list[str]) -> list[tuple[str, str]]:
    return OSC.findall("".join(written))


async def wait_for_card(app, pilot) -> ApprovalCard:
    while not app.query(ApprovalCard):
        await pilot.pause(0.05)
    return app.query_one(ApprovalCard)


async def test_a_pending_approval_sets_the_terminal_title_safely_and_answering_restores_it(make_app, monkeypatch):
    app = make_app(ASKS, notify="off")
    async with app.run_test(size=SIZE) as pilot:
        written = capture(app, monkeypatch)
        await send(pilot, "go")
        await wait_for_card(app, pilot)
        await pilot.pause()
        text = "".join(written)
        assert text.startswith(PUSH_TITLE)
        [(code, title)] = oscs(written)
        assert code == "2" and title.startswith("codeassist — approval needed: run: printf")
        assert not re.search(r"[\x00-\x1f\x7f-\x9f]", title)
        assert "PWNED" in title  # shown as text, never as the terminal's own sequence
        assert text.count("\x1b") == 2  # the push and the one OSC 2: nothing from the command
        written.clear()
        await pilot.press("y")
        await wait_idle(app, pilot)
        assert "".join(written) == "\x1b]2;codeassist\x07" + POP_TITLE


async def test_quitting_while_an_approval_waits_restores_the_title(make_app, monkeypatch):
    app = make_app(ASKS, notify="off")
    async with app.run_test(size=SIZE) as pilot:
        written = capture(app, monkeypatch)
        await send(pilot, "go")
        await wait_for_card(app, pilot)
        await pilot.pause()
        written.clear()
    assert "".join(written).endswith("\x1b]2;codeassist\x07" + POP_TITLE)
    assert "".join(written).count(POP_TITLE) == 1


@pytest.mark.parametrize(
    ("setting", "expected"),
    [("osc9", "\x1b]9;codeassist: turn finished\x07"), ("bell", "\x07"), ("off", "")],
)
async def test_a_long_turn_notifies_as_the_setting_says(make_app, monkeypatch, setting, expected):
    app = make_app(ANSWERS, notify=setting)  # the test clock makes every turn take 10 s or more
    async with app.run_test(size=SIZE) as pilot:
        written = capture(app, monkeypatch)
        await send(pilot, "hello")
        await wait_idle(app, pilot)
        assert "".join(written) == expected


async def test_a_short_turn_notifies_only_while_the_terminal_is_unfocused(make_app, monkeypatch):
    app = make_app(ANSWERS, notify="osc9")
    app.clock.freeze()
    async with app.run_test(size=SIZE) as pilot:
        written = capture(app, monkeypatch)
        await send(pilot, "hello")
        await wait_idle(app, pilot)
        assert written == []
        app.post_message(events.AppBlur())  # what the driver posts when the terminal reports a focus-out
        await pilot.pause()
        assert not app.app_focus
        app.submit("again")  # not by a key: a key press focuses the app again
        await wait_idle(app, pilot)
        assert "".join(written) == "\x1b]9;codeassist: turn finished\x07"


def test_auto_uses_osc9_only_in_terminals_that_show_it():
    assert notification_method("auto", {"TERM_PROGRAM": "iTerm.app"}) == "osc9"
    assert notification_method("auto", {"TERM_PROGRAM": "WezTerm"}) == "osc9"
    assert notification_method("auto", {"TERM": "xterm-kitty"}) == "osc9"
    assert notification_method("auto", {"TERM_PROGRAM": "ghostty", "TMUX": "/tmp/tmux-0/default,1,0"}) == "bell"
    assert notification_method("auto", {"TERM_PROGRAM": "Apple_Terminal"}) == "bell"
    assert notification_method("auto", {}) == "bell"
    assert notification_method("off", {"TERM_PROGRAM": "iTerm.app"}) == "off"
    assert notification_method("osc9", {}) == "osc9"


def test_a_cancelled_turn_never_notifies_and_an_unfinished_one_says_how_it_ended():
    written: list[str] = []
    signals = TerminalSignals(written.append, "codeassist")
    signals.turn_ended("cancelled", took_s=60.0, focused=False, method="osc9")
    signals.turn_ended("completed", took_s=1.0, focused=True, method="osc9")
    assert written == []
    signals.turn_ended("error", took_s=1.0, focused=False, method="osc9")
    assert written == ["\x1b]9;codeassist: turn ended (error)\x07"]
