"""Cost arithmetic: the cached-input discount, sums, unknown prices, limits and the context meter."""

from __future__ import annotations

import pytest

from agent.catalogue import ModelInfo, PriceTable, catalogue
from agent.cost import ContextUsage, Cost, CostReport, SpendingLimits, dollars, response_cost, responses_cost
from agent.stats import ResponseStats, TurnStats

PRICED = ModelInfo(
    name="m", context_window=400_000, max_output_tokens=1000, input_per_mtok=2.0, cached_input_per_mtok=0.5,
    output_per_mtok=10.0,
)  # fmt: skip
UNPRICED = ModelInfo(name="local", context_window=8000, max_output_tokens=1000)


def stats(input_tokens: int = 0, cached: int = 0, output: int = 0, reasoning: int = 0, model: str | None = "m"):
    return ResponseStats(
        response_id="resp_1", status="completed", transport="websocket", connection="c1", incremental=True,
        reason="chained", items_sent=1, bytes_sent=10, bytes_received=10, events=3, connect_s=None,
        created_s=None, first_token_s=None, total_s=None, stream_s=None, input_tokens=input_tokens,
        cached_tokens=cached, output_tokens=output, reasoning_tokens=reasoning, model=model,
    )  # fmt: skip


def test_cached_input_is_charged_at_the_cached_price_and_the_saving_is_the_difference():
    cost = response_cost(stats(1_000_000, cached=600_000, output=100_000, reasoning=40_000), PRICED)
    assert cost.input_usd == pytest.approx(0.8)  # 400k uncached at $2
    assert cost.cached_input_usd == pytest.approx(0.3)  # 600k cached at $0.50
    assert cost.output_usd == pytest.approx(1.0)  # reasoning is part of the output count
    assert cost.charged == pytest.approx(2.1)
    assert cost.saved == pytest.approx(0.9)  # 600k at $2 - $0.50
    assert cost.without_cache == pytest.approx(3.0)  # 1M input at $2 + output
    assert cost.uncached_tokens == 400_000 and cost.reasoning_tokens == 40_000


def test_no_cache_means_no_saving():
    cost = response_cost(stats(1000, cached=0, output=10), PRICED)
    assert cost.saved == 0 and cost.charged == cost.without_cache == pytest.approx(0.0021)


def test_more_cached_than_input_is_taken_at_the_input_count():
    cost = response_cost(stats(100, cached=500), PRICED)
    assert cost.cached_tokens == 100 and cost.uncached_tokens == 0


def test_unknown_prices_give_an_unknown_cost_never_zero():
    cost = response_cost(stats(1000, cached=500, output=10), UNPRICED)
    assert cost.charged is None and cost.saved is None and cost.without_cache is None and not cost.known
    assert cost.summary() == "cost unknown" and dollars(cost.charged) == "cost unknown"
    assert cost.input_tokens == 1000  # the tokens are still counted
    assert (response_cost(stats(10), PRICED) + cost).charged is None, "one unknown response makes the sum unknown"


def test_responses_are_priced_for_their_own_model():
    prices = {"m": PRICED, "local": UNPRICED}
    mixed = responses_cost([stats(1_000_000), stats(1_000_000, model="m")], lambda name: prices[name or "m"])
    assert mixed.charged == pytest.approx(4.0) and mixed.input_tokens == 2_000_000
    assert responses_cost([stats(10), stats(10, model="local")], lambda name: prices[name or "m"]).charged is None
    assert responses_cost([], lambda name: PRICED) == Cost()


def test_dollars_are_shown_with_cents_or_four_decimals():
    assert dollars(12.345) == "$12.35" and dollars(0.01234) == "$0.0123" and dollars(0) == "$0.0000"


def test_the_shipped_catalogue_prices_its_default_model_and_says_where_prices_come_from():
    info = catalogue().lookup("gpt-5.2")
    assert info.priced
    assert response_cost(stats(1_000_000, cached=1_000_000), info).charged == pytest.approx(info.cached_input_per_mtok)
    assert catalogue().provenance.checked


def test_the_report_lists_turns_session_prices_and_provenance():
    turn = response_cost(stats(2000, cached=1000, output=100), PRICED)
    report = CostReport(PRICED, PriceTable("the vendor's page", "2026-11-26"), [(1, turn)], turn)
    text = "\n".join(report.lines())
    assert "turn   1" in text and "cached input" in text and "saved $0.0015" in text
    assert "input $2, cached input $0.5, output $10" in text
    assert "the vendor's page, checked 2026-11-26" in text
    unknown = CostReport(UNPRICED, PriceTable("s", "d"), [], Cost(input_usd=None))
    assert "no prices known for local" in "\n".join(unknown.lines())


def turn(number: int, *responses: ResponseStats) -> TurnStats:
    return TurnStats(turn=number, responses=list(responses))


def price(responses):
    return responses_cost(responses, lambda name: PRICED)


def test_the_token_limit_counts_the_running_turns_input_and_output():
    limits = SpendingLimits(None, 1000, price)
    assert limits.exceeded([], [stats(500, output=100)]) is None
    message = limits.exceeded([turn(1, stats(10_000))], [stats(900, output=100)])
    assert message is not None and "1,000 tokens" in message and "--max-turn-tokens" in message


def test_the_cost_limit_counts_turns_since_it_was_set():
    limits = SpendingLimits(1.0, None, price, earlier_turns=1)
    earlier = turn(1, stats(10_000_000))  # $20, before the limit
    assert limits.exceeded([earlier], [stats(400_000)]) is None  # $0.80
    assert limits.exceeded([earlier, turn(2, stats(300_000))], [stats(300_000)]) is not None  # $1.20
    message = SpendingLimits(1.0, None, price).exceeded([], [stats(500_000)])
    assert message is not None and "$1.00" in message and "--max-cost" in message


def test_the_meter_turns_amber_near_the_compaction_threshold():
    assert ContextUsage(used=1000, window=400_000, threshold=320_000).label() == "context 1.0k/400k (0%)"
    assert not ContextUsage(used=287_000, window=400_000, threshold=320_000).near_threshold
    assert ContextUsage(used=288_000, window=400_000, threshold=320_000).near_threshold
    assert ContextUsage(used=7300, window=8000, threshold=None).near_threshold  # off: near the window
    assert ContextUsage(used=0, window=1_050_000, threshold=None).label() == "context 0/1.1M (0%)"


# ---- through the session facade, against a real server -------------------------------------------


async def _turn(session, prompt: str):
    events = [event async for event in session.run_turn(prompt)]
    return events, events[-1]


async def test_a_token_limit_ends_the_turn_between_steps_with_every_call_answered(start_server, repo, tmp_path):
    from agent.session import Session
    from tests.agent.conftest import settings_for
    from tests.conftest import tool_scenario

    server = start_server(tool_scenario())
    session = Session.open(settings_for(server, model="gpt-5.2"), cwd=repo, log_root=tmp_path / "sessions")
    session.set_limits(max_turn_tokens=1)
    events, ended = await _turn(session, "read a.py")
    assert ended.type == "turn_ended" and ended.reason == "limit_exceeded" and "--max-turn-tokens" in ended.message
    assert [(e.call_id, e.status) for e in events if e.type == "tool_finished"] == [("call_a", "ok")]
    assert len(ended.stats.responses) == 1, "no request after the limit"
    session.set_limits()  # lifted: the next turn runs to its end
    _, ended = await _turn(session, "go on")
    assert ended.reason == "completed"
    await session.close()


async def test_the_session_prices_its_turns_and_resume_keeps_the_meter(start_server, repo, tmp_path):
    from agent.session import Session
    from tests.agent.conftest import settings_for
    from tests.conftest import tool_scenario

    server = start_server(tool_scenario())
    settings = settings_for(server, model="gpt-5.2")
    session = Session.open(settings, cwd=repo, log_root=tmp_path / "sessions")
    assert session.context_usage().used == 0 and session.context_usage().window == 400_000
    _, ended = await _turn(session, "read a.py")
    latest = ended.stats.responses[-1]
    assert latest.model == "gpt-5.2"
    usage = session.context_usage()
    assert usage.used == latest.input_tokens + latest.output_tokens and usage.threshold == 320_000
    cost = session.session_cost()
    assert cost.charged and cost.saved and cost == Session.price(ended.stats.responses)
    path = session.flush()
    await session.close()

    resumed = Session.open(settings, cwd=repo, log_root=tmp_path / "sessions", resume=path)
    assert resumed.context_usage().used == usage.used, "the meter comes back with the session"
    assert resumed.session_cost().charged == pytest.approx(cost.charged)
    with pytest.raises(ValueError, match="prices"):
        resumed.set_model("local-llama")
        resumed.set_limits(max_cost=1.0)
    await resumed.close()
