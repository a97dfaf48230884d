"""The codeassist arm builds its transports as a session does."""

from __future__ import annotations

import ssl

import pytest

pytest.importorskip("openai")

from agent.config import Settings
from agent.conversation import RequestSettings
from bench.arms import CodeassistArm

REQUEST = RequestSettings.build(model="m", instructions="Be brief.", tools=[])


@pytest.mark.parametrize("base_url", ["http://127.0.0.1:8123/v1", "https://bench.localhost:8443/v1"])
async def test_the_websocket_arm_uses_the_settings_endpoints_and_limits(base_url):
    settings = Settings(base_url=base_url, api_key="bench")
    arm = CodeassistArm(base_url, ssl.create_default_context(), REQUEST)
    try:
        assert arm.socket is not None
        assert arm.socket.url == settings.websocket_url
        assert arm.http.url == settings.responses_url
        assert arm.socket.headers["Authorization"] == "Bearer bench"
    finally:
        await arm.close()


async def test_the_http_arm_has_no_websocket():
    arm = CodeassistArm("http://127.0.0.1:8123/v1", ssl.create_default_context(), REQUEST, websocket=False)
    try:
        assert arm.socket is None and arm.name == "http_full_codeassist"
    finally:
        await arm.close()
