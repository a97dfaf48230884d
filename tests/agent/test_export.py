"""Export (Markdown and JSON transcripts) and the `sessions` / `export` commands, on real sessions."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import orjson
import pytest
from markdown_it import MarkdownIt

from agent.export import export_json, export_markdown, export_session
from agent.paths import exports_dir, sessions_dir
from agent.session_log import load_session
from codeassist.export import add_export_arguments, run_export
from codeassist.sessions import add_sessions_arguments, run_sessions
from tests.agent.recording import PROMPTS, TASK, record_task


@pytest.fixture
async def recorded(start_server, repo, tmp_path, monkeypatch) -> Path:
    """A real two-turn session saved under a private XDG data directory; cwd is the repository."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.chdir(repo)
    path, _ = await record_task(start_server(TASK), repo, sessions_dir())
    return path


def code_blocks(markdown: str) -> list[tuple[str, str]]:
    return [(token.info, token.content) for token in MarkdownIt().parse(markdown) if token.type == "fence"]


def test_markdown_transcript_of_a_real_session(recorded):
    markdown = export_markdown(load_session(recorded))
    assert markdown.startswith(f"# codeassist session {recorded.stem}\n")
    assert "- **Model:** `scripted-test`" in markdown and "on `main` at `" in markdown
    assert "## Turn 1\n\n### User\n\nlook around and take notes\n" in markdown
    assert "> **Reasoning**\n>\n> Look at the files first.\n>\n> Then run a command.\n" in markdown
    assert "Looking around." in markdown and "Done: wrote **notes.txt**." in markdown and "Second answer." in markdown
    assert "**Tool call** `shell` · ok · " in markdown and "Approval: **approve once** (user)" in markdown
    assert "*Turn 1 · completed · 3 responses · 3 tool calls · total " in markdown
    assert "**Session totals:** 2 turns · 4 responses · 3 tool calls · input " in markdown
    blocks = code_blocks(markdown)
    assert ("json", '{\n  "command": "echo ran >> shell.log"\n}\n') in blocks
    assert ("json", '{\n  "path": "notes.txt",\n  "content": "hello ``` fence\\n"\n}\n') in blocks
    assert ("text", "AGENTS.md\na.py\npkg/b.py\n") in blocks
    assert any(info == "diff" and "+hello ``` fence" in content for info, content in blocks)
    assert markdown.index("Looking around.") < markdown.index("`list_files`") < markdown.index("`write_file`")


def test_json_transcript_of_a_real_session(recorded):
    loaded = load_session(recorded)
    data = json.loads(json.dumps(export_json(loaded)))
    assert data["format"] == "codeassist-transcript" and data["version"] == 1
    assert data["session"]["id"] == recorded.stem and data["warnings"] == []
    first, second = data["turns"]
    assert [first["prompt"], second["prompt"]] == list(PROMPTS)
    assert [(c["name"], c["status"], c["interrupted"]) for c in first["tool_calls"]] == [
        ("list_files", "ok", False),
        ("shell", "ok", False),
        ("write_file", "ok", False),
    ]
    shell = first["tool_calls"][1]
    assert shell["approval"]["decision"] == "approve_once" and shell["approval_request"]["command"]
    assert [item["type"] for item in first["items"]][:3] == ["message", "reasoning", "message"]
    assert first["items"][-1]["content"][0]["text"] == "Done: wrote **notes.txt**."
    assert len(first["stats"]["responses"]) == 3 and first["stats"]["tool_calls"] == 3
    recorded_input = sum(r["stats"]["input_tokens"] for r in loaded.records if r["type"] == "response_finished")
    assert data["totals"]["input_tokens"] == recorded_input > 0
    assert first["stats"]["summary"]["input_tokens"] + second["stats"]["summary"]["input_tokens"] == recorded_input


def test_export_session_writes_private_files(recorded, tmp_path):
    written = export_session(recorded)
    assert written == exports_dir() / f"{recorded.stem}.md" and written.read_text().startswith("# codeassist session")
    assert not (Path.cwd() / f"{recorded.stem}.md").exists(), "nothing is written into the repository"
    assert written.is_relative_to(tmp_path / "data" / "codeassist" / "exports")
    assert oct(written.stat().st_mode & 0o777) == "0o600"
    out = tmp_path / "t.json"
    assert export_session(recorded, "json", out) == out and json.loads(out.read_text())["turns"]
    with pytest.raises(ValueError, match="unknown export format"):
        export_session(recorded, "html")  # type: ignore[arg-type]
    written.unlink()


def test_an_interrupted_turn_is_exported_as_such(recorded):
    lines = recorded.read_bytes().splitlines(keepends=True)
    cut = next(i for i, line in enumerate(lines) if b'"approval_requested"' in line and b"c_shell" in line)
    recorded.write_bytes(b"".join(lines[: cut + 1]))
    loaded = load_session(recorded)
    markdown = export_markdown(loaded)
    assert "**Tool call** `shell` · interrupted (outcome unknown, not re-run)" in markdown
    assert "*Turn 1 · interrupted: the session log ends before this turn did*" in markdown
    [turn] = export_json(loaded)["turns"]
    assert turn["stats"] is None and turn["tool_calls"][1]["interrupted"] is True


def _write_session(root: Path, session_id: str, wall: str, cwd: Path, prompt: str) -> None:
    day = root / wall[:10]
    day.mkdir(parents=True, exist_ok=True)
    lines = [
        {"type": "session_meta", "v": 1, "seq": 0, "t": 0.0, "wall": wall, "id": session_id, "cwd": str(cwd)},
        {"v": 1, "seq": 1, "t": 1.0, "type": "user_message", "turn": 1, "text": prompt},
    ]
    (day / f"{session_id}.jsonl").write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in lines))


def _parse(add, argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add(parser)
    return parser.parse_args(argv)


def test_sessions_lists_this_workspace_by_default_and_all_on_request(recorded, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    _write_session(
        sessions_dir(),
        "20240101-000000-other1",
        "2024-01-01T00:00:00.000+00:00",
        tmp_path / "other",
        "a prompt in another repository " * 5,
    )
    assert run_sessions(_parse(add_sessions_arguments, [])) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["DATE", "ID", "REPO", "FIRST", "PROMPT", "TURNS", "TOKENS"]
    assert len(table) == 2 and recorded.stem in table[1] and " repo " in table[1]
    assert "look around and take notes" in table[1] and table[1].split()[-2] == "2"

    assert run_sessions(_parse(add_sessions_arguments, ["--all"])) == 0
    table = capsys.readouterr().out.splitlines()
    assert len(table) == 3 and "20240101-000000-other1" in table[2] and table[2].count("…") == 1
    assert all(len(line) <= 100 for line in table)

    assert run_sessions(_parse(add_sessions_arguments, ["--json", "--all"])) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [row["id"] for row in rows] == [recorded.stem, "20240101-000000-other1"]
    mine = rows[0]
    assert mine["repo"] == "repo" and mine["turns"] == 2 and mine["branch"] == "main"
    assert mine["total_tokens"] == sum(
        r["stats"]["input_tokens"] + r["stats"]["output_tokens"]
        for r in load_session(recorded).records
        if r["type"] == "response_finished"
    )

    (tmp_path / "empty").mkdir()
    monkeypatch.chdir(tmp_path / "empty")
    assert run_sessions(_parse(add_sessions_arguments, [])) == 0
    assert "No saved sessions for" in capsys.readouterr().out


def test_export_command_writes_the_latest_or_the_named_session(recorded, tmp_path, capsys):
    assert run_export(_parse(add_export_arguments, [])) == 0
    written = Path(capsys.readouterr().out.strip())
    assert written == exports_dir() / f"{recorded.stem}.md" and "## Turn 2" in written.read_text()
    assert not (Path.cwd() / f"{recorded.stem}.md").exists()
    written.unlink()

    out = tmp_path / "out.json"
    assert run_export(_parse(add_export_arguments, [recorded.stem[:12], "--format", "json", "-o", str(out)])) == 0
    assert json.loads(out.read_text())["session"]["id"] == recorded.stem
    assert capsys.readouterr().out == f"{out}\n"

    assert run_export(_parse(add_export_arguments, [str(recorded), "--output", "-"])) == 0
    assert capsys.readouterr().out.startswith(f"# codeassist session {recorded.stem}")

    assert run_export(_parse(add_export_arguments, ["nope"])) == 1
    assert "no session matches 'nope'" in capsys.readouterr().err
    assert not os.path.exists(Path.cwd() / "nope.md")


async def test_markdown_export_and_the_sessions_listing_hold_no_terminal_sequences(
    start_server, tmp_path, monkeypatch, capsys
):
    """A session whose prompt, answer, reasoning and tool output carry terminal sequences exports
    to Markdown (and lists) with them removed or made visible; the session file keeps them."""
    import re

    from server.scenario import Scenario
    from tests.agent.conftest import make_repo
    from tests.hostile import HOSTILE, HOSTILE_NAME

    work = make_repo(tmp_path / "hostile", {HOSTILE_NAME: HOSTILE + "\n"})
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.chdir(work)
    scenario = Scenario.model_validate(
        {
            "name": "hostile",
            "turns": [
                {
                    "output": [
                        {"type": "reasoning", "summary": ["Think " + HOSTILE]},
                        {"type": "message", "text": "Look " + HOSTILE},
                        {
                            "type": "function_call",
                            "call_id": "r",
                            "name": "read_file",
                            "arguments": {"path": HOSTILE_NAME, "offset": None, "limit": None},
                        },
                    ]
                },
                {"output": [{"type": "message", "text": "Done " + HOSTILE}]},
            ],
        }
    )
    path, _ = await record_task(start_server(scenario), work, sessions_dir(), prompts=("prompt " + HOSTILE,))
    assert "\\u001b]52" in path.read_text() or "\x1b]52" in path.read_text(), "the record keeps the raw text"
    controls = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
    markdown = export_markdown(load_session(path))
    assert "Look AB C link D E F" in markdown and "Done AB" in markdown and "prompt AB" in markdown
    assert not controls.search(markdown) and "PWNED" not in markdown
    assert run_sessions(argparse.Namespace(all=True, json=False)) == 0
    listing = capsys.readouterr().out
    assert "prompt AB" in listing and not controls.search(listing)
