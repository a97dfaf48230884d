"""apply_patch through a real session against `codeassist serve`'s scripted model: a patch heredoc
sent to `shell` (asked, applied and answered as apply_patch; other commands left to bash), and the
freeform form (offered per model, switched by `/model`, answered as `custom_tool_call_output`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agent.approvals import ApprovalRequest, Decision
from agent.events import ApprovalRequested, TextDelta, ToolFinished
from agent.session import Session
from agent.tools.patch_grammar import PATCH_GRAMMAR
from server.scenario import Scenario
from tests.agent.conftest import answered_turn, settings_for
from tests.agent.recording import call, requests

PATCH = "*** Begin Patch\n*** Update File: b.py\n@@\n-X = 1\n+X = 2\n*** End Patch\n"
HEREDOC = f"cd pkg && apply_patch <<'EOF'\n{PATCH}EOF\n"
DONE = "All done."


def scenario(*outputs: list[dict[str, Any]], expect: list[dict[str, Any]] | None = None) -> Scenario:
    """Turns with `outputs`, then a last message that needs `expect` (so it proves the answers)."""
    turns: list[dict[str, Any]] = [{"output": output} for output in outputs]
    turns.append({"expect": expect or [], "output": [{"type": "message", "text": DONE}]})
    return Scenario.model_validate({"name": "patching", "turns": turns})


def opened(server, repo: Path, tmp_path: Path, **settings: object) -> Session:
    settings.setdefault("sandbox", "off")
    return Session.open(settings_for(server, **settings), cwd=repo, log_root=tmp_path / "sessions")


def approve(request: ApprovalRequest) -> Decision:
    return Decision(kind="approve_once")


def said(events: list) -> str:
    return "".join(event.text for event in events if isinstance(event, TextDelta))


def finished(events: list, call_id: str) -> ToolFinished:
    [event] = [event for event in events if isinstance(event, ToolFinished) and event.call_id == call_id]
    return event


async def test_a_patch_heredoc_is_asked_with_its_diff_applied_and_answered_as_the_shell_call(
    start_server, repo: Path, tmp_path: Path
):
    server = start_server(
        scenario(
            [call("read_file", "c_read", path="pkg/b.py")],
            [call("shell", "c_patch", command=HEREDOC)],
            expect=[{"type": "function_call_output", "call_id": "c_patch", "contains": "Updated pkg/b.py"}],
        )
    )
    session = opened(server, repo, tmp_path)
    events = await answered_turn(session, "set X to 2", approve)
    await session.close()
    [asked] = [event.request for event in events if isinstance(event, ApprovalRequested)]
    assert asked.call_id == "c_patch" and asked.tool == "apply_patch" and asked.kind == "edit"
    assert asked.paths == ("pkg/b.py",) and "-X = 1" in (asked.diff or "") and "+X = 2" in (asked.diff or "")
    result = finished(events, "c_patch")
    assert result.name == "shell" and result.status == "ok" and result.output == "Updated pkg/b.py"
    assert "+X = 2" in (result.display or {}).get("diff", "")
    assert (repo / "pkg/b.py").read_text() == "X = 2\n"
    assert said(events) == DONE


async def test_a_denied_patch_heredoc_changes_nothing_and_the_shell_call_says_why(
    start_server, repo: Path, tmp_path: Path
):
    server = start_server(
        scenario(
            [call("read_file", "c_read", path="pkg/b.py")],
            [call("shell", "c_patch", command=HEREDOC)],
            expect=[{"type": "function_call_output", "call_id": "c_patch", "contains": "not that file"}],
        )
    )
    session = opened(server, repo, tmp_path)
    events = await answered_turn(session, "set X to 2", lambda request: Decision(kind="deny", reason="not that file"))
    await session.close()
    result = finished(events, "c_patch")
    assert result.status == "denied" and "not that file" in result.output
    assert (repo / "pkg/b.py").read_text() == "X = 1\n" and said(events) == DONE


async def test_a_patch_heredoc_follows_apply_patchs_rules_not_the_shells(start_server, repo: Path, tmp_path: Path):
    """Under auto-edit a patch applies without asking while a command in the same response asks;
    "approve always" for apply_patch covers a later heredoc."""
    server = start_server(
        scenario(
            [call("read_file", "c_read", path="pkg/b.py")],
            [call("shell", "c_patch", command=HEREDOC), call("shell", "c_echo", command="echo hi")],
            expect=[
                {"type": "function_call_output", "call_id": "c_patch", "contains": "Updated pkg/b.py"},
                {"type": "function_call_output", "call_id": "c_echo", "contains": "hi"},
            ],
        )
    )
    session = opened(server, repo, tmp_path, approval="auto-edit")
    events = await answered_turn(session, "set X to 2", approve)
    await session.close()
    assert [event.request.call_id for event in events if isinstance(event, ApprovalRequested)] == ["c_echo"]
    assert (repo / "pkg/b.py").read_text() == "X = 2\n" and said(events) == DONE

    undo = "*** Begin Patch\n*** Update File: pkg/b.py\n@@\n-X = 2\n+X = 3\n*** End Patch\n"
    server = start_server(
        scenario(
            [call("apply_patch", "c_first", patch=PATCH.replace("b.py", "pkg/b.py"))],
            [call("shell", "c_second", command=f"apply_patch <<'EOF'\n{undo}EOF\n")],
            expect=[{"type": "function_call_output", "call_id": "c_second", "contains": "Updated pkg/b.py"}],
        )
    )
    (repo / "pkg/b.py").write_text("X = 1\n")
    session = opened(server, repo, tmp_path)
    session.agent.tool_context.remember_read((repo / "pkg/b.py").resolve(), b"X = 1\n")
    events = await answered_turn(session, "twice", lambda request: Decision(kind="approve_always"))
    await session.close()
    assert [event.request.call_id for event in events if isinstance(event, ApprovalRequested)] == ["c_first"]
    assert (repo / "pkg/b.py").read_text() == "X = 3\n"


async def test_a_heredoc_that_does_not_apply_changes_nothing_and_says_so(start_server, repo: Path, tmp_path: Path):
    wrong = PATCH.replace("-X = 1", "-X = 7")
    server = start_server(
        scenario(
            [call("read_file", "c_read", path="pkg/b.py")],
            [call("shell", "c_patch", command=f"cd pkg && apply_patch <<'EOF'\n{wrong}EOF\n")],
            expect=[{"type": "function_call_output", "call_id": "c_patch", "contains": "Nothing was applied"}],
        )
    )
    session = opened(server, repo, tmp_path)
    events = await answered_turn(session, "set X to 2", approve)
    await session.close()
    assert not [event for event in events if isinstance(event, ApprovalRequested)]
    assert finished(events, "c_patch").status == "error" and (repo / "pkg/b.py").read_text() == "X = 1\n"
    assert said(events) == DONE


async def test_a_command_that_does_more_than_the_heredoc_is_a_shell_command(start_server, repo: Path, tmp_path: Path):
    command = f"cd pkg && apply_patch <<'EOF'\n{PATCH}EOF\necho after"
    server = start_server(
        scenario(
            [call("read_file", "c_read", path="pkg/b.py")],
            [call("shell", "c_shell", command=command)],
            expect=[{"type": "function_call_output", "call_id": "c_shell", "contains": "after"}],
        )
    )
    session = opened(server, repo, tmp_path)
    events = await answered_turn(session, "try it", approve)
    await session.close()
    [asked] = [event.request for event in events if isinstance(event, ApprovalRequested)]
    assert asked.tool == "shell" and asked.kind == "command"
    output = finished(events, "c_shell").output
    assert "apply_patch: command not found" in output and output.rstrip().endswith("after")
    assert (repo / "pkg/b.py").read_text() == "X = 1\n"


# ---- freeform ---------------------------------------------------------------------------------

FREEFORM = {"scripted-freeform": {"apply_patch_format": "freeform"}}


def apply_patch_spec(request: dict[str, Any]) -> dict[str, Any]:
    [spec] = [tool for tool in request["tools"] if tool["name"] == "apply_patch"]
    return spec


async def test_a_freeform_model_is_offered_the_grammar_and_its_custom_call_is_answered_in_kind(
    start_server, repo: Path, tmp_path: Path
):
    server = start_server(
        scenario(
            [call("read_file", "c_read", path="pkg/b.py")],
            [
                {
                    "type": "custom_tool_call",
                    "name": "apply_patch",
                    "call_id": "c_patch",
                    "input": PATCH.replace("b.py", "pkg/b.py"),
                }
            ],
            expect=[{"type": "custom_tool_call_output", "call_id": "c_patch", "contains": "Updated pkg/b.py"}],
        )
    )
    session = opened(server, repo, tmp_path, model="scripted-freeform", models=FREEFORM)
    events = await answered_turn(session, "set X to 2", approve)
    await session.close()
    spec = apply_patch_spec(requests(server)[0])
    assert spec["type"] == "custom" and spec["format"] == {
        "type": "grammar",
        "syntax": "lark",
        "definition": PATCH_GRAMMAR,
    }
    [asked] = [event.request for event in events if isinstance(event, ApprovalRequested)]
    assert asked.tool == "apply_patch" and "+X = 2" in (asked.diff or "")
    assert finished(events, "c_patch").status == "ok" and (repo / "pkg/b.py").read_text() == "X = 2\n"
    assert said(events) == DONE


async def test_switching_models_offers_apply_patch_in_the_new_models_form(start_server, repo: Path, tmp_path: Path):
    hello = [{"type": "message", "text": "Hi."}]
    server = start_server(Scenario.model_validate({"name": "hello", "turns": [{"output": hello}] * 4}))
    session = opened(server, repo, tmp_path, models=FREEFORM)
    for model, form in [("scripted-test", "function"), ("scripted-freeform", "custom"), ("gpt-4.1", "function")]:
        if model != session.model:
            session.set_model(model)
        await answered_turn(session, "hi", approve)
        request = requests(server)[-1]
        assert request["model"] == model and apply_patch_spec(request)["type"] == form, model
        assert len([tool for tool in request["tools"] if tool["type"] == "custom"]) == (form == "custom")
    await session.close()
    assert [response.reason for turn in session.agent.turns for response in turn.responses][1:] == [
        "model changed",
        "model changed",
    ]


async def test_a_malformed_freeform_patch_or_a_custom_call_to_a_function_tool_gets_a_clear_custom_output(
    start_server, repo: Path, tmp_path: Path
):
    server = start_server(
        scenario(
            [
                {
                    "type": "custom_tool_call",
                    "name": "apply_patch",
                    "call_id": "c_bad",
                    "input": "--- a/b.py\n+++ b/b.py",
                },
                {"type": "custom_tool_call", "name": "read_file", "call_id": "c_read", "input": "pkg/b.py"},
            ],
            expect=[
                {"type": "custom_tool_call_output", "call_id": "c_bad", "contains": "Nothing was applied"},
                {"type": "custom_tool_call_output", "call_id": "c_read", "contains": "not a freeform tool"},
            ],
        )
    )
    session = opened(server, repo, tmp_path, model="scripted-freeform", models=FREEFORM)
    events = await answered_turn(session, "patch it", approve)
    await session.close()
    assert "first line must be '*** Begin Patch'" in finished(events, "c_bad").output
    assert finished(events, "c_read").status == "invalid"
    assert not [event for event in events if isinstance(event, ApprovalRequested)] and said(events) == DONE
