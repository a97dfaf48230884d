"""A tool call's result from an MCP server, as the model's output: text, images, resources.

Text and embedded text resources become the output text; images (content or embedded blobs of an
image type) go with it as `data:` URLs; resource links and what cannot be passed on (audio, other
binary resources, images past the limits) are named in the text, so the model knows they existed.
A result the server marks `isError` is an error output.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from agent.tools.base import ToolResult

IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
"""Image types the model accepts as `input_image`."""
MAX_OUTPUT_CHARS = 100_000
"""Characters of text a result passes on; the rest is cut, and the cut is said."""
MAX_IMAGES = 8
MAX_IMAGE_BYTES = 8 * 1024 * 1024
"""Decoded bytes of one image."""


def tool_result(result: Any) -> ToolResult:
    """The output of an SDK `CallToolResult`."""
    parts: list[str] = []
    images: list[str] = []
    for block in result.content or ():
        kind = getattr(block, "type", None)
        if kind == "text":
            parts.append(block.text)
        elif kind == "image":
            parts.append(_image(block.data, block.mime_type, "image", images))
        elif kind == "audio":
            parts.append(f"[audio ({block.mime_type}) left out: audio cannot be passed on]")
        elif kind == "resource_link":
            described = f" — {block.description}" if block.description else ""
            kind_of = f" ({block.mime_type})" if block.mime_type else ""
            parts.append(f"[resource link: {block.name} <{block.uri}>{kind_of}{described}]")
        elif kind == "resource":
            parts.append(_resource(block.resource, images))
        else:
            parts.append(f"[content of type {kind!r} left out]")
    if not parts and getattr(result, "structured_content", None) is not None:
        parts.append(json.dumps(result.structured_content, ensure_ascii=False, indent=2))
    text = "\n".join(part for part in parts if part) or "(the tool returned no content)"
    if len(text) > MAX_OUTPUT_CHARS:
        text = f"{text[:MAX_OUTPUT_CHARS]}\n[… {len(text) - MAX_OUTPUT_CHARS:,} more characters cut]"
    return ToolResult(output=text, ok=not result.is_error, images=tuple(images))


def _resource(resource: Any, images: list[str]) -> str:
    uri = str(resource.uri)
    mime = resource.mime_type or ""
    text = getattr(resource, "text", None)
    if text is not None:
        return f"[resource <{uri}>{f' ({mime})' if mime else ''}]\n{text}"
    return _image(resource.blob, mime, f"resource <{uri}>", images)


def _image(data: str, mime: str | None, what: str, images: list[str]) -> str:
    """Pass an image on (its place in the text named), or say why it is left out."""
    mime = (mime or "").lower()
    try:
        size = len(base64.b64decode(data, validate=True))
    except (binascii.Error, ValueError):
        return f"[{what} ({mime or 'no type'}) left out: its data is not valid base64]"
    if mime not in IMAGE_TYPES:
        return f"[{what} ({mime or 'no type'}, {size:,} bytes) left out: not an image type the model reads]"
    if size > MAX_IMAGE_BYTES or len(images) >= MAX_IMAGES:
        return f"[{what} ({mime}, {size:,} bytes) left out: over {MAX_IMAGES} images or {MAX_IMAGE_BYTES:,} bytes]"
    images.append(f"data:{mime};base64,{data}")
    return f"[{what}: {mime}, {size:,} bytes, attached as image {len(images)}]"
