"""Per-response, per-turn and per-session statistics — the numbers the side panel shows.

The model client stamps each request's counters (`StreamMetrics`) and builds its
`ResponseStats` once, in the `ResponseResult` it ends the response with; the loop, `codeassist
bench` and `bench/` read that same result, so what a user sees and what they report cannot
disagree.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:  # the transports (httpx, websockets) are not needed to read or show stats
    from agent.transport.base import StreamMetrics
    from agent.wire.response import Usage


FIRST_SEND_REASONS = ("first request", "warm-up")
"""`ResponseStats.reason` of a request that sends everything because nothing was sent before."""


def counted(count: int, noun: str) -> str:
    """`1 response`, `3 responses` (a regular plural)."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


class ResponseStats(BaseModel):
    """One model response (one request on the wire)."""

    model_config = ConfigDict(frozen=True)

    response_id: str | None
    status: str
    """`completed`, `failed`, `incomplete`, `error` or `interrupted`."""
    transport: str
    connection: str
    incremental: bool
    """Sent only new items plus `previous_response_id`."""
    reason: str
    """Why it was incremental or a full resend (`new socket`, `tools changed`, …)."""
    items_sent: int
    bytes_sent: int
    bytes_received: int
    events: int
    connect_s: float | None
    """Time to open a connection for this request, when one was opened."""
    created_s: float | None
    """Send → `response.created`."""
    first_token_s: float | None
    """Send → first output delta (time to first token)."""
    total_s: float | None
    """Send → terminal event."""
    stream_s: float | None
    """First token → terminal event."""
    input_tokens: int = 0
    cached_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0
    model: str | None = None
    """The model the request named (what its cost is priced for); None in older records."""
    ignored_events: int = 0
    """Server events left unused: repeats (a duplicated `output_item.done`, a tool call whose
    call id was already seen) and leftovers of a response that had already ended."""

    @property
    def cache_ratio(self) -> float:
        return self.cached_tokens / self.input_tokens if self.input_tokens else 0.0

    @property
    def tokens_per_s(self) -> float | None:
        if not self.output_tokens or not self.stream_s:
            return None
        return self.output_tokens / self.stream_s

    @property
    def resent(self) -> bool:
        """The whole conversation was sent again although a previous response existed (a new
        socket, the HTTP fallback, changed settings, a lost chain…); the first request and the
        warm-up are not resends."""
        return not self.incremental and self.reason not in FIRST_SEND_REASONS

    @classmethod
    def from_metrics(
        cls,
        metrics: StreamMetrics,
        *,
        response_id: str | None,
        usage: Usage | None,
        status: str,
        incremental: bool,
        reason: str,
        items_sent: int,
        model: str | None = None,
    ) -> ResponseStats:
        """Build the stats of one finished (or failed) request from its counters and usage."""
        sent = metrics.sent_at

        def since_sent(moment: float | None) -> float | None:
            return moment - sent if moment is not None and sent is not None else None

        stream_s = (
            metrics.finished_at - metrics.first_token_at
            if metrics.finished_at is not None and metrics.first_token_at is not None
            else None
        )
        return cls(
            response_id=response_id,
            status=status,
            transport=metrics.transport,
            connection=metrics.connection,
            incremental=incremental,
            reason=reason,
            items_sent=items_sent,
            bytes_sent=metrics.bytes_sent,
            bytes_received=metrics.bytes_received,
            events=metrics.events,
            connect_s=metrics.connect_s,
            created_s=since_sent(metrics.created_at),
            first_token_s=since_sent(metrics.first_token_at),
            total_s=since_sent(metrics.finished_at),
            stream_s=stream_s,
            input_tokens=usage.input_tokens if usage else 0,
            cached_tokens=usage.cached_tokens if usage else 0,
            output_tokens=usage.output_tokens if usage else 0,
            reasoning_tokens=usage.output_tokens_details.reasoning_tokens
            if usage and usage.output_tokens_details
            else 0,
            model=model,
            ignored_events=metrics.ignored_events,
        )


class TurnStats(BaseModel):
    """One user turn: every response of it, plus tool and approval time."""

    model_config = ConfigDict(frozen=True)

    turn: int
    responses: list[ResponseStats] = Field(default_factory=list)
    total_s: float = 0.0
    tool_s: float = 0.0
    approval_wait_s: float = 0.0
    tool_calls: int = 0

    @property
    def first_token_s(self) -> float | None:
        return self.responses[0].first_token_s if self.responses else None

    @property
    def bytes_sent(self) -> int:
        return sum(r.bytes_sent for r in self.responses)

    @property
    def bytes_received(self) -> int:
        return sum(r.bytes_received for r in self.responses)

    @property
    def resent_bytes(self) -> int:
        """Bytes sent by the turn's full resends (`ResponseStats.resent`)."""
        return sum(r.bytes_sent for r in self.responses if r.resent)

    @property
    def input_tokens(self) -> int:
        return sum(r.input_tokens for r in self.responses)

    @property
    def cached_tokens(self) -> int:
        return sum(r.cached_tokens for r in self.responses)

    @property
    def output_tokens(self) -> int:
        return sum(r.output_tokens for r in self.responses)

    @property
    def ignored_events(self) -> int:
        return sum(r.ignored_events for r in self.responses)

    @property
    def cache_ratio(self) -> float:
        return self.cached_tokens / self.input_tokens if self.input_tokens else 0.0

    @property
    def tokens_per_s(self) -> float | None:
        streamed = sum(r.stream_s or 0.0 for r in self.responses)
        return self.output_tokens / streamed if streamed and self.output_tokens else None

    @property
    def incremental(self) -> str:
        """`all`, `none` or `k/n`: how many of the turn's requests were incremental."""
        count = sum(r.incremental for r in self.responses)
        if count == len(self.responses):
            return "all"
        return "none" if count == 0 else f"{count}/{len(self.responses)}"

    def summary_line(self) -> str:
        """The one-line summary `codeassist exec` prints."""
        ttft = f"{self.first_token_s * 1000:.0f} ms" if self.first_token_s is not None else "–"
        rate = f"{self.tokens_per_s:.0f} tok/s" if self.tokens_per_s else "– tok/s"
        return (
            f"{counted(len(self.responses), 'response')} · {counted(self.tool_calls, 'tool call')} · "
            f"total {self.total_s:.2f} s · "
            f"first token {ttft} · {rate} · input {self.input_tokens} tok ({self.cache_ratio:.0%} cached) · "
            f"output {self.output_tokens} tok · sent {_size(self.bytes_sent)} · incremental {self.incremental}"
        )


class Reconnect(BaseModel):
    """One reconnection and its cause."""

    model_config = ConfigDict(frozen=True)

    at: float
    """Seconds since the session started."""
    cause: str
    attempt: int
    delay_s: float


class TransportSwitch(BaseModel):
    """One change of transport and its cause."""

    model_config = ConfigDict(frozen=True)

    at: float
    """Seconds since the session started."""
    from_transport: str
    to_transport: str
    cause: str
    """Machine-readable: `retries_exhausted`, `upgrade_refused_426`, `upgrade_refused_403`,
    `websocket_retry`, `websocket_still_failing`."""
    reason: str
    """What the user was told."""
    permanent: bool = False
    """The endpoint has no WebSocket mode: the session stays on HTTP/SSE."""


class SessionStats(BaseModel):
    """The connection and the session so far."""

    model_config = ConfigDict(frozen=True)

    transport: str
    fallback_reason: str | None = None
    connections: int = 0
    socket_age_s: float = 0.0
    max_age_s: float = 3600.0
    reconnects: list[Reconnect] = Field(default_factory=list)
    transport_switches: list[TransportSwitch] = Field(default_factory=list)
    turns: int = 0
    bytes_sent: int = 0
    """Bytes the finished turns sent (resends included, the warm-up not)."""
    bytes_received: int = 0
    resent_bytes: int = 0
    """The part of `bytes_sent` that resent the whole conversation (`ResponseStats.resent`)."""
    warmup_bytes_sent: int = 0
    """Bytes of the warm-up request (`generate: false`), when one was sent."""
    warmup_bytes_received: int = 0
    input_tokens: int = 0
    cached_tokens: int = 0
    output_tokens: int = 0
    ignored_events: int = 0
    """Server events the finished turns left unused (`ResponseStats.ignored_events`)."""
    compaction: str = ""
    """How the session compacts: `server, at N tokens`, `client-side (why)` or `off`."""
    compactions: int = 0
    """Compactions so far (any mode)."""


def _size(count: int) -> str:
    if count < 1024:
        return f"{count} B"
    if count < 1024 * 1024:
        return f"{count / 1024:.1f} KB"
    return f"{count / (1024 * 1024):.1f} MB"
