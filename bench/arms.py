"""The three arms of `bench.transport` and the loop that plays a rollout through any of them.

- `SDKArm(chained=False)`: the official `openai` SDK, `responses.create(stream=True)` over one
  keep-alive client, `store: false`, the whole transcript resent every request.
- `SDKArm(chained=True)`: the same SDK, `store: true` and `previous_response_id`, only new items.
- `CodeassistArm`: codeassist's `ModelClient` over its own `ResponsesSocket` and `Conversation`
  (incremental after the first request, the failure policy on a drop); with `websocket=False`,
  over its own `ResponsesHTTP` instead (an optional fourth arm that separates the SDK's
  client-side cost from the protocol's).

All three send the same request fields (`RequestSettings.body_fields`), run on the same asyncio
loop, and are timed the same way by `play`.
"""

from __future__ import annotations

import asyncio
import random
import ssl
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import openai
from pydantic import TypeAdapter

from agent.config import Settings
from agent.conversation import Conversation, RequestSettings
from agent.model_client import ModelClient, RequestStarted, ResponseResult, Retrying
from agent.transport import StreamMetrics
from agent.transport.factory import open_transports
from agent.wire import Item
from agent.wire.event_types import FIRST_TOKEN_EVENTS, STREAM_ENDS
from bench.delay_proxy import ProxyProcess
from bench.rollout import Rollout

_ITEMS: TypeAdapter[list[Item]] = TypeAdapter(list[Item])


class ArmError(RuntimeError):
    """A request did not complete (the scenario refused the context, or the stream broke)."""


@dataclass
class Reply:
    """What one model request produced, and when (monotonic times)."""

    response_id: str
    output: list[dict[str, Any]]
    usage: dict[str, Any]
    first_event_at: float
    first_token_at: float | None
    finished_at: float
    bytes_sent: list[int]
    """Payload bytes of every attempt (one unless the request was retried)."""
    bytes_received: int
    incremental: bool
    sequence_ok: bool
    """The events of the answer that counts run 0, 1, 2, … and end with its terminal event."""
    retries: list[dict[str, Any]] = field(default_factory=list)
    """One entry per abandoned attempt: when it was dropped, the backoff, the cause."""
    connect_s: float | None = None
    """Connection setup paid by the attempt that counted (WebSocket only)."""


class Arm(Protocol):
    name: str

    async def request(self, new_items: list[dict[str, Any]]) -> Reply:
        """Send the items added since the last response; return when the response is done."""
        ...

    def transcript(self) -> list[dict[str, Any]]:
        """Every input and output item so far."""
        ...

    async def close(self) -> None: ...


def _check_terminal(event_type: str, response: dict[str, Any] | None, raw: Any) -> None:
    if event_type != "response.completed":
        error = (response or {}).get("error") or raw
        raise ArmError(f"{event_type}: {error}")


class SDKArm:
    """The official `openai` SDK over HTTP/SSE: full resend (`store:false`) or chained."""

    def __init__(self, base_url: str, ssl_context: ssl.SSLContext, settings: RequestSettings, *, chained: bool) -> None:
        self.name = "http_chained" if chained else "http_full"
        self.chained = chained
        self.fields = settings.body_fields()
        self._sizes: list[int] = []

        async def on_request(request: Any) -> None:
            self._sizes.append(len(request.content))

        # DefaultAsyncHttpxClient keeps the SDK's defaults (limits, timeouts; httpx2's 5 s
        # keep-alive expiry); only the trust store is ours.
        http_client = openai.DefaultAsyncHttpxClient(verify=ssl_context, event_hooks={"request": [on_request]})
        self.client = openai.AsyncOpenAI(base_url=base_url, api_key="bench", http_client=http_client)
        self.items: list[dict[str, Any]] = []
        self.previous: str | None = None

    async def request(self, new_items: list[dict[str, Any]]) -> Reply:
        self.items.extend(new_items)
        incremental = self.chained and self.previous is not None
        extra = {"previous_response_id": self.previous} if incremental else {}
        self._sizes.clear()
        stream = await self.client.responses.create(
            input=new_items if incremental else self.items, stream=True, **self.fields, **extra
        )
        first_event_at = first_token_at = None
        terminal: Any = None
        sequence: list[int] = []
        async for event in stream:
            now = time.monotonic()
            if first_event_at is None:
                first_event_at = now
            if first_token_at is None and event.type in FIRST_TOKEN_EVENTS:
                first_token_at = now
            sequence.append(getattr(event, "sequence_number", -1))
            if event.type in STREAM_ENDS:
                terminal = (event, now)
        if terminal is None:
            raise ArmError("the HTTP stream ended without a terminal event")
        event, finished_at = terminal
        response = getattr(event, "response", None)
        _check_terminal(event.type, response.model_dump() if response else None, event)
        output = [item.model_dump(mode="json", exclude_none=True) for item in response.output]
        self.items.extend(output)
        self.previous = response.id
        return Reply(
            response_id=response.id,
            output=output,
            usage=response.usage.model_dump(mode="json"),
            first_event_at=first_event_at or finished_at,
            first_token_at=first_token_at,
            finished_at=finished_at,
            bytes_sent=list(self._sizes),
            bytes_received=stream.response.num_bytes_downloaded,
            incremental=incremental,
            sequence_ok=sequence == list(range(len(sequence))),
        )

    def transcript(self) -> list[dict[str, Any]]:
        return list(self.items)

    async def close(self) -> None:
        await self.client.close()


class CodeassistArm:
    """codeassist's own client: `ModelClient` + `Conversation` over `ResponsesSocket` (incremental)
    or, with `websocket=False`, over `ResponsesHTTP` (full resend with `store: false`)."""

    def __init__(
        self,
        base_url: str,
        ssl_context: ssl.SSLContext,
        settings: RequestSettings,
        *,
        websocket: bool = True,
        sleep: Callable[[float], Any] = asyncio.sleep,
        seed: int = 0,
    ) -> None:
        self.name = "websocket" if websocket else "http_full_codeassist"
        # Built as a session builds them, with the default limits and timeouts. Over WebSocket the
        # HTTP transport is only the fallback ModelClient requires; it is never used unless
        # WebSocket mode fails for good (which `request` reports as an error).
        self.socket, self.http = open_transports(
            Settings(base_url=base_url, api_key="bench"), websocket=websocket, ssl_context=ssl_context
        )
        self.client = ModelClient(websocket=self.socket, http=self.http, sleep=sleep, rng=random.Random(seed))
        self.conversation = Conversation(settings)

    async def request(self, new_items: list[dict[str, Any]]) -> Reply:
        self.conversation.add(*_ITEMS.validate_python(new_items))
        attempts: list[StreamMetrics] = []
        retries: list[dict[str, Any]] = []
        sequence: list[int] = []
        outcome: ResponseResult | None = None
        async for item in self.client.respond(self.conversation, turn_start=True):
            if isinstance(item, ResponseResult):
                outcome = item
                sequence.append(item.event.get("sequence_number", -1))
            elif isinstance(item, dict):
                sequence.append(item.get("sequence_number", -1))
            elif isinstance(item, RequestStarted):
                attempts.append(item.metrics)
                sequence = []
            elif isinstance(item, Retrying):
                retries.append(
                    {
                        "dropped_at": time.monotonic(),
                        "delay_s": item.delay_s,
                        "cause": item.cause,
                        "events_discarded": len(sequence),
                    }
                )
        if outcome is None:
            raise ArmError("the WebSocket stream ended without a terminal event")
        # The client stamped these moments on the counters of the attempt that counted.
        metrics = outcome.metrics
        finished_at = metrics.finished_at or time.monotonic()
        _check_terminal(outcome.event["type"], outcome.response, outcome.event)
        if self.socket is not None and self.client.transport is not self.socket:
            raise ArmError(f"fell back to HTTP: {self.client.fallback_reason}")
        return Reply(
            response_id=outcome.response["id"],
            output=[item.model_dump(mode="json") for item in outcome.output],
            usage=outcome.response.get("usage") or {},
            first_event_at=metrics.created_at or finished_at,
            first_token_at=metrics.first_token_at,
            finished_at=finished_at,
            # Each attempt's counters carry the bytes of the attempts before it (ModelClient keeps
            # abandoned attempts counted), so per-request sizes are the differences.
            bytes_sent=[
                later.bytes_sent - earlier
                for later, earlier in zip(attempts, [0, *(a.bytes_sent for a in attempts[:-1])], strict=True)
            ],
            bytes_received=attempts[-1].bytes_received if attempts else 0,
            incremental=outcome.plan.incremental,
            sequence_ok=sequence == list(range(len(sequence))),
            retries=retries,
            connect_s=metrics.connect_s,
        )

    def transcript(self) -> list[dict[str, Any]]:
        return [item.model_dump(mode="json") for item in self.conversation.items]

    async def close(self) -> None:
        await self.client.close()


ARMS = ("http_full", "http_chained", "websocket")
"""The arms the issue asks for; `http_full_codeassist` (codeassist's own HTTP client, full resend)
can be added to tell the SDK's client-side cost apart from the protocol's."""
EXTRA_ARMS = ("http_full_codeassist",)


def make_arm(name: str, base_url: str, ssl_context: ssl.SSLContext, settings: RequestSettings) -> Arm:
    """A fresh client for one rollout (a new session: no pooled connection, no socket yet)."""
    if name in ("websocket", "http_full_codeassist"):
        return CodeassistArm(base_url, ssl_context, settings, websocket=name == "websocket")
    if name == "http_chained":
        chained = RequestSettings(**{**asdict(settings), "store": True, "include": ()})
        return SDKArm(base_url, ssl_context, chained, chained=True)
    if name == "http_full":
        return SDKArm(base_url, ssl_context, settings, chained=False)
    raise ValueError(f"unknown arm {name!r}")


@dataclass
class TurnRecord:
    """The measurements of one request (times in seconds, bytes as counted by the client)."""

    turn: int
    bytes_sent: int
    bytes_received: int
    wire_sent: int
    """At the proxy: every byte the client sent on the wire (TLS records, HTTP/WebSocket framing)."""
    wire_received: int
    connections: int
    """TCP connections opened during the request (counted at the proxy)."""
    ttfe_s: float
    ttft_s: float | None
    turn_s: float
    cpu_s: float
    input_tokens: int
    cached_tokens: int
    output_tokens: int
    incremental: bool
    sequence_ok: bool
    attempts: int


@dataclass
class RolloutRecord:
    """One rollout through one arm."""

    arm: str
    turns: list[TurnRecord]
    end_to_end_s: float
    tool_s: float
    transcript: list[dict[str, Any]]
    requests: list[int]
    """Payload bytes of every request, in order (for the accounting check)."""
    replies: list[Reply]

    @property
    def model_s(self) -> float:
        """End-to-end time minus the time tools "ran" (identical in every arm)."""
        return self.end_to_end_s - self.tool_s


async def play(
    arm: Arm,
    rollout: Rollout,
    *,
    proxy: ProxyProcess | None = None,
    turns: int | None = None,
    sleep: Callable[[float], Any] = asyncio.sleep,
) -> RolloutRecord:
    """Play `rollout` (or its first `turns` turns) through `arm`; tools "run" by sleeping.

    End-to-end time runs from the first request to the last response, tool time included; the
    time spent asking the proxy for its counters is left out.
    """
    limit = rollout.turns if turns is None else min(turns, rollout.turns)
    new_items = rollout.first_input()
    records: list[TurnRecord] = []
    replies: list[Reply] = []
    requests: list[int] = []
    tool_s = overhead = 0.0
    started = time.monotonic()
    before = proxy.stats() if proxy else None
    overhead += time.monotonic() - started
    for turn in range(limit):
        cpu_started, sent_at = time.process_time(), time.monotonic()
        reply = await arm.request(new_items)
        cpu = time.process_time() - cpu_started
        counted = time.monotonic()
        after = proxy.stats() if proxy else None
        overhead += time.monotonic() - counted
        usage = reply.usage or {}
        records.append(
            TurnRecord(
                turn=turn,
                bytes_sent=sum(reply.bytes_sent),
                bytes_received=reply.bytes_received,
                wire_sent=after.bytes_up - before.bytes_up if after and before else 0,
                wire_received=after.bytes_down - before.bytes_down if after and before else 0,
                connections=after.connections - before.connections if after and before else 0,
                ttfe_s=reply.first_event_at - sent_at,
                ttft_s=reply.first_token_at - sent_at if reply.first_token_at else None,
                turn_s=reply.finished_at - sent_at,
                cpu_s=cpu,
                input_tokens=usage.get("input_tokens", 0),
                cached_tokens=(usage.get("input_tokens_details") or {}).get("cached_tokens", 0),
                output_tokens=usage.get("output_tokens", 0),
                incremental=reply.incremental,
                sequence_ok=reply.sequence_ok,
                attempts=len(reply.bytes_sent),
            )
        )
        replies.append(reply)
        requests.extend(reply.bytes_sent)
        before = after
        calls = [item for item in reply.output if item.get("type") == "function_call"]
        if not calls or turn == limit - 1:
            break
        new_items = []
        for call in calls:
            slept = time.monotonic()
            await sleep(rollout.duration(int(call["call_id"].rsplit("_", 1)[1])))
            tool_s += time.monotonic() - slept
            new_items.append(rollout.tool_output_item(call["call_id"]))
    end_to_end = time.monotonic() - started - overhead
    return RolloutRecord(
        arm=getattr(arm, "name", "?"),
        turns=records,
        end_to_end_s=end_to_end,
        tool_s=tool_s,
        transcript=arm.transcript(),
        requests=requests,
        replies=replies,
    )
