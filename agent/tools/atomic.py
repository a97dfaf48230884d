"""Safe file writes shared by the editing tools: decoding, format preservation, atomic replace.

An edit must never leave a half-written file, silently change a file's line endings, BOM,
trailing newline or permissions, or overwrite changes made since the model read the file:

- `decode_text` refuses what cannot be edited safely (binary, not UTF-8, too large) and records
  the file's `TextFormat`; `encode_text` / `encode_lines` restore it.
- `read_for_edit` reads a file to be edited by descriptor (`agent.tools.workspace_fs`), refusing
  what is not a regular file, has other hard links or is too large, before reading it whole.
- `atomic_write` writes a temporary file next to the target and renames it over the target, so
  readers see either the old or the new content, never a mix; with the workspace given, the
  directory is reached by descriptor, never through a symlink swapped in after the path was checked.
- `check_not_stale` compares content hashes with what the model last read.

Line endings: "\\r\\n" is always a line ending. A lone "\\r" is one only in files where it is the
dominant ending (classic Mac files); elsewhere it is part of the line's text and kept as is.
"""

from __future__ import annotations

import codecs
import hashlib
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from agent.tools.base import ToolContext, ToolError
from agent.tools.line_diff import unified_lines
from agent.tools.stale_temp import TEMP_SUFFIX as TEMP_SUFFIX
from agent.tools.workspace_fs import hard_linked, open_regular, os_error, os_error_reason, read_at_most, write_replacing

MAX_EDIT_BYTES = 2 * 1024 * 1024
"""Files larger than this are not edited (their diffs would not be reviewable anyway)."""

_LF_SPLIT = re.compile(r"(\r\n|\n)")
_CR_SPLIT = re.compile(r"(\r\n|\r|\n)")


def _current_umask() -> int:
    # os.umask can only be read by setting it; done once at import, before any threads write.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _current_umask()
NEW_FILE_MODE = 0o644 & ~_UMASK
"""Permissions of files created by the tools: 0644 minus the process umask."""


@dataclass(frozen=True)
class TextFormat:
    """How a text file's bytes were laid out, so that an edit can write them back the same way."""

    eol: str = "\n"
    """The dominant line ending of the original bytes ("\\n", "\\r\\n" or "\\r"); "\\n" for new
    or empty files and for files without any line ending."""
    bom: bool = False
    """Whether the file starts with a UTF-8 byte order mark."""
    trailing_newline: bool = True
    """Whether the last line ends with a line ending. True for empty and new files, so that lines
    added to them end the conventional way."""


Line = tuple[str, str]
"""One line of a file: its text (no line ending) and its own original line ending ("" for a last
line without one)."""


def _detect_eol(data: bytes) -> str:
    crlf = data.count(b"\r\n")
    lf = data.count(b"\n") - crlf
    cr = data.count(b"\r") - crlf
    if lf == crlf == cr == 0:
        return "\n"
    # Ties prefer "\n", then "\r\n".
    return max((lf, 2, "\n"), (crlf, 1, "\r\n"), (cr, 0, "\r"))[2]


def _too_large(shown_path: str, size: int) -> ToolError:
    return ToolError(
        f"'{shown_path}' is {size / 1024 / 1024:.1f} MiB, larger than the "
        f"{MAX_EDIT_BYTES // 1024 // 1024} MiB editing limit; it will not be edited."
    )


def _decode(data: bytes, shown_path: str) -> tuple[str, TextFormat]:
    """The file's text without the BOM, line endings untouched, plus its format."""
    if len(data) > MAX_EDIT_BYTES:
        raise _too_large(shown_path, len(data))
    if b"\x00" in data:
        raise ToolError(f"'{shown_path}' is a binary file (it contains NUL bytes); it will not be edited.")
    try:
        raw = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ToolError(
            f"'{shown_path}' is not UTF-8 (invalid byte 0x{data[exc.start]:02x} at offset {exc.start}); "
            "it will not be edited, because writing it back could corrupt it."
        ) from None
    bom = raw.startswith("\ufeff")
    if bom:
        raw = raw[1:]
    eol = _detect_eol(data)
    trailing_newline = raw == "" or raw.endswith("\n") or (eol == "\r" and raw.endswith("\r"))
    return raw, TextFormat(eol=eol, bom=bom, trailing_newline=trailing_newline)


def decode_text(data: bytes, shown_path: str) -> tuple[str, TextFormat]:
    """The editable text of a file's bytes, plus the format to write it back with.

    Args:
        data: the file's bytes.
        shown_path: the path as the model knows it, for error messages.

    Returns:
        The text without the BOM and with every line ending (see the module docstring) turned
        into "\\n", and the file's `TextFormat`.

    Raises:
        ToolError: the file is larger than `MAX_EDIT_BYTES`, contains a NUL byte, or is not UTF-8.
    """
    raw, fmt = _decode(data, shown_path)
    text = raw.replace("\r\n", "\n")
    if fmt.eol == "\r":
        text = text.replace("\r", "\n")
    return text, fmt


def encode_text(text: str, fmt: TextFormat) -> bytes:
    """The bytes of `text` (with "\\n" line endings) written in format `fmt`.

    Every "\\n" becomes `fmt.eol` and the BOM is restored when `fmt.bom`. The trailing newline is
    NOT added or removed here: the text carries its own. Because `decode_text` keeps the final
    "\\n" (or its absence) in the text, an edit that does not touch the end of the text keeps
    the file's trailing-newline state; an edit that replaces the end decides it explicitly.
    `fmt.trailing_newline` is informational for such callers (and used by `encode_lines`).

    A file whose line endings were mixed comes back with the dominant ending everywhere; use
    `decode_lines`/`encode_lines` to keep the endings of untouched lines.
    """
    if fmt.eol != "\n":
        text = text.replace("\n", fmt.eol)
    return (codecs.BOM_UTF8 if fmt.bom else b"") + text.encode("utf-8")


def decode_lines(data: bytes, shown_path: str) -> tuple[list[Line], TextFormat]:
    """The file's lines, each with its own original ending, plus its format.

    Checks and line-ending rules are those of `decode_text`; the texts of the lines joined with
    "\\n" (plus a final "\\n" when `fmt.trailing_newline` and there are lines) equal its text.

    Raises:
        ToolError: as `decode_text`.
    """
    raw, fmt = _decode(data, shown_path)
    if raw == "":
        return [], fmt
    parts = (_CR_SPLIT if fmt.eol == "\r" else _LF_SPLIT).split(raw)
    texts, endings = parts[0::2], [*parts[1::2], ""]
    lines = list(zip(texts, endings, strict=True))
    if lines[-1] == ("", ""):
        lines.pop()
    return lines, fmt


def encode_lines(lines: Sequence[tuple[str, str | None]], fmt: TextFormat) -> bytes:
    """The bytes of `lines` written in format `fmt`.

    A line keeps its own ending when it has one; lines without (new lines: None or "") get
    `fmt.eol`. The last line ends with a line ending exactly when `fmt.trailing_newline`, so the
    file's trailing-newline state is kept whatever the edit did to its end.
    """
    out: list[str] = []
    last = len(lines) - 1
    for index, (text, ending) in enumerate(lines):
        out.append(text + ("" if index == last and not fmt.trailing_newline else ending or fmt.eol))
    return (codecs.BOM_UTF8 if fmt.bom else b"") + "".join(out).encode("utf-8")


def lines_to_text(lines: Sequence[tuple[str, str | None]], fmt: TextFormat) -> str:
    """The "\\n"-normalised text `decode_text` would give for the bytes `encode_lines` writes."""
    if not lines:
        return ""
    return "\n".join(text for text, _ in lines) + ("\n" if fmt.trailing_newline else "")


def check_not_stale(ctx: ToolContext, path: Path, current: bytes, shown: str) -> None:
    """Refuse to edit a file that changed on disk since the model last read it.

    Only the content hash is compared: the modification time is deliberately ignored, so a
    `touch`, a checkout that restores the same bytes, or a formatter that changed nothing does
    not block edits. Files the model never read are not checked.

    Raises:
        ToolError: the file's bytes differ from those recorded by the last read.
    """
    recorded = ctx.read_hashes.get(path)
    if recorded is not None and hashlib.sha256(current).hexdigest() != recorded:
        raise ToolError(
            f"'{shown}' changed on disk since you read it; read it again before editing (nothing was changed)."
        )


def read_for_edit(ctx: ToolContext, path: Path, shown: str, *, missing: str) -> tuple[bytes, os.stat_result]:
    """The bytes of the file at resolved `path`, to be edited, and its status.

    The file is opened by descriptor from the workspace root (`workspace_fs.open_regular`), and
    refused before it is read whole when it is not a regular file, has other hard links or is
    larger than `MAX_EDIT_BYTES`.

    Raises:
        ToolError: `missing` when it does not exist; a refusal above; any other `OSError`, as one
            clear message.
    """
    try:
        fd, info = open_regular(ctx.workspace, path, shown, "edited")
    except FileNotFoundError:
        raise ToolError(missing) from None
    except OSError as exc:
        raise os_error(exc, "read", shown) from None
    try:
        if info.st_nlink > 1:
            raise hard_linked(shown, info.st_nlink)
        if info.st_size > MAX_EDIT_BYTES:
            raise _too_large(shown, info.st_size)
        return read_at_most(fd, MAX_EDIT_BYTES + 1), info
    except OSError as exc:
        raise os_error(exc, "read", shown) from None
    finally:
        os.close(fd)


def atomic_write(
    path: Path,
    data: bytes,
    *,
    mode: int | None = None,
    shown_path: str | None = None,
    workspace: Path | None = None,
    created: list[Path] | None = None,
) -> None:
    """Replace the file at `path` with `data`, all at once.

    The data goes to a temporary file in the same directory (named as `agent.tools.stale_temp`
    says), which is flushed to disk, given the permissions, and renamed over `path`; the directory
    is then synced. Readers see the old or the new content, never a mix, and a failure leaves the
    old file untouched. With `workspace`, the directory is reached by descriptor from the
    workspace root without following any symlink (`agent.tools.workspace_fs`), so a directory
    swapped for a symlink after the path was checked makes the write fail instead of escaping.

    Always pass the resolved path: renaming onto a symlink would replace the link itself. The
    file's owner, extended attributes and ACLs are not kept. A file with other hard links is
    refused (another of its names may be outside the workspace).

    Args:
        path: the resolved destination; its directory must exist unless `created` is given.
        data: the complete new content.
        mode: permission bits; default the existing file's (& 0o7777) or `NEW_FILE_MODE`.
        shown_path: the path as the model knows it, for error messages (default: the name).
        workspace: the resolved workspace root `path` is under (default: `path`'s directory,
            opened by name).
        created: create missing directories (by descriptor), appending each to this list.

    Raises:
        ToolError: anything failed (disk full, permission denied, not a regular file, hard
            links…); the temporary file is removed and the destination is unchanged.
    """
    shown = shown_path or path.name
    root = workspace if workspace is not None else path.parent
    try:
        write_replacing(root, path, data, mode=mode, new_file_mode=NEW_FILE_MODE, shown=shown, created=created)
    except ToolError:
        raise
    except Exception as exc:
        reason = os_error_reason(exc) if isinstance(exc, OSError) else str(exc) or type(exc).__name__
        raise ToolError(f"{reason} while writing '{shown}'; the file was not changed.") from exc


def _diff_lines(text: str) -> list[str]:
    # Not str.splitlines: it also splits on form feeds, U+2028 and friends.
    lines = [line + "\n" for line in text.split("\n")]
    lines[-1] = lines[-1][:-1]
    if lines[-1] == "":
        lines.pop()
    else:
        lines[-1] += "\n\\ No newline at end of file\n"
    return lines


def unified_diff(old: str | None, new: str | None, shown_path: str, *, new_shown_path: str | None = None) -> str:
    """A unified diff (3 lines of context) from `old` to `new` ("\\n"-normalised texts), from a
    shortest edit script (`agent.tools.line_diff`): as small as `git diff`'s.

    Args:
        old: the current text, or None for a file being created (diffed from /dev/null).
        new: the new text, or None for a file being deleted (diffed to /dev/null).
        shown_path: the file's workspace-relative path (headers `a/…` and `b/…`).
        new_shown_path: the new path when the file is also moved.

    Returns:
        The diff text; only the headers when just the name changes or an empty file is created
        or deleted; "" when nothing changes.
    """
    target = new_shown_path or shown_path
    before = "/dev/null" if old is None else f"a/{shown_path}"
    after = "/dev/null" if new is None else f"b/{target}"
    body = list(unified_lines(_diff_lines(old or ""), _diff_lines(new or ""), fromfile=before, tofile=after, n=3))
    if not body:
        if old is not None and new is not None and target == shown_path:
            return ""
        return f"--- {before}\n+++ {after}\n"
    return "".join(body)
