"""Append-only JSONL session log: one file per session, the source of truth for resume.

Layout: `agent.paths.sessions_dir()/<YYYY-MM-DD>/<id>.jsonl`, directories 0700, files 0600. Each
line is one complete JSON object. The first line is the header
`{"type":"session_meta","v":2,"seq":0,"t":…,"wall":…,"id":…,"cwd":…,…}`; every later record starts
`{"v":2,"seq":N,"t":T,"type":…}`. `seq` increases by one per record; `t` is `time.monotonic()`
(for ordering and latency within a run; `wall` in the header anchors it to the clock). This module
is the file layer only: what the records of a session are (agent events and conversation items)
is `agent.recorder`'s business, and docs/session-format.md describes both versions.

Writing: `append` only buffers. `flush()` writes the whole buffer with one `os.write`, so the
file only ever grows by complete lines, except when a crash interrupts a write (the loader drops
a torn last line). The recorder flushes with `fsync=True` before a request is sent, where a tool
may run next, after its result and at turn end; never per streamed delta. A flush that fails (a
full disk) keeps the records for the next one; `agent.session_backlog` bounds what is kept and
counts what it gives up in a `log_gap` record. Secrets are redacted at write time by
`agent.redact.Redactor`; keep the in-memory conversation unredacted, so only the disk copy loses
them. One process writes a file: it is held with `fcntl.flock`, which the kernel releases when
the process dies. Raw frames go to an opt-in trace (`agent.frame_trace.FrameTrace`, a
`SessionLog` of frames), never into the session record.

Reading: `header_of` is the one check of a header line (a `session_meta` of a version this code
reads); every reader goes through it. `load_session` reads a whole file, tolerating a crash (a
torn last line is dropped with a warning), refusing files from a newer major version and keeping
unknown record types; it interprets no record. `agent.session_record` reads a session as a
stream instead, `agent.resume` rebuilds a session from that stream (a tool call with no output is
answered as interrupted, never run again), and `list_sessions` reads only the ends of each file.
Nothing here runs anything. A session file from elsewhere is untrusted input.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeGuard

import orjson

from agent.redact import Redactor, cut_spans
from agent.session_backlog import LOG_GAP_RECORD, Backlog
from agent.session_scan import dumps_json, is_json, map_strings, tail, v1_summary, v2_summary

__all__ = [
    "SESSION_FORMAT_VERSION",
    "LoadedSession",
    "SessionLog",
    "SessionLogError",
    "SessionSummary",
    "cut_spans",
    "header_of",
    "list_sessions",
    "load_session",
    "summarise_session",
]

SESSION_FORMAT_VERSION = 2
"""Major version of the file format; readers refuse files with a greater `v`. Version 1 files
(raw frames plus hand-named records) are still read, by `agent.session_v1`."""

_RESERVED_KEYS = frozenset({"v", "seq", "t", "type"})
_RESERVED_HEADER_KEYS = _RESERVED_KEYS | {"wall"}
_SESSION_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})
_INVALID = object()


class SessionLogError(Exception):
    """A session file could not be created, written, opened or read."""


class SessionLog:
    """Writer for one session file. Use `create` or `open_existing`, ideally in a `with` block.

    Not thread-safe: one task owns the log.
    """

    def __init__(
        self, fd: int, path: Path, session_id: str, next_seq: int, redactor: Redactor, backlog: Backlog | None = None
    ) -> None:
        """Wrap an open, locked file descriptor; `create` and `open_existing` call this."""
        self._fd: int | None = fd
        self._path = path
        self._id = session_id
        self._seq = next_seq
        self._redactor = redactor
        self._pending = bytearray()
        self._backlog = backlog or Backlog()
        self._mid_line = False
        """`_pending` starts with the rest of a line partly written."""
        self._write_error: OSError | None = None

    @classmethod
    def create(
        cls,
        *,
        root: Path,
        session_id: str | None = None,
        header: Mapping[str, Any],
        redactor: Redactor,
        suffix: str = ".jsonl",
        backlog: Backlog | None = None,
    ) -> Self:
        """Create a new session file and write its header line (flushed and fsynced).

        Args:
            root: The sessions directory, usually `agent.paths.sessions_dir()`. It and every missing parent
                are created with mode 0700, and it and the date directory are set to 0700.
            session_id: File name stem; defaults to `header["id"]`, else `<YYYYmmdd-HHMMSS>-<6 hex>`.
                Letters, digits, `.`, `_` and `-` only.
            header: Fields of the `session_meta` record: `id`, `cwd`, `git_head`, `model`,
                `version`, … `id` is filled in when missing.
            redactor: Scrubs secrets from every line before it is written.
            suffix: The file name's ending: `.jsonl` for a session, `.trace` for its raw frames.
            backlog: What is kept in memory while the disk is full (default: 8 MiB of records).

        Returns:
            The open log; its next record has `seq` 1.

        Raises:
            ValueError: A bad session id, a header id that differs from `session_id`, or a header
                key among `type`, `v`, `seq`, `t`, `wall`.
            SessionLogError: The file exists already or cannot be created or written. On a full
                disk the file is created and the header stays buffered (`write_error` says so).
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
        fd, session_id, path = _create_file(day_dir, session_id, now, suffix)
        log = cls(fd, path, session_id, 1, redactor, backlog)
        try:
            _lock(fd, path)
            envelope = (
                f'{{"type":"session_meta","v":{SESSION_FORMAT_VERSION},"seq":0,'
                f'"t":{dumps_json(time.monotonic())},"wall":{dumps_json(now.isoformat(timespec="milliseconds"))}'
            )
            log._pending += log._line(envelope, {"id": session_id, **header})
            try:
                log.flush(fsync=True)
            except SessionLogError:
                if not log.disk_full:
                    raise  # a full disk keeps the header buffered: it is written when space returns
            _fsync_dir(day_dir)
        except BaseException:
            os.close(fd)
            path.unlink(missing_ok=True)
            raise
        return log

    @classmethod
    def open_existing(cls, path: Path, redactor: Redactor) -> Self:
        """Open a session file to append to it (resume).

        A torn last line (no newline, left by a crash) is cut off first, so the next record
        starts on a line of its own. Nothing is changed unless the file is a readable session.

        Args:
            path: The session's `.jsonl` file.
            redactor: Scrubs secrets from every line before it is written.

        Only the header and the end of the file are read, so opening is quick at any size.

        Returns:
            The open log; its next record's `seq` follows the one of the last complete record.

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
                header = header_of(file.readline(), path)
                size = os.fstat(fd).st_size
                complete, last_seq = tail(file, size)
            if complete < size:
                os.ftruncate(fd, complete)
                os.fsync(fd)
            next_seq = 1 + max(last_seq, 0)
            session_id = _str_or_none(header.get("id")) or path.stem
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

    @property
    def write_error(self) -> str | None:
        """Why the last flush failed (`the disk is full`, …); None once a flush succeeded."""
        error = self._write_error
        if error is None:
            return None
        return "the disk is full" if error.errno in _DISK_FULL else (error.strerror or str(error))

    @property
    def disk_full(self) -> bool:
        """The last flush failed for want of space (ENOSPC, EDQUOT)."""
        return self._write_error is not None and self._write_error.errno in _DISK_FULL

    @property
    def unwritten(self) -> int:
        """Bytes of records buffered and not yet written."""
        return len(self._pending)

    def append(self, type: str, /, **fields: Any) -> None:
        """Buffer one record `{"v":2,"seq":N,"t":T,"type":type,**fields}`; `flush` writes it.

        Args:
            type: Record type, such as `user_message`, `tool_intent`, `tool_result`, `turn_ended`.
            **fields: JSON-serialisable values. Strings with lone surrogates are written with
                backslash escapes rather than refused.

        Raises:
            ValueError: A field named `v`, `seq`, `t` or `type`.
            TypeError: A value that cannot be serialised to JSON.
            SessionLogError: The log is closed.
        """
        self.append_record(type, fields)

    def append_record(
        self, type: str, fields: Mapping[str, Any], *, t: float | None = None, starts_turn: bool = False
    ) -> None:
        """`append` with the fields as a mapping and, optionally, the record's time.

        While the disk is full, records wait in memory up to a bound (`agent.session_backlog`):
        past it, streamed deltas are dropped first, then records are refused until a new turn
        starts; a `log_gap` record then says what is missing.

        Args:
            type: Record type.
            fields: JSON-serialisable values (see `append`).
            t: The record's `time.monotonic()` stamp; now when None (a copied record keeps its own).
            starts_turn: The record opens a turn (its user message): after records were refused,
                the log takes records again from such a one on.

        Raises:
            ValueError, TypeError, SessionLogError: As `append`.
        """
        self._open_fd()
        reserved = _RESERVED_KEYS & fields.keys()
        if reserved:
            raise ValueError(f"record fields {sorted(reserved)} are set by the session log")
        if not self._admit(type, starts_turn):
            return
        stamp = dumps_json(time.monotonic() if t is None else t)
        envelope = f'{{"v":{SESSION_FORMAT_VERSION},"seq":{self._seq},"t":{stamp},"type":{dumps_json(type)}'
        self._pending += self._line(envelope, fields)
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
        while self._pending:
            try:
                written = os.write(fd, self._pending)
            except OSError as exc:
                self._write_error = exc
                raise SessionLogError(
                    f"cannot write session log {self._path}: {self.write_error}; {len(self._pending)} bytes of "
                    "records are kept in memory and the next flush() will retry them"
                ) from exc
            if written:
                self._mid_line = self._pending[written - 1] != ord("\n")
                del self._pending[:written]
        if fsync:
            try:
                os.fsync(fd)
            except OSError as exc:
                self._write_error = exc
                raise SessionLogError(f"cannot fsync session log {self._path}: {exc.strerror}") from exc
        self._write_error = None

    def close(self) -> None:
        """Flush with fsync, then close the file and release its lock. Closing twice is a no-op.

        Raises:
            SessionLogError: The final flush failed; the log stays open with the records still
                buffered, so the caller can free space and call `close()` again.
        """
        if self._fd is None:
            return
        self._note_gap()
        self.flush(fsync=True)
        os.close(self._fd)
        self._fd = None

    def abandon(self) -> int:
        """Close without writing what is still buffered (the disk stayed full) and release the
        lock; the bytes of records given up. Closing twice is a no-op."""
        if self._fd is None:
            return 0
        given_up = len(self._pending)
        self._pending.clear()
        os.close(self._fd)
        self._fd = None
        return given_up

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    def _admit(self, kind: str, starts_turn: bool = False) -> bool:
        """Whether a record of `kind` may be buffered: always, unless the backlog is over its
        bound and a flush cannot make room (see `agent.session_backlog`)."""
        backlog = self._backlog
        if len(self._pending) <= backlog.limit and not backlog.refusing:
            return True
        if self._write_error is None and not backlog.refusing:
            with contextlib.suppress(SessionLogError):  # the next flush of the recorder reports it
                self.flush()
            if len(self._pending) <= backlog.limit:
                return True
        keep = self._pending.find(b"\n") + 1 if self._mid_line else 0
        if not backlog.admit(self._pending, keep, kind, starts_turn):
            return False
        self._note_gap()
        return True

    def _note_gap(self) -> None:
        """Buffer a `log_gap` record for what the backlog gave up since the last one, if anything."""
        fields = self._backlog.gap_fields()
        if fields is not None:
            envelope = f'{{"v":{SESSION_FORMAT_VERSION},"seq":{self._seq},"t":{dumps_json(time.monotonic())},"type":"{LOG_GAP_RECORD}"'
            self._pending += self._line(envelope, fields)
            self._seq += 1

    def _open_fd(self) -> int:
        if self._fd is None:
            raise SessionLogError(f"session log {self._path} is closed; records can no longer be written")
        return self._fd

    def _line(self, envelope: str, fields: Mapping[str, Any]) -> bytes:
        """`envelope` (an unclosed JSON object) plus the redacted `fields`, as one line."""
        if not fields:
            return f"{envelope}}}\n".encode()
        body = dumps_json(fields)
        redacted = self._redactor.redact_json(body)
        if redacted != body and not is_json(redacted):
            # A scrub started inside an escape sequence; redact string by string instead.
            redacted = dumps_json(map_strings(fields, self._redactor.redact))
        return f"{envelope},{redacted[1:]}\n".encode()


@dataclass(slots=True)
class LoadedSession:
    """A session file as read by `load_session`: its header and records, nothing interpreted."""

    header: dict[str, Any]
    """The `session_meta` record."""
    records: list[dict[str, Any]]
    """Every readable record after the header, in file order, unknown types included."""
    warnings: list[str]
    """One message per line that was dropped or skipped."""


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
        The header, the records and the warnings.

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


def list_sessions(root: Path, *, include_empty: bool = False) -> list[SessionSummary]:
    """Summarise every session under `root`, newest first, reading as little of each as it can.

    A version-2 file is summarised from its header, its first prompt (near the start) and the
    session totals on its last `turn_ended` record (read from the end); a version-1 file from
    the few records that matter, picked out of its lines without decoding the others. Sessions
    are ordered by the start time in their header (the file's modification time when the header
    has none); files that are not readable sessions are skipped.

    Args:
        root: The sessions directory, usually `agent.paths.sessions_dir()`.
        include_empty: Also list sessions in which no prompt was ever sent.

    Returns:
        One summary per readable session file in `root/<date>/*.jsonl`.
    """
    found: list[tuple[datetime, str, SessionSummary]] = []
    for path in Path(root).glob("*/*.jsonl"):
        try:
            summary, header = summarise_session(path)
        except (SessionLogError, OSError):
            continue
        if summary.first_prompt is None and not include_empty:
            continue
        found.append((_started(header.get("wall"), path), path.name, summary))
    found.sort(key=lambda entry: entry[:2], reverse=True)
    return [summary for _, _, summary in found]


def summarise_session(path: Path) -> tuple[SessionSummary, dict[str, Any]]:
    """One session's summary and header, without reading the whole file (see `list_sessions`).

    Raises:
        SessionLogError: The file is not a session this version reads.
        OSError: The file cannot be read.
    """
    with open(path, "rb") as file:
        header = header_of(file.readline(), path)
        if header.get("v") == 1:
            first_prompt, turns, total_tokens = v1_summary(file)
        else:
            first_prompt, turns, total_tokens = v2_summary(file, os.fstat(file.fileno()).st_size)
    cwd, model, wall, session_id = (_str_or_none(header.get(key)) for key in ("cwd", "model", "wall", "id"))
    summary = SessionSummary(path, session_id or path.stem, cwd, model, wall, first_prompt, turns, total_tokens)
    return summary, header


def _parse(data: bytes, path: Path) -> LoadedSession:
    lines = data.split(b"\n")
    torn_tail = lines.pop()  # b"" when the data ends with a newline
    if not lines:
        raise SessionLogError(f"{path} is not a codeassist session file (no complete header line)")
    header = header_of(lines[0] + b"\n", path)
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
    return LoadedSession(header, records, warnings)


def header_of(line: bytes, path: Path) -> dict[str, Any]:
    """The `session_meta` header on `line` (with its newline).

    Raises:
        SessionLogError: The line is not a session header, or its version is newer than this one.
    """
    header = _loads(line) if line.endswith(b"\n") else _INVALID
    version = header.get("v") if isinstance(header, dict) and header.get("type") == "session_meta" else None
    if not _is_int(version) or version < 1:
        raise SessionLogError(f"{path} is not a codeassist session file")
    if version > SESSION_FORMAT_VERSION:
        raise SessionLogError(
            f"{path} was written by a newer codeassist (session format v{version}; this version "
            f"reads up to v{SESSION_FORMAT_VERSION}). Upgrade codeassist to open it."
        )
    assert isinstance(header, dict)
    return header


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


def _create_file(day_dir: Path, session_id: str | None, now: datetime, suffix: str) -> tuple[int, str, Path]:
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL
    for _ in range(8 if session_id is None else 1):
        chosen = session_id or f"{now:%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"
        path = day_dir / f"{chosen}{suffix}"
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


def _loads(line: bytes | str) -> Any:
    """The decoded JSON value, or `_INVALID`."""
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:
        return _INVALID


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None
