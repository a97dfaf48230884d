"""Server-side state: stored responses, the per-connection cache, request validation, records."""

from __future__ import annotations

import itertools
import os
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import ValidationError

from agent.wire import Item, ResponseCreate
from server.engines import Engine
from server.faults import FaultPlan
from server.received import ReceivedLog, ReceivedRequest


class RequestError(Exception):
    """A request the server refuses; becomes an `error` event or an HTTP 4xx/5xx."""

    def __init__(
        self,
        message: str,
        *,
        code: str | None,
        param: str | None = None,
        status: int = 400,
        error_type: str = "invalid_request_error",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.param = param
        self.status = status
        self.error_type = error_type

    def payload(self) -> dict[str, Any]:
        return {"type": self.error_type, "code": self.code, "message": self.message, "param": self.param}

    def event(self) -> dict[str, Any]:
        """The WebSocket `error` event (nested shape with `status`)."""
        return {"type": "error", "status": self.status, "error": self.payload()}

    def http_body(self) -> dict[str, Any]:
        """The HTTP error body `{"error": {...}}`."""
        return {"error": self.payload()}


def validate_create(data: dict[str, Any]) -> ResponseCreate:
    """Validate a `response.create` body (WebSocket frame or HTTP body with `type` added).

    Raises:
        RequestError: wrong-typed fields, `background: true`, or conflicting chaining fields.
    """
    try:
        request = ResponseCreate.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        param = ".".join(str(part) for part in first["loc"]) or None
        raise RequestError(
            f"Invalid value for '{param}': {first['msg']}." if param else f"Invalid request: {first['msg']}.",
            code="invalid_value" if param else "invalid_request",
            param=param,
        ) from None
    if request.background:
        raise RequestError(
            "Background responses are not supported in this mode; send background: false or omit it.",
            code="unsupported_parameter",
            param="background",
        )
    if request.previous_response_id and request.conversation:
        raise RequestError(
            "'previous_response_id' and 'conversation' cannot be used together.",
            code="invalid_request",
            param="previous_response_id",
        )
    return request


def validate_body(data: Any) -> ResponseCreate:
    """Validate the JSON body of an HTTP `POST` as a `response.create` (any `type` it names is ignored).

    Raises:
        RequestError: not a JSON object, or as `validate_create`.
    """
    if not isinstance(data, dict):
        raise RequestError("The body must be a JSON object.", code="invalid_json")
    return validate_create({**data, "type": "response.create"})


@dataclass
class StoredResponse:
    """What a later request can chain from: the full context after this response."""

    id: str
    context: list[Item]
    """The response's input context plus its output items."""
    context_tokens: int
    """Approximate tokens of `context`."""
    prefix: tuple[str | None, str]
    """Instructions and the JSON of the tool list, to tell whether they can count as cached."""
    prefix_tokens: int
    response: dict[str, Any] = field(default_factory=dict)
    """The final Response JSON (for `GET /v1/responses/{id}`)."""


class ResponseStore:
    """`store: true` responses kept in memory, least recently used evicted first (thread-safe)."""

    def __init__(self, capacity: int = 256) -> None:
        self.capacity = capacity
        self._items: OrderedDict[str, StoredResponse] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, response_id: str) -> StoredResponse | None:
        with self._lock:
            stored = self._items.get(response_id)
            if stored is not None:
                self._items.move_to_end(response_id)
            return stored

    def put(self, stored: StoredResponse) -> None:
        with self._lock:
            self._items[stored.id] = stored
            self._items.move_to_end(stored.id)
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)


class ConnectionCache:
    """The WebSocket connection-local cache: only the latest response (launch semantics)."""

    def __init__(self) -> None:
        self.latest: StoredResponse | None = None

    def evict(self, response_id: str | None) -> None:
        if response_id and self.latest is not None and self.latest.id == response_id:
            self.latest = None


def resolve_parent(
    request: ResponseCreate, cache: ConnectionCache | None, store: ResponseStore
) -> StoredResponse | None:
    """Find the response `previous_response_id` names: connection cache first, then the store.

    Raises:
        RequestError: `previous_response_not_found` (400) when neither holds it.
    """
    wanted = request.previous_response_id
    if not wanted:
        return None
    if cache is not None and cache.latest is not None and cache.latest.id == wanted:
        return cache.latest
    stored = store.get(wanted)
    if stored is not None:
        return stored
    raise RequestError(
        f"Previous response with id '{wanted}' not found.",
        code="previous_response_not_found",
        param="previous_response_id",
    )


@dataclass
class ServerConfig:
    """Settings of one server (the `codeassist serve` flags)."""

    api_key: str | None = None
    max_connection_minutes: float = 60.0
    max_frame_bytes: int = 16 * 1024 * 1024
    """Largest client frame or body handled; larger ones get an `error` event (or 413)."""
    ping_interval: float | None = 20.0
    store_capacity: int = 256
    received_max_bytes: int = 16 * 1024 * 1024
    """Bytes of requests `/_codeassist/received` keeps; the oldest are dropped first."""
    allowed_origins: tuple[str, ...] = ()
    """Browser origins allowed besides loopback ones (`--allow-origin`)."""
    allowed_hosts: tuple[str, ...] = ()
    """`Host` names allowed besides loopback ones and the bound host (`--allow-host`)."""


class IdFactory:
    """Unique ids with the API's prefixes (`resp_`, `msg_`, `fc_`, `rs_`, `ctc_`)."""

    def __init__(self) -> None:
        self._prefix = os.urandom(4).hex()
        self._counter = itertools.count(1)
        self._lock = threading.Lock()

    def new(self, kind: str) -> str:
        with self._lock:
            number = next(self._counter)
        return f"{kind}_{self._prefix}{number:08x}"


@dataclass(frozen=True)
class EndpointLimits:
    """The model endpoint's context rules (from the scenario's knobs)."""

    context_window: int | None = None
    """The window in approximate tokens (`server.tokens`); None is unlimited."""
    compaction: bool = True
    """Whether `context_management`, compaction items and `/v1/responses/compact` are supported."""
    reject_over_window: bool = True
    """Whether a request over `context_window` gets `context_length_exceeded`."""
    web_search: bool = True
    """Whether the hosted `web_search` tool is supported (false: a request offering it is refused)."""


class ServerState:
    """Everything shared by the connections of one server."""

    def __init__(
        self,
        engine: Engine,
        config: ServerConfig | None = None,
        faults: FaultPlan | None = None,
        *,
        limits: EndpointLimits | None = None,
        compaction_key: bytes | None = None,
    ) -> None:
        self.engine = engine
        self.config = config or ServerConfig()
        self.limits = limits or EndpointLimits()
        self.compaction_key = compaction_key or os.urandom(32)
        """Signs the `encrypted_content` of the compaction items this server issues."""
        self.created_at = int(time.time())
        self.faults = faults or FaultPlan()
        self.store = ResponseStore(self.config.store_capacity)
        self.ids = IdFactory()
        self.received = ReceivedLog(self.config.received_max_bytes)
        self.connections_opened = 0
        self.started_at = time.monotonic()

    def record(self, connection: str, transport: Literal["websocket", "http"], raw: bytes, body: Any) -> None:
        """Keep a request as received: its bytes, and its body when `body` (decoded) is a JSON object."""
        kept = raw if isinstance(body, dict) else None
        self.received.append(ReceivedRequest(connection, transport, time.monotonic(), len(raw), kept))

    def check_auth(self, authorization: str | None) -> bool:
        """Whether an `Authorization` header passes `--api-key` (always, when no key is set)."""
        if not self.config.api_key:
            return True
        return authorization == f"Bearer {self.config.api_key}"
