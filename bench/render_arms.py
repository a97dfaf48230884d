"""One measurement of `bench.render`: one arm streaming one answer, in its own process.

    python -m bench.render_arms < SPEC_JSON      (prints one JSON object: the raw series)

The process runs one Textual app through `App.run_test` with a driver that is not headless (so
the app encodes every frame into terminal sequences, as it does for a real terminal) but writes
to a byte counter: `CountingDriver`. A frame is one `App._display` of a compositor update that
reached the driver; the driver's `flush()`, called once per displayed update, is where a frame
is recorded. At each frame the arm's painted count is read: how many characters of the answer
the widget's content holds at that moment, hence what this frame can show.

A delta arrives in the app when codeassist's WebSocket transport (`ResponsesSocket.stream`)
yields it: every arm reads the stream from `codeassist serve` through that transport, so the
arrival is timed at the same place in all of them.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import sys
import tempfile
import threading
import time
from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from pathlib import Path, PurePath
from typing import Any, ClassVar

from textual import events
from textual.app import App, ComposeResult
from textual.containers import VerticalScroll
from textual.drivers.headless_driver import HeadlessDriver
from textual.widgets import Log, Markdown

from agent.config import Settings
from agent.transport import ResponsesSocket, StreamMetrics
from agent.transport.factory import open_transports
from bench.render_data import history_events, history_text
from themes import STYLESHEET, THEMES

ARMS = ("codeassist", "widget", "markdown_stream", "log")
SIZE = (150, 45)
"""The terminal size of every arm (the one the app's tests use)."""
PROMPT = "Explain where the time goes"
TYPED = "qwertuiop"
"""Keys typed into the prompt during the stream (none of them is an app binding)."""
API_KEY = "sk-bench-render"
DELTA = "response.output_text.delta"


def rss_mb() -> float:
    """The process's resident set now (not its peak), in MB."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


class Recorder:
    """Arrivals, frames and keystrokes of one stream, on the monotonic clock (`perf_counter`)."""

    current: Recorder | None = None

    def __init__(self, total_chars: int) -> None:
        self.total_chars = total_chars
        self.arrivals: list[float] = []
        self.cumulative: list[int] = []
        self.chars = 0
        self.cpu_first: float | None = None
        self.frames: list[tuple[float, int, int]] = []
        """(time, painted characters, prompt length) at every frame."""
        self.frame_bytes = 0
        self.painted: Callable[[], int] = lambda: 0
        self.prompt_length: Callable[[], int] = lambda: 0
        self.keys: list[tuple[float, int]] = []
        """(time posted, prompt length once it is shown) of every typed key."""
        self.end: float | None = None
        """When a frame first showed the whole answer."""
        self.last_paint: float | None = None
        self.last_painted = 0
        self.cpu_end: float | None = None
        self.rss_end: float | None = None
        self.first_delta = threading.Event()
        self.painted_all = asyncio.Event()
        self.recording = False

    def arrived(self, delta: str) -> None:
        now = time.perf_counter()
        if self.cpu_first is None:
            self.cpu_first = time.process_time()
            self.first_delta.set()
        self.chars += len(delta)
        self.arrivals.append(now)
        self.cumulative.append(self.chars)

    def frame(self) -> None:
        if not self.recording:
            return
        now = time.perf_counter()
        painted = self.painted()
        self.frames.append((now, painted, self.prompt_length()))
        if self.arrivals and painted > self.last_painted:
            self.last_painted, self.last_paint = painted, now
            self.cpu_end = time.process_time()
            if painted >= self.total_chars:
                self.end = now
                self.rss_end = rss_mb()
                self.painted_all.set()


class CountingDriver(HeadlessDriver):
    """Headless input, but the app sees a terminal: frames are encoded and their bytes counted."""

    @property
    def is_headless(self) -> bool:
        return False

    def write(self, data: str) -> None:
        recorder = Recorder.current
        if recorder is not None:
            recorder.frame_bytes += len(data.encode())

    def flush(self) -> None:
        if Recorder.current is not None:
            Recorder.current.frame()


def time_arrivals() -> None:
    """Wrap the WebSocket transport so that every text delta's arrival is recorded."""
    original = ResponsesSocket.stream

    async def stream(self: ResponsesSocket, body: dict[str, Any], metrics: StreamMetrics) -> AsyncGenerator[Any, None]:
        async with aclosing(original(self, body, metrics)) as frames:
            async for event in frames:
                if event.get("type") == DELTA and Recorder.current is not None:
                    Recorder.current.arrived(event["delta"])
                yield event

    ResponsesSocket.stream = stream  # type: ignore[method-assign]


class KeyTyper(threading.Thread):
    """Types into the focused widget at a steady rate from its own thread, as a terminal driver's
    input thread does, so a busy event loop delays the echo, never the keystroke."""

    def __init__(self, app: App[Any], recorder: Recorder, per_second: float, start_length: int) -> None:
        super().__init__(daemon=True)
        self.app = app
        self.recorder = recorder
        self.interval = 1 / per_second
        self.length = start_length
        self.stop = threading.Event()

    def run(self) -> None:
        driver = self.app._driver
        assert driver is not None
        index = 0
        while not self.recorder.first_delta.wait(0.05):
            if self.stop.is_set():
                return
        while not self.stop.wait(self.interval):
            key = TYPED[index % len(TYPED)]
            index += 1
            self.length += 1
            self.recorder.keys.append((time.perf_counter(), self.length))
            event = events.Key(key, key)
            event.set_sender(self.app)
            driver.send_message(event)


class BareApp(App[None]):
    """A bare app holding one streaming widget, with codeassist's theme and stylesheet."""

    CSS_PATH: ClassVar[list[str | PurePath]] = [STYLESHEET]

    def compose(self) -> ComposeResult:
        yield VerticalScroll(id="view")

    def on_mount(self) -> None:
        for theme in THEMES:
            self.register_theme(theme)
        self.theme = "codeassist-dark"


async def stream_into(settings: Settings, deliver: Callable[[str], Any]) -> None:
    """One response from the server through codeassist's WebSocket transport; every delta is handed
    to `deliver` (awaited when it returns an awaitable)."""
    socket, http = open_transports(settings)
    assert socket is not None
    body = {"model": settings.model, "input": [{"role": "user", "content": PROMPT}], "store": False}
    try:
        async for event in socket.stream(body, StreamMetrics()):
            if event.get("type") == DELTA:
                result = deliver(event["delta"])
                if asyncio.iscoroutine(result):
                    await result
    finally:
        await socket.close()
        await http.close()


async def run_bare(
    arm: str, spec: dict[str, Any], recorder: Recorder, settings: Settings, extra: dict[str, Any]
) -> None:
    from tui.widgets.transcript import AssistantMessage

    app = BareApp()
    app.driver_class = CountingDriver
    async with app.run_test(headless=False, size=SIZE) as pilot:
        view = app.query_one("#view", VerticalScroll)
        prior = int(spec.get("prior_turns", 0))
        if arm == "log":
            await view.remove()
            log = Log(id="log")
            await app.mount(log)
            started = time.perf_counter()
            for piece in history_text(prior):
                log.write(piece)
            await pilot.pause()
            extra["populate_s"] = round(time.perf_counter() - started, 3)
            before = "\n".join(log.lines)
            painted = [0]

            def write(delta: str) -> None:
                log.write(delta)
                painted[0] += len(delta)

            recorder.painted = lambda: painted[0]
            deliver: Callable[[str], Any] = write
            final = lambda: "\n".join(log.lines)[len(before) :]  # noqa: E731
        elif arm == "widget":
            widget = AssistantMessage()
            await view.mount(widget)
            view.anchor()
            recorder.painted = lambda: widget.painted_chars
            deliver = widget.append_text
            final = lambda: widget.text  # noqa: E731
        else:
            markdown = Markdown()
            await view.mount(markdown)
            view.anchor()
            counted = [0]
            original_append = markdown.append

            async def append(fragment: str) -> None:  # the stream calls this; count once it is done
                await original_append(fragment)
                counted[0] += len(fragment)

            markdown.append = append  # type: ignore[assignment,method-assign]
            stream = Markdown.get_stream(markdown)
            recorder.painted = lambda: counted[0]
            deliver = stream.write
            final = lambda: markdown.source  # noqa: E731
        extra["rss_before_mb"] = round(rss_mb(), 1)
        await pilot.pause()
        recorder.recording = True
        await stream_into(settings, deliver)
        if arm == "widget":
            await widget.finish()
        elif arm == "markdown_stream":
            await stream.stop()
        await wait_painted(recorder, spec)
        extra["text_matches"] = final().rstrip("\n") == spec["expected_text"].rstrip("\n")
        extra["dom_nodes"] = len(app.query("*"))


async def wait_painted(recorder: Recorder, spec: dict[str, Any], stalled_s: float = 3.0) -> None:
    """Once the arm has handed its widget the whole answer: until a frame shows all of it, or
    nothing more is painted for `stalled_s` (a widget that lost part of it), or `grace_s`."""
    deadline = time.perf_counter() + spec["grace_s"]
    painted, changed = recorder.painted(), time.perf_counter()
    while not recorder.painted_all.is_set():
        now = time.perf_counter()
        if now > deadline or now - changed > stalled_s:
            return
        await asyncio.sleep(0.1)
        if recorder.painted() != painted:
            painted, changed = recorder.painted(), time.perf_counter()


async def run_codeassist(
    spec: dict[str, Any], recorder: Recorder, settings: Settings, work: Path, extra: dict[str, Any]
) -> None:
    from bench.startup import make_repository
    from tui.app import CodeassistApp
    from tui.history import PromptHistory
    from tui.widgets.prompt import PromptInput
    from tui.widgets.transcript import AssistantMessage

    repo = make_repository(work / "repo")
    app = CodeassistApp(
        settings, repo, session_options={"log_root": work / "sessions"}, history=PromptHistory(work / "history.jsonl")
    )
    app.driver_class = CountingDriver
    async with app.run_test(headless=False, size=SIZE) as pilot:
        while app.session is None or app.router is None:
            await pilot.pause(0.05)
        await app.workers.wait_for_complete()  # the warm-up
        router = app.router
        prior = int(spec.get("prior_turns", 0))
        started = time.perf_counter()
        with app.batch_update():  # as a resumed session's history is drawn: one layout at the end
            await router.route_history(history_events(prior))
        await pilot.pause()
        if prior:
            await pilot.pause(1.0)  # what the app draws after the history (heights measured later) settles
        extra["populate_s"] = round(time.perf_counter() - started, 3)
        extra["rss_before_mb"] = round(rss_mb(), 1)
        extra["dom_nodes_before"] = len(app.query("*"))
        prompt = app.query_one(PromptInput)
        answer: list[AssistantMessage] = []

        def painted() -> int:
            """The new answer's painted count: the router's answer in flight (none before it), kept
            once it exists."""
            if not answer:
                live = router.answer
                if live is None:
                    return 0
                answer.append(live)
            return answer[0].painted_chars

        recorder.painted = painted
        recorder.prompt_length = lambda: len(prompt.text)
        prompt.focus()
        await pilot.press(*PROMPT)
        typer = KeyTyper(app, recorder, spec["keys_per_second"], 0) if spec["keys_per_second"] else None
        if typer is not None:
            typer.start()  # it types once the first delta has arrived
        recorder.recording = True
        await pilot.press("enter")
        while not recorder.first_delta.is_set() or app.running or app.queued:
            if app._exception is not None:
                raise app._exception
            await asyncio.sleep(0.05)
        if typer is not None:
            typer.stop.set()
            typer.join()
        await wait_painted(recorder, spec)
        await pilot.pause(0.2)  # the last keys are echoed
        extra["text_matches"] = bool(answer) and answer[0].text == spec["expected_text"]
        extra["dom_nodes"] = len(app.query("*"))


async def measure(spec: dict[str, Any]) -> dict[str, Any]:
    """Run one arm against the server at `spec["base_url"]`; the raw series and a few figures."""
    recorder = Recorder.current = Recorder(spec["expected_chars"])
    time_arrivals()
    settings = Settings(
        base_url=spec["base_url"],
        api_key=API_KEY,
        model="bench-render",
        reasoning_effort=None,
        idle_timeout_s=120.0,
    )
    extra: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="codeassist-render-") as folder:
        try:
            if spec["arm"] == "codeassist":
                await run_codeassist(spec, recorder, settings, Path(folder), extra)
            else:
                await run_bare(spec["arm"], spec, recorder, settings, extra)
        except (Exception, asyncio.CancelledError) as error:
            if "text_matches" not in extra:  # failed before the stream was measured
                raise
            extra["shutdown_error"] = f"{type(error).__name__}: {error}"
    return {
        **extra,
        "arrivals": recorder.arrivals,
        "cumulative": recorder.cumulative,
        "frames": recorder.frames,
        "keys": recorder.keys,
        "end": recorder.end,
        "last_paint": recorder.last_paint,
        "cpu_s": (recorder.cpu_end - recorder.cpu_first)
        if recorder.cpu_end is not None and recorder.cpu_first is not None
        else None,
        "rss_end_mb": round(recorder.rss_end, 1) if recorder.rss_end is not None else round(rss_mb(), 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6, 1),
        "frame_bytes": recorder.frame_bytes,
    }


def main() -> None:
    spec = json.loads(sys.stdin.read())
    os.environ.setdefault("XDG_CONFIG_HOME", tempfile.mkdtemp(prefix="codeassist-render-config-"))
    result = asyncio.run(measure(spec))
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
