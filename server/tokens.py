"""Token counts without a tokenizer.

The server never downloads a tokenizer, so counts use OpenAI's published rule of thumb: one
token is about four bytes of English text. A JSON item counts as the UTF-8 length of its
compact JSON divided by four, rounded up; plain text likewise. The numbers are consistent from
request to request, which is what makes the cache ratio meaningful, but they are not what a real
tokenizer would report.
"""

from __future__ import annotations

from typing import Any

import orjson

BYTES_PER_TOKEN = 4


def text_tokens(text: str) -> int:
    """Approximate tokens of a piece of text (0 for the empty string)."""
    return -(-len(text.encode()) // BYTES_PER_TOKEN)


def json_tokens(value: Any) -> int:
    """Approximate tokens of a JSON value (an item, the tool list, …); 0 for None or empty."""
    if value is None or value == [] or value == "":
        return 0
    return -(-len(orjson.dumps(value)) // BYTES_PER_TOKEN)
