"""Changes of transport: the notices `ModelClient` yields, and when a session that fell back to
HTTP/SSE tries WebSocket again (a backoff counted in turns).

A fallback after WebSocket kept failing is not for good: the next turn starts on WebSocket
again. When that try fails too, the session waits 2, then 4, 8, … (at most `max_interval`) turns
before the next one; a turn that starts on WebSocket and stays there resets the wait. Only an
upgrade refusal that says the endpoint has no WebSocket mode (HTTP 404/405/426, or 403 from an
endpoint that answers over HTTP) ends the tries (`stop`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from agent.stats import TransportSwitch
from agent.transport.base import Transport, UpgradeForbidden

if TYPE_CHECKING:
    from agent.conversation import Conversation


@dataclass(frozen=True)
class TransportSwitched:
    """The session changed transport; the response (re)starts on `transport`."""

    reason: str
    """What happened, for the user."""
    cause: str = ""
    """Machine-readable (`agent.stats.TransportSwitch.cause`)."""
    permanent: bool = False
    """The endpoint has no WebSocket mode: HTTP/SSE for the rest of the session."""
    transport: str = "http"


@dataclass(frozen=True)
class FellBack(TransportSwitched):
    """The session switched to HTTP/SSE: for good when `permanent`, else until a turn start
    tries WebSocket again."""


@dataclass(frozen=True)
class CameBack(TransportSwitched):
    """A turn start tries WebSocket again after a fallback (a new socket, a full resend)."""

    transport: str = "websocket"


@dataclass
class ReturnSchedule:
    """Which turn start tries WebSocket again after a fallback.

    Attributes:
        interval: turns to wait after the latest fallback (1: the next turn).
        turns_left: turn starts until the next try; None when no try is planned (on WebSocket,
            or HTTP for good).
        max_interval: the longest wait, in turns.
    """

    interval: int = 1
    turns_left: int | None = None
    max_interval: int = 32

    def fell_back(self) -> None:
        """WebSocket was given up (for now): try again after `interval` turn starts."""
        self.turns_left = self.interval

    def try_failed(self) -> None:
        """A try at a turn start failed: wait twice as long before the next."""
        self.interval = min(self.interval * 2, self.max_interval)
        self.turns_left = self.interval

    def settled(self) -> None:
        """A turn started on WebSocket after the previous one stayed there: the next fallback is
        tried again at the next turn start."""
        self.interval = 1
        self.turns_left = None

    def stop(self) -> None:
        """HTTP/SSE for the rest of the session: no more tries."""
        self.turns_left = None

    def due(self) -> bool:
        """Count one turn start on HTTP/SSE; True when this one tries WebSocket again."""
        if self.turns_left is None:
            return False
        self.turns_left -= 1
        if self.turns_left > 0:
            return False
        self.turns_left = None
        return True

    def describe_next(self) -> str:
        """When the next try comes, for messages ("the next turn", "in 4 turns")."""
        if self.turns_left is None:
            return "never"
        return "the next turn" if self.turns_left <= 1 else f"in {self.turns_left} turns"


T = TypeVar("T", bound=TransportSwitched)


class TransportSwitching:
    """The part of `agent.model_client.ModelClient` that changes transport and records why."""

    websocket: Transport | None
    http: Transport
    transport: Transport
    fallback_reason: str | None
    switches: list[TransportSwitch]
    returns: ReturnSchedule
    _started: float

    async def _fall_back(
        self, conversation: Conversation, reason: str, cause: str, *, permanent: bool = False, schedule: bool = True
    ) -> FellBack:
        """Switch to HTTP/SSE; unless `permanent`, a later turn start tries WebSocket again (the
        next one, when `schedule`; a failed try has already planned its own)."""
        if self.websocket is not None:
            await self.websocket.close()
        if permanent:
            self.returns.stop()
        elif schedule:
            self.returns.fell_back()
        return self._switch(conversation, FellBack(reason, cause=cause, permanent=permanent))

    def _switch(self, conversation: Conversation, switch: T, *, previous: str | None = None) -> T:
        """Move to `switch.transport` (a new chain: the next request is a full resend) and record it."""
        previous = previous or self.transport.name
        self.transport = self.http if switch.transport == "http" else self.websocket or self.http
        self.fallback_reason = switch.reason if self.transport is self.http else None
        conversation.break_chain("transport changed")
        self.switches.append(
            TransportSwitch(
                at=time.monotonic() - self._started,
                from_transport=previous,
                to_transport=self.transport.name,
                cause=switch.cause,
                reason=switch.reason,
                permanent=switch.permanent,
            )
        )
        return switch

    def _websocket_due(self) -> bool:
        """At a turn start: whether this turn tries WebSocket again after a fallback (a turn that
        starts on WebSocket resets the wait)."""
        if self.websocket is None:
            return False
        if self.transport is self.websocket:
            self.returns.settled()
            return False
        return self.returns.due()

    def _try_again_reason(self) -> str:
        cause = self.switches[-1].cause if self.switches else "fallback"
        return f"Trying WebSocket again after the fallback ({cause}): a new connection, the conversation sent in full once."

    def _settle_on_http(self, conversation: Conversation, refused: UpgradeForbidden) -> FellBack:
        """HTTP answered after a 403 on the upgrade: HTTP/SSE for the rest of the session."""
        self.returns.stop()
        reason = "The endpoint refused WebSocket (HTTP 403) and answers over HTTP: HTTP/SSE from now on."
        return self._switch(conversation, FellBack(reason, cause=refused.cause, permanent=True), previous="websocket")
