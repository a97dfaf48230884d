"""Images for the model and what a prompt attaches: recognised by their bytes, capped, downscaled,
refused with a reason; `@` mentions and pasted paths, hostile files included."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import json
import os
import struct
import zlib
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from agent.events import TurnEnded, TurnStarted
from agent.export import export_json, export_markdown
from agent.images import (
    MAX_SOURCE_BYTES,
    ImageError,
    NotAnImage,
    PreparedImage,
    prepare_image,
    read_image,
    sniff,
)
from agent.mentions import pasted_image_paths, prepare_prompt
from agent.redact import Redactor
from agent.replay import SessionReplay
from agent.session import Session
from server.scenario import Scenario
from server.tokens import IMAGE_TOKENS, json_tokens
from tests.agent.conftest import settings_for


def encoded(kind: str, size: tuple[int, int] = (40, 30), mode: str = "RGB", noisy: bool = False, **options) -> bytes:
    image = (
        Image.effect_noise(size, 80).convert(mode) if noisy else Image.new(mode, size, (200, 40, 40, 255)[: len(mode)])
    )
    out = io.BytesIO()
    image.save(out, kind, **options)
    return out.getvalue()


def decoded(image: PreparedImage) -> Image.Image:
    head, _, data = image.data_url.partition(",")
    assert head == f"data:{image.media_type};base64"
    return Image.open(io.BytesIO(base64.b64decode(data)))


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims `width`×`height` and holds no pixels (a decompression bomb's header)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + _chunk(b"IEND", b"")
    )


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


@pytest.mark.parametrize(
    ("kind", "media_type"), [("PNG", "image/png"), ("JPEG", "image/jpeg"), ("GIF", "image/gif"), ("WEBP", "image/webp")]
)
def test_each_format_is_recognised_by_its_bytes_and_sent_as_it_is(kind, media_type):
    data = encoded(kind)
    assert sniff(data[:16]) == media_type
    image = prepare_image(data)
    assert image.media_type == media_type and image.data == data
    assert (image.width, image.height) == (40, 30) and not image.downscaled
    assert image.describe() == f"{kind} 40×30"
    assert decoded(image).size == (40, 30)


def test_other_bytes_are_not_an_image():
    for data in (b"", b"hello", b"%PDF-1.7", b"RIFF\x00\x00\x00\x00WAVE", b"\x89PNX"):
        assert sniff(data) is None
        with pytest.raises(NotAnImage, match="not a PNG, JPEG, GIF or WebP image"):
            prepare_image(data)


def test_a_large_image_is_downscaled_to_the_side_cap_keeping_its_shape():
    image = prepare_image(encoded("PNG", (3000, 1000)))
    assert image.media_type == "image/png" and (image.width, image.height) == (2048, 683)
    assert image.describe() == "PNG 2048×683, downscaled from 3000×1000"
    assert decoded(image).size == (2048, 683)
    photo = prepare_image(encoded("JPEG", (4000, 3000)))
    assert photo.media_type == "image/jpeg" and (photo.width, photo.height) == (2048, 1536)
    assert (photo.source_width, photo.source_height) == (4000, 3000)


def test_an_image_over_the_byte_cap_is_re_encoded_smaller():
    data = encoded("PNG", (600, 600), noisy=True)
    image = prepare_image(data, max_bytes=len(data) // 3)
    assert len(image.data) <= len(data) // 3
    assert image.media_type == "image/jpeg", "noise does not fit as PNG: it goes as JPEG"
    transparent = encoded("PNG", (300, 300), mode="RGBA")
    kept = prepare_image(transparent, max_side=100)
    assert kept.media_type == "image/png" and decoded(kept).mode == "RGBA" and kept.width == 100


def test_an_image_that_cannot_fit_is_refused():
    with pytest.raises(ImageError, match="cannot be made smaller than"):
        prepare_image(encoded("PNG", (400, 400), noisy=True), max_bytes=100)


def test_an_animated_gif_sends_its_first_frame():
    frames = [Image.new("RGB", (20, 20), colour) for colour in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:])
    image = prepare_image(out.getvalue())
    assert image.animated and image.media_type == "image/png"
    assert image.describe() == "PNG 20×20, the first frame of an animation"
    assert decoded(image).convert("RGB").getpixel((5, 5)) == (255, 0, 0)


def test_a_truncated_image_is_a_clear_error():
    data = encoded("PNG", (200, 200), noisy=True)
    with pytest.raises(ImageError, match="the PNG image cannot be read"):
        prepare_image(data[: len(data) // 2])
    jpeg = encoded("JPEG", (200, 200), noisy=True)
    with pytest.raises(ImageError, match="the JPEG image cannot be read"):
        prepare_image(jpeg[: len(jpeg) // 2])


def test_a_decompression_bomb_is_refused_before_it_is_decoded():
    with pytest.raises(ImageError, match="10000×8000 pixels, over the 50-megapixel limit; it was not decoded"):
        prepare_image(png_header_only(10_000, 8_000))
    with pytest.raises(ImageError, match="too many pixels"):
        prepare_image(png_header_only(100_000, 100_000))  # past Pillow's own bomb limit
    with pytest.raises(ImageError, match="megapixel"):
        prepare_image(encoded("PNG", (100, 100)), max_pixels=5000)


def test_a_file_over_the_source_cap_is_refused_unread(tmp_path):
    big = tmp_path / "big.png"
    with big.open("wb") as handle:
        handle.write(encoded("PNG"))
        handle.truncate(MAX_SOURCE_BYTES + 1)  # sparse: nothing is written past the image
    fd = os.open(big, os.O_RDONLY)
    try:
        with pytest.raises(ImageError, match="over the 32.0 MiB limit"):
            read_image(fd, os.fstat(fd).st_size)
    finally:
        os.close(fd)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from([b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF89a", b"RIFF\x10\x00\x00\x00WEBPVP8 "]), st.binary()
)
def test_hostile_bytes_behind_an_image_signature_are_an_image_error_or_an_image(signature, rest):
    try:
        image = prepare_image(signature + rest)
    except ImageError as exc:
        assert str(exc)
    else:
        assert image.width > 0 and image.height > 0


@settings(max_examples=40, deadline=None)
@given(st.integers(min_value=0, max_value=2000))
def test_a_png_cut_anywhere_is_an_image_error_or_an_image(cut):
    data = encoded("PNG", (60, 60), noisy=True)
    with contextlib.suppress(ImageError):
        prepare_image(data[:cut])


# ---- what a prompt attaches ----------------------------------------------------------------------


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "work"
    root.mkdir()
    (root / "a.py").write_text("print('hello')\n")
    (root / "shot.png").write_bytes(encoded("PNG"))
    return root.resolve()


def test_a_mentioned_image_goes_as_an_image_and_text_as_before(workspace):
    prepared = prepare_prompt(workspace, "compare @shot.png with @a.py")
    assert list(prepared.images) == ["shot.png"]
    assert prepared.images["shot.png"] == "data:image/png;base64," + base64.b64encode(encoded("PNG")).decode()
    assert "[Attached @a.py]\n```\nprint('hello')\n\n```" in prepared.text
    assert "[Image @shot.png attached: PNG 40×30]" in prepared.text
    assert "base64" not in prepared.text and prepared.notices == []


def test_an_image_is_recognised_by_its_content_not_its_name(workspace):
    (workspace / "logo").write_bytes(encoded("JPEG"))
    (workspace / "fake.png").write_text("not a picture\n")
    prepared = prepare_prompt(workspace, "@logo and @fake.png")
    assert list(prepared.images) == ["logo"] and prepared.images["logo"].startswith("data:image/jpeg;base64,")
    assert "[Attached @fake.png]\n```\nnot a picture\n" in prepared.text


def test_a_binary_file_that_is_no_image_is_never_attached_as_text(workspace):
    (workspace / "data.bin").write_bytes(b"\x00\x01\x02\xff" * 1000)
    (workspace / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    prepared = prepare_prompt(workspace, "see @data.bin and @latin1.txt")
    assert "```" not in prepared.text and prepared.images == {}
    assert prepared.notices == [
        "@data.bin was not attached: it is a binary file (3.9 KiB), neither text nor a PNG, JPEG, GIF or WebP image.",
        "@latin1.txt was not attached: it is a binary file (4 bytes), neither text nor a PNG, JPEG, GIF or WebP image.",
    ]
    assert "[@data.bin was not attached: it is a binary file (3.9 KiB)" in prepared.text


def test_an_unreadable_image_is_a_notice(workspace):
    whole = encoded("PNG", (100, 100), noisy=True)
    (workspace / "broken.png").write_bytes(whole[: len(whole) // 2])
    prepared = prepare_prompt(workspace, "@broken.png")
    assert prepared.images == {}
    assert prepared.notices[0].startswith("@broken.png was not attached: the PNG image cannot be read")


def test_a_large_text_file_is_cut_and_the_cut_said(workspace):
    (workspace / "big.log").write_text("é" * 60_000)  # two bytes a character: the cut splits one
    prepared = prepare_prompt(workspace, "@big.log", limit=1001)
    assert "[… cut: the first 1001 bytes of 117.2 KiB]" in prepared.text
    assert prepared.notices == ["@big.log was cut: its first 1001 bytes of 117.2 KiB are attached."]


def test_hostile_mentions_attach_nothing_and_say_why(workspace, tmp_path):
    outside = tmp_path / "secret.png"
    outside.write_bytes(encoded("PNG"))
    (workspace / "link.png").symlink_to(outside)
    (workspace / "pkg").mkdir()
    os.mkfifo(workspace / "pipe")
    prepared = prepare_prompt(workspace, "@link.png @pkg @pipe @../secret.png @nobody @shot.png @shot.png")
    assert list(prepared.images) == ["shot.png"]
    assert prepared.notices == [
        f"@link.png was not attached: it is outside the workspace ({workspace}).",
        "@pkg was not attached: 'pkg' is a directory; only regular files can be attached.",
        "@pipe was not attached: 'pipe' is a named pipe (FIFO); only regular files can be attached.",
        f"@../secret.png was not attached: it is outside the workspace ({workspace}).",
    ]
    assert prepared.text.count("[Image @shot.png attached") == 1


@pytest.mark.parametrize(
    "written",
    [
        "{path}",
        "'{path}'",
        '"{path}"',
        "{escaped}",
        "file://{quoted}",
    ],
)
def test_a_pasted_image_path_attaches_it(tmp_path, workspace, written):
    folder = tmp_path / "My Pictures"
    folder.mkdir()
    shot = folder / "Screen Shot.PNG"
    shot.write_bytes(encoded("PNG"))
    text = written.format(path=shot, escaped=str(shot).replace(" ", "\\ "), quoted=str(shot).replace(" ", "%20"))
    prepared = prepare_prompt(workspace, f"what is wrong here? {text} thanks")
    if written == "{path}":  # an unquoted path with spaces is found only as a whole line
        assert prepared.images == {}
        prepared = prepare_prompt(workspace, f"what is wrong here?\n{shot}\n")
    [(name, url)] = prepared.images.items()
    assert url.startswith("data:image/png;base64,") and name.replace("%20", " ").endswith("Screen Shot.PNG")
    assert prepared.notices == []


def test_pasted_paths_in_home_are_found_and_text_that_only_looks_like_one_is_left_alone(
    tmp_path, workspace, monkeypatch
):
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "pic.webp").write_bytes(encoded("WEBP"))
    (tmp_path / "notes.png").write_text("just text")
    prepared = prepare_prompt(workspace, "~/pic.webp and /no/such/file.png and ~/notes.png and /etc/hostname")
    assert list(prepared.images) == ["~/pic.webp"]
    assert prepared.notices == [
        "~/notes.png was not attached: its name ends like an image's but it is not a PNG, JPEG, GIF or WebP image."
    ]
    assert [written for written, _ in pasted_image_paths("a /x/y.gif b '/p q/r.jpeg' c /d.txt")] == [
        "/p q/r.jpeg",
        "/x/y.gif",
    ]


@pytest.mark.parametrize(
    "written",
    [
        "file://[shot.png",
        "file://a]b/shot.png",
        "file:///tmp/%00shot.png",
        "file://shot.png",
        "file://example.com/shot.png",
    ],
)
def test_a_pasted_file_url_that_names_no_local_path_is_left_alone(workspace, written):
    prepared = prepare_prompt(workspace, f"look at {written}")
    assert (prepared.text, prepared.images, prepared.notices) == (f"look at {written}", {}, [])


def test_a_pasted_path_to_a_fifo_is_refused_without_blocking(tmp_path, workspace):
    os.mkfifo(tmp_path / "pipe.png")
    prepared = prepare_prompt(workspace, f"{tmp_path / 'pipe.png'}")
    assert prepared.images == {}
    assert prepared.notices == [
        f"{tmp_path / 'pipe.png'} was not attached: it is a named pipe (FIFO), not an image file."
    ]


# ---- end to end: a session sends what the prompt attaches -------------------------------------

SEES_IMAGE = Scenario.model_validate(
    {
        "name": "sees-image",
        "turns": [
            {
                "expect": [
                    {
                        "type": "message",
                        "role": "user",
                        "images": 1,
                        "contains": "[Image @shot.png attached: PNG 40×30]",
                    }
                ],
                "output": [{"type": "message", "text": "A red rectangle."}],
            }
        ],
    }
)


def received(server) -> list[dict]:
    url = server.address.base_url.removesuffix("/v1") + "/_codeassist/received"
    return [entry["body"] for entry in httpx.get(url, timeout=10).json() if entry.get("body")]


async def test_a_session_sends_the_attached_image_and_records_only_its_name(start_server, repo, tmp_path):
    (repo / "shot.png").write_bytes(encoded("PNG"))
    (repo / "blob.bin").write_bytes(b"\x00\xff" * 10)
    server = start_server(SEES_IMAGE)
    session = Session.open(settings_for(server), cwd=repo, log_root=tmp_path / "sessions")
    try:
        prepared = await asyncio.to_thread(session.prepare_prompt, "what is in @shot.png? not @blob.bin")
        events = [event async for event in session.run_turn(prepared.text, prepared.images)]
    finally:
        await session.close()
    assert prepared.notices == [
        "@blob.bin was not attached: it is a binary file (20 bytes), neither text nor a PNG, JPEG, GIF or WebP image."
    ]
    assert [e.reason for e in events if isinstance(e, TurnEnded)] == ["completed"]
    [started] = [e for e in events if isinstance(e, TurnStarted)]
    assert started.images == ["shot.png"] and "base64" not in started.model_dump_json()
    [message] = [item for item in received(server)[-1]["input"] if item.get("role") == "user"]
    text, image = message["content"]
    assert text["type"] == "input_text" and "@blob.bin was not attached" in text["text"]
    assert image["type"] == "input_image"
    assert base64.b64decode(image["image_url"].removeprefix("data:image/png;base64,")) == encoded("PNG")
    assert session.log_path is not None
    exported = json.dumps(export_json(session.log_path), ensure_ascii=False)
    assert "[Image @shot.png attached: PNG 40×30]" in exported and "iVBOR" not in exported
    assert "data:image/png;base64,… (" in exported
    assert "[Image @shot.png attached" in export_markdown(session.log_path)
    replayed = [e async for e in SessionReplay(session.log_path, instant=True).events() if isinstance(e, TurnStarted)]
    assert replayed[0].images == ["shot.png"]


def test_the_session_log_keeps_image_bytes_whole_and_still_redacts_around_them():
    key = "sk-proj-" + "a1B2c3D4" * 4
    lookalike = "iVBORw0K/AIza" + "Q" * 40 + "+AKIA" + "7" * 20  # token shapes, by chance, in base64
    line = json.dumps({"image_url": f"data:image/png;base64,{lookalike}==", "text": f"key {key}", "env": "LONGVALUE99"})
    redacted = Redactor(known_secrets=["LONGVALUE99"]).redact_json(line)
    assert f"data:image/png;base64,{lookalike}==" in redacted
    assert key not in redacted and "LONGVALUE99" not in redacted and redacted.count("[REDACTED]") == 2


RESUMED = Scenario.model_validate(
    {
        "name": "resumed-image",
        "turns": [
            {
                "expect": [{"type": "message", "role": "user", "images": 1}],
                "output": [{"type": "message", "text": "Red."}],
            },
            {
                "expect": [{"type": "message", "role": "user", "images": 0}],
                "output": [{"type": "message", "text": "Still red."}],
            },
        ],
    }
)


async def test_a_resumed_session_sends_the_same_image_again(start_server, repo, tmp_path):
    shot = encoded("PNG", (300, 200), noisy=True)
    (repo / "shot.png").write_bytes(shot)
    server = start_server(RESUMED)
    session = Session.open(settings_for(server), cwd=repo, log_root=tmp_path / "sessions")
    try:
        prepared = session.prepare_prompt("@shot.png")
        assert [e async for e in session.run_turn(prepared.text, prepared.images)][-1].reason == "completed"
    finally:
        await session.close()
    assert session.log_path is not None
    resumed = Session.open(settings_for(server), cwd=repo, log_root=tmp_path / "sessions", resume=session.log_path)
    try:
        assert [e async for e in resumed.run_turn("and now?")][-1].reason == "completed"
    finally:
        await resumed.close()
    resend = received(server)[-1]["input"]
    [image] = [
        part
        for item in resend
        if item.get("role") == "user"
        for part in item["content"]
        if part["type"] == "input_image"
    ]
    assert base64.b64decode(image["image_url"].partition(",")[2]) == shot


def test_the_scripted_server_counts_an_image_by_the_image_not_by_its_bytes():
    url = "data:image/png;base64," + "A" * 1_000_000
    with_image = {
        "type": "message",
        "role": "user",
        "content": [{"type": "input_text", "text": "look"}, {"type": "input_image", "image_url": url}],
    }
    without = {
        "type": "message",
        "role": "user",
        "content": [{"type": "input_text", "text": "look"}, {"type": "input_image", "image_url": ""}],
    }
    assert json_tokens(with_image) == json_tokens(without) + IMAGE_TOKENS


def test_a_prompt_takes_a_bounded_number_of_images(workspace, monkeypatch):
    for n in range(4):
        (workspace / f"p{n}.gif").write_bytes(encoded("GIF"))
    monkeypatch.setattr("agent.mentions.MAX_IMAGES", 2)
    prepared = prepare_prompt(workspace, "@p0.gif @p1.gif @p2.gif")
    assert list(prepared.images) == ["p0.gif", "p1.gif"]
    assert prepared.notices == ["@p2.gif was not attached: a prompt takes at most 2 images."]
    monkeypatch.setattr("agent.mentions.MAX_IMAGE_URL_CHARS", len(prepared.images["p0.gif"]) + 10)
    prepared = prepare_prompt(workspace, "@p0.gif @p3.gif")
    assert list(prepared.images) == ["p0.gif"]
    [notice] = prepared.notices
    assert notice.startswith("@p3.gif was not attached: the prompt's images would pass ") and "bytes" in notice
