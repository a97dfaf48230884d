"""`apply_patch`: add, delete, update and move files with one patch in Codex's envelope format.

The whole patch is planned in memory first (`plan_patch`): every file is read, checked and
patched before anything is written, so a patch that does not apply changes nothing, and the
approval diff is computed from exactly the bytes that will be written. Lines the patch does not
change keep their bytes, including their own line endings in files with mixed endings.

Hunk location follows Codex's `apply_patch`: each hunk's context and removed lines are searched
for in order, forward from the end of the previous hunk; `@@ text` first moves the search past
the next line equal to `text`. Each search tries an exact match, then one that ignores trailing
whitespace, then one that ignores leading and trailing whitespace.
"""

from __future__ import annotations

import asyncio
import errno
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import Field

from agent.approvals import ApprovalRequest
from agent.tools.atomic import (
    NEW_FILE_MODE,
    Line,
    TextFormat,
    check_not_stale,
    decode_lines,
    encode_lines,
    lines_to_text,
    read_for_edit,
)
from agent.tools.base import (
    CallDescription,
    Tool,
    ToolArgs,
    ToolContext,
    ToolError,
    ToolResult,
    one_line,
    text_argument,
)
from agent.tools.patch_write import FileChange, write_all
from agent.tools.paths import display_path, resolve_path
from agent.tools.workspace_fs import file_status, os_error

BEGIN = "*** Begin Patch"
END = "*** End Patch"
ADD = "*** Add File: "
DELETE = "*** Delete File: "
UPDATE = "*** Update File: "
MOVE = "*** Move to: "
END_OF_FILE = "*** End of File"

# ---- parsing ---------------------------------------------------------------------------------


@dataclass
class Hunk:
    """One `@@` section of an Update File: lines tagged " " (context), "-" or "+"."""

    number: int
    context: str | None
    ops: list[tuple[str, str]] = field(default_factory=list)
    at_end: bool = False

    @property
    def old_lines(self) -> list[str]:
        return [text for tag, text in self.ops if tag != "+"]

    def describe(self) -> str:
        """A short quote of the hunk for error messages."""
        shown = [f"@@ {self.context}"] if self.context else []
        shown += [tag + text for tag, text in self.ops[:4]]
        more = " …" if len(self.ops) > 4 else ""
        return " | ".join(repr(line) for line in shown) + more


@dataclass
class FileOp:
    """One `*** Add/Delete/Update File` section of the patch."""

    action: str
    """"add", "delete" or "update"."""
    path: str
    line: int
    """Its line number in the patch (1-based)."""
    move_to: str | None = None
    added: list[str] = field(default_factory=list)
    hunks: list[Hunk] = field(default_factory=list)


def _patch_error(line: int, message: str) -> ToolError:
    return ToolError(f"apply_patch: invalid patch at line {line}: {message}")


def _strip_envelope(patch: str) -> tuple[list[str], int]:
    """The lines between the Begin and End markers, and the patch line number of the first."""
    lines = [line.removesuffix("\r") for line in patch.strip().split("\n")]
    first = 1
    # Lenient like Codex: a heredoc wrapper (<<'EOF' … EOF) copied from a shell command.
    if len(lines) >= 4 and lines[0] in ("<<EOF", "<<'EOF'", '<<"EOF"') and lines[-1].endswith("EOF"):
        lines, first = lines[1:-1], 2
    if not lines or lines[0].strip() != BEGIN:
        raise _patch_error(first, f"the first line must be '{BEGIN}'.")
    if len(lines) < 2 or lines[-1].strip() != END:
        raise _patch_error(first + len(lines) - 1, f"the last line must be '{END}'.")
    return lines[1:-1], first + 1


def parse_patch(patch: str) -> list[FileOp]:
    """The file sections of a patch.

    Raises:
        ToolError: the envelope or a section is malformed (the message gives the line number).
    """
    lines, first_number = _strip_envelope(patch)
    ops: list[FileOp] = []
    i = 0
    while i < len(lines):
        number = first_number + i
        header = lines[i].strip()
        i += 1
        if not header:
            continue
        if header.startswith(ADD):
            op = FileOp("add", header.removeprefix(ADD).strip(), number)
            while i < len(lines) and lines[i].startswith("+"):
                op.added.append(lines[i][1:])
                i += 1
        elif header.startswith(DELETE):
            op = FileOp("delete", header.removeprefix(DELETE).strip(), number)
        elif header.startswith(UPDATE):
            op = FileOp("update", header.removeprefix(UPDATE).strip(), number)
            if i < len(lines) and lines[i].strip().startswith(MOVE):
                op.move_to = lines[i].strip().removeprefix(MOVE).strip()
                i += 1
            i = _parse_hunks(op, lines, i, first_number)
        else:
            raise _patch_error(
                number,
                f"'{header}' is not a valid file header; use '{ADD}path', '{DELETE}path' or '{UPDATE}path'.",
            )
        if not op.path or (op.move_to is not None and not op.move_to):
            raise _patch_error(number, f"'{header}' names no path.")
        ops.append(op)
    if not ops:
        raise _patch_error(first_number, "the patch contains no file sections.")
    return ops


def _parse_hunks(op: FileOp, lines: list[str], i: int, first_number: int) -> int:
    """Read the hunks of an Update File section starting at `lines[i]`; returns the next index."""
    hunk: Hunk | None = None
    while i < len(lines):
        line = lines[i]
        number = first_number + i
        if line.strip() == END_OF_FILE:
            if hunk is None or not hunk.ops:
                raise _patch_error(number, f"'{END_OF_FILE}' must follow the lines of a hunk.")
            hunk.at_end = True
            hunk = None
            i += 1
            continue
        if line.startswith("*"):
            break
        if line.strip() == "@@" or line.startswith("@@ "):
            if hunk is not None and not hunk.ops:
                raise _patch_error(number, "a hunk has no lines (a '@@' line directly follows another).")
            context = line[3:] if line.startswith("@@ ") else None
            hunk = Hunk(len(op.hunks) + 1, context)
            op.hunks.append(hunk)
        elif line == "" or line[0] in " +-":
            if hunk is None:
                if not line.strip():
                    i += 1  # a blank line between hunks
                    continue
                if op.hunks:
                    raise _patch_error(number, "lines after '*** End of File' need a new '@@' line.")
                hunk = Hunk(1, None)
                op.hunks.append(hunk)
            hunk.ops.append((" ", "") if line == "" else (line[0], line[1:]))
        else:
            raise _patch_error(
                number,
                f"unexpected line {line!r} in the update of {op.path}: every hunk line starts with "
                "' ' (context), '-' (removed) or '+' (added).",
            )
        i += 1
    if not op.hunks:
        raise _patch_error(op.line, f"the update of {op.path} has no hunks.")
    if not op.hunks[-1].ops:
        raise _patch_error(first_number + i - 1, f"the last hunk of {op.path} has no lines.")
    return i


# ---- locating and applying hunks ----------------------------------------------------------

_PASSES: tuple[Callable[[str], str], ...] = (lambda s: s, str.rstrip, str.strip)


def seek(lines: list[str], pattern: list[str], start: int, *, at_end: bool = False) -> int | None:
    """Where `pattern` first occurs in `lines` at or after `start`, or None.

    Tries an exact match, then ignoring trailing whitespace, then ignoring leading and trailing
    whitespace; each pass scans the whole range before the next, looser one is tried. With
    `at_end`, the only position tried is the one that ends at the last line.
    """
    if not pattern:
        return start
    last = len(lines) - len(pattern)
    if last < start:
        return None
    candidates = range(last, last + 1) if at_end else range(start, last + 1)
    for normalise in _PASSES:
        wanted = [normalise(line) for line in pattern]
        for index in candidates:
            if all(normalise(lines[index + k]) == wanted[k] for k in range(len(pattern))):
                return index
    return None


def _hunk_failure(shown: str, hunk: Hunk, what: str) -> ToolError:
    return ToolError(
        f"apply_patch: hunk {hunk.number} of {shown} did not apply: {what}. The hunk: {hunk.describe()}. "
        "Nothing was changed; read the file again and resend the whole patch."
    )


def _replacement(hunk: Hunk, original: list[Line], start: int) -> list[tuple[str, str | None]]:
    """The lines that replace the matched span: context lines stay as they are in the file, and
    an added line takes the ending of the removed line it pairs with (None: the file's EOL)."""
    out: list[tuple[str, str | None]] = []
    position = start
    removed: list[str] = []
    for tag, text in hunk.ops:
        if tag == " ":
            out.append(original[position])
            position += 1
            removed = []
        elif tag == "-":
            removed.append(original[position][1])
            position += 1
        else:
            out.append((text, removed.pop(0) if removed else None))
    return out


def apply_hunks(original: list[Line], hunks: list[Hunk], shown: str) -> list[tuple[str, str | None]]:
    """The file's lines after applying `hunks` in order.

    A hunk with no context or removed lines inserts its lines right after its `@@` line when it
    has one, else at the end of the file.

    Raises:
        ToolError: a hunk's `@@` line or lines cannot be found (naming the hunk).
    """
    texts = [text for text, _ in original]
    cursor = 0
    edits: list[tuple[int, int, list[tuple[str, str | None]]]] = []
    for hunk in hunks:
        if hunk.context is not None:
            found = seek(texts, [hunk.context], cursor)
            if found is None:
                raise _hunk_failure(shown, hunk, f"could not find the '@@ {hunk.context}' line")
            cursor = found + 1
        if not hunk.old_lines:
            at = cursor if hunk.context is not None and not hunk.at_end else len(texts)
            edits.append((at, 0, [(text, None) for _, text in hunk.ops]))
            continue
        found = seek(texts, hunk.old_lines, cursor, at_end=hunk.at_end)
        if found is None and hunk.ops[-1] == (" ", ""):
            # Like Codex: a trailing blank context line often stands for the final newline.
            hunk = Hunk(hunk.number, hunk.context, hunk.ops[:-1], hunk.at_end)
            found = seek(texts, hunk.old_lines, cursor, at_end=hunk.at_end) if hunk.old_lines else None
        if found is None:
            where = "at the end of the file" if hunk.at_end else f"at or after line {cursor + 1}" if cursor else ""
            raise _hunk_failure(shown, hunk, f"could not find the lines to replace {where}".rstrip())
        edits.append((found, len(hunk.old_lines), _replacement(hunk, original, found)))
        cursor = found + len(hunk.old_lines)
    result: list[tuple[str, str | None]] = []
    position = 0
    for start, length, new in sorted(edits, key=lambda edit: edit[0]):
        result += original[position:start]
        result += new
        position = start + length
    result += original[position:]
    return result


# ---- planning ---------------------------------------------------------------------------------


def _read_existing(ctx: ToolContext, raw: str, what: str) -> tuple[Path, str, bytes, int]:
    """The resolved path, shown path, bytes and permission bits of a file to update or delete."""
    path = resolve_path(ctx, raw, for_write=True)
    shown = display_path(ctx, path)
    candidate = Path(raw).expanduser()
    candidate = candidate if candidate.is_absolute() else ctx.workspace / candidate
    # Writing goes through the link to its target; deleting or moving would act on the target.
    if what != "update" and _is_symlink(candidate.parent.resolve() / candidate.name):
        raise ToolError(f"apply_patch: '{raw}' is a symbolic link; apply_patch does not {what} links.")
    data, info = read_for_edit(ctx, path, shown, missing=f"apply_patch: cannot {what} '{shown}': it does not exist.")
    if path not in ctx.read_hashes:
        raise ToolError(
            f"apply_patch: read '{shown}' with read_file before you {what} it (nothing was changed); "
            "only files read or created in this session can be changed."
        )
    check_not_stale(ctx, path, data, shown)
    return path, shown, data, stat.S_IMODE(info.st_mode)


def _is_symlink(path: Path) -> bool:
    try:
        return stat.S_ISLNK(path.lstat().st_mode)
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise os_error(exc, "use", str(path)) from None


def _new_path(ctx: ToolContext, raw: str) -> tuple[Path, str]:
    path = resolve_path(ctx, raw, for_write=True)
    shown = display_path(ctx, path)
    try:
        if file_status(ctx.workspace, path) is not None:
            raise ToolError(f"apply_patch: '{shown}' already exists; update it instead of adding it.")
        for parent in path.parents:
            info = file_status(ctx.workspace, parent)
            if info is not None:
                if not stat.S_ISDIR(info.st_mode):
                    raise ToolError(f"apply_patch: cannot create '{shown}': '{display_path(ctx, parent)}' is a file.")
                break
    except OSError as exc:
        if exc.errno != errno.ENOTDIR:
            raise os_error(exc, "create", shown) from None
        raise ToolError(f"apply_patch: cannot create '{shown}': a part of its path is a file.") from None
    return path, shown


def plan_patch(patch_text: str, ctx: ToolContext) -> list[FileChange]:
    """Parse the patch and compute every file's new content in memory; nothing is written.

    Raises:
        ToolError: the patch is malformed, names a path outside the workspace or inside .git,
            adds an existing file, updates or deletes a missing one, names a file twice, touches
            a file that is not editable text or that changed since it was read, or has a hunk
            that does not apply.
    """
    changes: list[FileChange] = []
    seen: dict[Path, str] = {}

    def claim(path: Path, shown: str) -> None:
        if path in seen:
            raise ToolError(
                f"apply_patch: {shown} appears twice in the patch; put all changes to one file in one section."
            )
        seen[path] = shown

    for op in parse_patch(patch_text):
        if op.action == "add":
            path, shown = _new_path(ctx, op.path)
            claim(path, shown)
            fmt = TextFormat()
            new_lines: list[tuple[str, str | None]] = [(text, None) for text in op.added]
            changes.append(
                FileChange(
                    path,
                    shown,
                    None,
                    lines_to_text(new_lines, fmt),
                    None,
                    None,
                    fmt,
                    NEW_FILE_MODE,
                    None,
                    encode_lines(new_lines, fmt),
                )
            )
            continue
        path, shown, data, mode = _read_existing(ctx, op.path, "move" if op.move_to else op.action)
        claim(path, shown)
        lines, fmt = decode_lines(data, shown)
        old_text = lines_to_text(lines, fmt)
        if op.action == "delete":
            changes.append(FileChange(path, shown, old_text, None, None, None, fmt, mode, data, None))
            continue
        move_to = shown_move_to = None
        if op.move_to is not None:
            move_to, shown_move_to = resolve_path(ctx, op.move_to, for_write=True), None
            if move_to == path:
                move_to = None
            else:
                move_to, shown_move_to = _new_path(ctx, op.move_to)
                claim(move_to, shown_move_to)
        patched = apply_hunks(lines, op.hunks, shown)
        new_text = lines_to_text(patched, fmt)
        if new_text == old_text and move_to is None:
            raise ToolError(f"apply_patch: the patch leaves {shown} unchanged (its removed and added lines are equal).")
        changes.append(
            FileChange(
                path, shown, old_text, new_text, move_to, shown_move_to, fmt, mode, data, encode_lines(patched, fmt)
            )
        )
    return changes


def _summary_lines(changes: list[FileChange]) -> Iterator[str]:
    past = {"add": "Added", "delete": "Deleted", "update": "Updated", "move": "Moved"}
    for change in changes:
        yield f"{past[change.verb]} {change.label}"


def combined_diff(changes: list[FileChange]) -> str:
    """The unified diffs of all the changes, in patch order."""
    return "".join(change.diff() for change in changes)


class ApplyPatchArgs(ToolArgs):
    patch: str = Field(description="The whole patch, from '*** Begin Patch' to '*** End Patch'.")


class ApplyPatch(Tool[ApplyPatchArgs]):
    name = "apply_patch"
    description = """\
Add, delete, update or move files with a patch. The patch is applied all-or-nothing: if any \
part does not apply, nothing changes. Format:

*** Begin Patch
*** Add File: <path>          (each following line starts with +)
*** Delete File: <path>
*** Update File: <path>
*** Move to: <new path>       (optional, directly after Update File)
@@ <a line just above the change, e.g. a def or class line; optional>
 <context line, starting with a space>
-<removed line>
+<added line>
*** End of File               (optional: the hunk ends at the last line of the file)
*** End Patch

Paths are relative to the workspace. In each hunk, give about 3 unchanged context lines above \
and below the change, exactly as they are in the file, so the change can be found; use several \
@@ hunks, in file order, for changes far apart. Each file may appear in only one section. Example:

*** Begin Patch
*** Update File: src/app.py
@@ def main():
     args = parse()
-    run(args)
+    run(args, verbose=True)
     return 0
*** Add File: src/notes.txt
+first line
*** End Patch"""
    Args = ApplyPatchArgs
    kind = "edit"
    mutating = True

    @classmethod
    def describe(cls, arguments: dict[str, Any]) -> CallDescription:
        """The files the patch names, each with what it does to them (`update a.py, add b.py`)."""
        patch = text_argument(arguments, "patch") or ""
        verbs = {UPDATE: "update", ADD: "add", DELETE: "delete", MOVE: "move to"}
        named = [
            f"{verb} {line[len(header) :].strip()}"
            for line in patch.splitlines()
            for header, verb in verbs.items()
            if line.startswith(header)
        ]
        return CallDescription(one_line(", ".join(named)))

    def approval_request(self, call_id: str, args: ApplyPatchArgs, ctx: ToolContext) -> ApprovalRequest:
        """The combined diff of exactly what will be written; raises `ToolError` if it cannot apply."""
        changes = plan_patch(args.patch, ctx)
        summary = ", ".join(f"{change.verb} {change.label}" for change in changes)
        return ApprovalRequest(
            call_id=call_id,
            tool=self.name,
            kind=self.kind,
            summary=f"apply_patch: {summary}",
            diff=combined_diff(changes),
            rule_key=self.name,
            rule_scope="every apply_patch call: adding, changing, moving or deleting any file in the workspace",
            paths=tuple(
                path for change in changes for path in (change.shown, change.shown_move_to) if path is not None
            ),
        )

    async def run(self, args: ApplyPatchArgs, ctx: ToolContext) -> ToolResult:
        return await asyncio.to_thread(apply_patch, args.patch, ctx)


def apply_patch(patch_text: str, ctx: ToolContext) -> ToolResult:
    """Plan and write a patch (synchronously); records the new contents as read.

    Raises:
        ToolError: the patch cannot be planned (see `plan_patch`) or a write failed (files
            already written are restored from memory, and the message says so).
    """
    changes = plan_patch(patch_text, ctx)
    write_all(changes, ctx)
    for change in changes:
        if change.new_text is None or change.move_to is not None:
            ctx.read_hashes.pop(change.path, None)
        if change.data is not None:
            ctx.remember_read(change.move_to or change.path, change.data)
    return ToolResult(output="\n".join(_summary_lines(changes)), display={"diff": combined_diff(changes)})


__all__ = ["ApplyPatch", "ApplyPatchArgs", "FileChange", "apply_patch", "plan_patch"]
