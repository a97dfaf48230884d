"""The opt-in raw-frame trace: every WebSocket frame or SSE event as it crossed the wire.

`FrameTrace` is a `SessionLog` (same header, envelope, buffering, locking and redaction) whose
records are `frame`s: `{"v":2,"seq":N,"t":T,"type":"frame","dir":"sent"|"received","conn":…,
"data":<the frame>}`. It is written beside the session file as `<id>.trace` when the
`trace_frames` setting is on; the session record itself never holds frames.

Streamed secrets: a model that echoes a key sends it in pieces, one `*.delta` event each, and no
piece alone looks like a secret. So received delta frames are held, unformatted, with the seq
numbers they were given, together with every received frame that follows them; the next record,
sent frame, `flush` or `close` releases them. Releasing joins the `delta`s of each text stream
(same event type, `item_id`, `output_index`, `content_index`, `summary_index`), finds the secrets
in the joined text (`Redactor.secret_spans`) and takes their characters out of the frames (the
frame where a secret starts gets `[REDACTED]` in their place); then every frame is formatted and
redacted on its own as usual, in seq order. Frames without a secret are written exactly as before.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import orjson

from agent.redact import Redactor, cut_spans
from agent.session_backlog import Backlog
from agent.session_log import SESSION_FORMAT_VERSION, SessionLog
from agent.session_scan import dumps_json, escape_surrogates, is_json

__all__ = ["FrameTrace"]

_DELTA_MARK = '.delta"'
"""In every `*.delta` event (its type ends so): the cheap test for frames worth parsing."""
_DELTA_MARK_BYTES = _DELTA_MARK.encode()


class FrameTrace(SessionLog):
    """A session log of raw frames (see the module docstring). Create it with `create`."""

    def __init__(
        self, fd: int, path: Path, session_id: str, next_seq: int, redactor: Redactor, backlog: Backlog | None = None
    ) -> None:
        super().__init__(fd, path, session_id, next_seq, redactor, backlog)
        self._held: list[_HeldFrame] = []
        """Received frames not yet formatted, in seq order, starting with a delta frame."""

    def append_raw_frame(
        self, direction: Literal["sent", "received"], raw: bytes | str, t: float, connection: str | None = None
    ) -> None:
        """Buffer one WebSocket frame or SSE event exactly as it crossed the wire.

        The hot path: the frame is not re-serialised, only redacted and wrapped as
        `{"v":2,"seq":N,"t":t,"type":"frame","dir":direction,"conn":connection,"data":<raw>}`.
        A frame that is not UTF-8 JSON is stored as a string under `data_text` instead, with
        undecodable bytes as backslash escapes.

        A received `*.delta` event (parsed only when `.delta"` occurs in it) is held instead,
        and so is every received frame after it, until the next `append`, sent frame, `flush`
        or `close`: a secret streamed across several deltas is then found in their joined text
        and taken out of each of them (see the module docstring). Frames keep the seq number
        given here, and their order.

        Args:
            direction: `"sent"` or `"received"`.
            raw: The frame's text or bytes.
            t: When the frame was sent or received, from `time.monotonic()`.
            connection: An id for the WebSocket or HTTP connection; omitted when None.

        While the disk is full and the unwritten frames are over their bound, frames are dropped
        and counted (`agent.session_backlog`).

        Raises:
            ValueError: An unknown direction.
            SessionLogError: The log is closed.
        """
        self._open_fd()
        if not self._admit("frame", starts_turn=True):  # frames need no whole turns: any may end a gap
            return
        if direction == "received":
            if (_DELTA_MARK in raw) if isinstance(raw, str) else (_DELTA_MARK_BYTES in raw):
                stream = _delta_stream(raw)
                if stream is not None:
                    self._held.append((self._seq, t, connection, raw, *stream))
                    self._seq += 1
                    return
            if self._held:
                self._held.append((self._seq, t, connection, raw, None, ""))
                self._seq += 1
                return
        elif direction != "sent":
            raise ValueError(f"direction must be 'sent' or 'received', not {direction!r}")
        elif self._held:
            self._release_held()
        self._pending += self._frame_line(self._seq, direction, raw, t, connection)
        self._seq += 1

    def append_record(
        self, type: str, fields: Mapping[str, Any], *, t: float | None = None, starts_turn: bool = False
    ) -> None:
        """`SessionLog.append_record`, after the held frames (they come first in seq order)."""
        self._open_fd()
        if self._held:
            self._release_held()
        super().append_record(type, fields, t=t, starts_turn=starts_turn)

    def flush(self, fsync: bool = False) -> None:
        """`SessionLog.flush`, held frames included."""
        self._open_fd()
        if self._held:
            self._release_held()
        super().flush(fsync)

    def _frame_line(self, seq: int, direction: str, raw: bytes | str, t: float, connection: str | None) -> bytes:
        """One `frame` record, redacted, as a line."""
        envelope = f'{{"v":{SESSION_FORMAT_VERSION},"seq":{seq},"t":{dumps_json(t)},"type":"frame","dir":"{direction}"'
        if connection is not None:
            envelope += f',"conn":{dumps_json(connection)}'
        text, json_frame = _frame_text(raw)
        redacted = self._redactor.redact_json(text) if json_frame else text
        if json_frame and (redacted == text or is_json(redacted)):
            line = f'{envelope},"data":{redacted}}}\n'
        else:
            redacted = self._redactor.redact(text)
            line = f'{envelope},"data_text":{dumps_json(redacted)}}}\n'
        try:
            return line.encode()
        except UnicodeEncodeError:  # lone surrogates in a str frame
            redacted = self._redactor.redact(escape_surrogates(text))
            return f'{envelope},"data_text":{dumps_json(redacted)}}}\n'.encode()

    def _release_held(self) -> None:
        """Scrub secrets spread over the held delta frames, then buffer every held frame.

        Nothing is lost if this fails: the held frames are dropped only once all their lines
        are in the buffer.
        """
        held = self._held
        streams: dict[Any, list[int]] = {}
        for index, frame in enumerate(held):
            key = frame[4]
            if key is not None:
                try:
                    streams.setdefault(key, []).append(index)
                except TypeError:  # an unhashable id from the server: compare by spelling
                    streams.setdefault(repr(key), []).append(index)
        scrubbed: dict[int, str] = {}
        for indexes in streams.values():
            pieces = [held[index][5] for index in indexes]
            spans = self._redactor.secret_spans("".join(pieces))
            if spans:
                for index, piece in zip(indexes, cut_spans(pieces, spans), strict=True):
                    if piece is not None:
                        scrubbed[index] = piece
        lines = bytearray()
        for index, (seq, t, connection, raw, _, _) in enumerate(held):
            if index in scrubbed:
                raw = _with_delta(raw, scrubbed[index])
            lines += self._frame_line(seq, "received", raw, t, connection)
        self._pending += lines
        self._held = []


_HeldFrame = tuple[int, float, str | None, bytes | str, Any, str]
"""A held received frame: seq, t, connection, raw, its stream key (None when it is not a delta),
and its `delta` text."""


def _delta_stream(raw: bytes | str) -> tuple[tuple[Any, ...], str] | None:
    """The stream key and `delta` text of a `*.delta` event, or None for any other frame."""
    try:
        event = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(event, dict):
        return None
    kind = event.get("type")
    delta = event.get("delta")
    if not (isinstance(kind, str) and kind.endswith(".delta") and isinstance(delta, str)):
        return None
    get = event.get
    return (kind, get("item_id"), get("output_index"), get("content_index"), get("summary_index")), delta


def _with_delta(raw: bytes | str, delta: str) -> bytes:
    """A delta event with its `delta` replaced; token `logprobs`, which would repeat it, are dropped."""
    event = orjson.loads(raw)
    event["delta"] = delta
    if event.get("logprobs"):
        event["logprobs"] = []
    return orjson.dumps(event)


def _frame_text(raw: bytes | str) -> tuple[str, bool]:
    """The frame as text, and whether it can go into the line as raw JSON."""
    if isinstance(raw, str):
        text = raw
    else:
        try:
            text = raw.decode()
        except UnicodeDecodeError:
            return raw.decode("utf-8", "backslashreplace"), False
    # Braces at both ends are trusted without parsing, to keep the hot path cheap; a malformed
    # frame that passes is written as is, and the loader later skips its line with a warning.
    stripped = text if text[:1] == "{" and text[-1:] == "}" else text.strip()
    if not (stripped[:1] == "{" and stripped[-1:] == "}") and not is_json(text):
        return text, False
    if "\n" in text:
        # Outside strings a newline is only whitespace, and inside them it must be escaped.
        text = text.replace("\n", " ")
    return text, True
