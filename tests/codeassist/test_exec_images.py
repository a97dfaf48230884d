"""`codeassist exec` attaches images like the app: an `@` mention and a pasted path, against a real
`codeassist serve` process, checked in what the server received."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import httpx
from PIL import Image

from tests.agent.conftest import make_repo
from tests.codeassist.test_exec import run_exec
from tests.codeassist.test_serve import running

SCENARIO = {
    "name": "exec-images",
    "turns": [
        {
            "expect": [{"type": "message", "role": "user", "images": 2}],
            "output": [{"type": "message", "text": "Two pictures."}],
        }
    ],
}


def picture(kind: str, colour: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (24, 12), colour).save(out, kind)
    return out.getvalue()


def test_exec_sends_a_mentioned_and_a_pasted_image(tmp_path: Path) -> None:
    workspace = make_repo(tmp_path / "work", {"a.py": "print('hello')\n"})
    (workspace / "shot.png").write_bytes(picture("PNG", (255, 0, 0)))
    (workspace / "core.dump").write_bytes(b"\x7fELF\x00\x00" * 50)
    dropped = tmp_path / "Desktop files" / "photo.jpg"
    dropped.parent.mkdir()
    dropped.write_bytes(picture("JPEG", (0, 0, 255)))
    scenario = tmp_path / "scenario.json"
    scenario.write_text(json.dumps(SCENARIO))
    prompt = f"compare @shot.png with '{dropped}', ignore @core.dump"
    with running("serve", "--port", "0", "--script", str(scenario)) as (_process, url):
        result = run_exec(workspace, tmp_path, prompt, "--base-url", url, "--no-log")
        bodies = [entry["body"] for entry in httpx.get(url.removesuffix("/v1") + "/_codeassist/received").json()]
    assert result.returncode == 0, result.stderr
    assert "Two pictures." in result.stdout
    assert "codeassist exec: @core.dump was not attached: it is a binary file (300 bytes)" in result.stderr
    [message] = [item for item in bodies[-1]["input"] if item.get("role") == "user"]
    text, png, jpeg = message["content"]
    assert text["text"].startswith(prompt)
    assert "[Image @shot.png attached: PNG 24×12]" in text["text"]
    assert f"[Image {dropped} attached: JPEG 24×12]" in text["text"]
    assert base64.b64decode(png["image_url"].removeprefix("data:image/png;base64,")) == picture("PNG", (255, 0, 0))
    assert jpeg["image_url"].startswith("data:image/jpeg;base64,")
