"""Append-only JSONL session log: one file per session, the source of truth for resume.

Layout: `sessions_root()/<YYYY-MM-DD>/<id>.jsonl`, directories 0700, files 0600. Each line is one
complete JSON object. The first line is the header
`{"type":"session_meta","v":1,"seq":0,"t":…,"wall":…,"id":…,"cwd":…,…}`; every later record starts
`{"v":1,"seq":N,"t":T,"type":…}`. `seq` increases by one per record; `t` is `time.monotonic()`
(for ordering and latency within a run; `wall` in the header anchors it to the clock).

Writing: `append` and `append_raw_frame` only buffer. `flush()` writes the whole buffer with one
`os.write`, so the file only ever grows by complete lines, except when a crash interrupts a write
(the loader drops a torn last line). Callers flush with `fsync=True` at turn boundaries, after
recording a `tool_intent` and before running the tool, and after recording its `tool_result`;
never per streamed delta. Secrets are redacted at write time by `agent.redact.Redactor`; keep the
in-memory conversation unredacted, so only the disk copy loses them. One process writes a file:
it is held with `fcntl.flock`, which the kernel releases when the process dies.

Streamed secrets: a model that echoes a key sends it in pieces, one `*.delta` event each, and no
piece alone looks like a secret. So received delta frames are held, unformatted, with the seq
numbers they were given, together with every received frame that follows them; the next `append`,
sent frame, `flush` or `close` releases them. Releasing joins the `delta`s of each text stream
(same event type, `item_id`, `output_index`, `content_index`, `summary_index`), finds the secrets
in the joined text (`Redactor.secret_spans`) and takes their characters out of the frames (the
frame where a secret starts gets `[REDACTED]` in their place); then every frame is formatted and
redacted on its own as usual, in seq order. Frames without a secret are written exactly as before.

Reading: `load_session` tolerates a crash (a torn last line is dropped with a warning), refuses
files from a newer major version, keeps unknown record types, and reports tool calls that were
recorded as intended but have no result. It never re-runs anything: callers must give each
interrupted call a synthetic "interrupted, outcome unknown" output and never execute it again
without fresh approval. A session file from elsewhere is untrusted input.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Self

import orjson

from agent.paths import sessions_dir
from agent.redact import REDACTED, Redactor

__all__ = [
    "SESSION_FORMAT_VERSION",
    "LoadedSession",
    "SessionLog",
    "SessionLogError",
    "SessionSummary",
    "list_sessions",
    "load_session",
    "sessions_root",
]

SESSION_FORMAT_VERSION = 1
"""Major version of the file format; readers refuse files with a greater `v`."""

_RESERVED_KEYS = frozenset({"v", "seq", "t", "type"})
_RESERVED_HEADER_KEYS = _RESERVED_KEYS | {"wall"}
_SESSION_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})
_DELTA_MARK = '.delta"'
"""In every `*.delta` event (its type ends so): the cheap test for frames worth parsing."""
_DELTA_MARK_BYTES = _DELTA_MARK.encode()
_INVALID = object()


class SessionLogError(Exception):
    """A session file could not be created, written, opened or read."""


def sessions_root(environ: Mapping[str, str] | None = None) -> Path:
    """Return the directory that holds all sessions (`agent.paths.sessions_dir`).

    Args:
        environ: Environment to read `XDG_DATA_HOME` and `HOME` from; defaults to `os.environ`.

    Returns:
        `$XDG_DATA_HOME/codeassist/sessions`, or `~/.local/share/codeassist/sessions` when
        `XDG_DATA_HOME` is unset, empty or relative (the XDG spec says to ignore relative paths).
    """
    return sessions_dir(environ)


class SessionLog:
    """Writer for one session file. Use `create` or `open_existing`, ideally in a `with` block.

    Not thread-safe: one task owns the log.
    """

    def __init__(self, fd: int, path: Path, session_id: str, next_seq: int, redactor: Redactor) -> None:
        """Wrap an open, locked file descriptor; `create` and `open_existing` call this."""
        self._fd: int | None = fd
        self._path = path
        self._id = session_id
        self._seq = next_seq
        self._redactor = redactor
        self._pending = bytearray()
        self._held: list[_HeldFrame] = []
        """Received frames not yet formatted, in seq order, starting with a delta frame."""

    @classmethod
    def create(
        cls, *, root: Path, session_id: str | None = None, header: Mapping[str, Any], redactor: Redactor
    ) -> SessionLog:
        """Create a new session file and write its header line (flushed and fsynced).

        Args:
            root: The sessions directory, usually `sessions_root()`. It and every missing parent
                are created with mode 0700, and it and the date directory are set to 0700.
            session_id: File name stem; defaults to `header["id"]`, else `<YYYYmmdd-HHMMSS>-<6 hex>`.
                Letters, digits, `.`, `_` and `-` only.
            header: Fields of the `session_meta` record: `id`, `cwd`, `git_head`, `model`,
                `version`, … `id` is filled in when missing.
            redactor: Scrubs secrets from every line before it is written.

        Returns:
            The open log; its next record has `seq` 1.

        Raises:
            ValueError: A bad session id, a header id that differs from `session_id`, or a header
                key among `type`, `v`, `seq`, `t`, `wall`.
            SessionLogError: The file exists already or cannot be created or written.
        """
        reserved = _RESERVED_HEADER_KEYS & header.keys()
        if reserved:
            raise ValueError(f"header keys {sorted(reserved)} are set by the session log")
        header_id = header.get("id")
        if session_id is not None and header_id is not None and header_id != session_id:
            raise ValueError(f"header id {header_id!r} differs from session_id {session_id!r}")
        session_id = session_id if session_id is not None else header_id
        if session_id is not None and not (isinstance(session_id, str) and _SESSION_ID.fullmatch(session_id)):
            raise ValueError(f"invalid session id {session_id!r}: use letters, digits, '.', '_' and '-'")

        now = datetime.now().astimezone()
        day_dir = Path(root) / f"{now:%Y-%m-%d}"
        _make_private_dirs(Path(root), day_dir)
        fd, session_id, path = _create_file(day_dir, session_id, now)
        log = cls(fd, path, session_id, 1, redactor)
        try:
            _lock(fd, path)
            envelope = (
                f'{{"type":"session_meta","v":{SESSION_FORMAT_VERSION},"seq":0,'
                f'"t":{_dumps(time.monotonic())},"wall":{_dumps(now.isoformat(timespec="milliseconds"))}'
            )
            log._pending += log._line(envelope, {"id": session_id, **header})
            log.flush(fsync=True)
            _fsync_dir(day_dir)
        except BaseException:
            os.close(fd)
            path.unlink(missing_ok=True)
            raise
        return log

    @classmethod
    def open_existing(cls, path: Path, redactor: Redactor) -> SessionLog:
        """Open a session file to append to it (resume).

        A torn last line (no newline, left by a crash) is cut off first, so the next record
        starts on a line of its own. Nothing is changed unless the file is a readable session.

        Args:
            path: The session's `.jsonl` file.
            redactor: Scrubs secrets from every line before it is written.

        Returns:
            The open log; its next record's `seq` follows the highest one in the file.

        Raises:
            SessionLogError: The file cannot be opened, is in use by another process, is not a
                session file, or was written by a newer codeassist.
        """
        path = Path(path)
        try:
            fd = os.open(path, os.O_RDWR | os.O_APPEND)
        except OSError as exc:
            raise SessionLogError(f"cannot open session {path}: {exc.strerror}") from exc
        try:
            _lock(fd, path)
            with open(fd, "rb", closefd=False) as file:
                data = file.read()
            complete = data.rfind(b"\n") + 1
            loaded = _parse(data[:complete], path)
            if complete < len(data):
                os.ftruncate(fd, complete)
                os.fsync(fd)
            seqs = [record.get("seq") for record in (loaded.header, *loaded.records)]
            next_seq = 1 + max((seq for seq in seqs if _is_int(seq)), default=0)
            session_id = _str_or_none(loaded.header.get("id")) or path.stem
        except OSError as exc:
            os.close(fd)
            raise SessionLogError(f"cannot resume session {path}: {exc.strerror}") from exc
        except BaseException:
            os.close(fd)
            raise
        return cls(fd, path, session_id, next_seq, redactor)

    @property
    def path(self) -> Path:
        """The session file."""
        return self._path

    @property
    def id(self) -> str:
        """The session id (the file name without `.jsonl`)."""
        return self._id

    def append(self, type: str, /, **fields: Any) -> None:
        """Buffer one record `{"v":1,"seq":N,"t":T,"type":type,**fields}`; `flush` writes it.

        Args:
            type: Record type, such as `user_message`, `tool_intent`, `tool_result`, `turn_ended`.
            **fields: JSON-serialisable values. Strings with lone surrogates are written with
                backslash escapes rather than refused.

        Raises:
            ValueError: A field named `v`, `seq`, `t` or `type`.
            TypeError: A value that cannot be serialised to JSON.
            SessionLogError: The log is closed.
        """
        self._open_fd()
        reserved = _RESERVED_KEYS & fields.keys()
        if reserved:
            raise ValueError(f"record fields {sorted(reserved)} are set by the session log")
        if self._held:
            self._release_held()
        t = _dumps(time.monotonic())
        envelope = f'{{"v":{SESSION_FORMAT_VERSION},"seq":{self._seq},"t":{t},"type":{_dumps(type)}'
        self._pending += self._line(envelope, fields)
        self._seq += 1

    def append_raw_frame(
        self, direction: Literal["sent", "received"], raw: bytes | str, t: float, connection: str | None = None
    ) -> None:
        """Buffer one WebSocket frame or SSE event exactly as it crossed the wire.

        The hot path: the frame is not re-serialised, only redacted and wrapped as
        `{"v":1,"seq":N,"t":t,"type":"frame","dir":direction,"conn":connection,"data":<raw>}`.
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

        Raises:
            ValueError: An unknown direction.
            SessionLogError: The log is closed.
        """
        self._open_fd()
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

    def flush(self, fsync: bool = False) -> None:
        """Write every buffered record to the file with one `os.write`.

        Args:
            fsync: Also `os.fsync` the file. Do so at turn boundaries and around tool runs
                (after the intent, after the result), not per streamed delta.

        Raises:
            SessionLogError: The log is closed, or the write or fsync failed (for example, the
                disk is full). Records not yet written stay buffered, so a later `flush` retries
                them; nothing already in the file is lost or written twice.
        """
        fd = self._open_fd()
        if self._held:
            self._release_held()
        while self._pending:
            try:
                written = os.write(fd, self._pending)
            except OSError as exc:
                reason = "the disk is full" if exc.errno in _DISK_FULL else exc.strerror
                raise SessionLogError(
                    f"cannot write session log {self._path}: {reason}; {len(self._pending)} bytes of "
                    "records are kept in memory and the next flush() will retry them"
                ) from exc
            del self._pending[:written]
        if fsync:
            try:
                os.fsync(fd)
            except OSError as exc:
                raise SessionLogError(f"cannot fsync session log {self._path}: {exc.strerror}") from exc

    def close(self) -> None:
        """Flush with fsync, then close the file and release its lock. Closing twice is a no-op.

        Raises:
            SessionLogError: The final flush failed; the log stays open with the records still
                buffered, so the caller can free space and call `close()` again.
        """
        if self._fd is None:
            return
        self.flush(fsync=True)
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    def _open_fd(self) -> int:
        if self._fd is None:
            raise SessionLogError(f"session log {self._path} is closed; records can no longer be written")
        return self._fd

    def _frame_line(self, seq: int, direction: str, raw: bytes | str, t: float, connection: str | None) -> bytes:
        """One `frame` record, redacted, as a line."""
        envelope = f'{{"v":{SESSION_FORMAT_VERSION},"seq":{seq},"t":{_dumps(t)},"type":"frame","dir":"{direction}"'
        if connection is not None:
            envelope += f',"conn":{_dumps(connection)}'
        text, is_json = _frame_text(raw)
        redacted = self._redactor.redact_json(text) if is_json else text
        if is_json and (redacted == text or _is_json(redacted)):
            line = f'{envelope},"data":{redacted}}}\n'
        else:
            redacted = self._redactor.redact(text)
            line = f'{envelope},"data_text":{_dumps(redacted)}}}\n'
        try:
            return line.encode()
        except UnicodeEncodeError:  # lone surrogates in a str frame
            redacted = self._redactor.redact(_escape_surrogates(text))
            return f'{envelope},"data_text":{_dumps(redacted)}}}\n'.encode()

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
                for index, piece in zip(indexes, _cut_spans(pieces, spans), strict=True):
                    if piece is not None:
                        scrubbed[index] = piece
        lines = bytearray()
        for index, (seq, t, connection, raw, _, _) in enumerate(held):
            if index in scrubbed:
                raw = _with_delta(raw, scrubbed[index])
            lines += self._frame_line(seq, "received", raw, t, connection)
        self._pending += lines
        self._held = []

    def _line(self, envelope: str, fields: Mapping[str, Any]) -> bytes:
        """`envelope` (an unclosed JSON object) plus the redacted `fields`, as one line."""
        if not fields:
            return f"{envelope}}}\n".encode()
        body = _dumps(fields)
        redacted = self._redactor.redact_json(body)
        if redacted != body and not _is_json(redacted):
            # A scrub started inside an escape sequence; redact string by string instead.
            redacted = _dumps(_map_strings(fields, self._redactor.redact))
        return f"{envelope},{redacted[1:]}\n".encode()


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


def _cut_spans(pieces: list[str], spans: list[tuple[int, int]]) -> list[str | None]:
    """Each piece with the characters of `spans` (into the joined pieces) taken out.

    The piece holding a span's first character gets `REDACTED` in place of its part of the span;
    later pieces just lose theirs. None stands for a piece that is unchanged.
    """
    out: list[str | None] = []
    offset = 0
    current = 0  # the first span that may still reach this piece or a later one
    for piece in pieces:
        end = offset + len(piece)
        while current < len(spans) and spans[current][1] <= offset:
            current += 1
        parts: list[str] = []
        position = offset
        touched = False
        index = current
        while index < len(spans) and spans[index][0] < end:
            start, stop = spans[index]
            touched = True
            if start >= offset:
                parts += (piece[position - offset : start - offset], REDACTED)
            position = min(stop, end)
            if stop > end:
                break
            index += 1
        if touched:
            parts.append(piece[position - offset :])
            out.append("".join(parts))
        else:
            out.append(None)
        offset = end
    return out


def _with_delta(raw: bytes | str, delta: str) -> bytes:
    """A delta event with its `delta` replaced; token `logprobs`, which would repeat it, are dropped."""
    event = orjson.loads(raw)
    event["delta"] = delta
    if event.get("logprobs"):
        event["logprobs"] = []
    return orjson.dumps(event)


@dataclass(slots=True)
class LoadedSession:
    """A session file as read by `load_session`.

    Callers resuming a session must answer every call in `interrupted_calls` with a synthetic
    "interrupted, outcome unknown" output, and must never run such a call again automatically.
    """

    header: dict[str, Any]
    """The `session_meta` record."""
    records: list[dict[str, Any]]
    """Every readable record after the header, in file order, unknown types included."""
    warnings: list[str]
    """One message per line that was dropped or skipped."""
    interrupted_calls: list[dict[str, Any]]
    """`tool_intent` records with no later `tool_result` of the same `call_id`, in order."""


@dataclass(frozen=True, slots=True)
class SessionSummary:
    """One line of a session picker, from `list_sessions`."""

    path: Path
    """The session file."""
    id: str
    """Session id from the header (the file name stem when the header has none)."""
    cwd: str | None
    """Working directory the session ran in."""
    model: str | None
    """Model named in the header."""
    wall: str | None
    """ISO 8601 start time from the header."""
    first_prompt: str | None
    """`text` of the first `user_message` record."""
    turns: int
    """Number of `turn_ended` records."""
    total_tokens: int
    """Sum of `input_tokens` and `output_tokens` over `response_stats` records."""


def load_session(path: Path) -> LoadedSession:
    """Read a session file, tolerating the damage a crash can leave.

    A torn last line (no trailing newline, or invalid JSON) is dropped with a warning; an invalid
    line elsewhere is skipped with a warning; unknown record types are kept. Nothing is executed.

    Args:
        path: The session's `.jsonl` file.

    Returns:
        The header, the records, the warnings and the interrupted tool calls.

    Raises:
        SessionLogError: The file cannot be read, its first line is not a `session_meta`
            header, or it was written by a newer major version of the format.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SessionLogError(f"cannot read session {path}: {exc.strerror}") from exc
    return _parse(data, path)


def list_sessions(root: Path) -> list[SessionSummary]:
    """Summarise every session under `root`, newest first.

    Sessions are ordered by the start time in their header (the file's modification time when
    the header has none); files that fail to load are skipped.

    Args:
        root: The sessions directory, usually `sessions_root()`.

    Returns:
        One summary per readable session file in `root/<date>/*.jsonl`.
    """
    found: list[tuple[datetime, str, SessionSummary]] = []
    for path in Path(root).glob("*/*.jsonl"):
        try:
            loaded = load_session(path)
            found.append((_started(loaded.header.get("wall"), path), path.name, _summarise(path, loaded)))
        except (SessionLogError, OSError):
            continue
    found.sort(key=lambda entry: entry[:2], reverse=True)
    return [summary for _, _, summary in found]


def _parse(data: bytes, path: Path) -> LoadedSession:
    lines = data.split(b"\n")
    torn_tail = lines.pop()  # b"" when the data ends with a newline
    if not lines:
        raise SessionLogError(f"{path} is not a codeassist session file (no complete header line)")
    header = _loads(lines[0])
    version = header.get("v") if isinstance(header, dict) and header.get("type") == "session_meta" else None
    if not _is_int(version) or version < 1:
        raise SessionLogError(f"{path} is not a codeassist session file")
    if version > SESSION_FORMAT_VERSION:
        raise SessionLogError(
            f"{path} was written by a newer codeassist (session format v{version}; this version "
            f"reads up to v{SESSION_FORMAT_VERSION}). Upgrade codeassist to open it."
        )

    records: list[dict[str, Any]] = []
    warnings: list[str] = []
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        record = _loads(line)
        if isinstance(record, dict):
            records.append(record)
        elif number == len(lines) and not torn_tail:
            warnings.append(f"{path}: dropped torn last line {number} (not a JSON object)")
        else:
            warnings.append(f"{path}: skipped line {number} (not a JSON object)")
    if torn_tail:
        warnings.append(f"{path}: dropped torn last line {len(lines) + 1} ({len(torn_tail)} bytes without a newline)")
    return LoadedSession(header, records, warnings, _interrupted_calls(records))


def _interrupted_calls(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    pending: dict[str, dict[str, Any]] = {}  # by repr(call_id): ids from disk may be unhashable
    for record in records:
        kind = record.get("type")
        if kind == "tool_intent":
            pending[repr(record.get("call_id"))] = record
        elif kind == "tool_result":
            pending.pop(repr(record.get("call_id")), None)
    return list(pending.values())


def _summarise(path: Path, loaded: LoadedSession) -> SessionSummary:
    header = loaded.header
    first_prompt = None
    turns = 0
    total_tokens = 0
    for record in loaded.records:
        kind = record.get("type")
        if kind == "user_message" and first_prompt is None and isinstance(record.get("text"), str):
            first_prompt = record["text"]
        elif kind == "turn_ended":
            turns += 1
        elif kind == "response_stats":
            total_tokens += sum(
                value for value in (record.get("input_tokens"), record.get("output_tokens")) if _is_int(value)
            )
    cwd, model, wall, session_id = (_str_or_none(header.get(key)) for key in ("cwd", "model", "wall", "id"))
    return SessionSummary(path, session_id or path.stem, cwd, model, wall, first_prompt, turns, total_tokens)


def _started(wall: Any, path: Path) -> datetime:
    with contextlib.suppress(TypeError, ValueError):
        return datetime.fromisoformat(wall).astimezone()
    return datetime.fromtimestamp(path.stat().st_mtime).astimezone()


def _make_private_dirs(root: Path, day_dir: Path) -> None:
    try:
        for directory in (*reversed(day_dir.parents), day_dir):
            if not directory.is_dir():
                with contextlib.suppress(FileExistsError):  # made meanwhile by another process
                    os.mkdir(directory, 0o700)
        os.chmod(root, 0o700)
        os.chmod(day_dir, 0o700)
    except OSError as exc:
        raise SessionLogError(f"cannot create session directory {day_dir}: {exc.strerror}") from exc


def _create_file(day_dir: Path, session_id: str | None, now: datetime) -> tuple[int, str, Path]:
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL
    for _ in range(8 if session_id is None else 1):
        chosen = session_id or f"{now:%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"
        path = day_dir / f"{chosen}.jsonl"
        try:
            return os.open(path, flags, 0o600), chosen, path
        except FileExistsError:
            if session_id is not None:
                raise SessionLogError(f"session {chosen} already exists: {path}") from None
        except OSError as exc:
            raise SessionLogError(f"cannot create session file {path}: {exc.strerror}") from exc
    raise SessionLogError(f"cannot pick an unused session id in {day_dir}")


def _lock(fd: int, path: Path) -> None:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise SessionLogError(f"session {path} is open in another codeassist process") from None


def _fsync_dir(directory: Path) -> None:
    """Make the new file's directory entry durable; skipped where directories cannot be opened."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


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
    if not (stripped[:1] == "{" and stripped[-1:] == "}") and not _is_json(text):
        return text, False
    if "\n" in text:
        # Outside strings a newline is only whitespace, and inside them it must be escaped.
        text = text.replace("\n", " ")
    return text, True


def _dumps(value: Any) -> str:
    try:
        return orjson.dumps(value).decode()
    except orjson.JSONEncodeError as exc:
        try:
            return orjson.dumps(_map_strings(value, _escape_surrogates)).decode()
        except orjson.JSONEncodeError:
            raise TypeError(f"session record is not JSON-serialisable: {exc}") from exc


def _map_strings(value: Any, change: Callable[[str], str]) -> Any:
    """A copy of a JSON-like value with `change` applied to every string, keys included."""
    if isinstance(value, str):
        return change(value)
    if isinstance(value, Mapping):
        return {_map_strings(key, change): _map_strings(item, change) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_map_strings(item, change) for item in value]
    return value


def _escape_surrogates(text: str) -> str:
    return text.encode("utf-8", "backslashreplace").decode()


def _loads(line: bytes | str) -> Any:
    """The decoded JSON value, or `_INVALID`."""
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:
        return _INVALID


def _is_json(text: str) -> bool:
    return _loads(text) is not _INVALID


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None
