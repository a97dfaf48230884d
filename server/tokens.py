"""The server's token counts: the rule the client estimates with too (`agent.wire.tokens`)."""

from agent.wire.tokens import BYTES_PER_TOKEN, IMAGE_TOKENS, json_tokens, text_tokens

__all__ = ["BYTES_PER_TOKEN", "IMAGE_TOKENS", "json_tokens", "text_tokens"]
