"""What a prompt brings with it: the files its `@path` mentions name and the image files whose
paths were pasted into it.

`prepare_prompt` is the one place a prompt becomes what the model is sent. A mention names a
file inside the workspace (resolved, then opened by descriptor: a symlink pointing out, a FIFO, a
device or a directory is refused, and nothing blocks). Its bytes decide what it is: an image
(`agent.images`) goes as an `input_image`; UTF-8 text is attached as a fenced block, cut at the
limit; any other binary file is never attached as text. A pasted path is how terminals paste a
dropped file: absolute, `~/…` or `file://…`, plain, quoted, or with backslash-escaped spaces, or a
whole line; one ending like an image and naming a file is attached, wherever it is (the user
chose it). Whatever is left out is said twice: a line in the prompt tells the model, a notice
tells the user.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

from agent.git import git_listed_files
from agent.images import IMAGE_SUFFIXES, SUPPORTED, ImageError, NotAnImage, PreparedImage, read_image
from agent.tools.base import ToolError
from agent.tools.list_files import walk_files
from agent.tools.read_file import is_binary
from agent.tools.workspace_fs import kind_of, open_regular, os_error_reason, read_at_most

MAX_LISTED_FILES = 20_000
"""Files offered for `@` completion in a git repository."""
MAX_WALKED_FILES = 5000
"""Files offered for `@` completion outside git (a bounded walk)."""
MENTION = re.compile(r"(?<!\S)@([\w./-]+)")
MENTIONABLE = re.compile(r"[\w./-]+")
"""A file name a mention can name (others, e.g. with spaces or control characters, are not offered)."""
TEXT_LIMIT = 100_000
"""Bytes of a mentioned text file attached to the prompt."""
MAX_IMAGES = 20
"""Images one prompt attaches; further ones are left out."""
MAX_IMAGE_URL_CHARS = 32 * 2**20
"""Characters of the `data:` URLs of one prompt's images (one request must stay well under the
endpoint's limit); an image that would pass it is left out."""

_PATH_START = r"(?:/|~/|file://)"
QUOTED_PATH = re.compile(rf"'({_PATH_START}[^'\n]+)'|\"({_PATH_START}[^\"\n]+)\"")
BARE_PATH = re.compile(rf"(?<![\S])({_PATH_START}(?:\\.|[^\s\\'\"])+)")
_ESCAPED = re.compile(r"\\(.)")


@dataclass
class PreparedPrompt:
    """A prompt as the model receives it."""

    text: str
    """The prompt, then each text file attached, a line per image, a line per file left out."""
    images: dict[str, str] = field(default_factory=dict)
    """Each attached image's name (as the prompt wrote it) and its `data:` URL, in order."""
    notices: list[str] = field(default_factory=list)
    """For the user: each file left out, and why."""


class _LeftOut(Exception):
    """A file the prompt names that is not attached; the message says why."""


def workspace_files(workspace: Path) -> list[str]:
    """Files for `@` completion: what git tracks plus untracked files it does not ignore (or a
    bounded walk outside git), only names a mention can express (see `MENTION`).

    Safe to call from a thread: it only runs git (or walks the directory)."""
    names = git_listed_files(workspace, MAX_LISTED_FILES)
    if names is None:
        try:
            names = walk_files(workspace)[:MAX_WALKED_FILES]
        except OSError:
            names = []
    return [name for name in names if MENTIONABLE.fullmatch(name)]


def prepare_prompt(workspace: Path, text: str, *, limit: int = TEXT_LIMIT) -> PreparedPrompt:
    """`text` with what it mentions and pastes attached (see the module's docstring).

    Reads files and decodes images: call it off the UI thread. A mention of nothing (`@alice`)
    is left alone; a file that cannot be attached is a notice, never an exception.
    """
    prepared = PreparedPrompt(text)
    attachments: list[str] = []
    seen: set[str] = set()
    for match in MENTION.finditer(text):
        name = match.group(1)
        if name in seen:
            continue
        seen.add(name)
        try:
            found = _mentioned(workspace, name, limit)
        except _LeftOut as exc:
            _leave_out(prepared, attachments, f"@{name}", str(exc))
            continue
        if isinstance(found, PreparedImage):
            _attach_image(prepared, attachments, name, f"@{name}", found)
        elif found is not None:
            content, size = found
            attachments.append(f"\n\n[Attached @{name}]\n```\n{content}\n```")
            if size > limit:
                prepared.notices.append(f"@{name} was cut: its first {_size(limit)} of {_size(size)} are attached.")
    for written, path in pasted_image_paths(text):
        if written in seen:
            continue
        seen.add(written)
        try:
            image = _pasted(path)
        except _LeftOut as exc:
            _leave_out(prepared, attachments, written, str(exc))
            continue
        if image is not None:
            _attach_image(prepared, attachments, written, written, image)
    prepared.text = text + "".join(attachments)
    return prepared


def pasted_image_paths(text: str) -> list[tuple[str, Path]]:
    """Each path in `text` as a terminal pastes a dropped file (absolute, `~/…`, `file://…`;
    quoted, backslash-escaped, or a whole line) whose name ends like an image: as written
    (unquoted) and as a path."""
    found: dict[str, Path] = {}
    candidates = [m.group(1) or m.group(2) for m in QUOTED_PATH.finditer(text)]
    candidates += [_ESCAPED.sub(r"\1", m.group(1)) for m in BARE_PATH.finditer(text)]
    candidates += [line.strip() for line in text.splitlines() if re.match(_PATH_START, line.strip())]
    for written in candidates:
        if not written.lower().endswith(IMAGE_SUFFIXES) or "\x00" in written or written in found:
            continue
        if written.startswith("file://"):
            local = _file_url_path(written)
            if local is None:
                continue
            path = Path(local)
        else:
            try:
                path = Path(written).expanduser()
            except RuntimeError:  # "~name" of nobody
                continue
        found[written] = path
    return list(found.items())


def _file_url_path(url: str) -> str | None:
    """The local path a `file://` URL names; None for one that names none (another host, no
    path, a NUL byte, or not a URL at all: `file://[x.png`)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    path = unquote(parts.path)
    if parts.netloc not in ("", "localhost") or not path or "\x00" in path:
        return None
    return path


def _attach_image(
    prepared: PreparedPrompt, attachments: list[str], name: str, shown: str, image: PreparedImage
) -> None:
    if len(prepared.images) >= MAX_IMAGES:
        _leave_out(prepared, attachments, shown, f"a prompt takes at most {MAX_IMAGES} images")
        return
    url = image.data_url
    if sum(map(len, prepared.images.values())) + len(url) > MAX_IMAGE_URL_CHARS:
        _leave_out(prepared, attachments, shown, f"the prompt's images would pass {_size(MAX_IMAGE_URL_CHARS)}")
        return
    prepared.images[name] = url
    attachments.append(f"\n\n[Image {shown} attached: {image.describe()}]")


def _leave_out(prepared: PreparedPrompt, attachments: list[str], shown: str, reason: str) -> None:
    attachments.append(f"\n\n[{shown} was not attached: {reason}]")
    prepared.notices.append(f"{shown} was not attached: {reason}.")


def _mentioned(workspace: Path, name: str, limit: int) -> PreparedImage | tuple[str, int] | None:
    """The image, or the text and the file's size, `@name` attaches; None when it names nothing.

    Raises:
        _LeftOut: it names something that cannot be attached.
    """
    try:
        path = (workspace / name).resolve()
    except (OSError, RuntimeError):
        raise _LeftOut("a symbolic link in its path loops") from None
    if not path.is_relative_to(workspace):
        if os.path.lexists(path):
            raise _LeftOut(f"it is outside the workspace ({workspace})")
        return None
    try:
        fd, info = open_regular(workspace, path, name, "attached")
    except FileNotFoundError:
        return None
    except ToolError as exc:
        raise _LeftOut(str(exc).rstrip(".")) from None
    except OSError as exc:
        raise _LeftOut(f"it cannot be read ({os_error_reason(exc)})") from None
    try:
        return _content(fd, info, limit)
    except OSError as exc:
        raise _LeftOut(f"it cannot be read ({os_error_reason(exc)})") from None
    finally:
        os.close(fd)


def _content(fd: int, info: os.stat_result, limit: int) -> PreparedImage | tuple[str, int]:
    try:
        return read_image(fd, info.st_size)
    except NotAnImage:
        pass
    except ImageError as exc:
        raise _LeftOut(str(exc)) from None
    os.lseek(fd, 0, os.SEEK_SET)
    data = read_at_most(fd, limit)
    if is_binary(data, cut=info.st_size > len(data)):
        raise _LeftOut(f"it is a binary file ({_size(info.st_size)}), neither text nor a {SUPPORTED} image")
    content = data.decode("utf-8", errors="replace")
    if info.st_size > len(data):
        content += f"\n[… cut: the first {_size(len(data))} of {_size(info.st_size)}]"
    return content, info.st_size


def _pasted(path: Path) -> PreparedImage | None:
    """The image at a pasted path; None when no file is there (the text only looked like one).

    Raises:
        _LeftOut: something is there that cannot be attached.
    """
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise _LeftOut(f"it cannot be read ({os_error_reason(exc)})") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise _LeftOut(f"it is {kind_of(info.st_mode)}, not an image file")
        return read_image(fd, info.st_size)
    except NotAnImage:
        raise _LeftOut(f"its name ends like an image's but it is not a {SUPPORTED} image") from None
    except ImageError as exc:
        raise _LeftOut(str(exc)) from None
    except OSError as exc:
        raise _LeftOut(f"it cannot be read ({os_error_reason(exc)})") from None
    finally:
        os.close(fd)


def _size(size: int) -> str:
    for unit, scale in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} bytes"


__all__ = ["PreparedPrompt", "pasted_image_paths", "prepare_prompt", "workspace_files"]
