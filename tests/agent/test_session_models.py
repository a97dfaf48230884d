"""The session's model catalogue: the notice for an unknown model, `/model` and `/effort` through the
facade, and the models the endpoint lists (a real `codeassist serve`, a small Starlette app)."""

from __future__ import annotations

import shutil
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.session import Session
from server.runner import ServerThread, build_state
from server.scenario import Scenario
from tests.agent.conftest import settings_for
from tests.agent.model_endpoint import ModelEndpoint
from tests.agent.recording import requests, run_turn

HELLO = Scenario.model_validate(
    {"name": "hello", "turns": [{"output": [{"type": "message", "text": "Hi."}]} for _ in range(4)]}
)


def opened(server, repo: Path, tmp_path: Path, **settings: object) -> Session:
    return Session.open(settings_for(server, **settings), cwd=repo, log_root=tmp_path / "sessions")


async def test_an_unknown_model_gets_the_default_entry_and_a_notice_at_start(start_server, repo, tmp_path):
    server = start_server(HELLO)
    session = opened(server, repo, tmp_path, model="my-local-model")
    assert not session.model_info.known and session.model_info.context_window == 200_000
    [notice] = [line for line in session.start_notices() if "catalogue" in line]
    assert "my-local-model" in notice and "default entry" in notice and '[models."my-local-model"]' in notice
    await session.close()
    known = opened(server, repo, tmp_path)  # codeassist serve's scripted model is in the catalogue
    assert known.model_info.known and not [line for line in known.start_notices() if "catalogue" in line]
    await known.close()


async def test_the_config_models_table_is_the_sessions_catalogue(start_server, repo, tmp_path):
    server = start_server(HELLO)
    session = opened(
        server, repo, tmp_path, model="my-local-model", models={"my-local-model": {"context_window": 8192}}
    )
    assert session.model_info.known and session.model_info.context_window == 8192
    assert session.model_notices() == []
    assert session.context_usage().window == 8192, "the context meter reads the same catalogue"
    await session.close()
    prices = {"input_per_mtok": 1.0, "cached_input_per_mtok": 0.1, "output_per_mtok": 2.0}
    session = opened(server, repo, tmp_path, model="my-local-model", models={"my-local-model": prices})
    assert session.catalogue.lookup("my-local-model").priced, "costs use the config's prices"
    await session.close()


async def test_effort_changes_the_next_request_which_resends_everything(start_server, repo, tmp_path):
    server = start_server(HELLO)
    session = opened(server, repo, tmp_path, reasoning_effort="medium")
    await run_turn(session, "hi")
    assert requests(server)[-1]["reasoning"]["effort"] == "medium"
    session.set_effort("high")
    assert session.effort == "high" and session.settings.reasoning_effort == "high"
    await run_turn(session, "again")
    last = requests(server)[-1]
    assert last["reasoning"]["effort"] == "high" and "previous_response_id" not in last
    assert session.agent.turns[-1].responses[0].reason == "reasoning settings changed"
    with pytest.raises(ValueError, match="no reasoning effort 'extreme'"):
        session.set_effort("extreme")
    await session.close()


async def test_a_model_without_reasoning_is_sent_none_and_refuses_an_effort(start_server, repo, tmp_path):
    server = start_server(HELLO)
    session = opened(server, repo, tmp_path, reasoning_effort="medium")
    session.set_model("gpt-4.1")
    assert session.effort is None and not session.model_info.reasoning
    with pytest.raises(ValueError, match=r"gpt-4.1 takes no reasoning effort .*reasoning = false"):
        session.set_effort("low")
    await run_turn(session, "hi")
    assert requests(server)[-1]["model"] == "gpt-4.1" and "reasoning" not in requests(server)[-1]
    session.set_model("scripted-test")
    await run_turn(session, "again")
    assert requests(server)[-1]["reasoning"]["effort"] == "medium"
    await session.close()


async def test_available_models_from_codeassist_serve(start_server, repo, tmp_path):
    """The catalogue's models always; the endpoint's list when `codeassist serve` offers it."""
    server = start_server(HELLO)
    session = opened(server, repo, tmp_path)
    listing = await session.available_models()
    names = [choice.name for choice in listing.choices]
    assert names[0] == "scripted-test" and {"gpt-5.2", "gpt-4.1"} <= set(names)
    if listing.endpoint_error is None:
        assert next(c for c in listing.choices if c.name == "scripted").origin in ("endpoint", "both")
    else:
        assert "does not list its models" in listing.endpoint_error
    await session.close()


@pytest.fixture
def endpoint() -> Iterator[ModelEndpoint]:
    with ModelEndpoint() as running:
        yield running


async def test_available_models_merges_the_endpoints_list_with_the_catalogue(start_server, repo, tmp_path, endpoint):
    running, seen = endpoint, endpoint.seen
    session = opened(start_server(HELLO), repo, tmp_path, base_url=running.base_url)
    listing = await session.available_models()
    assert listing.endpoint_error is None
    by_name = {choice.name: choice for choice in listing.choices}
    assert by_name["local-coder"].origin == "endpoint" and by_name["local-coder"].context_window == 32768
    assert by_name["gpt-5.2"].origin == "both" and by_name["gpt-5.2"].priced
    assert by_name["gpt-4.1"].origin == "catalogue" and not by_name["gpt-4.1"].reasoning
    assert by_name["scripted-test"].origin == "current", "the model in use, matched by a pattern"
    assert "scripted" not in by_name, "a family entry is offered only when listed or in use"
    assert seen == ["Bearer sk-test-abcdefghijklmnopqrstuvwxyz012345"]
    await session.close()


async def test_an_endpoint_that_fails_to_list_models_leaves_the_catalogue_and_says_why(
    start_server, repo, tmp_path, endpoint
):
    running = endpoint
    for base_url, reason in (
        (running.base_url.replace("/v1", "/broken/v1"), "answered HTTP 500"),
        (running.base_url.replace("/v1", "/absent/v1"), "does not list its models (HTTP 404)"),
        ("http://127.0.0.1:9/v1", "cannot reach"),
    ):
        session = opened(start_server(HELLO), repo, tmp_path, base_url=base_url)
        listing = await session.available_models()
        assert listing.endpoint_error is not None and reason in listing.endpoint_error
        assert "gpt-5.2" in [choice.name for choice in listing.choices]
        await session.close()


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl to make a certificate")
async def test_available_models_uses_the_sessions_tls_context(repo, tmp_path):
    """A `https://` endpoint with a private certificate: the listing trusts what the session's
    transports trust (its `ssl_context`), and nothing else."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    request = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1"]
    names = ["-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)]
    subprocess.run([*request, *names], check=True, capture_output=True)
    server = ServerThread(build_state(HELLO), ssl_certfile=str(cert), ssl_keyfile=str(key)).start()
    try:
        trusted = ssl.create_default_context(cafile=str(cert))
        settings = settings_for(server)
        assert settings.base_url.startswith("https://")
        session = Session.open(settings, cwd=repo, log_root=tmp_path / "sessions", ssl_context=trusted)
        listing = await session.available_models()
        assert listing.endpoint_error is None or "HTTP 404" in listing.endpoint_error, listing.endpoint_error
        await session.close()
        untrusting = Session.open(settings, cwd=repo, log_root=tmp_path / "sessions")
        refused = await untrusting.available_models()
        assert refused.endpoint_error is not None and "cannot reach" in refused.endpoint_error
        await untrusting.close()
    finally:
        server.stop()
