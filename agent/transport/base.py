"""What every transport shares: the protocol, per-request counters and the error types."""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

FrameHook = Callable[[Literal["sent", "received"], bytes, float], None]
"""Called with every frame sent and received, its raw bytes and a monotonic timestamp."""


@dataclass
class StreamMetrics:
    """Counters of one request, filled in by the transport as frames go by (cheap on purpose).

    Times are `time.monotonic()` values; None until the moment happens.
    """

    transport: str = ""
    connection: str = ""
    """Which connection carried it (`ws-3`, `http`)."""
    connect_s: float | None = None
    """Time spent opening a connection for this request, if one was opened."""
    sent_at: float | None = None
    created_at: float | None = None
    first_token_at: float | None = None
    finished_at: float | None = None
    bytes_sent: int = 0
    bytes_received: int = 0
    events: int = 0
    ignored_events: int = 0
    """Events skipped as repeats or leftovers of an ended response (`agent.wire.finished`,
    `agent.call_ledger`)."""
    extra: dict[str, Any] = field(default_factory=dict)

    def mark_sent(self, size: int) -> None:
        self.sent_at = time.monotonic()
        self.bytes_sent += size


class TransportError(Exception):
    """A request that did not reach a terminal event.

    Attributes:
        cause: a short machine-readable cause (`connection_closed`, `stalled`, `rate_limited`, …).
        retryable: whether a new attempt may succeed.
        retry_after: seconds the server asked to wait, if it said.
    """

    cause = "transport_error"
    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None, cause: str | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        if cause is not None:
            self.cause = cause


class AuthenticationFailed(TransportError):
    """The endpoint refused the credentials (HTTP 401); retrying cannot help."""

    cause = "unauthorized"
    retryable = False


class WebSocketUnsupported(TransportError):
    """The upgrade was refused in a way that means "use HTTP" (426, 404, 405)."""

    cause = "websocket_unsupported"
    retryable = False

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message, cause=f"upgrade_refused_{status}" if status else None)
        self.status = status


class UpgradeForbidden(TransportError):
    """The upgrade was refused with HTTP 403: what HTTP-only servers (FastAPI, Starlette) answer
    on a route without WebSocket, or a real refusal. Worth one try over HTTP."""

    cause = "upgrade_refused_403"
    retryable = False


class RateLimited(TransportError):
    """HTTP 429 on the upgrade or the request; `retry_after` says how long to wait."""

    cause = "rate_limited"


class StreamInterrupted(TransportError):
    """The connection ended before the response's terminal event."""

    cause = "connection_closed"


class StreamStalled(TransportError):
    """Nothing arrived for longer than the idle timeout (the server may still answer pings)."""

    cause = "stalled"


class FrameTooLarge(TransportError):
    """A frame exceeded the client's size limit; retrying would only repeat it."""

    cause = "frame_too_large"
    retryable = False


class ProtocolViolation(TransportError):
    """The server sent something that is not a Responses event (bad JSON, a binary frame)."""

    cause = "protocol_violation"


class TransportAborted(TransportError):
    """The request was abandoned on purpose (the user cancelled the turn)."""

    cause = "aborted"
    retryable = False


class Transport(Protocol):
    """A way to run one Responses request and stream its events."""

    name: str
    """`websocket` or `http`."""
    generation: int
    """Changes whenever server-side connection state is lost (a new socket)."""
    max_age: float
    """Longest a connection is used before it is replaced at a turn start (0: no limit)."""

    async def prepare(self, metrics: StreamMetrics, *, turn_start: bool) -> None:
        """Make ready for a request: open the connection if needed (its time goes to
        `metrics.connect_s`), replacing an old one only when `turn_start`."""
        ...

    def age(self) -> float:
        """Seconds the current connection has been open (0 when none or not tracked)."""
        ...

    def stream(self, body: dict[str, Any], metrics: StreamMetrics) -> AsyncGenerator[dict[str, Any], None]:
        """Send one `response.create` body; yield decoded events up to the terminal one."""
        ...

    async def abort(self) -> None:
        """Abandon the request in flight now (closes the connection)."""
        ...

    async def close(self) -> None:
        """Release the connection."""
        ...
