"""An agent over in-process scripted transports: the loop's logic without sockets or a server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agent.approvals import ApprovalGate, Policy
from agent.conversation import Conversation, RequestSettings
from agent.loop import Agent
from agent.model_client import ModelClient
from agent.tools import ToolContext, ToolRegistry, read_only_tools
from agent.transport.scripted import ScriptedTransport, ScriptEntry


class NoSleep:
    """Records backoff delays instead of waiting them out."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


def scripted_agent(
    workspace: Path,
    *script: ScriptEntry,
    tools: list[Any] | None = None,
    max_steps: int = 50,
    pause_s: float = 0.0,
    max_retries: int = 3,
    recorder: Any = None,
) -> tuple[Agent, ScriptedTransport]:
    """An agent whose WebSocket is a `ScriptedTransport` playing `script` (one entry per request)."""
    transport = ScriptedTransport(script, pause_s=pause_s)
    client = ModelClient(
        websocket=transport, http=ScriptedTransport(name="http"), max_retries=max_retries, sleep=NoSleep()
    )
    registry = ToolRegistry(tools if tools is not None else read_only_tools())
    conversation = Conversation(
        RequestSettings.build(model="scripted-test", instructions="Be brief.", tools=registry.specs())
    )
    agent = Agent(
        client=client,
        conversation=conversation,
        tools=registry,
        tool_context=ToolContext(workspace=workspace),
        approvals=ApprovalGate(Policy.ASK),
        recorder=recorder,
        max_steps=max_steps,
    )
    return agent, transport
