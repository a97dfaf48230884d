"""The server's log on stderr: rate-limited, collapsed, and never able to block the server.

Logging calls only put a line in a bounded queue (dropped and counted when it is full); a
writer thread writes the queue to stderr. So a stderr nobody reads (a full pipe) stops the log,
never the server. A message identical to the previous one is counted instead of written
("… repeated N times"), and past `per_second` lines in a second the rest are counted and
summarised.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import re
import threading
import time

MAX_LINE_CHARS = 8192
REPEAT_SUMMARY_SECONDS = 10.0
"""While one message keeps repeating, how often its count is written."""
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _printable(text: str) -> str:
    """`text` without control sequences (the log can quote what clients sent)."""
    if len(text) > MAX_LINE_CHARS:
        text = text[:MAX_LINE_CHARS] + " …"
    return _CONTROL.sub("?", text)


class RateLimitedStderr(logging.Handler):
    """A logging handler for a server's stderr that never blocks the caller."""

    def __init__(self, fd: int = 2, *, per_second: int = 20, queue_lines: int = 1000) -> None:
        super().__init__()
        self.per_second = per_second
        self.dropped = 0
        """Lines lost because the queue was full (stderr not being read)."""
        self.suppressed = 0
        """Lines not written because the second's budget was spent."""
        try:
            self._fd = os.dup(fd)
        except OSError:  # started with stderr closed: nowhere to log
            self._fd = os.open(os.devnull, os.O_WRONLY)
        self._queue: queue.Queue[str | None] = queue.Queue(queue_lines)
        """Lines to write; None tells the writer to stop."""
        self._last: tuple[object, ...] | None = None
        self._repeats = 0
        self._repeats_since = 0.0
        self._window = 0
        self._in_window = 0
        self._suppressed_in_window = 0
        self._dropped_unreported = 0
        # Not the handler's own lock: `logging.shutdown` holds that while it closes the handler,
        # and the writer thread must still be able to finish then.
        self._state_lock = threading.Lock()
        self._writer = threading.Thread(target=self._drain, name="codeassist-serve-log", daemon=True)
        self._writer.start()

    def emit(self, record: logging.LogRecord) -> None:
        with self._state_lock:
            try:
                self._emit(record)
            except Exception:  # a malformed log call; `handleError` would write to stderr itself
                self.dropped += 1

    def _emit(self, record: logging.LogRecord) -> None:
        key = (record.name, record.levelno, record.getMessage(), record.exc_info[0] if record.exc_info else None)
        if key == self._last:
            if not self._repeats:
                self._repeats_since = time.monotonic()
            self._repeats += 1
            return
        self._flush_repeats()
        self._last = key
        self._roll_window()
        if self._in_window >= self.per_second:
            self.suppressed += 1
            self._suppressed_in_window += 1
            return
        self._in_window += 1
        self._put(self.format(record))

    def _tick(self) -> None:
        """Write the summaries that are due (called by the writer thread about once a second)."""
        with self._state_lock:
            if self._repeats and time.monotonic() - self._repeats_since >= REPEAT_SUMMARY_SECONDS:
                self._flush_repeats()
            self._roll_window()

    def close(self) -> None:
        """Write what is queued, waiting at most a second for a stderr nobody reads."""
        with self._state_lock:
            self._flush_repeats()
            self._roll_window(force=True)
        with contextlib.suppress(queue.Full):
            self._queue.put(None, timeout=1)
        self._writer.join(timeout=1)
        if not self._writer.is_alive() and self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        super().close()

    def _flush_repeats(self) -> None:
        if self._repeats:
            self._put(f"… the previous message repeated {self._repeats} times")
            self._repeats = 0

    def _roll_window(self, *, force: bool = False) -> None:
        second = int(time.monotonic())
        if second == self._window and not force:
            return
        if self._suppressed_in_window:
            self._put(f"… {self._suppressed_in_window} more log messages suppressed (over {self.per_second} a second)")
        self._window = second
        self._in_window = 0
        self._suppressed_in_window = 0

    def _put(self, line: str) -> None:
        try:
            self._queue.put_nowait(line)
        except queue.Full:
            self.dropped += 1
            self._dropped_unreported += 1

    def _drain(self) -> None:
        next_tick = time.monotonic() + 1
        while True:
            try:
                line = self._queue.get(timeout=max(0.0, next_tick - time.monotonic()))
            except queue.Empty:
                line = ""
            if line is None:
                return
            if time.monotonic() >= next_tick:
                next_tick = time.monotonic() + 1
                self._tick()
            if not line:
                continue
            with self._state_lock:
                lost, self._dropped_unreported = self._dropped_unreported, 0
            if lost:
                line = f"… {lost} log lines lost (stderr was not being read)\n{line}"
            self._write((_printable(line) + "\n").encode("utf-8", "replace"))

    def _write(self, data: bytes) -> None:
        while data:
            try:
                written = os.write(self._fd, data)
            except InterruptedError:
                continue
            except OSError:  # stderr closed: the log is lost, the server goes on
                return
            data = data[written:]


SERVER_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi", "asyncio", "codeassist.serve")


def install_server_logging(level: int = logging.WARNING) -> RateLimitedStderr:
    """Route the server's log (its own, uvicorn's and asyncio's) through one `RateLimitedStderr`."""
    handler = RateLimitedStderr()
    handler.setFormatter(logging.Formatter("codeassist serve: %(levelname)s %(message)s"))
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level)
    for name in SERVER_LOGGERS:
        logger = logging.getLogger(name)
        logger.handlers = []
        logger.propagate = True
        logger.setLevel(level)
    return handler
