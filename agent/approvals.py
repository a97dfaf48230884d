"""Approvals: which tool calls need a person's consent, and how the answer comes back.

The agent never asks anyone itself: when the policy leaves a call open, it registers a pending
decision with the `ApprovalGate` and yields an `ApprovalRequested` event. The answer comes back on
the same channel, by call id (`ApprovalGate.answer`): the TUI answers with a keypress;
`codeassist exec` answers from its `--approval` policy (non-interactive `ask` denies).
"""

from __future__ import annotations

import asyncio
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict

from agent.permissions import CallFacts, Permissions


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


ToolKind = Literal["read", "edit", "command", "network", "other"]
"""What a call does; a `network` call (web search) asks under every policy unless a rule allows it."""

Escalation = Literal["network", "unsandboxed"]
"""What a sandboxed command may be re-run with: network access, or no sandbox."""

ESCALATIONS: tuple[Escalation, ...] = ("unsandboxed", "network")


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
    rule_scope: str | None = None
    """In words, every call the "approve always" rule of `rule_key` would approve for the rest of
    the session (`shell commands starting with `git status``); None when the request has no rule key."""
    paths: tuple[str, ...] = ()
    """For file tools: the workspace-relative paths the call reads or changes (for path rules)."""
    escalation: Escalation | None = None
    """For a command the sandbox blocked: what re-running it needs (`network` access, or no
    sandbox at all). Never approved by the policy, only by a person or an allow rule."""
    always_ask: str | None = None
    """Why this call asks whatever the policy, even though it only reads (a file with other hard
    links, which may be outside the workspace); approved only by a person or an allow rule."""

    def facts(self, tool: str | None = None) -> CallFacts:
        """What allow/ask/deny rules look at in this call (as a call of `tool`, if given: the
        escalations `network` and `unsandboxed` of a shell command)."""
        prefix = f"{self.tool}:"
        key = (
            self.rule_key[len(prefix) :]
            if self.kind == "command" and self.rule_key and self.rule_key.startswith(prefix)
            else None
        )
        return CallFacts(tool=tool or self.tool, command=self.command, rule_key=key, paths=self.paths)


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

    def denial_output(self) -> str:
        """What the model is told of a denied call: that the user denied it (and why, if they said),
        or — when a policy or rule refused it — that no one was asked, and why."""
        if self.rule in (None, "user"):
            return "The user denied this call." + (f" Reason: {self.reason}" if self.reason else "")
        return f"Not run: denied without asking the user. {self.reason or self.rule}"


class ApprovalGate:
    """Applies the allow/ask/deny rules (`agent.permissions`) and the policy, and holds the calls
    that wait for a person.

    A call that needs a person is registered (`register`) before the agent yields its
    `ApprovalRequested`; whoever answers — the UI on a keypress, `codeassist exec` from its
    policy — calls `answer` with the call id. There is no callback.

    Args:
        policy: the session's policy.
        permissions: the rules in force (default: only the built-in ones).
        commands_ask: shell commands ask under every policy (no rule of the user's allows them):
            set when a sandbox was wanted but cannot run here.
    """

    def __init__(self, policy: Policy, permissions: Permissions | None = None, *, commands_ask: bool = False) -> None:
        self.policy = policy
        self.permissions = permissions if permissions is not None else Permissions()
        self.commands_ask = commands_ask
        self._pending: dict[str, tuple[ApprovalRequest, asyncio.Future[Decision]]] = {}

    @property
    def rules(self) -> set[str]:
        """The specs of the session's "approve always" rules."""
        return set(self.permissions.session_rules())

    def settle_without_asking(self, request: ApprovalRequest, *, mutating: bool) -> Decision | None:
        """The decision that needs no person, or None when someone must be asked.

        In order: a deny rule refuses; an ask rule asks, unless the person already answered
        "approve always" for it in this session; a call that must always ask (`always_ask`) asks
        unless an allow rule approves it; a network call (web search) runs by an allow rule, is
        refused under the read-only policy and asks under the others; a reading call runs; the
        read-only policy refuses the rest; an allow rule (config or session) approves; a command
        asks when the sandbox it should have run in is missing (`commands_ask`); then the policy
        decides."""
        facts = request.facts()
        denied = self.permissions.first("deny", facts)
        if denied is not None:
            return Decision(
                kind="deny",
                reason=f"Refused by the rule `deny {denied.spec}` ({denied.source}).",
                rule=f"deny:{denied.spec}",
            )
        asked = self.permissions.first("ask", facts)
        if asked is not None:
            answered = self.permissions.first("allow", facts, source="session")
            if answered is None:
                return None
            return Decision(kind="approve_once", rule=f"rule:{answered.spec}")
        if request.always_ask is not None:
            allowed = self.permissions.first("allow", facts)
            return None if allowed is None else Decision(kind="approve_once", rule=f"rule:{allowed.spec}")
        if request.kind == "network":
            return self._network_decision(request)
        if not mutating:
            return Decision(kind="approve_once", rule="policy:read")
        if self.policy is Policy.READ_ONLY:
            return Decision(
                kind="deny",
                reason=f"The session is read-only; {request.tool} is not allowed.",
                rule="policy:read-only",
            )
        allowed = self.permissions.first("allow", facts)
        if allowed is not None:
            return Decision(kind="approve_once", rule=f"rule:{allowed.spec}")
        if request.escalation is not None or (self.commands_ask and request.kind == "command"):
            return None
        if self.policy is Policy.FULL_AUTO:
            return Decision(kind="approve_once", rule="policy:full-auto")
        if self.policy is Policy.AUTO_EDIT and request.kind == "edit":
            return Decision(kind="approve_once", rule="policy:auto-edit")
        return None

    def _network_decision(self, request: ApprovalRequest) -> Decision | None:
        allowed = self.permissions.first("allow", request.facts())
        if allowed is not None:
            return Decision(kind="approve_once", rule=f"rule:{allowed.spec}")
        if self.policy is Policy.READ_ONLY:
            return Decision(
                kind="deny",
                reason=f"The session is read-only; {request.tool} reaches the network and no rule allows it.",
                rule="policy:read-only",
            )
        return None

    def preapproved_escalation(self, request: ApprovalRequest) -> Escalation | None:
        """The escalation an allow rule grants `request`'s command before it runs (`unsandboxed:…`
        or `network:…`), unless a deny rule refuses it."""
        for escalation in ESCALATIONS:
            facts = request.facts(escalation)
            if self.permissions.first("allow", facts) and not self.permissions.first("deny", facts):
                return escalation
        return None

    def register(self, request: ApprovalRequest) -> asyncio.Future[Decision]:
        """Open a pending decision for `request`; its future resolves when `answer` is called."""
        future: asyncio.Future[Decision] = asyncio.get_running_loop().create_future()
        self._pending[request.call_id] = (request, future)
        return future

    def answer(self, call_id: str, decision: Decision) -> bool:
        """Settle the pending decision of `call_id` (an "approve always" answer becomes a rule of
        the session, or, for a call without a rule key, an "approve once"); False when no decision
        with that id waits."""
        request, future = self._pending.pop(call_id, (None, None))
        if request is None or future is None or future.done():
            return False
        if decision.kind == "approve_always":
            if request.rule_key is None:
                decision = decision.model_copy(update={"kind": "approve_once"})
            else:
                self.permissions.add_session_rule(request.rule_key)
        if decision.rule is None:
            decision = decision.model_copy(update={"rule": "user"})
        future.set_result(decision)
        return True

    def withdraw(self, call_id: str) -> None:
        """Forget a pending decision nobody will wait for any more (its turn ended)."""
        _, future = self._pending.pop(call_id, (None, None))
        if future is not None and not future.done():
            future.cancel()

    def cancel_pending(self) -> list[str]:
        """Answer every pending decision with `cancel` (the user cancelled the turn); their ids."""
        call_ids = list(self._pending)
        for call_id in call_ids:
            self.answer(call_id, Decision(kind="cancel"))
        return call_ids

    @property
    def pending(self) -> list[str]:
        """The call ids that wait for an answer."""
        return list(self._pending)


NON_INTERACTIVE_DENIAL = Decision(
    kind="deny",
    reason="This run is non-interactive and the approval policy is 'ask'; nothing that needs approval can run.",
    rule="policy:non-interactive",
)
"""The answer of non-interactive runs (`codeassist exec`) to anything the policy would ask."""


def non_interactive_denial(request: ApprovalRequest) -> Decision:
    """The answer of non-interactive runs to `request`, saying why it could not run unasked."""
    if request.always_ask is not None:
        reason = (
            f"This run is non-interactive and {request.always_ask}: such a call always needs a person's "
            "approval (or an allow rule)."
        )
    elif request.kind == "network":
        reason = (
            f"This run is non-interactive and {request.tool} reaches the network: it needs a person's approval "
            f'or an allow rule (`allow = ["{request.rule_key or request.tool}"]` in the config).'
        )
    elif request.escalation is not None:
        again = "with network access" if request.escalation == "network" else "outside the sandbox"
        reason = f"This run is non-interactive and running the command again {again} needs a person's approval."
    else:
        return NON_INTERACTIVE_DENIAL
    return NON_INTERACTIVE_DENIAL.model_copy(update={"reason": reason})
