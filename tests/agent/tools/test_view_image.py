"""`view_image`: a workspace image comes back as `ToolResult.images`; anything else is refused clearly."""

from __future__ import annotations

import asyncio
import base64
import io
import os
from pathlib import Path

import pytest
from PIL import Image

from agent.approvals import ApprovalGate, Policy
from agent.events import ToolFinished, TurnEnded
from agent.session import Session
from agent.tools import ToolContext, ToolError, read_only_tools
from agent.tools.view_image import ViewImage, ViewImageArgs
from server.scenario import Scenario
from tests.agent.conftest import settings_for
from tests.agent.recording import requests, run_turn


def png(size: tuple[int, int] = (32, 16)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (10, 200, 10)).save(out, "PNG")
    return out.getvalue()


def view(ctx: ToolContext, path: str):
    tool, args = ViewImage(), ViewImageArgs(path=path)
    tool.approval_request("call_1", args, ctx)
    return asyncio.run(tool.run(args, ctx))


def test_view_image_returns_the_image_and_says_what_it_is(ctx, workspace):
    (workspace / "shot.png").write_bytes(png())
    result = view(ctx, "shot.png")
    assert result.output == "'shot.png': PNG 32×16, attached."
    assert result.images == ("data:image/png;base64," + base64.b64encode(png()).decode(),)
    assert result.display == {"path": "shot.png", "width": 32, "height": 16}


def test_a_large_image_is_downscaled(ctx, workspace):
    (workspace / "big.png").write_bytes(png((4096, 1024)))
    result = view(ctx, "big.png")
    assert result.output == "'big.png': PNG 2048×512, downscaled from 4096×1024, attached."
    [url] = result.images
    assert Image.open(io.BytesIO(base64.b64decode(url.partition(",")[2]))).size == (2048, 512)


def test_it_reads_and_changes_nothing_and_may_run_alongside_other_reads():
    assert ViewImage.kind == "read" and not ViewImage.mutating and ViewImage.parallel_safe
    assert "view_image" in {tool.name for tool in read_only_tools()}


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("a.py", "'a.py' is not an image view_image can show (PNG, JPEG, GIF or WebP); use read_file for a text file."),
        ("missing.png", "'missing.png' does not exist."),
        ("pkg", "'pkg' is a directory; use list_files to find the image in it."),
        ("../outside.png", "is outside the workspace"),
        ("/etc/passwd", "is outside the workspace"),
        ("link.png", "is outside the workspace"),
        ("pipe.png", "'pipe.png' is a named pipe (FIFO); only regular files can be read."),
        ("broken.png", "'broken.png' cannot be viewed: the PNG image cannot be read"),
        ("bad\x00name.png", "NUL byte"),
    ],
)
def test_hostile_and_wrong_paths_are_refused_clearly(ctx, workspace, tmp_path, path, message):
    outside = tmp_path / "outside.png"
    outside.write_bytes(png())
    (workspace / "link.png").symlink_to(outside)
    os.mkfifo(workspace / "pipe.png")
    (workspace / "broken.png").write_bytes(png((300, 300))[:60])
    with pytest.raises(ToolError) as caught:
        view(ctx, path)
    assert message in str(caught.value)


def test_a_hard_linked_image_asks_first_even_in_full_auto(ctx, workspace, tmp_path):
    outside = tmp_path / "private.png"
    outside.write_bytes(png())
    os.link(outside, workspace / "linked.png")
    request = ViewImage().approval_request("call_1", ViewImageArgs(path="linked.png"), ctx)
    assert request.always_ask is not None and "2 hard links" in request.summary
    assert ApprovalGate(Policy.FULL_AUTO).settle_without_asking(request, mutating=False) is None
    fresh = ToolContext(workspace=workspace)
    with pytest.raises(ToolError, match="gained other hard links"):
        asyncio.run(ViewImage().run(ViewImageArgs(path="linked.png"), fresh))


VIEW = Scenario.model_validate(
    {
        "name": "view",
        "turns": [
            {
                "expect": [{"type": "message", "role": "user", "images": 0}],
                "output": [
                    {
                        "type": "function_call",
                        "name": "view_image",
                        "call_id": "c_view",
                        "arguments": {"path": "ui/shot.png"},
                    }
                ],
            },
            {
                "expect": [{"type": "function_call_output", "call_id": "c_view", "images": 1, "contains": "PNG 32×16"}],
                "output": [{"type": "message", "text": "A green bar."}],
            },
        ],
    }
)


async def test_the_model_sees_the_image_through_a_session(start_server, repo, tmp_path):
    (repo / "ui").mkdir()
    (repo / "ui" / "shot.png").write_bytes(png())
    server = start_server(VIEW)
    session = Session.open(settings_for(server, approval="full-auto"), cwd=repo, log_root=tmp_path / "sessions")
    try:
        events = await run_turn(session, "what does the screenshot show?")
    finally:
        await session.close()
    assert [e.reason for e in events if isinstance(e, TurnEnded)] == ["completed"]
    [finished] = [e for e in events if isinstance(e, ToolFinished)]
    assert finished.images == 1 and "base64" not in finished.model_dump_json()
    [output] = [item for item in requests(server)[-1]["input"] if item.get("type") == "function_call_output"]
    text, image = output["output"]
    assert text == {"type": "input_text", "text": "'ui/shot.png': PNG 32×16, attached."}
    assert image["type"] == "input_image"
    assert base64.b64decode(image["image_url"].removeprefix("data:image/png;base64,")) == png()
    assert session.log_path is not None and Path(session.log_path).exists()
