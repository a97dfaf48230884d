"""Token counts without a tokenizer, the same in `codeassist serve` and in the client's estimates.

Neither ever downloads a tokenizer, so counts use OpenAI's published rule of thumb: one
token is about four bytes of English text. A JSON item counts as the UTF-8 length of its
compact JSON divided by four, rounded up; plain text likewise. The numbers are consistent from
request to request, which is what makes the cache ratio meaningful, but they are not what a real
tokenizer would report. An image in a `data:` URL counts `IMAGE_TOKENS`, not its bytes, as a
model counts an image by its size in pixels.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

BYTES_PER_TOKEN = 4
IMAGE_TOKENS = 765
"""One image, whatever its bytes: a 1024×1024 image at high detail by OpenAI's tile rule."""
_IMAGE_URL = re.compile(rb'"data:image/[^"]*"')


def text_tokens(text: str) -> int:
    """Approximate tokens of a piece of text (0 for the empty string)."""
    return -(-len(text.encode()) // BYTES_PER_TOKEN)


def json_tokens(value: Any) -> int:
    """Approximate tokens of a JSON value (an item, the tool list, …); 0 for None or empty."""
    if value is None or value == [] or value == "":
        return 0
    data = orjson.dumps(value)
    images = 0
    if b'"data:image/' in data:
        data, images = _IMAGE_URL.subn(b'""', data)
    return -(-len(data) // BYTES_PER_TOKEN) + images * IMAGE_TOKENS
