"""An event loop whose accept loop backs off once when the process runs out of file descriptors.

asyncio's selector loop, on `EMFILE`/`ENFILE`/`ENOBUFS`/`ENOMEM` from `accept()`, pauses the
listening socket for a second, but goes on calling `accept()` up to the backlog (thousands of
times) in the same wake-up: each failure is logged with a traceback and schedules one more
retry, so a server out of descriptors spins and floods its log. Here the first such failure of
a wake-up ends it: one message, one retry a second later, and the pending connections wait in
the kernel's backlog until descriptors are free again.
"""

from __future__ import annotations

import asyncio
import errno
import socket
from typing import Any

EXHAUSTED = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})


class _OneExhaustionPerWakeup:
    """The listening socket, seen by one accept round: after one exhaustion error, nothing to accept."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._exhausted = False

    def accept(self) -> tuple[socket.socket, Any]:
        if self._exhausted:
            raise BlockingIOError(errno.EAGAIN, "accept paused: out of resources")
        try:
            return self.sock.accept()
        except OSError as exc:
            if exc.errno in EXHAUSTED:
                self._exhausted = True
            raise

    def __getattr__(self, name: str) -> Any:
        return getattr(self.sock, name)


class BackoffSelectorEventLoop(asyncio.SelectorEventLoop):
    """`asyncio.SelectorEventLoop` that makes one accept attempt per wake-up when out of resources."""

    def _accept_connection(self, protocol_factory: Any, sock: Any, *args: Any, **kwargs: Any) -> None:
        if isinstance(sock, _OneExhaustionPerWakeup):
            sock = sock.sock
        super()._accept_connection(protocol_factory, _OneExhaustionPerWakeup(sock), *args, **kwargs)  # type: ignore[misc]


def new_event_loop() -> asyncio.AbstractEventLoop:
    """The loop `codeassist serve` runs on (pass as `asyncio.Runner(loop_factory=...)`)."""
    return BackoffSelectorEventLoop()
