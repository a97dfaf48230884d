"""Nothing lost: the prompt survives kill -9, and a full disk is a warning, never a failed turn.

The prompt (its user message and `turn_started`) and each request's `response_started` are
written and fsynced before the request leaves, so a process killed while it waits for the model
leaves a session `--continue` finds. A full disk (a real small tmpfs where bubblewrap can mount
one, else the log's file descriptor pointed at `/dev/full`) turns logging into one notice; the
turn goes on, `exec` keeps the turn's exit code, and the log catches up when space returns, or
says what it had to give up.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import json
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from unittest import mock

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent import session_log
from agent.events import Notice, ReasoningDelta, TextDelta, TurnEnded, TurnStarted
from agent.recorder import SessionRecorder
from agent.redact import Redactor
from agent.replay import history_events
from agent.resume import latest_session, resume_record
from agent.session import Session
from agent.session_backlog import Backlog
from agent.session_log import SessionLog, SessionLogError, load_session
from agent.session_record import read_session
from tests.agent.conftest import answered_turn, make_repo, settings_for
from tests.agent.raw_server import Reply, raw_server
from tests.codeassist.test_exec import CODEASSIST, _environ, _json_lines, run_exec
from tests.codeassist.test_serve import running

PROMPT = "please read a.py and tell me what it prints"
ANSWER = "It prints hello. " * 200  # a few KB: the log outgrows one free page of a full tmpfs
ONE_ANSWER = {"name": "answer", "turns": [{"output": [{"type": "message", "text": ANSWER}]}]}


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "work", {"a.py": "print('hello')\n"})


def _records(path: Path) -> list[dict[str, Any]]:
    return load_session(path).records


def _wait_for(condition: Callable[[], bool], what: str, limit_s: float = 30.0) -> None:
    """Poll `condition` until it holds; the limit only keeps a broken build from hanging."""
    deadline = time.monotonic() + limit_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.02)


def _received(base_url: str) -> str:
    """What `codeassist serve` has received so far (its `/_codeassist/received`), as text."""
    url = base_url.removesuffix("/v1") + "/_codeassist/received"
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.read().decode()


# ---- kill -9 while the first answer is awaited -----------------------------------------------


def test_kill_9_during_the_first_response_keeps_the_prompt_and_continue_carries_on(workspace, tmp_path):
    script = tmp_path / "answer.json"
    script.write_text(json.dumps(ONE_ANSWER))
    stall = json.dumps({"kind": "stall", "turn": 0, "after_events": 0})
    environ = _environ(tmp_path)
    with running("serve", "--script", str(script), "--fault", stall) as (_, url):
        process = subprocess.Popen(
            [CODEASSIST, "exec", PROMPT, "--base-url", url, "--no-warmup"],
            cwd=workspace,
            env=environ,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            _wait_for(lambda: PROMPT in _received(url), "the request to reach the server")
        finally:
            process.kill()  # SIGKILL: nothing of the process runs after this
            process.wait(timeout=30)
        assert process.returncode == -signal.SIGKILL

        sessions = tmp_path / "data" / "codeassist" / "sessions"
        killed = latest_session(sessions, workspace)
        assert killed is not None, "the killed session is listed"
        restored = resume_record(killed)
        assert [turn.prompt for turn in restored.turns] == [PROMPT]
        assert restored.turns[0].reason is None, "the turn never ended"
        history = restored.history
        assert [event.prompt for event in history if isinstance(event, TurnStarted)] == [PROMPT]
        assert [event.reason for event in history if isinstance(event, TurnEnded)] == ["cancelled"]
        records = _records(killed)
        assert records[0]["type"] == "git_baseline", "how the repository was when the session started"
        assert [record["type"] for record in records][1:4] == ["items", "turn_started", "response_started"]

        result = run_exec(workspace, tmp_path, "are you still there?", "--continue", "--base-url", url, "--json")
        assert result.returncode == 0, result.stderr
        started, events = _json_lines(result.stdout)
        assert started["resumed"] is True and Path(started["log_path"]) == killed
        assert [event.text for event in events if event.type == "message_completed"] == [ANSWER]
        resent = _received(url)
    assert resent.count("are you still there?") >= 1 and resent.count(PROMPT) >= 2, "the prompt is resent"
    prompts = [record["prompt"] for record in _records(killed) if record["type"] == "turn_started"]
    assert prompts == [PROMPT, "are you still there?"]


def _answer_frames(text: str, response_id: str) -> list[dict[str, Any]]:
    item = {
        "type": "message",
        "id": f"msg_{response_id}",
        "role": "assistant",
        "status": "completed",
        "content": [{"type": "output_text", "text": text, "annotations": []}],
    }
    usage = {"input_tokens": 10, "output_tokens": 5, "total_tokens": 15}
    return [
        {"type": "response.created", "response": {"id": response_id, "status": "in_progress", "output": []}},
        {
            "type": "response.output_item.added",
            "output_index": 0,
            "item": {**item, "content": [], "status": "in_progress"},
        },
        {
            "type": "response.output_text.delta",
            "item_id": item["id"],
            "output_index": 0,
            "content_index": 0,
            "delta": text,
        },
        {"type": "response.output_item.done", "output_index": 0, "item": item},
        {
            "type": "response.completed",
            "response": {"id": response_id, "status": "completed", "output": [item], "usage": usage},
        },
    ]


class _ReadsTheLogOnArrival(list):  # type: ignore[type-arg]
    """A raw server's list of requests that also reads the session file as each one arrives, and
    notes whether everything written to it was fsynced by then."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        super().__init__()
        self.path: Path | None = None
        self.fd: int | None = None
        self.on_arrival: list[list[dict[str, Any]]] = []
        self.synced_on_arrival: list[bool] = []
        self._unsynced = False
        write, fsync = session_log.os.write, session_log.os.fsync

        def watched_write(fd: int, data: Any) -> int:
            self._unsynced |= fd == self.fd
            return write(fd, data)

        def watched_fsync(fd: int) -> None:
            fsync(fd)
            self._unsynced &= fd != self.fd

        monkeypatch.setattr(session_log.os, "write", watched_write)
        monkeypatch.setattr(session_log.os, "fsync", watched_fsync)

    def append(self, request: Any) -> None:
        super().append(request)
        assert self.path is not None
        self.on_arrival.append([orjson.loads(line) for line in self.path.read_bytes().splitlines()])
        self.synced_on_arrival.append(not self._unsynced)


async def test_the_prompt_and_each_request_start_are_synced_before_the_request_arrives(repo, tmp_path, monkeypatch):
    dropped = Reply(_answer_frames("Hel", "resp_dropped")[:2], close_code=1011)
    async with raw_server(dropped, _answer_frames("Hello.", "resp_ok")) as server:
        requests = server.requests = _ReadsTheLogOnArrival(monkeypatch)
        base_url = server.url.replace("ws://", "http://").removesuffix("/responses")
        settings = settings_for(_at(base_url), max_retries=2)
        session = Session.open(settings, cwd=repo, log_root=tmp_path / "sessions")
        assert session.recorder is not None
        requests.path, requests.fd = session.log_path, session.recorder.log._fd
        try:
            events = await answered_turn(session, PROMPT)
        finally:
            await session.close()
    assert isinstance(events[-1], TurnEnded) and events[-1].reason == "completed", events[-1]
    assert len(requests.on_arrival) == 2, "the dropped response was sent again"
    for attempt, on_disk in enumerate(requests.on_arrival, start=1):
        kinds = [record["type"] for record in on_disk]
        prompts = [record["prompt"] for record in on_disk if record["type"] == "turn_started"]
        users = [
            item
            for record in on_disk
            if record["type"] == "items"
            for item in record["items"]
            if item.get("role") == "user"
        ]
        assert prompts == [PROMPT] and PROMPT in json.dumps(users), f"request {attempt}: the prompt is on disk"
        assert kinds.count("response_started") == attempt, f"request {attempt}: its start is on disk"
    assert requests.synced_on_arrival == [True, True], "and fsynced"


def _at(base_url: str) -> SimpleNamespace:
    """What `settings_for` needs of a server: its address."""
    return SimpleNamespace(address=SimpleNamespace(base_url=base_url))


# ---- a full disk, without a tmpfs: the log's descriptor points at /dev/full ---------------------


@contextlib.contextmanager
def disk_full(log: SessionLog) -> Iterator[None]:
    """Writes to `log` fail with ENOSPC from the kernel (its descriptor is `/dev/full`) until the
    block ends, then go to the file again (same open file, offset and lock) unless it was closed."""
    fd = log._fd
    assert fd is not None
    saved = os.dup(fd)
    full = os.open("/dev/full", os.O_WRONLY)
    try:
        os.dup2(full, fd)
        yield
    finally:
        if log._fd == fd:
            os.dup2(saved, fd)
        os.close(saved)
        os.close(full)


needs_dev_full = pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full on this system")


@needs_dev_full
async def test_a_full_disk_is_one_notice_the_turn_goes_on_and_the_log_catches_up(server, repo, tmp_path):
    session = Session.open(settings_for(server), cwd=repo, log_root=tmp_path / "sessions")
    assert session.recorder is not None
    try:
        with disk_full(session.recorder.log):
            first = await answered_turn(session, "please read a.py")
        second = await answered_turn(session, "thanks, bye")
    finally:
        await session.close()

    notices = [event.message for event in first if isinstance(event, Notice)]
    assert len(notices) == 1 and "cannot be written (the disk is full)" in notices[0], notices
    assert isinstance(first[-1], TurnEnded) and first[-1].reason == "completed"
    assert [event.message for event in second if isinstance(event, Notice)] == [
        f"The session log is written again: {session.log_path}."
    ]
    assert isinstance(second[-1], TurnEnded) and second[-1].reason == "completed"
    assert session.log_given_up == 0
    path = session.log_path
    assert path is not None
    records = _records(path)
    assert "log_gap" not in [record["type"] for record in records], "nothing was lost"
    assert [record["prompt"] for record in records if record["type"] == "turn_started"] == [
        "please read a.py",
        "thanks, bye",
    ]
    turns = resume_record(path).turns
    assert [turn.reason for turn in turns] == ["completed", "completed"]
    assert [call.output is not None for turn in turns for call in turn.tool_calls] == [True]
    assert [record["seq"] for record in records] == list(range(1, len(records) + 1))


@needs_dev_full
async def test_a_disk_that_stays_full_closes_the_session_without_an_error(server, repo, tmp_path):
    session = Session.open(settings_for(server), cwd=repo, log_root=tmp_path / "sessions")
    assert session.recorder is not None and session.log_path is not None
    with disk_full(session.recorder.log):
        events = await answered_turn(session, "please read a.py")
        await session.close()
    assert isinstance(events[-1], TurnEnded) and events[-1].reason == "completed"
    assert session.log_given_up > 0
    records = _records(session.log_path)
    assert [record["type"] for record in records] == ["git_baseline"], "written when the session opened"
    assert records[1:] == [], "the header stays a session file; the rest was given up"


@needs_dev_full
def test_over_its_bound_the_log_drops_deltas_first_then_a_whole_turn_and_says_what_it_lost(tmp_path):
    redactor = Redactor(environ={})
    log = SessionLog.create(root=tmp_path, header={"model": "m"}, redactor=redactor, backlog=Backlog(limit=4000))
    recorder = SessionRecorder(log, redactor)

    def turn(number: int, prompt: str) -> None:
        recorder.items([{"type": "message", "role": "user", "content": [{"type": "input_text", "text": prompt}]}])
        recorder.event(TurnStarted(turn=number, prompt=prompt))
        for _ in range(3):
            recorder.event(ReasoningDelta(text="r" * 300))
            recorder.event(TextDelta(text="t" * 300))
        answer = {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "a" * 1800}]}
        recorder.items([answer])
        recorder.flush(durable=True)

    with disk_full(log):
        turn(1, "one")
        turn(2, "two")
        assert log.unwritten <= 4000 + 200, "the backlog stays within its bound"
    recorder.flush(durable=True)  # space is back: the backlog is written
    turn(3, "three")  # a new turn: the log takes records again
    recorder.close()

    records = _records(log.path)
    kinds = [record["type"] for record in records]
    (gap,) = [record for record in records if record["type"] == "log_gap"]
    assert {"reasoning_delta", "text_delta", "items", "turn_started"} <= set(gap["types"]), gap
    assert gap["records"] == sum(gap["types"].values())
    assert [record["prompt"] for record in records if record["type"] == "turn_started"] == ["one", "three"]
    first_turn = kinds[: kinds.index("log_gap")]
    assert "items" in first_turn and not {"text_delta", "reasoning_delta"} & set(first_turn), (
        "the first turn's deltas were dropped, its conversation kept"
    )
    assert {"text_delta", "reasoning_delta"} <= set(kinds[kinds.index("log_gap") :]), "the third turn is whole"

    reading = read_session(log.path)
    entries = list(reading.entries)
    assert reading.warnings == [], "readers know the gap record"
    notices = [entry.event.message for entry in entries if isinstance(getattr(entry, "event", None), Notice)]
    assert any(message.startswith(f"The session log lost {gap['records']} records here") for message in notices)
    assert any(isinstance(event, Notice) and "lost" in event.message for event in history_events(log.path))
    restored = resume_record(log.path)
    assert [turn.prompt for turn in restored.turns] == ["one", "three"]
    assert [item.role for turn in restored.turns for item in turn.items] == ["user", "assistant"] * 2


# ---- exec: a log that cannot be created --------------------------------------------------------


def test_exec_whose_log_cannot_be_created_warns_once_and_keeps_the_turns_exit_code(server, workspace, tmp_path):
    blocker = tmp_path / "data"
    blocker.write_text("a file where the data directory should be\n")
    result = run_exec(workspace, tmp_path, "please read a.py", "--base-url", server.address.base_url)
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("The session log cannot be created") == 1, result.stderr
    assert "this session is not saved" in result.stderr
    assert "Traceback" not in result.stderr and "session saved" not in result.stderr
    assert "The file says hello." in result.stdout


# ---- a real full disk: a small tmpfs mounted by bubblewrap --------------------------------------


@functools.cache
def _tmpfs_support(probe_dir: str) -> str | None:
    """Why a small tmpfs cannot be mounted here (None when it can)."""
    try:
        result = subprocess.run(
            ["bwrap", "--dev-bind", "/", "/", "--size", "65536", "--tmpfs", probe_dir, "true"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bubblewrap cannot run: {exc}"
    if result.returncode != 0:
        return f"bubblewrap cannot mount a sized tmpfs here: {result.stderr.strip()[:200]}"
    return None


@pytest.fixture
def small_tmpfs(tmp_path: Path) -> Callable[[list[str]], subprocess.CompletedProcess[str]]:
    """Run a command with `tmp_path/data` on a 256 KiB tmpfs (skips where that cannot be done)."""
    data = tmp_path / "data"
    data.mkdir()
    probe = tmp_path / "probe"
    probe.mkdir()
    reason = _tmpfs_support(str(probe))
    if reason is not None:
        pytest.skip(reason)

    def run(command: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        wrapped = ["bwrap", "--dev-bind", "/", "/", "--size", str(256 * 1024), "--tmpfs", str(data), *command]
        return subprocess.run(wrapped, capture_output=True, text=True, timeout=120, **kwargs)

    return run


FILL = textwrap.dedent(
    """
    import errno, os, sys
    data = sys.argv[1]
    filler = os.path.join(data, "filler")
    with open(filler, "wb", buffering=0) as file:
        while True:
            try:
                file.write(b"x" * 4096)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC, exc
                break
    os.truncate(filler, os.path.getsize(filler) - 4096)  # one page left: the log's first records fit
    """
)


def test_exec_on_a_disk_that_fills_mid_session_completes_with_one_warning(small_tmpfs, workspace, tmp_path):
    script = tmp_path / "answer.json"
    script.write_text(json.dumps(ONE_ANSWER))
    fill = tmp_path / "fill.py"
    fill.write_text(FILL)
    data = tmp_path / "data"
    with running("serve", "--script", str(script)) as (_, url):
        shell = (
            f"{sys.executable} {fill} {data} || exit 99; "
            f"{CODEASSIST} exec '{PROMPT}' --base-url {url} --no-warmup; code=$?; "
            f'echo "prompt on disk: $(grep -c \'"turn_started"\' {data}/codeassist/sessions/*/*.jsonl)" >&2; '
            "exit $code"
        )
        result = small_tmpfs(["sh", "-c", shell], cwd=workspace, env=_environ(tmp_path))
    assert result.returncode == 0, result.stderr
    assert ANSWER.strip() in result.stdout
    assert result.stderr.count("The session log cannot be written (the disk is full)") == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert "[completed]" in result.stderr
    assert "(incomplete: the last" in result.stderr, "the final line says the log is incomplete"
    assert "prompt on disk: 1" in result.stderr, "the disk filled after the prompt was written"


RESUMES = textwrap.dedent(
    """
    import asyncio, json, os, sys
    from pathlib import Path
    from agent.events import Notice, TurnEnded
    from agent.resume import resume_record
    from agent.session import Session
    from agent.session_log import load_session
    from types import SimpleNamespace
    from tests.agent.conftest import answered_turn, settings_for

    data, base_url, repo = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
    server = SimpleNamespace(address=SimpleNamespace(base_url=base_url))

    async def main():
        session = Session.open(settings_for(server), cwd=repo, log_root=data / "sessions")
        first = await answered_turn(session, "please read a.py")
        os.unlink(data / "filler")  # space returns
        second = await answered_turn(session, "thanks, bye")
        await session.close()
        records = load_session(session.log_path).records
        print(json.dumps({
            "notices": [[e.message for e in turn if isinstance(e, Notice)] for turn in (first, second)],
            "ends": [turn[-1].reason for turn in (first, second) if isinstance(turn[-1], TurnEnded)],
            "kinds": [record["type"] for record in records],
            "prompts": [t.prompt for t in resume_record(session.log_path).turns],
            "given_up": session.log_given_up,
        }))

    asyncio.run(main())
    """
)


def test_a_session_on_a_full_disk_writes_its_log_again_when_space_returns(small_tmpfs, server, repo, tmp_path):
    fill = tmp_path / "fill.py"
    fill.write_text(FILL)
    program = tmp_path / "resumes.py"
    program.write_text(RESUMES)
    data = tmp_path / "data"
    shell = f"{sys.executable} {fill} {data} && exec {sys.executable} {program} {data} {server.address.base_url} {repo}"
    root = Path(__file__).resolve().parents[2]
    result = small_tmpfs(["sh", "-c", shell], cwd=root, env={**os.environ, "PYTHONPATH": str(root)})
    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    failing, recovered = outcome["notices"]
    assert len(failing) == 1 and "the disk is full" in failing[0], outcome
    assert len(recovered) == 1 and "written again" in recovered[0], outcome
    assert outcome["ends"] == ["completed", "completed"]
    assert outcome["given_up"] == 0
    assert "log_gap" not in outcome["kinds"], "nothing was lost"
    assert outcome["prompts"] == ["please read a.py", "thanks, bye"]
    assert outcome["kinds"].count("turn_ended") == 2


RECORD_TYPES = ["text_delta", "reasoning_delta", "tool_output", "tool_finished", "response_finished", "notice"]


class _SmallDisk:
    """`os.write` for one descriptor onto a disk with `room` bytes free: a write that does not fit
    writes what fits (a short write, as the kernel does), the next one fails with ENOSPC."""

    def __init__(self, fd: int, room: int) -> None:
        self.fd, self.room = fd, room
        self._write = os.write

    def write(self, fd: int, data: Any) -> int:
        if fd != self.fd:
            return self._write(fd, data)
        if self.room <= 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        written = self._write(fd, bytes(data[: self.room]))
        self.room -= written
        return written


@settings(max_examples=60, deadline=None)
@given(
    plan=st.lists(
        st.tuples(
            st.sampled_from(["user", *RECORD_TYPES]), st.integers(0, 900), st.sampled_from([0, 0, 0, 0, 64, 700, 9000])
        ),
        min_size=1,
        max_size=60,
    ),
    room=st.integers(0, 1500),
    limit=st.integers(300, 4000),
)
def test_every_record_is_either_in_the_file_or_counted_in_a_gap(plan, room, limit):
    """Whatever is appended while the disk fills and space comes back bit by bit, each record is
    written whole and in order or counted in a `log_gap`, and the file reads without a warning."""
    with tempfile.TemporaryDirectory() as root:
        log = SessionLog.create(root=Path(root), header={}, redactor=Redactor(environ={}), backlog=Backlog(limit))
        assert log._fd is not None
        disk = _SmallDisk(log._fd, room)
        appended: list[str] = []
        with mock.patch.object(session_log.os, "write", disk.write):
            for kind, size, freed in plan:
                record_type = "items" if kind == "user" else kind
                log.append_record(record_type, {"text": "x" * size, "n": len(appended)}, starts_turn=kind == "user")
                appended.append(record_type)
                with contextlib.suppress(SessionLogError):
                    log.flush()
                disk.room += freed
        log.close()
        loaded = load_session(log.path)
    assert loaded.warnings == []
    records = loaded.records
    written = [record for record in records if record["type"] != "log_gap"]
    numbers = [record["n"] for record in written]
    assert numbers == sorted(numbers), "records keep their order"
    assert [appended[n] for n in numbers] == [record["type"] for record in written]
    lost = sum(record["records"] for record in records if record["type"] == "log_gap")
    assert len(written) + lost == len(appended), "nothing is lost without being counted"
    seqs = [record["seq"] for record in records]
    assert seqs == sorted(set(seqs))
