"""A minimal raw WebSocket client for protocol tests (the official SDK is tested separately)."""

from __future__ import annotations

import json
from typing import Any

from websockets.sync.client import ClientConnection, connect

from agent.wire import TERMINAL_EVENT_TYPES


def open_socket(url: str, **kwargs: Any) -> ClientConnection:
    return connect(url, open_timeout=5, max_size=64 * 1024 * 1024, **kwargs)


def create(ws: ClientConnection, **body: Any) -> None:
    ws.send(json.dumps({"type": "response.create", "model": "m", **body}))


def read_response(ws: ClientConnection, timeout: float = 10) -> list[dict[str, Any]]:
    """Every event up to and including the next terminal event."""
    events = []
    while True:
        event = json.loads(ws.recv(timeout=timeout))
        events.append(event)
        if event["type"] in TERMINAL_EVENT_TYPES:
            return events


def user(text: str) -> list[dict[str, Any]]:
    return [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}]


def call_output(call_id: str, output: str = "hello") -> list[dict[str, Any]]:
    return [{"type": "function_call_output", "call_id": call_id, "output": output}]
