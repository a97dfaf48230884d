"""Building the transports of a session from its settings (the one place that does it)."""

from __future__ import annotations

import ssl

from agent.config import Settings
from agent.transport.base import FrameHook
from agent.transport.http import ResponsesHTTP
from agent.transport.websocket import ResponsesSocket


def open_transports(
    settings: Settings,
    *,
    websocket: bool | None = None,
    on_frame: FrameHook | None = None,
    ssl_context: ssl.SSLContext | None = None,
) -> tuple[ResponsesSocket | None, ResponsesHTTP]:
    """The WebSocket (None when not wanted) and the HTTP/SSE transport for `settings`.

    Neither connects yet. Args:
        settings: endpoint, key, timeouts, frame and connection-age limits.
        websocket: whether to build the WebSocket; default: when `settings.transport` is websocket.
        on_frame: called with every frame both transports send and receive (the session log).
        ssl_context: for `wss://`/`https://` endpoints with a private certificate authority.
    """
    api_key = settings.api_key_value()
    socket = None
    if websocket if websocket is not None else settings.transport == "websocket":
        socket = ResponsesSocket(
            settings.websocket_url,
            api_key,
            max_size=settings.max_frame_bytes,
            ping_interval=settings.ping_interval_s,
            ping_timeout=settings.ping_timeout_s,
            open_timeout=settings.open_timeout_s,
            idle_timeout=settings.idle_timeout_s,
            max_age=settings.max_connection_age_s,
            on_frame=on_frame,
            ssl_context=ssl_context,
        )
    http = ResponsesHTTP(
        settings.responses_url,
        api_key,
        open_timeout=settings.open_timeout_s,
        idle_timeout=settings.idle_timeout_s,
        on_frame=on_frame,
        verify=ssl_context if ssl_context is not None else True,
    )
    return socket, http
