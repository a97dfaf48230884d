"""Allow / ask / deny rules (`agent.permissions`) as the approval gate applies them."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.approvals import ApprovalGate, ApprovalRequest, Decision, Policy
from agent.permissions import CallFacts, PermissionRule, PermissionRuleError, Permissions
from agent.tools.base import ToolContext
from agent.tools.read_file import ReadFile, ReadFileArgs
from agent.tools.shell import Shell, ShellArgs
from agent.tools.write_file import WriteFile, WriteFileArgs


def shell_request(command: str, workspace: Path, call_id: str = "c1") -> ApprovalRequest:
    return Shell().approval_request(call_id, ShellArgs(command=command), ToolContext(workspace=workspace))


@pytest.mark.parametrize(
    ("spec", "tool", "pattern"),
    [
        ("shell:pytest", "shell", "pytest"),
        ("shell:  git   status ", "shell", "git status"),
        ("shell:'git' status", "shell", "git status"),
        ("read_file:.env*", "read_file", ".env*"),
        ("write_file", "write_file", None),
        ("mcp.server_tool", "mcp.server_tool", None),
    ],
)
def test_rules_are_read_from_their_spelling(spec: str, tool: str, pattern: str | None) -> None:
    rule = PermissionRule.parse(spec, "allow")
    assert (rule.tool, rule.pattern) == (tool, pattern)
    assert PermissionRule.parse(rule.spec, "allow") == rule


@pytest.mark.parametrize("spec", ["", ":x", "Shell:x", "shell:", "shell:'unbalanced", "two words"])
def test_a_rule_that_cannot_be_read_says_why(spec: str) -> None:
    with pytest.raises(PermissionRuleError, match="shell:pytest|empty|quotation|expected"):
        PermissionRule.parse(spec, "deny")


def test_a_deny_rule_refuses_wherever_its_words_occur(tmp_path: Path) -> None:
    gate = ApprovalGate(Policy.FULL_AUTO, Permissions(deny=["shell:git push"]))
    for command in (
        "git push",
        "git push origin main",
        "make && git push",
        'bash -c "git push -f"',
        "/usr/bin/git push",
    ):
        decision = gate.settle_without_asking(shell_request(command, tmp_path), mutating=True)
        assert decision is not None and decision.kind == "deny", command
        assert decision.rule == "deny:shell:git push"
        assert "deny shell:git push" in (decision.reason or "")
    assert gate.settle_without_asking(shell_request("git status", tmp_path), mutating=True) == Decision(
        kind="approve_once", rule="policy:full-auto"
    )


def test_deny_wins_over_allow_and_ask_over_allow(tmp_path: Path) -> None:
    gate = ApprovalGate(
        Policy.ASK, Permissions(allow=["shell:git", "shell:pytest"], deny=["shell:git reset"], ask=["shell:pytest -x"])
    )
    settle = lambda command: gate.settle_without_asking(shell_request(command, tmp_path), mutating=True)  # noqa: E731
    assert settle("git status").rule == "rule:shell:git"
    assert settle("git reset --hard").kind == "deny"
    assert settle("pytest -q").rule == "rule:shell:pytest"
    assert settle("pytest -x") is None  # asked


def test_an_allow_rule_never_covers_a_chain_or_a_risky_option(tmp_path: Path) -> None:
    gate = ApprovalGate(Policy.ASK, Permissions(allow=["shell:rg", "shell:git"]))
    for command in ("rg TODO && rm -rf build", "rg --pre=sh x .", "git status | sh", "git config core.pager sh"):
        assert gate.settle_without_asking(shell_request(command, tmp_path), mutating=True) is None, command


def test_an_ask_rule_asks_even_under_full_auto(tmp_path: Path) -> None:
    gate = ApprovalGate(Policy.FULL_AUTO, Permissions(ask=["shell:npm publish"]))
    assert gate.settle_without_asking(shell_request("npm publish --tag next", tmp_path), mutating=True) is None


async def test_reading_secrets_asks_by_default_and_approve_always_covers_that_path_only(tmp_path: Path) -> None:
    (tmp_path / "config").mkdir()
    for name in ("config/.env.local", ".env", "notes.txt", "deploy/id_ed25519"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x\n")
    ctx = ToolContext(workspace=tmp_path)
    gate = ApprovalGate(Policy.FULL_AUTO)
    read = lambda path, call_id="r": ReadFile().approval_request(call_id, ReadFileArgs(path=path), ctx)  # noqa: E731

    assert gate.settle_without_asking(read("notes.txt"), mutating=False).rule == "policy:read"
    for secret in ("config/.env.local", ".env", "deploy/id_ed25519"):
        assert gate.settle_without_asking(read(secret), mutating=False) is None, secret

    request = read(".env", "r1")
    assert request.rule_key == "read_file:.env"
    gate.register(request)
    gate.answer("r1", Decision(kind="approve_always"))
    assert gate.settle_without_asking(read(".env"), mutating=False).rule == "rule:read_file:.env"
    assert gate.settle_without_asking(read("config/.env.local"), mutating=False) is None


def test_a_file_allow_rule_needs_every_path_to_match(tmp_path: Path) -> None:
    permissions = Permissions(allow=["apply_patch:docs/*"])
    assert permissions.first("allow", CallFacts(tool="apply_patch", paths=("docs/a.md", "docs/b.md"))) is not None
    assert permissions.first("allow", CallFacts(tool="apply_patch", paths=("docs/a.md", "src/b.py"))) is None
    denied = Permissions(deny=["write_file:*.lock"])
    assert denied.first("deny", CallFacts(tool="write_file", paths=("a.txt", "poetry.lock"))) is not None


def test_write_rules_match_the_written_path(tmp_path: Path) -> None:
    ctx = ToolContext(workspace=tmp_path)
    gate = ApprovalGate(Policy.ASK, Permissions(allow=["write_file:docs/*"]))
    request = WriteFile().approval_request("w", WriteFileArgs(path="docs/new.md", content="hi\n"), ctx)
    assert request.paths == ("docs/new.md",)
    assert gate.settle_without_asking(request, mutating=True).rule == "rule:write_file:docs/*"


def test_session_rules_are_listed_revoked_and_restored() -> None:
    permissions = Permissions(session=["shell:pytest"])
    rule = permissions.add_session_rule("write_file")
    assert permissions.session_rules() == ["shell:pytest", "write_file"]
    assert permissions.revoke(rule)
    assert not permissions.revoke(rule)
    assert permissions.session_rules() == ["shell:pytest"]
    assert str(permissions.rules[-1]) == "allow shell:pytest (session)"
