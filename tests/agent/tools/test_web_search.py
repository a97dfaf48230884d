"""`web_search`: offered only when configured, approved like network use, answered by the
endpoint's hosted search on a side request — end to end against `codeassist serve` on loopback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from agent.approvals import ApprovalGate, ApprovalRequest, Decision, Policy
from agent.events import ApprovalRequested, Notice, ResponseStarted, ToolFinished, TurnEnded
from agent.permissions import Permissions
from agent.session import Session
from agent.tools import ToolContext
from agent.tools.web_search import WebSearch
from agent.web_search import MAX_ANSWER_CHARS, SearchResult
from agent.web_sources import MAX_SOURCES, Findings, hosted_search_notice
from server.engines.scripted import url_citations
from server.scenario import Scenario, ScriptedMessage
from tests.agent.conftest import answered_turn, make_repo, settings_for
from tests.codeassist.test_exec import run_exec
from tests.codeassist.test_serve import running

QUERY = "latest httpx release"
ANSWER = "The latest httpx release is 0.28.1, published in December 2024."


def call(call_id: str, query: str = QUERY) -> dict[str, Any]:
    return {"type": "function_call", "name": "web_search", "call_id": call_id, "arguments": {"query": query}}


def message(text: str, **fields: Any) -> dict[str, Any]:
    return {"type": "message", "text": text, **fields}


def hosted_search(query: str = QUERY) -> list[dict[str, Any]]:
    """What an endpoint with hosted search answers a search request with."""
    return [
        {"type": "web_search_call", "query": query, "sources": ["https://pypi.org/project/httpx/"]},
        {"type": "web_search_call", "url": "https://github.com/encode/httpx/releases"},
        message(
            ANSWER,
            citations=[
                {
                    "url": "https://github.com/encode/httpx/releases",
                    "title": "Releases · encode/httpx",
                    "cites": "0.28.1",
                },
                {"url": "https://pypi.org/project/httpx/", "title": "httpx · PyPI"},
            ],
        ),
    ]


def search_scenario(*later: dict[str, Any], query: str = QUERY, **changes: Any) -> Scenario:
    """Turn 0 asks for a search; the side request (a first turn too: it holds no model output)
    is answered by the alternative expecting the query; then the model reads the output."""
    first = {
        "expect": [{"type": "message", "role": "user", "contains": "which httpx"}],
        "output": [call("c_search", query)],
        "alternatives": [
            {"expect": [{"type": "message", "role": "user", "contains": query}], "output": hosted_search(query)},
        ],
    }
    answered = {"expect": [{"type": "function_call_output", "call_id": "c_search"}], "output": [message("Noted.")]}
    return Scenario.model_validate(
        {"name": "web-search", "off_script_text": "Off script.", "turns": [first, answered, *later], **changes}
    )


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    return make_repo(tmp_path / "repo", {"a.py": "print('hello')\n"})


def opened(server: Any, repo: Path, **settings: Any) -> Session:
    return Session.open(settings_for(server, **{"web_search": True, **settings}), cwd=repo, record=False)


def approve(request: ApprovalRequest) -> Decision:
    return Decision(kind="approve_once")


def received(server: Any) -> list[dict[str, Any]]:
    """The bodies `codeassist serve` received, read from its `/_codeassist/received`."""
    url = server.address.base_url.removesuffix("/v1") + "/_codeassist/received"
    return [entry["body"] for entry in httpx.get(url, timeout=10).json() if entry["body"] is not None]


def searches(server: Any) -> list[dict[str, Any]]:
    return [body for body in received(server) if {"type": "web_search"} in (body.get("tools") or [])]


def finished(events: list[Any], call_id: str = "c_search") -> ToolFinished:
    return next(event for event in events if isinstance(event, ToolFinished) and event.call_id == call_id)


def tool_names(body: dict[str, Any]) -> list[str]:
    return [tool.get("name") or tool["type"] for tool in body.get("tools") or []]


async def test_web_search_is_offered_only_when_the_config_turns_it_on(start_server, repo):
    server = start_server(search_scenario())
    off = Session.open(settings_for(server), cwd=repo, record=False)
    events = await answered_turn(off, "which httpx is current?", approve)
    assert "web_search" not in tool_names(received(server)[-1])
    assert finished(events).status == "invalid", "a call to a tool not offered is refused, not run"
    assert searches(server) == []
    await off.close()

    on = opened(server, repo)
    await answered_turn(on, "which httpx is current?", approve)
    asked = [body for body in received(server) if "which httpx" in str(body.get("input"))]
    assert "web_search" in tool_names(asked[-1]) and "web_search" not in tool_names(asked[0])
    await on.close()


async def test_an_approved_search_is_a_side_request_whose_answer_and_sources_are_the_output(start_server, repo):
    server = start_server(search_scenario({"output": [message("Next.")]}))
    session = opened(server, repo)
    asked: list[ApprovalRequest] = []

    def decide(request: ApprovalRequest) -> Decision:
        asked.append(request)
        return approve(request)

    events = await answered_turn(session, "which httpx is current?", decide)
    assert [request.kind for request in asked] == ["network"]
    assert asked[0].summary == f"search the web: {QUERY}" and asked[0].rule_key == "web_search"

    result = finished(events)
    assert result.status == "ok", result.output
    assert result.output.startswith(ANSWER)
    assert "1. Releases · encode/httpx — https://github.com/encode/httpx/releases" in result.output
    assert "2. httpx · PyPI — https://pypi.org/project/httpx/" in result.output
    assert f'Searched for: "{QUERY}"' in result.output
    assert "Pages opened: https://github.com/encode/httpx/releases" in result.output
    assert result.display is not None and result.display["query"] == QUERY
    assert [source["url"] for source in result.display["sources"]] == [
        "https://github.com/encode/httpx/releases",
        "https://pypi.org/project/httpx/",
    ]

    [side] = searches(server)
    assert side["tools"] == [{"type": "web_search"}]
    assert side["store"] is False and side["stream"] is False and "previous_response_id" not in side
    assert side["model"] == "scripted-test"
    assert side["input"][0]["content"][0]["text"] == QUERY
    output = next(body for body in received(server) if "function_call_output" in str(body.get("input")))
    sent = next(item for item in output["input"] if item.get("call_id") == "c_search")
    assert sent["output"] == result.output, "the model receives what the card shows"

    events = await answered_turn(session, "thanks", approve)
    started = next(event for event in events if isinstance(event, ResponseStarted))
    assert started.transport == "websocket" and started.incremental, "the side request left the chain alone"
    await session.close()


async def test_a_denied_search_sends_nothing(start_server, repo):
    server = start_server(search_scenario())
    session = opened(server, repo)
    events = await answered_turn(session, "which httpx is current?", lambda r: Decision(kind="deny", reason="offline"))
    result = finished(events)
    assert result.status == "denied" and "offline" in result.output
    assert searches(server) == []
    await session.close()


async def test_approve_always_lets_the_next_searches_run_without_asking(start_server, repo):
    again = {
        "expect": [{"type": "message", "role": "user", "contains": "again"}],
        "output": [call("c_again", "httpx changelog")],
        "alternatives": [
            {"expect": [{"type": "message", "contains": "httpx changelog"}], "output": hosted_search("httpx changelog")}
        ],
    }
    done = {"expect": [{"type": "function_call_output", "call_id": "c_again"}], "output": [message("Done.")]}
    server = start_server(search_scenario(again, done))
    session = opened(server, repo)
    events = await answered_turn(session, "which httpx is current?", lambda r: Decision(kind="approve_always"))
    assert finished(events).status == "ok"
    assert "web_search" in [rule.spec for rule in session.permission_rules() if rule.source == "session"]

    events = await answered_turn(session, "search again", lambda r: pytest.fail(f"asked again: {r.summary}"))
    assert not any(isinstance(event, ApprovalRequested) for event in events)
    assert finished(events, "c_again").status == "ok"
    assert len(searches(server)) == 2
    await session.close()


@pytest.mark.parametrize("policy", ["auto-edit", "full-auto"])
async def test_a_search_asks_under_every_policy_that_runs_things_unasked(start_server, repo, policy):
    server = start_server(search_scenario())
    session = opened(server, repo, approval=policy, sandbox="off")
    events = await answered_turn(session, "which httpx is current?", approve)
    assert [event.request.tool for event in events if isinstance(event, ApprovalRequested)] == ["web_search"]
    assert finished(events).status == "ok"
    await session.close()


async def test_read_only_refuses_a_search_unless_a_rule_allows_it(start_server, repo):
    server = start_server(search_scenario())
    session = opened(server, repo, approval="read-only")
    events = await answered_turn(session, "which httpx is current?", lambda r: pytest.fail("asked"))
    result = finished(events)
    assert result.status == "denied" and "read-only" in result.output and "no rule allows it" in result.output
    assert result.output.startswith("Not run: denied without asking the user."), "a policy, not the user, refused it"
    assert searches(server) == []
    await session.close()

    allowed = opened(server, repo, approval="read-only", allow=["web_search"])
    events = await answered_turn(allowed, "which httpx is current?", lambda r: pytest.fail("asked"))
    assert finished(events).status == "ok" and len(searches(server)) == 1
    await allowed.close()


async def test_an_endpoint_without_hosted_search_gives_a_clear_output(start_server, repo):
    server = start_server(search_scenario(web_search=False))
    session = opened(server, repo)
    events = await answered_turn(session, "which httpx is current?", approve)
    result = finished(events)
    assert result.status == "error"
    assert result.output.startswith("Web search is not available: the endpoint does not offer the hosted web_search")
    assert "HTTP 400" in result.output and ".)" not in result.output
    assert isinstance(events[-1], TurnEnded) and events[-1].reason == "completed"
    await session.close()


async def test_an_http_error_on_the_search_gives_a_clear_output(start_server, repo):
    fault = {"kind": "error", "turn": 0, "transport": "http"}
    server = start_server(search_scenario(faults=[fault]))
    session = opened(server, repo)
    events = await answered_turn(session, "which httpx is current?", approve)
    result = finished(events)
    assert result.status == "error"
    assert result.output == (
        "Web search failed: the endpoint answered HTTP 500: Injected fault: the server had an error while processing "
        "the request. Nothing was found; try again later or go on without it."
    )
    await session.close()


async def test_a_search_that_gets_no_answer_in_time_gives_a_clear_output(start_server, repo, monkeypatch):
    monkeypatch.setattr(WebSearch, "timeout_s", 0.2)
    server = start_server(search_scenario(faults=[{"kind": "stall", "turn": 0, "transport": "http"}]))
    session = opened(server, repo)
    events = await answered_turn(session, "which httpx is current?", approve)
    result = finished(events)
    assert result.status == "error" and result.output == (
        "Web search failed: the endpoint gave no answer within 0.2 s. Nothing was found; try again later or go "
        "on without it."
    )
    await session.close()


async def test_an_empty_query_is_refused_before_anything_is_sent(start_server, repo):
    server = start_server(search_scenario(query="   "))
    session = opened(server, repo)
    events = await answered_turn(session, "which httpx is current?", approve)
    assert finished(events).output == "The query is empty: say what to search the web for."
    assert searches(server) == []
    await session.close()


async def test_a_search_the_endpoint_runs_inside_a_response_is_told_as_a_notice(start_server, repo):
    hostile = "httpx\x1b]52;c;ZXZpbA==\x07 release"
    scenario = Scenario.model_validate({"turns": [{"output": hosted_search(hostile)}]})
    server = start_server(scenario)
    session = opened(server, repo)
    events = await answered_turn(session, "what is new?", approve)
    notices = [event.message for event in events if isinstance(event, Notice) and "⌕" in event.message]
    assert notices == [
        '⌕ the endpoint searched the web: "httpx release" — https://pypi.org/project/httpx/',
        "⌕ the endpoint read https://github.com/encode/httpx/releases",
    ]
    assert not any(isinstance(event, ApprovalRequested | ToolFinished) for event in events)
    await session.close()


def test_findings_read_hostile_items_without_failing_and_stay_bounded():
    items: list[Any] = [
        {"type": "web_search_call", "action": "not an object"},
        {"type": "web_search_call", "action": {"type": "search", "query": 7, "queries": ["a", "a", None]}},
        {"type": "web_search_call", "action": {"type": "search", "sources": [{"url": None}, "x", {"url": ""}]}},
        {"type": "message", "content": [{"annotations": [{"type": "url_citation", "url": "\x1b[2Jhttps://e.com"}]}]},
        {"type": "message", "content": "plain"},
        {
            "type": "web_search_call",
            "action": {"type": "search", "sources": [{"url": f"https://s{i}.example"} for i in range(30)]},
        },
    ]
    findings = Findings().read(items)
    assert findings.calls == 4 and findings.searches == ["a"]
    assert findings.sources[0].url == "https://e.com", "terminal controls are taken out of URLs"
    assert len(findings.sources) == MAX_SOURCES and findings.more_sources == 11
    output = SearchResult("q", "x" * (MAX_ANSWER_CHARS + 50), findings).output()
    assert f"[… answer cut at {MAX_ANSWER_CHARS} characters]" in output and "… and 11 more" in output
    assert len(output) < MAX_ANSWER_CHARS + 3000
    assert hosted_search_notice({"type": "web_search_call", "status": "failed"}) == (
        "⌕ the endpoint searched the web (failed)"
    )


def test_an_answer_with_no_search_behind_it_says_so():
    output = SearchResult("q", "From memory.", Findings()).output()
    assert output.startswith("From memory.") and "ran no web search" in output


def test_exec_without_a_person_refuses_a_search_and_says_how_to_allow_it(tmp_path, monkeypatch):
    workspace = make_repo(tmp_path / "work", {"a.py": "print('hello')\n"})
    script = tmp_path / "search.json"
    script.write_text(search_scenario().model_dump_json())
    (tmp_path / "config" / "codeassist").mkdir(parents=True)
    (tmp_path / "config" / "codeassist" / "config.toml").write_text("web_search = true\n")
    with running("serve", "--port", "0", "--script", str(script)) as (_, url):
        result = run_exec(
            workspace, tmp_path, "which httpx is current?", "--base-url", url, "--json", "--approval", "full-auto"
        )
        bodies = [
            entry["body"] for entry in httpx.get(url.removesuffix("/v1") + "/_codeassist/received", timeout=10).json()
        ]
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    [done] = [event for event in events if event["type"] == "tool_finished"]
    assert done["status"] == "denied"
    assert "non-interactive and web_search reaches the network" in done["output"]
    assert 'allow = ["web_search"]' in done["output"]
    assert "web_search" in tool_names(bodies[-1]) and not any(
        {"type": "web_search"} in (b.get("tools") or []) for b in bodies
    )


def test_rules_decide_a_search_before_the_policy():
    request = WebSearch().approval_request("c1", WebSearch.Args(query="q"), ToolContext(workspace=Path.cwd()))
    denied = ApprovalGate(Policy.FULL_AUTO, Permissions(allow=["web_search"], deny=["web_search"]))
    decision = denied.settle_without_asking(request, mutating=False)
    assert decision is not None and decision.kind == "deny" and decision.rule == "deny:web_search"
    asked = ApprovalGate(Policy.FULL_AUTO, Permissions(ask=["web_search"]))
    assert asked.settle_without_asking(request, mutating=False) is None
    allowed = ApprovalGate(Policy.ASK, Permissions(allow=["web_search"]))
    decision = allowed.settle_without_asking(request, mutating=False)
    assert decision is not None and decision.approved and decision.rule == "rule:web_search"


def test_a_scripted_citation_spans_the_text_it_cites():
    message = ScriptedMessage.model_validate(
        {"text": "httpx 0.28.1 is out", "citations": [{"url": "u", "cites": "0.28.1"}, {"url": "v", "cites": "gone"}]}
    )
    assert [(a["start_index"], a["end_index"], a["url"]) for a in url_citations(message)] == [
        (6, 12, "u"),
        (0, 19, "v"),
    ]
