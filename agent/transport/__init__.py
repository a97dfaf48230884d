"""Transports to a Responses endpoint: one persistent WebSocket, or HTTP/SSE as the fallback.

Both implement the `Transport` protocol: they stream the same event dicts (decoded, not
validated) and raise the same `TransportError` subclasses; `agent.model_client.ModelClient`
depends only on the protocol and puts the failure policy on top. `agent.transport.scripted`
holds an in-process transport that plays scripted responses (for tests without sockets).
"""

from agent.transport.base import (
    AuthenticationFailed,
    FrameTooLarge,
    ProtocolViolation,
    RateLimited,
    StreamInterrupted,
    StreamMetrics,
    StreamStalled,
    Transport,
    TransportAborted,
    TransportError,
    UpgradeForbidden,
    WebSocketUnsupported,
)
from agent.transport.http import ResponsesHTTP
from agent.transport.websocket import ResponsesSocket

__all__ = [
    "AuthenticationFailed",
    "FrameTooLarge",
    "ProtocolViolation",
    "RateLimited",
    "ResponsesHTTP",
    "ResponsesSocket",
    "StreamInterrupted",
    "StreamMetrics",
    "StreamStalled",
    "Transport",
    "TransportAborted",
    "TransportError",
    "UpgradeForbidden",
    "WebSocketUnsupported",
]
