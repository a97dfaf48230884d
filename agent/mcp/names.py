"""The names MCP tools are offered under: `mcp__<server>__<tool>`, as function names allow."""

from __future__ import annotations

import hashlib
import re

MAX_NAME = 64
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def offered_name(server: str, tool: str, taken: set[str]) -> str:
    """The name of `server`'s `tool` for the model: `mcp__<server>__<tool>` with every other
    character than letters, digits, `_` and `-` made `_`; cut to 64 characters with a short hash of
    the full name when longer, or when another tool took that name already. Adds it to `taken`.
    """
    full = f"mcp__{server}__{tool}"
    name = _UNSAFE.sub("_", full)
    if len(name) > MAX_NAME or name in taken:
        digest = hashlib.sha256(full.encode("utf-8", "surrogatepass")).hexdigest()
        for size in range(8, 65):
            suffix = "_" + digest[:size]
            name = _UNSAFE.sub("_", full)[: MAX_NAME - len(suffix)] + suffix
            if name not in taken:
                break
    taken.add(name)
    return name
