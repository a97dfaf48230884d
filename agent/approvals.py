"""Approvals: which tool calls need a person's consent, and how the answer comes back.

The agent never asks anyone itself: it builds an `ApprovalRequest` and awaits the injected
`decide(request) -> Decision` callback. The TUI answers with a keypress; `codeassist exec`
answers from its `--approval` policy (non-interactive `ask` denies).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict


class Policy(StrEnum):
    """How much runs without asking."""

    READ_ONLY = "read-only"
    """Mutating tools are refused."""
    ASK = "ask"
    """Edits, writes, patches and shell commands ask."""
    AUTO_EDIT = "auto-edit"
    """File changes inside the workspace run; shell commands ask."""
    FULL_AUTO = "full-auto"
    """Nothing asks (workspace containment is still enforced by the tools)."""


ToolKind = Literal["read", "edit", "command", "other"]


class ApprovalRequest(BaseModel):
    """What a person needs to decide on one tool call."""

    model_config = ConfigDict(frozen=True)

    call_id: str
    tool: str
    kind: ToolKind
    summary: str
    """One line: what will happen (`edit wordcount/core.py`, `run: pytest -q`)."""
    diff: str | None = None
    """For file changes: the unified diff of exactly what will be written."""
    command: str | None = None
    """For shell: the full command, control characters shown escaped."""
    workdir: str | None = None
    rule_key: str | None = None
    """What "approve always" remembers for this call (the tool, or a command prefix); None when
    the call must never be approved by a rule (chains, pipes, redirects, substitutions)."""


class Decision(BaseModel):
    """The answer to an `ApprovalRequest`."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["approve_once", "approve_always", "deny", "cancel"]
    reason: str | None = None
    """For a denial: passed on to the model."""
    rule: str | None = None
    """How it was decided: `policy:<name>`, `rule:<key>`, `user`."""

    @property
    def approved(self) -> bool:
        return self.kind in ("approve_once", "approve_always")


ApprovalCallback = Callable[[ApprovalRequest], Awaitable[Decision]]
"""Injected into the agent: awaited once per call that needs consent."""


class ApprovalGate:
    """Applies the policy and the session's "approve always" rules before asking anyone.

    Args:
        policy: the session's policy.
        decide: asked when neither the policy nor a remembered rule settles the call.
    """

    def __init__(self, policy: Policy, decide: ApprovalCallback) -> None:
        self.policy = policy
        self.decide = decide
        self.rules: set[str] = set()

    def settle_without_asking(self, request: ApprovalRequest, *, mutating: bool) -> Decision | None:
        """The decision that needs no person, or None when someone must be asked."""
        if not mutating:
            return Decision(kind="approve_once", rule="policy:read")
        if self.policy is Policy.READ_ONLY:
            return Decision(
                kind="deny",
                reason=f"The session is read-only; {request.tool} is not allowed.",
                rule="policy:read-only",
            )
        if self.policy is Policy.FULL_AUTO:
            return Decision(kind="approve_once", rule="policy:full-auto")
        if self.policy is Policy.AUTO_EDIT and request.kind == "edit":
            return Decision(kind="approve_once", rule="policy:auto-edit")
        if request.rule_key is not None and request.rule_key in self.rules:
            return Decision(kind="approve_once", rule=f"rule:{request.rule_key}")
        return None

    async def check(self, request: ApprovalRequest, *, mutating: bool) -> Decision:
        """Settle the call by policy or rule, or ask; remember "approve always" answers."""
        settled = self.settle_without_asking(request, mutating=mutating)
        if settled is not None:
            return settled
        decision = await self.decide(request)
        if decision.kind == "approve_always" and request.rule_key is not None:
            self.rules.add(request.rule_key)
        if decision.rule is None:
            decision = decision.model_copy(update={"rule": "user"})
        return decision


async def deny_all(request: ApprovalRequest) -> Decision:
    """The callback for non-interactive runs: anything that would ask is denied."""
    return Decision(
        kind="deny",
        reason="This run is non-interactive and the approval policy is 'ask'; nothing that needs approval can run.",
        rule="policy:non-interactive",
    )
