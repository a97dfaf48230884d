"""An apply_patch heredoc sent to `shell`: which commands are one, and how the registry hands them
to apply_patch (paths from the call's workdir and `cd`, refusals that say nothing was applied).
The approval and the answer through a session are in `test_apply_patch_session.py`."""

from __future__ import annotations

import json
import string
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent.tools import ToolError, ToolRegistry, default_tools, describe_call, read_only_tools
from agent.tools.apply_patch import ApplyPatch, HeredocPatchArgs
from agent.tools.base import ToolContext
from agent.tools.patch_heredoc import PatchHeredoc, patch_heredoc
from agent.tools.shell import Shell, ShellArgs
from agent.wire.items import FunctionCall
from tests.agent.tools.conftest import tree_digest

PATCH = "*** Begin Patch\n*** Update File: core.py\n@@\n-def count(text):\n+def count(text: str):\n*** End Patch\n"


@pytest.mark.parametrize(
    ("command", "directory"),
    [
        (f"apply_patch <<'EOF'\n{PATCH}EOF\n", None),
        (f'apply_patch <<"EOF"\n{PATCH}EOF', None),
        (f"apply_patch <<EOF\n{PATCH}EOF\n", None),
        (f"applypatch <<'PATCH'\n{PATCH}PATCH\n", None),
        (f"  apply_patch   <<'EOF'\n{PATCH}EOF\n\n", None),
        (f"cd pkg && apply_patch <<'EOF'\n{PATCH}EOF\n", "pkg"),
        (f"cd 'my dir' && applypatch <<'EOF'\n{PATCH}EOF\n", "my dir"),
        (f'cd "my dir/sub" && apply_patch <<EOF\n{PATCH}EOF\n', "my dir/sub"),
        (f"cd /abs/path && apply_patch <<'EOF'\n{PATCH}EOF\n", "/abs/path"),
    ],
)
def test_an_apply_patch_heredoc_gives_its_body_and_directory(command, directory):
    assert patch_heredoc(command) == PatchHeredoc(PATCH, directory)


def test_a_dash_heredoc_loses_its_leading_tabs_as_in_bash():
    indented = "".join(f"\t{line}\n" for line in PATCH.splitlines())
    assert patch_heredoc(f"apply_patch <<-'EOF'\n{indented}\tEOF\n") == PatchHeredoc(PATCH, None)


def test_an_unquoted_heredoc_keeps_dollars_and_backquotes_as_written():
    body = "*** Begin Patch\n*** Add File: run.sh\n+echo $HOME `date`\n*** End Patch\n"
    assert patch_heredoc(f"apply_patch <<EOF\n{body}EOF\n") == PatchHeredoc(body, None)


@pytest.mark.parametrize(
    "command",
    [
        "echo apply_patch",
        "grep -rn apply_patch agent/",
        "apply_patch",
        "apply_patch patch.txt",
        f"cat <<'EOF'\n{PATCH}EOF\n",
        "cat <<'EOF'\napply_patch\nEOF\n",
        f"apply_patch <<'EOF'\n{PATCH}EOF\necho done\n",
        f"apply_patch <<'EOF' && echo done\n{PATCH}EOF\n",
        f"apply_patch <<'EOF'; echo done\n{PATCH}EOF\n",
        f"apply_patch <<'EOF' | tee log\n{PATCH}EOF\n",
        f"apply_patch <<'EOF' > out.txt\n{PATCH}EOF\n",
        f"apply_patch -v <<'EOF'\n{PATCH}EOF\n",
        f"X=1 apply_patch <<'EOF'\n{PATCH}EOF\n",
        f"'apply_patch' <<'EOF'\n{PATCH}EOF\n",
        f"(apply_patch <<'EOF'\n{PATCH}EOF\n)",
        f"echo first; apply_patch <<'EOF'\n{PATCH}EOF\n",
        f"cd pkg || apply_patch <<'EOF'\n{PATCH}EOF\n",
        f"cd pkg; apply_patch <<'EOF'\n{PATCH}EOF\n",
        f"cd -P pkg && apply_patch <<'EOF'\n{PATCH}EOF\n",
        f"cd && apply_patch <<'EOF'\n{PATCH}EOF\n",
        f"cd - && apply_patch <<'EOF'\n{PATCH}EOF\n",
        f"cd '-P' && apply_patch <<'EOF'\n{PATCH}EOF\n",
        f"cd $HOME && apply_patch <<'EOF'\n{PATCH}EOF\n",
        f"cd \"$DIR\" && apply_patch <<'EOF'\n{PATCH}EOF\n",
        f"cd ~/src && apply_patch <<'EOF'\n{PATCH}EOF\n",
        f"cd src* && apply_patch <<'EOF'\n{PATCH}EOF\n",
        f"cd $(mktemp -d) && apply_patch <<'EOF'\n{PATCH}EOF\n",
        f"pushd pkg && apply_patch <<'EOF'\n{PATCH}EOF\n",
        f"cd a && cd b && apply_patch <<'EOF'\n{PATCH}EOF\n",
        f"apply_patch <<'EOF'\n{PATCH}",
        f"apply_patch <<'EOF' <<'END'\n{PATCH}EOF\nx\nEND\n",
    ],
)
def test_other_commands_are_not_patch_heredocs(command):
    assert patch_heredoc(command) is None


DELIMITER = st.sampled_from(["EOF", "PATCH", "END_OF_PATCH", "P1"])
LINE = st.text(alphabet=st.characters(exclude_categories=("Cs",), exclude_characters="\r\n\x00"), max_size=30)
PLAIN_LINE = st.text(alphabet=string.ascii_letters + string.digits + " +-*@:./_'\"#()[]{}", max_size=30)
DIRECTORY = st.text(alphabet=string.ascii_letters + string.digits + "._-/", min_size=1, max_size=20).filter(
    lambda directory: not directory.startswith("-")
)


@given(
    lines=st.lists(LINE, max_size=8), delimiter=DELIMITER, quote=st.sampled_from(["'", '"']), cd=st.none() | DIRECTORY
)
def test_any_quoted_heredoc_body_comes_back_as_written(lines, delimiter, quote, cd):
    # Inside the envelope, as a patch is: tree-sitter reads a backslash ending the first line or
    # the one before the delimiter as a line continuation (the command is then left to the shell).
    inside = "".join(f"{line}\n" for line in lines if line.strip() != delimiter)
    body = f"*** Begin Patch\n{inside}*** End Patch\n"
    prefix = f"cd {cd} && " if cd is not None else ""
    command = f"{prefix}apply_patch <<{quote}{delimiter}{quote}\n{body}{delimiter}\n"
    assert patch_heredoc(command) == PatchHeredoc(body, cd)


@given(lines=st.lists(PLAIN_LINE, max_size=8), delimiter=DELIMITER, cd=st.none() | DIRECTORY)
def test_an_unquoted_heredoc_body_without_expansions_comes_back_as_written(lines, delimiter, cd):
    body = "".join(f"{line}\n" for line in lines if line.strip() != delimiter)
    prefix = f"cd '{cd}' && " if cd is not None else ""
    assert patch_heredoc(f"{prefix}applypatch <<{delimiter}\n{body}{delimiter}\n") == PatchHeredoc(body, cd)


@given(
    lines=st.lists(PLAIN_LINE, max_size=5),
    other=st.sampled_from(["echo done", "rm -rf build", "git status", "true", "apply_patch"]),
    where=st.sampled_from(["after", "chained", "before"]),
)
def test_a_heredoc_with_another_command_is_left_to_the_shell(lines, other, where):
    body = "".join(f"{line}\n" for line in lines if line.strip() != "EOF")
    heredoc = f"apply_patch <<'EOF'\n{body}EOF\n"
    command = {
        "after": f"{heredoc}{other}\n",
        "chained": f"apply_patch <<'EOF' && {other}\n{body}EOF\n",
        "before": f"{other}; {heredoc}",
    }[where]
    assert patch_heredoc(command) is None


# ---- through the registry -----------------------------------------------------------------------


def shell_call(command: str, **extra: object) -> FunctionCall:
    return FunctionCall(call_id="c1", name="shell", arguments=json.dumps({"command": command, **extra}))


def test_the_registry_hands_a_patch_heredoc_to_apply_patch_with_its_directory():
    registry = ToolRegistry(default_tools())
    tool, args = registry.parse_call(shell_call(f"cd pkg && apply_patch <<'EOF'\n{PATCH}EOF\n"))
    assert isinstance(tool, ApplyPatch) and args == HeredocPatchArgs(patch=PATCH, directory="pkg")
    tool, args = registry.parse_call(shell_call(f"cd sub && apply_patch <<'EOF'\n{PATCH}EOF\n", workdir="pkg"))
    assert args == HeredocPatchArgs(patch=PATCH, directory="pkg/sub")
    tool, args = registry.parse_call(shell_call(f"apply_patch <<'EOF'\n{PATCH}EOF\n", workdir="pkg"))
    assert args == HeredocPatchArgs(patch=PATCH, directory="pkg")
    tool, args = registry.parse_call(shell_call(f"apply_patch <<'EOF'\n{PATCH}EOF\n"))
    assert args == HeredocPatchArgs(patch=PATCH, directory=None)


def test_other_shell_calls_stay_shell_calls_and_a_session_without_apply_patch_keeps_them_all():
    registry = ToolRegistry(default_tools())
    tool, args = registry.parse_call(shell_call(f"apply_patch <<'EOF'\n{PATCH}EOF\necho done"))
    assert isinstance(tool, Shell) and isinstance(args, ShellArgs)
    without = ToolRegistry([*read_only_tools(), Shell()])
    tool, _ = without.parse_call(shell_call(f"apply_patch <<'EOF'\n{PATCH}EOF\n"))
    assert isinstance(tool, Shell)
    with pytest.raises(ToolError, match="Invalid arguments for shell"):
        registry.parse_call(FunctionCall(call_id="c", name="shell", arguments='{"command": 5}'))


def read_all(ctx: ToolContext) -> None:
    for path in ctx.workspace.rglob("*.py"):
        ctx.remember_read(path.resolve(), path.read_bytes())


async def run_heredoc(ctx: ToolContext, command: str, **extra: object):
    tool, args = ToolRegistry(default_tools()).parse_call(shell_call(command, **extra))
    request = tool.approval_request("c1", args, ctx)
    return request, await tool.run(args, ctx)


async def test_paths_start_from_the_cd_directory_and_are_shown_from_the_workspace(ctx: ToolContext, workspace: Path):
    read_all(ctx)
    request, result = await run_heredoc(ctx, f"cd pkg && apply_patch <<'EOF'\n{PATCH}EOF\n")
    assert request.tool == "apply_patch" and request.kind == "edit" and request.rule_key == "apply_patch"
    assert request.paths == ("pkg/core.py",) and "+def count(text: str):" in (request.diff or "")
    assert request.summary == "apply_patch (a shell heredoc): update pkg/core.py"
    assert result.output == "Updated pkg/core.py"
    assert (workspace / "pkg/core.py").read_text().startswith("def count(text: str):\n")


async def test_the_shell_workdir_counts_too(ctx: ToolContext, workspace: Path):
    read_all(ctx)
    _, result = await run_heredoc(ctx, f"apply_patch <<'EOF'\n{PATCH}EOF\n", workdir="pkg")
    assert result.output == "Updated pkg/core.py"


@pytest.mark.parametrize(
    ("directory", "message"),
    [
        ("..", "outside the workspace"),
        ("/", "outside the workspace"),
        ("missing", "cannot cd to 'missing': it is not a directory"),
        ("a.py", "cannot cd to 'a.py': it is not a directory"),
        ("x" * 300, "cannot cd to 'x+…': File name too long \\(a name in the path"),
    ],
)
async def test_a_cd_outside_the_workspace_or_to_no_directory_is_refused_and_nothing_changes(
    ctx: ToolContext, workspace: Path, directory: str, message: str
):
    read_all(ctx)
    before = tree_digest(workspace.parent)
    with pytest.raises(ToolError, match=message) as refused:
        await run_heredoc(ctx, f"cd {directory} && apply_patch <<'EOF'\n{PATCH}EOF\n")
    assert str(refused.value).startswith("apply_patch") and "Nothing was applied" in str(refused.value)
    assert tree_digest(workspace.parent) == before


async def test_a_patch_path_cannot_leave_the_workspace_through_the_cd_directory(ctx: ToolContext, workspace: Path):
    escape = "*** Begin Patch\n*** Add File: ../../outside.txt\n+x\n*** End Patch\n"
    with pytest.raises(ToolError, match="outside the workspace"):
        await run_heredoc(ctx, f"cd pkg && apply_patch <<'EOF'\n{escape}EOF\n")
    assert not (workspace.parent / "outside.txt").exists()


def test_the_card_of_a_patch_heredoc_names_the_files_it_changes():
    command = f"cd pkg && apply_patch <<'EOF'\n{PATCH}EOF\n"
    assert describe_call("shell", json.dumps({"command": command})).summary == "apply_patch in pkg: update core.py"
    command = f"apply_patch <<'EOF'\n{PATCH}EOF\n"
    assert describe_call("shell", json.dumps({"command": command})).summary == "apply_patch: update core.py"
    assert describe_call("shell", json.dumps({"command": "ls -la"})).summary == "ls -la"
