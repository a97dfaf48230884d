"""The approval gate: pending decisions answered by call id, on one channel."""

from __future__ import annotations

import asyncio

from agent.approvals import NON_INTERACTIVE_DENIAL, ApprovalGate, ApprovalRequest, Decision, Policy


def request(call_id: str = "c1", rule_key: str | None = "shell:pytest") -> ApprovalRequest:
    return ApprovalRequest(call_id=call_id, tool="shell", kind="command", summary="run: pytest", rule_key=rule_key)


async def test_an_answer_given_before_anyone_awaits_is_kept():
    gate = ApprovalGate(Policy.ASK)
    pending = gate.register(request())
    assert gate.pending == ["c1"]
    assert gate.answer("c1", Decision(kind="approve_once"))
    assert gate.pending == []
    decision = await pending
    assert decision.kind == "approve_once" and decision.rule == "user"


async def test_only_a_pending_call_can_be_answered_and_only_once():
    gate = ApprovalGate(Policy.ASK)
    assert not gate.answer("unknown", Decision(kind="approve_once"))
    gate.register(request())
    assert gate.answer("c1", Decision(kind="deny", reason="no"))
    assert not gate.answer("c1", Decision(kind="approve_once"))


async def test_approve_always_becomes_a_rule_at_once():
    gate = ApprovalGate(Policy.ASK)
    gate.register(request())
    gate.answer("c1", Decision(kind="approve_always"))
    # No await in between: the next call of the same kind is settled by the rule.
    settled = gate.settle_without_asking(request("c2"), mutating=True)
    assert settled is not None and settled.rule == "rule:shell:pytest"


async def test_approve_always_without_a_rule_key_is_not_remembered():
    gate = ApprovalGate(Policy.ASK)
    gate.register(request(rule_key=None))
    gate.answer("c1", Decision(kind="approve_always"))
    assert gate.rules == set()


async def test_approve_always_without_a_rule_key_is_settled_as_approve_once():
    gate = ApprovalGate(Policy.ASK)
    future = gate.register(request(rule_key=None))
    assert gate.answer("c1", Decision(kind="approve_always"))
    decision = await future
    assert decision.kind == "approve_once" and decision.rule == "user"


async def test_approve_always_with_a_rule_key_stays_approve_always():
    gate = ApprovalGate(Policy.ASK)
    future = gate.register(request())
    gate.answer("c1", Decision(kind="approve_always"))
    assert (await future).kind == "approve_always"


async def test_cancel_pending_answers_every_waiting_call_with_cancel():
    gate = ApprovalGate(Policy.ASK)
    first, second = gate.register(request("c1")), gate.register(request("c2"))
    assert gate.cancel_pending() == ["c1", "c2"]
    assert (await first).kind == (await second).kind == "cancel"
    assert gate.cancel_pending() == []


async def test_withdraw_forgets_a_decision_nobody_waits_for():
    gate = ApprovalGate(Policy.ASK)
    pending = gate.register(request())
    gate.withdraw("c1")
    assert pending.cancelled() and gate.pending == []
    assert not gate.answer("c1", Decision(kind="approve_once"))
    gate.withdraw("c1")  # twice is harmless


async def test_the_policy_settles_calls_without_registering_anything():
    for policy, kind in [(Policy.READ_ONLY, "deny"), (Policy.FULL_AUTO, "approve_once")]:
        gate = ApprovalGate(policy)
        settled = gate.settle_without_asking(request(), mutating=True)
        assert settled is not None and settled.kind == kind
        assert gate.pending == []
    assert ApprovalGate(Policy.ASK).settle_without_asking(request(), mutating=True) is None


def test_the_non_interactive_denial_says_why():
    assert NON_INTERACTIVE_DENIAL.kind == "deny" and NON_INTERACTIVE_DENIAL.rule == "policy:non-interactive"
    assert "non-interactive" in (NON_INTERACTIVE_DENIAL.reason or "")


async def test_a_future_from_register_belongs_to_the_running_loop():
    gate = ApprovalGate(Policy.ASK)
    assert gate.register(request()).get_loop() is asyncio.get_running_loop()


def test_a_call_that_must_always_ask_asks_under_every_policy_unless_a_rule_allows_it() -> None:
    from agent.permissions import Permissions

    read = ApprovalRequest(
        call_id="c",
        tool="read_file",
        kind="read",
        summary="read",
        rule_key="read_file:x",
        paths=("x",),
        always_ask="'x' has 2 hard links",
    )
    for policy in Policy:
        assert ApprovalGate(policy).settle_without_asking(read, mutating=False) is None
    allowed = ApprovalGate(Policy.ASK, Permissions(allow=["read_file:x"])).settle_without_asking(read, mutating=False)
    assert allowed is not None and allowed.approved
    denied = ApprovalGate(Policy.FULL_AUTO, Permissions(deny=["read_file"])).settle_without_asking(read, mutating=False)
    assert denied is not None and not denied.approved


def test_the_non_interactive_denial_names_what_always_asks():
    from agent.approvals import non_interactive_denial

    hard_linked = request().model_copy(update={"always_ask": "'a.txt' has 2 hard links"})
    escalation = request().model_copy(update={"escalation": "network"})
    assert "'a.txt' has 2 hard links" in (non_interactive_denial(hard_linked).reason or "")
    assert "with network access" in (non_interactive_denial(escalation).reason or "")
    assert non_interactive_denial(request()) == NON_INTERACTIVE_DENIAL


def test_a_denial_says_who_refused_the_call():
    assert Decision(kind="deny", rule="user").denial_output() == "The user denied this call."
    assert Decision(kind="deny", rule="user", reason="not now").denial_output() == (
        "The user denied this call. Reason: not now"
    )
    by_policy = NON_INTERACTIVE_DENIAL.denial_output()
    assert by_policy.startswith("Not run: denied without asking the user. This run is non-interactive")
    assert "user denied" not in by_policy
