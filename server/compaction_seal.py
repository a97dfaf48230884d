"""The `encrypted_content` of the server's `compaction` items: a signed record of what it replaced.

A compaction item stands for a stretch of context the server pruned. Its `encrypted_content`
is `cmp1.<payload>.<signature>`: the payload is base64url of a random nonce and the encrypted
JSON of a `CompactedState` (how many model turns the stretch held, whether it ended with model
output, how many items and tokens it had, a digest of them, and the start of the input the model
had not answered), the signature an HMAC-SHA256 of the payload (encrypt, then sign). The
encryption is a SHAKE-256 keystream over the key and the nonce, so the item is as opaque as the
API's: no text of the conversation can be read from it, by a person or by a secret scanner. The
server verifies every compaction item a client sends and refuses one it did not sign, so a
foreign or tampered item is an `invalid_request_error`, never a silently different context.

The key is derived from the scenario (`key_for`), so a server restarted with the same scenario
still understands the items it issued before, while a server playing another one does not.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from dataclasses import asdict, dataclass, field
from typing import Any

import orjson

from agent.wire import Item

COMPACTION_TYPE = "compaction"
_PREFIX = "cmp1"
_NONCE_BYTES = 16


@dataclass(frozen=True)
class CompactedState:
    """What a compaction item stands for."""

    turns: int
    """Model responses (runs of output items) in the replaced context: which scripted turn is next."""
    ends_with_output: bool
    """Whether the replaced context ended with model output (an item following it continues that run)."""
    items: int
    """How many items were replaced."""
    tokens: int
    """Approximate tokens of the replaced items."""
    digest: str
    """A digest of the replaced items' JSON."""
    pending: list[dict[str, str]] = field(default_factory=list)
    """The replaced input the model had not answered yet (after its last output), in brief:
    `type` and, where present, `role`, `call_id`, `name` and the start of the text."""


class SealError(ValueError):
    """An `encrypted_content` this server did not issue (foreign, malformed or tampered)."""


def key_for(scenario_json: bytes) -> bytes:
    """The signing key of a server playing the scenario whose JSON is `scenario_json`."""
    return hashlib.sha256(b"codeassist serve compaction v1\0" + scenario_json).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _subkey(key: bytes, purpose: bytes) -> bytes:
    return hmac.new(key, purpose, hashlib.sha256).digest()


def _signature(key: bytes, payload: str) -> str:
    return _b64(hmac.new(_subkey(key, b"sign"), payload.encode(), hashlib.sha256).digest())


def _xor(key: bytes, nonce: bytes, data: bytes) -> bytes:
    stream = hashlib.shake_256(_subkey(key, b"encrypt") + nonce).digest(len(data))
    return (int.from_bytes(data) ^ int.from_bytes(stream)).to_bytes(len(data))


def seal(state: CompactedState, key: bytes) -> str:
    """The `encrypted_content` for `state`, encrypted and signed with `key`."""
    nonce = os.urandom(_NONCE_BYTES)
    payload = _b64(nonce + _xor(key, nonce, orjson.dumps(asdict(state))))
    return f"{_PREFIX}.{payload}.{_signature(key, payload)}"


def _decode(plain: bytes) -> CompactedState:
    try:
        data: Any = orjson.loads(plain)
        state = CompactedState(**data)
    except (ValueError, TypeError) as exc:
        raise SealError("malformed compaction payload") from exc
    if (
        not isinstance(state.turns, int)
        or not isinstance(state.ends_with_output, bool)
        or not isinstance(state.pending, list)
        or not all(isinstance(entry, dict) for entry in state.pending)
    ):
        raise SealError("malformed compaction payload")
    return state


def unseal(encrypted_content: object, key: bytes) -> CompactedState:
    """The state sealed in `encrypted_content`.

    Raises:
        SealError: not a string this server encrypted and signed with `key`.
    """
    if not isinstance(encrypted_content, str):
        raise SealError("encrypted_content is not a string")
    parts = encrypted_content.split(".")
    if len(parts) != 3 or parts[0] != _PREFIX:
        raise SealError("not a compaction item of this server")
    _, payload, signature = parts
    if not hmac.compare_digest(signature, _signature(key, payload)):
        raise SealError("signature does not match")
    try:
        raw = _unb64(payload)
    except (binascii.Error, ValueError) as exc:
        raise SealError("malformed compaction payload") from exc
    nonce, cipher = raw[:_NONCE_BYTES], raw[_NONCE_BYTES:]
    return _decode(_xor(key, nonce, cipher))


def opened(item: Item, key: bytes | None) -> CompactedState | None:
    """The state of a compaction item (None for other items, without a key, or when not ours)."""
    if key is None or item.type != COMPACTION_TYPE:
        return None
    try:
        return unseal(getattr(item, "encrypted_content", None), key)
    except SealError:
        return None


def digest(items: list[dict[str, Any]]) -> str:
    """A short digest of items' JSON."""
    return hashlib.sha256(orjson.dumps(items)).hexdigest()[:32]
