"""Each tool describes its own calls for display (cards, approvals, replay)."""

from __future__ import annotations

import json

from agent.tools import TOOL_CLASSES, CallDescription, default_tools, describe_call
from agent.tools.base import SUMMARY_LIMIT


def described(name: str, **arguments: object) -> CallDescription:
    return describe_call(name, json.dumps(arguments))


def test_every_default_tool_is_known_by_name():
    assert set(TOOL_CLASSES) == {tool.name for tool in default_tools(web_search=True)}


def test_file_tools_show_their_path():
    assert described("read_file", path="a.py", offset=None, limit=None).summary == "a.py"
    assert described("edit_file", path="pkg/core.py", old="x", new="y", replace_all=None).summary == "pkg/core.py"
    assert described("write_file", path="notes.txt", content="hi").summary == "notes.txt"


def test_list_files_and_grep_show_where_and_what():
    assert described("list_files", path=None, pattern="*.py").summary == "*.py"
    assert described("list_files", path="src", pattern=None).summary == "src"
    assert described("grep", pattern="def main", path=None, glob=None).summary == "def main"
    assert described("grep", pattern="TODO", path="src", glob="*.py").summary == "TODO in src in *.py"


def test_shell_shows_the_command_on_one_line_and_its_chained_commands():
    call = described("shell", command="cd pkg && pytest -q | tail -n 3\necho done", timeout_s=None, workdir=None)
    assert call.summary == "cd pkg && pytest -q | tail -n 3\\necho done"
    assert call.segments == ("cd pkg", "pytest -q", "tail -n 3", "echo done")
    escaped = described("shell", command="printf '\x1b[31m'")
    assert "\x1b" not in escaped.summary and "\x1b" not in "".join(escaped.segments)


def test_apply_patch_names_the_files_it_touches():
    patch = (
        "*** Begin Patch\n*** Update File: a.py\n*** Move to: b.py\n@@\n-x\n+y\n*** Add File: c.py\n+z\n*** End Patch"
    )
    assert described("apply_patch", patch=patch).summary == "update a.py, move to b.py, add c.py"


def test_update_plan_counts_its_steps():
    assert (
        described("update_plan", steps=[{"step": "a", "status": "done"}, {"step": "b", "status": "pending"}]).summary
        == "2 steps"
    )


def test_unknown_tools_partial_and_invalid_arguments_still_read():
    assert described("touch_file", path="x.txt", mode=None).summary == "path='x.txt'"
    assert describe_call("read_file", "").summary == ""
    assert describe_call("read_file", '{"path": "a.p').summary == '{"path": "a.p'
    assert describe_call("shell", '["ls"]').summary == "['ls']"
    assert described("read_file", path=7).summary == ""  # a wrong type is not guessed at


def test_summaries_are_bounded():
    summary = described("shell", command="echo " + "x" * 500).summary
    assert len(summary) == SUMMARY_LIMIT and summary.endswith("…")


def test_web_search_shows_its_query():
    assert described("web_search", query="httpx\nrelease").summary == "httpx\\nrelease"
    assert described("web_search", query=3).summary == ""
