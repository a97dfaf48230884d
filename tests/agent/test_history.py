"""One record, three views: a live session, its replay and its resumed transcript are the same events."""

from __future__ import annotations

from agent.events import (
    AgentEvent,
    ApprovalDecided,
    MessageCompleted,
    ReasoningDelta,
    TextDelta,
    ToolFinished,
    TurnEnded,
    TurnStarted,
)
from agent.replay import SessionReplay, history_events
from agent.session import Session
from tests.agent.conftest import settings_for
from tests.agent.recording import BEARER, RICH, RICH_CANCELLED_PROMPTS, RICH_PROMPTS, record_rich


def dumps(events: list[AgentEvent]) -> list[dict]:
    """Event payloads, every field included."""
    return [event.model_dump(mode="json") for event in events]


def coalesced(events: list[AgentEvent]) -> list[AgentEvent]:
    """`events` with each run of text (or reasoning) deltas joined into one delta."""
    out: list[AgentEvent] = []
    for event in events:
        previous = out[-1] if out else None
        if isinstance(event, TextDelta | ReasoningDelta) and type(previous) is type(event):
            out[-1] = type(event)(text=previous.text + event.text)  # type: ignore[union-attr]
        else:
            out.append(event)
    return out


async def test_live_replayed_and_resumed_sessions_show_the_same_events(start_server, repo, tmp_path):
    server = start_server(RICH)
    root = tmp_path / "sessions"
    live_session = Session.open(settings_for(server), cwd=repo, log_root=root)
    live = await record_rich(live_session)
    await live_session.close()
    path = live_session.recorder.path

    baseline, *replayed = [event async for event in SessionReplay(path, instant=True).events()]
    assert baseline.type == "git_baseline", "recorded when the session opened, before any turn"
    resumed = Session.open(settings_for(server), cwd=repo, log_root=root, resume=path)
    await resumed.close()

    finished = [(e.call_id, e.status) for e in live if isinstance(e, ToolFinished)]
    assert finished == [
        ("c_plan", "ok"),
        ("c_read", "ok"),
        ("c_edit", "ok"),
        ("c_shell", "ok"),
        ("c_denied", "denied"),
        ("c_failed", "error"),
        ("c_invalid", "invalid"),
        ("c_slow", "aborted"),
        ("c_skipped", "aborted"),
    ]
    decisions = [e.decision for e in live if isinstance(e, ApprovalDecided)]
    assert decisions == ["approve_once", "approve_once", "deny", "approve_once"]
    assert [(e.prompt, e.turn) for e in live if isinstance(e, TurnStarted)] == [
        (prompt, number) for number, prompt in enumerate(RICH_PROMPTS + RICH_CANCELLED_PROMPTS, start=1)
    ]
    ended = [e.reason for e in live if isinstance(e, TurnEnded)]
    assert ended == ["completed", "completed", "cancelled", "cancelled"]
    story = live[max(index for index, e in enumerate(live) if isinstance(e, TurnStarted)) :]
    assert [type(e) for e in story if not isinstance(e, TextDelta)][-1] is TurnEnded
    assert any(isinstance(e, TextDelta) for e in story), "the cancelled story turn shows its partial text"
    durations = {e.call_id: e.duration_s for e in live if isinstance(e, ToolFinished)}
    assert durations["c_slow"] > 0 and durations["c_skipped"] == 0, "an aborted call ran until the cancel"
    redacted = [
        e.model_copy(update={"text": e.text.replace(BEARER, "[REDACTED]")})
        if isinstance(e, TextDelta | MessageCompleted)
        else e
        for e in coalesced(live)
    ]
    assert dumps(coalesced(replayed)) == dumps(redacted), "statuses, durations, diffs, plan, approvals"
    assert dumps(resumed.history()) == dumps([baseline, *redacted])
    assert dumps(history_events(path))[: len(redacted) + 1] == dumps([baseline, *redacted])
    changed = [(a, b) for a, b in zip(live, replayed, strict=True) if dumps([a]) != dumps([b])]
    assert changed and all(isinstance(a, TextDelta | MessageCompleted) and type(a) is type(b) for a, b in changed)
    assert BEARER in "".join(a.text for a, _ in changed), "only the deltas that carried the token differ"
