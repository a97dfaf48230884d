"""A raw WebSocket Responses server for tests: it sends exactly the frames a test scripts.

`codeassist serve` produces well-formed streams and the faults it can inject; this server is for
the streams it never would: duplicated or reordered events, wrongly typed fields, events after
the terminal one, bytes that are not JSON. Each `response.create` received takes the next
`Reply` of the script, whatever connection it arrives on, so a client that reconnects and
resends simply gets the next reply.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

Frame = dict[str, Any] | str | bytes
"""A frame as sent: a dict is sent as JSON text, a str as text, bytes as a binary frame."""


@dataclass
class Reply:
    """What the server answers one request with."""

    frames: list[Frame]
    close_code: int | None = None
    """Close the connection with this code after the frames (None keeps it open)."""
    pause_s: float = 0.0
    """Awaited before each frame."""


@dataclass
class RawServer:
    """A running raw server: its URL, the replies still to send, and what it received."""

    url: str = ""
    replies: list[Reply] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    """Every `response.create` body received, in order."""
    connections: int = 0

    def add(self, *replies: Reply | Iterable[Frame]) -> None:
        """Queue replies (a plain list of frames is a `Reply` that keeps the socket open)."""
        self.replies += [reply if isinstance(reply, Reply) else Reply(list(reply)) for reply in replies]

    async def _handle(self, connection: ServerConnection) -> None:
        self.connections += 1
        try:
            async for message in connection:
                request = json.loads(message)
                self.requests.append(request)
                if not self.replies:
                    await connection.close(1011, "no reply scripted")
                    return
                reply = self.replies.pop(0)
                for frame in reply.frames:
                    if reply.pause_s:
                        await asyncio.sleep(reply.pause_s)
                    await connection.send(json.dumps(frame) if isinstance(frame, dict) else frame)
                if reply.close_code is not None:
                    await connection.close(reply.close_code)
                    return
        except ConnectionClosed:
            return


@asynccontextmanager
async def raw_server(*replies: Reply | Iterable[Frame]) -> AsyncIterator[RawServer]:
    """Run a `RawServer` on a free loopback port for the duration of the block."""
    state = RawServer()
    state.add(*replies)
    async with serve(state._handle, "127.0.0.1", 0, max_size=None) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        state.url = f"ws://127.0.0.1:{port}/v1/responses"
        yield state
