"""The app attaches images: an `@` mention and a pasted file path (as terminals paste dropped
files) go to the real server as `input_image` parts; the transcript names them, never their bytes;
what was left out is said."""

from __future__ import annotations

import base64
import io

from PIL import Image
from textual import events

from tests.tui.conftest import SIZE, scenario, wait_idle
from tui.widgets.prompt import PromptInput
from tui.widgets.transcript import NoticeLine, UserMessage

SEES_ONE = scenario(
    {
        "expect": [{"type": "message", "role": "user", "images": 1}],
        "output": [{"type": "message", "text": "I see it."}],
    },
    off_script_text="No image arrived.",
)


def png(colour: tuple[int, int, int] = (255, 0, 0)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (20, 10), colour).save(out, "PNG")
    return out.getvalue()


def sent_images(app) -> list[bytes]:
    body = [entry.body for entry in app.server.state.received if entry.body and entry.body.get("input")][-1]
    [message] = [item for item in body["input"] if item.get("role") == "user"]
    return [
        base64.b64decode(part["image_url"].partition(",")[2])
        for part in message["content"]
        if part["type"] == "input_image"
    ]


async def test_an_at_mention_of_an_image_attaches_it(make_app, repo):
    (repo / "shot.png").write_bytes(png())
    (repo / "blob.bin").write_bytes(b"\x00\x01" * 8)
    app = make_app(SEES_ONE)
    async with app.run_test(size=SIZE) as pilot:
        prompt = app.query_one(PromptInput)
        prompt.focus()
        await pilot.press(*"what is @shot.png and @blob.bin", "enter")
        await wait_idle(app, pilot)
        assert sent_images(app) == [png()]
        [shown] = app.query(UserMessage)
        assert "[Image @shot.png attached: PNG 20×10]" in shown.text and "base64" not in shown.text
        notices = [notice.message for notice in app.query(NoticeLine)]
        assert any(n.startswith("@blob.bin was not attached: it is a binary file (16 bytes)") for n in notices)
        assert "I see it." in app.query_one("AssistantMessage").text  # type: ignore[attr-defined]


async def test_a_pasted_image_path_attaches_it_even_as_the_whole_prompt(make_app, tmp_path):
    dropped = tmp_path / "Screen Shots" / "Screen Shot 1.png"
    dropped.parent.mkdir()
    dropped.write_bytes(png((0, 255, 0)))
    app = make_app(SEES_ONE)
    async with app.run_test(size=SIZE) as pilot:
        prompt = app.query_one(PromptInput)
        prompt.focus()
        escaped = str(dropped).replace(" ", "\\ ")
        app.post_message(events.Paste(escaped))  # as the terminal driver delivers it
        await pilot.pause()
        assert prompt.text == escaped
        await pilot.press("enter")
        await wait_idle(app, pilot)
        assert sent_images(app) == [png((0, 255, 0))], "a path is a prompt, not an unknown /command"
        assert not [n for n in app.query(NoticeLine) if "Unknown command" in n.message]
        [shown] = app.query(UserMessage)
        assert f"[Image {dropped} attached: PNG 20×10]" in shown.text
