"""Scrub secrets from text before it is written to disk.

Session logs hold tool output, file contents and user text, so sooner or later they hold keys
(claude-code#86707 recovered live cloud keys from transcripts). `Redactor` removes them at write
time. Keep the in-memory conversation unredacted: only the disk copy should lose the secrets.

What is redacted:

- Secret shapes specific enough to have almost no false positives:
    - OpenAI and Anthropic keys: `sk-…`, `sk-proj-…`, `sk-ant-…` with at least 20 key
      characters after the prefix;
    - AWS access key ids: `AKIA` or `ASIA` followed by 16 upper-case letters or digits;
    - GitHub tokens: `ghp_`, `gho_`, `ghu_`, `ghs_`, `ghr_` and fine-grained `github_pat_…`;
    - Slack tokens: `xoxa-`, `xoxb-`, `xoxp-`, `xoxr-`, `xoxs-`;
    - Google API keys: `AIza` followed by 35 characters;
    - GitLab personal access tokens `glpat-…`, Hugging Face tokens `hf_…`, npm tokens `npm_…`,
      Stripe secret and restricted keys `sk_live_…`, `rk_live_…` (and their `_test_` forms);
    - JSON Web Tokens: three dot-separated base64url parts, the first two starting `eyJ`;
    - Slack incoming webhooks: the path after `hooks.slack.com/services/` (the host is kept);
    - Azure storage connection strings: the value of `AccountKey=` (the name is kept);
    - assignments to a variable named `…PASSWORD`, `…PASSWD`, `…PASSPHRASE` or `…SECRET`
      (`DB_PASSWORD=…`, `export ADMIN_PASSWORD="…"`): the value (the name is kept);
    - PEM private keys, from `-----BEGIN … PRIVATE KEY-----` to the matching END line, or to the
      end of the string when the block is cut off, become `[REDACTED PRIVATE KEY]`;
    - bearer tokens: `Bearer <token>` (so also `Authorization: Bearer <token>`), with at least
      16 token characters; the word `Bearer` (or `bearer`, `BEARER`) is kept;
    - passwords in URLs: `scheme://user:password@host` keeps scheme, user and host.

  The token shapes match only at the start of a word, so `task-manager-…` is never taken for an
  `sk-` key. Text is often a serialised JSON line, so a JSON escape just before the token (`\\n`,
  `\\t`, `\\u0001`) or a percent-escape (`%3D`) also counts as a word break.
- Exact values, wherever they occur: each `known_secrets` entry and each environment value whose
  variable name `is_secret_name` (the same rule that keeps those variables out of the commands
  the shell tool runs; `is_secret_variable` adds variables whose value has one of the shapes
  above), both as given and in JSON-escaped form. Values shorter than 8 characters (not counting surrounding whitespace) are
  left alone: scrubbing `1` or `true` everywhere would wreck the text and protect nothing.

The shapes are not looked for in an image's base64 bytes (`data:image/…;base64,…`): they are
pixels, and a shape found there by chance would corrupt the image a resumed session sends again;
exact values are replaced there too.

Everything else matched becomes `[REDACTED]`. The shape patterns never cross a JSON string
boundary. `redact_json` is for serialised JSON: it looks for exact values only in their escaped
spellings, so a value such as `","` cannot match the punctuation between two strings.
"""

from __future__ import annotations

import bisect
import contextlib
import json
import os
import re
from collections.abc import Iterable, Mapping

import orjson

__all__ = [
    "MIN_SECRET_LENGTH",
    "PRIVATE_KEY_REDACTED",
    "REDACTED",
    "SECRET_NAME_PARTS",
    "SECRET_NAME_PREFIXES",
    "SECRET_NAME_WORDS",
    "Redactor",
    "cut_spans",
    "is_secret_name",
    "is_secret_variable",
    "looks_like_secret",
]

REDACTED = "[REDACTED]"
"""What a secret is replaced with."""

PRIVATE_KEY_REDACTED = "[REDACTED PRIVATE KEY]"
"""What a PEM private key block is replaced with."""

MIN_SECRET_LENGTH = 8
"""Exact values shorter than this are not scrubbed."""

SECRET_NAME_WORDS = ("KEY", "TOKEN", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL", "AUTH")
"""A variable whose name contains one of these (case-insensitive) holds a credential; AUTH as the
start of the word AUTHOR or AUTHORS does not count (`GIT_AUTHOR_NAME` is no secret)."""
SECRET_NAME_PREFIXES = ("OPENAI_", "ANTHROPIC_", "AWS_", "GH_")
"""So does any variable whose name starts with one of these (case-insensitive)."""
SECRET_NAME_PARTS = ("PAT",)
"""And one with one of these as an `_`-separated part of its name (`GITHUB_PAT`)."""

_AUTHOR_WORD = re.compile(r"AUTHORS?(?![A-Z0-9])")


def is_secret_name(name: str) -> bool:
    """Whether an environment variable's name marks it as a credential.

    The one rule for both uses: such a variable's value is scrubbed from everything written to
    disk (`Redactor`), and the variable is left out of the environment of commands the shell
    tool runs. See `SECRET_NAME_WORDS`, `SECRET_NAME_PREFIXES` and `SECRET_NAME_PARTS`.

    Args:
        name: An environment variable's name, in any case.
    """
    upper = name.upper()
    return (
        any(word in _AUTHOR_WORD.sub("", upper) for word in SECRET_NAME_WORDS)
        or upper.startswith(SECRET_NAME_PREFIXES)
        or any(part in SECRET_NAME_PARTS for part in upper.split("_"))
    )


def looks_like_secret(value: str) -> bool:
    """Whether `value` holds something shaped like a credential (a key, a token, a password in a
    URL or an assignment, a private key): the shapes `Redactor` scrubs."""
    return _SHAPES.search(value) is not None


def is_secret_variable(name: str, value: str) -> bool:
    """Whether an environment variable holds a credential, by its name (`is_secret_name`) or by
    its value (`looks_like_secret`).

    The one rule for the two uses: such a variable is left out of the environment of the commands
    the shell tool runs, and its value is scrubbed from everything written to disk.
    """
    return is_secret_name(name) or looks_like_secret(value)


def _word_start(prefix_width: int) -> str:
    """Assert that the `prefix_width` characters just matched start a word.

    That is: the character before them is not a letter or digit, or they follow a JSON or
    percent escape. Written as lookbehinds after the literal prefix, not before it, so that every
    branch of `_SHAPES` starts with a literal and `re` can skip quickly to candidate positions.
    """
    back = rf"[\s\S]{{{prefix_width}}}"
    return (
        rf"(?:(?<![A-Za-z0-9]{back})|(?<=\\[nrtbf]{back})"
        rf"|(?<=\\u[0-9A-Fa-f]{{4}}{back})|(?<=%[0-9A-Fa-f]{{2}}{back}))"
    )


_GAP = r"(?:[ \t]|\\t)+"
_ASSIGNED = r"""[ \t]*=[ \t]*(?:\\?["'])?"""  # `=`, maybe spaced, maybe opening a (JSON-escaped) quote
_ASSIGNED_VALUE = r"""[^\s"'\\]{6,}"""
_BEARER_TOKEN = r"[A-Za-z0-9._~+/-]{16,}=*"

_IMAGE_PAYLOAD = re.compile(r"data:image/[\w.+-]+;base64,[A-Za-z0-9+/]*={0,2}")
"""An image's bytes in a `data:` URL: pixels, searched for exact values but not for shapes."""

# Every branch starts with a literal character (see `_word_start`). A branch with a named group
# keeps the text before the group and replaces the group; a PEM block (the only match starting
# with "-") and the token shapes are replaced whole.
_SHAPES = re.compile(
    "|".join(
        (
            r"-----BEGIN[A-Z0-9 ]*PRIVATE KEY-----"
            r"(?:[^\"\\]|\\[\s\S])*?"  # a JSON string's characters: never an unescaped quote
            r"(?:-----END[A-Z0-9 ]*PRIVATE KEY-----|(?=\"|\Z))",
            rf"Bearer{_word_start(6)}{_GAP}(?P<bearer>{_BEARER_TOKEN})",
            rf"bearer{_word_start(6)}{_GAP}(?P<bearer_lower>{_BEARER_TOKEN})",
            rf"BEARER{_word_start(6)}{_GAP}(?P<bearer_upper>{_BEARER_TOKEN})",
            r"://[^:@/\s\"\\]*:(?P<password>[^@/\s\"\\]+)(?=@)",
            rf"sk-{_word_start(3)}(?:proj-|ant-)?[A-Za-z0-9_-]{{20,}}",
            rf"AKIA{_word_start(4)}[A-Z0-9]{{16,}}",
            rf"ASIA{_word_start(4)}[A-Z0-9]{{16,}}",
            rf"gh[pousr]_{_word_start(4)}[A-Za-z0-9]{{20,}}",
            rf"github_pat_{_word_start(11)}[A-Za-z0-9_]{{20,}}",
            rf"xox[abprs]-{_word_start(5)}[A-Za-z0-9-]{{10,}}",
            rf"AIza{_word_start(4)}[A-Za-z0-9_-]{{35,}}",
            rf"glpat-{_word_start(6)}[A-Za-z0-9_-]{{20,}}",
            rf"hf_{_word_start(3)}[A-Za-z0-9]{{30,}}",
            rf"npm_{_word_start(4)}[A-Za-z0-9]{{36,}}",
            rf"sk_{_word_start(3)}(?:live|test)_[A-Za-z0-9]{{20,}}",
            rf"rk_{_word_start(3)}(?:live|test)_[A-Za-z0-9]{{20,}}",
            rf"eyJ{_word_start(3)}[A-Za-z0-9_-]{{8,}}\.eyJ[A-Za-z0-9_-]{{8,}}\.[A-Za-z0-9_-]{{8,}}",
            r"hooks\.slack\.com/services/(?P<webhook>[A-Za-z0-9_/-]{20,})",
            r"AccountKey=(?P<account_key>[A-Za-z0-9+/]{20,}=*)",
            rf"PASSWORD{_ASSIGNED}(?P<password_assigned>{_ASSIGNED_VALUE})",
            rf"PASSWD{_ASSIGNED}(?P<passwd_assigned>{_ASSIGNED_VALUE})",
            rf"PASSPHRASE{_ASSIGNED}(?P<passphrase_assigned>{_ASSIGNED_VALUE})",
            rf"SECRET{_ASSIGNED}(?P<secret_assigned>{_ASSIGNED_VALUE})",
        )
    )
)


def _replace(match: re.Match[str]) -> str:
    secret = match.lastgroup
    if secret is not None:
        return match.string[match.start() : match.start(secret)] + REDACTED
    if match.string.startswith("-", match.start()):
        return PRIVATE_KEY_REDACTED
    return REDACTED


def _json_spellings(value: str) -> set[str]:
    """The value as it appears inside a JSON string, written compact or ASCII-only."""
    spellings = {json.dumps(value)[1:-1]}
    with contextlib.suppress(orjson.JSONEncodeError):  # lone surrogates: orjson cannot write them either
        spellings.add(orjson.dumps(value)[1:-1].decode())
    return spellings


def _longest_first(values: set[str]) -> tuple[str, ...]:
    # So that a secret containing another is scrubbed whole.
    return tuple(sorted(values, key=len, reverse=True))


class Redactor:
    """Replaces secrets in text with `[REDACTED]`; the module docstring lists what counts.

    The exact values are collected once, at construction; a redactor is immutable afterwards and
    safe to share between logs and threads.

    Args:
        known_secrets: Values to scrub wherever they occur, such as the configured API key.
        environ: Environment whose credential variables (`is_secret_variable`) are scrubbed by
            value. Defaults to `os.environ` as it is now; pass `{}` to scrub none.
    """

    __slots__ = ("_json_values", "_text_values")

    def __init__(self, known_secrets: Iterable[str] = (), environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        candidates = [*known_secrets, *(value for name, value in env.items() if is_secret_variable(name, value))]
        values = {value for value in candidates if isinstance(value, str) and len(value.strip()) >= MIN_SECRET_LENGTH}
        json_values = set().union(*map(_json_spellings, values))
        self._json_values = _longest_first(json_values)
        self._text_values = _longest_first(values | json_values)

    def redact(self, text: str) -> str:
        """Return `text` with every secret replaced.

        Args:
            text: Any text, such as tool output or a user message.

        Returns:
            The redacted text; `text` itself when it holds no secret.
        """
        return _redact(text, self._text_values)

    def redact_json(self, text: str) -> str:
        """Return serialised JSON with every secret inside its strings replaced.

        Exact values are matched only as they are spelled inside a JSON string, so the
        punctuation between strings is never taken for a secret.

        Args:
            text: Serialised JSON, such as one session log line or one raw frame.

        Returns:
            The redacted text; `text` itself when it holds no secret.
        """
        return _redact(text, self._json_values)

    def secret_spans(self, text: str) -> list[tuple[int, int]]:
        """Find where `redact` would replace something in `text`.

        For text whose secrets may have reached the caller in pieces (streamed deltas): join the
        pieces, ask for the spans, and drop every character inside one from the pieces.

        Reported are every occurrence of each exact value in every spelling `redact` looks for
        (as given and JSON-escaped, overlapping occurrences included), and every shape match,
        looked for both in `text` as given and, as `redact` does, after the exact values have
        been replaced (where a marker can open a word a value used to hide). A shape with a
        kept prefix (`Bearer `, `scheme://user:`) reports only its secret part. This can be a
        little more than `redact` replaces (a shape that runs through an exact value), never less.

        Args:
            text: Any text, such as the concatenated `delta`s of one streamed content part.

        Returns:
            Sorted, non-overlapping, non-adjacent `(start, end)` index pairs into `text`
            (`text[start:end]` is secret); empty when `text` holds no secret.
        """
        exact: list[tuple[int, int]] = []
        for value in self._text_values:
            start = text.find(value)
            while start >= 0:
                exact.append((start, start + len(value)))
                start = text.find(value, start + 1)
        spans = _merge(exact)
        shapes = [_secret_part(match) for match in _SHAPES.finditer(text)]
        if spans:
            shapes += _shapes_after_replacing(text, spans)
        return _merge(spans + shapes)

    def __repr__(self) -> str:
        return f"Redactor(<{len(self._text_values)} exact spellings>)"


def _secret_part(match: re.Match[str]) -> tuple[int, int]:
    """The part of a shape match that `_replace` replaces."""
    return match.span(match.lastgroup) if match.lastgroup is not None else match.span()


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted spans with the overlapping and touching ones joined."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def _shapes_after_replacing(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Shape matches in `text` with each of `spans` replaced by `REDACTED`, mapped back to `text`.

    A match that starts or ends inside a marker is widened to the whole span the marker stands for.
    """
    parts: list[str] = []
    starts: list[int] = []  # where each segment starts in the replaced text
    segments: list[tuple[int, int, bool]] = []  # (start, end) in `text`, and whether it is a marker
    position = replaced = 0
    for start, end in spans:
        for segment in ((position, start, False), (start, end, True)):
            starts.append(replaced)
            segments.append(segment)
            piece = REDACTED if segment[2] else text[segment[0] : segment[1]]
            parts.append(piece)
            replaced += len(piece)
        position = end
    starts.append(replaced)
    segments.append((position, len(text), False))
    parts.append(text[position:])

    def original(offset: int, *, end: bool) -> int:
        index = bisect.bisect_right(starts, offset - 1 if end else offset) - 1
        segment_start, segment_end, marker = segments[index]
        if marker:
            return segment_end if end else segment_start
        return segment_start + offset - starts[index]

    return [
        (original(start, end=False), original(end, end=True))
        for start, end in map(_secret_part, _SHAPES.finditer("".join(parts)))
        if end > start
    ]


def _redact(text: str, exact_values: tuple[str, ...]) -> str:
    for value in exact_values:
        if value in text:
            text = text.replace(value, REDACTED)
    if "data:image/" not in text:
        return _SHAPES.sub(_replace, text)
    parts: list[str] = []
    done = 0
    for payload in _IMAGE_PAYLOAD.finditer(text):
        parts += (_SHAPES.sub(_replace, text[done : payload.start()]), payload.group())
        done = payload.end()
    parts.append(_SHAPES.sub(_replace, text[done:]))
    return "".join(parts)


def cut_spans(pieces: list[str], spans: list[tuple[int, int]]) -> list[str | None]:
    """Each piece with the characters of `spans` (into the joined pieces) taken out.

    The piece holding a span's first character gets `REDACTED` in place of its part of the span;
    later pieces just lose theirs. None stands for a piece that is unchanged.
    """
    out: list[str | None] = []
    offset = 0
    current = 0  # the first span that may still reach this piece or a later one
    for piece in pieces:
        end = offset + len(piece)
        while current < len(spans) and spans[current][1] <= offset:
            current += 1
        parts: list[str] = []
        position = offset
        touched = False
        index = current
        while index < len(spans) and spans[index][0] < end:
            start, stop = spans[index]
            touched = True
            if start >= offset:
                parts += (piece[position - offset : start - offset], REDACTED)
            position = min(stop, end)
            if stop > end:
                break
            index += 1
        if touched:
            parts.append(piece[position - offset :])
            out.append("".join(parts))
        else:
            out.append(None)
        offset = end
    return out
