"""`apply_patch`: add, delete, update and move files with one patch in Codex's envelope format.

The whole patch is planned in memory first (`plan_patch`): the sections are applied in order to
an in-memory view of the workspace (so a later section sees what the earlier ones did), every
file is read, checked and patched before anything is written, and the approval diff is computed
from exactly the bytes that will be written. Add File and Move to onto an existing file replace
it, as in Codex; that file must have been read, like any file the patch changes.

All or nothing, unlike Codex (which keeps the sections applied before a failing one): the user
approves one diff, so applying part of it would leave a state nobody approved or saw, often half
a change (a function renamed, its callers not yet); the model then has to work out which sections
landed before it can resend anything. Planning first finds every failure before approval is even
asked, so a refusal always says "Nothing was applied" and the model resends the whole, corrected
patch; a write failing midway (a full disk) restores the files already written and says so. Lines the patch does not
change keep their bytes, including their own line endings in files with mixed endings.

Hunk location follows Codex's `apply_patch`: each hunk's context and removed lines are searched
for in order, forward from the end of the previous hunk; `@@ text` first moves the search past
the next line equal to `text`. Each search tries an exact match, then one that ignores trailing
whitespace, then one that ignores leading and trailing whitespace, then one that reads Unicode
dashes, quotes and spaces as ASCII (`agent.tools.patch_match`).
"""

from __future__ import annotations

import asyncio
import errno
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import Field

from agent.approvals import ApprovalRequest
from agent.tools.atomic import (
    NEW_FILE_MODE,
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
    os_error_reason,
    text_argument,
)
from agent.tools.patch_grammar import PATCH_GRAMMAR
from agent.tools.patch_match import apply_hunks
from agent.tools.patch_parse import ADD, DELETE, MOVE, UPDATE, FileOp, parse_patch
from agent.tools.patch_write import FileChange, write_all
from agent.tools.paths import display_path, resolve_path
from agent.tools.workspace_fs import file_status, os_error

# ---- planning ---------------------------------------------------------------------------------


@dataclass
class _Planned:
    """A path's content as the sections planned so far leave it."""

    data: bytes | None
    """None: an earlier section deletes it (or moves it away)."""
    mode: int


def _is_symlink(path: Path) -> bool:
    try:
        return stat.S_ISLNK(path.lstat().st_mode)
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise os_error(exc, "use", str(path)) from None


class _Planner:
    """Plans the sections in order against the workspace as the earlier sections leave it."""

    def __init__(self, ctx: ToolContext) -> None:
        self.ctx = ctx
        self.planned: dict[Path, _Planned] = {}

    def _checked_read(self, path: Path, shown: str, what: str) -> tuple[bytes, int]:
        ctx = self.ctx
        data, info = read_for_edit(
            ctx, path, shown, missing=f"apply_patch: cannot {what} '{shown}': it does not exist."
        )
        if path not in ctx.read_hashes:
            raise ToolError(
                f"apply_patch: read '{shown}' with read_file before you {what} it (nothing was applied); "
                "only files read or created in this session can be changed."
            )
        check_not_stale(ctx, path, data, shown)
        return data, stat.S_IMODE(info.st_mode)

    def existing(self, raw: str, what: str) -> tuple[Path, str, bytes, int]:
        """The resolved path, shown path, bytes and permission bits of a file to update or delete."""
        ctx = self.ctx
        path = resolve_path(ctx, raw, for_write=True)
        shown = display_path(ctx, path)
        if path in self.planned:
            state = self.planned[path]
            if state.data is None:
                raise ToolError(f"apply_patch: cannot {what} '{shown}': an earlier section of the patch removes it.")
            return path, shown, state.data, state.mode
        candidate = Path(raw).expanduser()
        candidate = candidate if candidate.is_absolute() else ctx.workspace / candidate
        # Writing goes through the link to its target; deleting or moving would act on the target.
        if what != "update" and _is_symlink(candidate.parent.resolve() / candidate.name):
            raise ToolError(f"apply_patch: '{raw}' is a symbolic link; apply_patch does not {what} links.")
        data, mode = self._checked_read(path, shown, what)
        return path, shown, data, mode

    def destination(self, raw: str) -> tuple[Path, str, bytes | None, int]:
        """The resolved path, shown path, current bytes (None: it does not exist) and permission
        bits of a file to add or move onto; an existing file is overwritten, as Codex does."""
        ctx = self.ctx
        path = resolve_path(ctx, raw, for_write=True)
        shown = display_path(ctx, path)
        if path in self.planned:
            state = self.planned[path]
            return path, shown, state.data, state.mode if state.data is not None else NEW_FILE_MODE
        try:
            info = file_status(ctx.workspace, path)
            if info is None:
                for parent in path.parents:
                    parent_info = file_status(ctx.workspace, parent)
                    if parent_info is not None:
                        if not stat.S_ISDIR(parent_info.st_mode):
                            raise ToolError(
                                f"apply_patch: cannot create '{shown}': '{display_path(ctx, parent)}' is a file."
                            )
                        break
                return path, shown, None, NEW_FILE_MODE
        except OSError as exc:
            if exc.errno != errno.ENOTDIR:
                raise os_error(exc, "create", shown) from None
            raise ToolError(f"apply_patch: cannot create '{shown}': a part of its path is a file.") from None
        if stat.S_ISDIR(info.st_mode):
            raise ToolError(f"apply_patch: cannot write '{shown}': it is a directory.")
        data, mode = self._checked_read(path, shown, "overwrite")
        return path, shown, data, mode

    def plan(self, op: FileOp) -> FileChange:
        """The change one section makes, given the sections before it."""
        if op.action == "add":
            path, shown, existing, mode = self.destination(op.path)
            fmt = TextFormat()
            new_lines: list[tuple[str, str | None]] = [(text, None) for text in op.added]
            data = encode_lines(new_lines, fmt)
            old_text = None if existing is None else lines_to_text(*decode_lines(existing, shown))
            self.planned[path] = _Planned(data, mode)
            return FileChange(
                path,
                shown,
                old_text,
                lines_to_text(new_lines, fmt),
                None,
                None,
                fmt,
                mode,
                existing,
                data,
                overwrites=existing is not None,
            )
        path, shown, data, mode = self.existing(op.path, "move" if op.move_to else op.action)
        lines, fmt = decode_lines(data, shown)
        old_text = lines_to_text(lines, fmt)
        if op.action == "delete":
            self.planned[path] = _Planned(None, mode)
            return FileChange(path, shown, old_text, None, None, None, fmt, mode, data, None)
        move_to: Path | None = None
        shown_move_to: str | None = None
        replaced: bytes | None = None
        replaced_mode = NEW_FILE_MODE
        if op.move_to is not None and resolve_path(self.ctx, op.move_to, for_write=True) != path:
            move_to, shown_move_to, replaced, replaced_mode = self.destination(op.move_to)
        patched = apply_hunks(lines, op.hunks, shown)
        new_text = lines_to_text(patched, fmt)
        if new_text == old_text and move_to is None:
            raise ToolError(f"apply_patch: the patch leaves {shown} unchanged (its removed and added lines are equal).")
        new_data = encode_lines(patched, fmt)
        if move_to is None:
            self.planned[path] = _Planned(new_data, mode)
        else:
            self.planned[path] = _Planned(None, mode)
            self.planned[move_to] = _Planned(new_data, mode)
        return FileChange(
            path,
            shown,
            old_text,
            new_text,
            move_to,
            shown_move_to,
            fmt,
            mode,
            data,
            new_data,
            replaced=replaced,
            replaced_text=None if replaced is None else lines_to_text(*decode_lines(replaced, shown_move_to or shown)),
            replaced_mode=replaced_mode,
            overwrites=replaced is not None,
        )


def plan_patch(patch_text: str, ctx: ToolContext, directory: str | None = None) -> list[FileChange]:
    """Parse the patch and compute every file's new content in memory; nothing is written.

    Args:
        patch_text: the patch.
        ctx: the session's tool context.
        directory: where the patch's relative paths start, relative to the workspace (a shell
            heredoc's working directory); None: the workspace root.

    Raises:
        ToolError: the patch is malformed, names a path outside the workspace or inside .git,
            updates or deletes a missing file (or one an earlier section removes), touches (or overwrites) a file
            that is not editable text, was never read or changed since it was read, or has a hunk
            that does not apply.
    """
    planner = _Planner(ctx)
    try:
        ops = parse_patch(patch_text)
        if directory is not None:
            base = _base_directory(ctx, directory)
            for op in ops:
                op.path = _under(base, op.path)
                op.move_to = None if op.move_to is None else _under(base, op.move_to)
        return [planner.plan(op) for op in ops]
    except ToolError as exc:
        raise _refusal(str(exc)) from exc


def _base_directory(ctx: ToolContext, directory: str) -> str:
    path = resolve_path(ctx, directory)
    try:
        is_directory = path.is_dir()
    except OSError as exc:  # a name too long, a directory it may not enter
        raise ToolError(f"apply_patch: cannot cd to '{one_line(directory)}': {os_error_reason(exc)}.") from None
    if not is_directory:
        raise ToolError(f"apply_patch: cannot cd to '{directory}': it is not a directory in the workspace.")
    return str(path)


def _under(base: str, raw: str) -> str:
    """`raw` relative to `base` (absolute and `~` paths stay as they are)."""
    return raw if raw.startswith("~") else os.path.join(base, raw)


def _refusal(message: str) -> ToolError:
    """A planning error as the model reads it: it names apply_patch and says nothing was applied."""
    message = message.replace("(nothing was changed)", "(nothing was applied)")
    if not message.startswith("apply_patch"):
        message = f"apply_patch: {message}"
    if "nothing was applied" not in message.lower():
        message = f"{message.rstrip()} Nothing was applied."
    return ToolError(message)


def _summary_lines(changes: list[FileChange]) -> Iterator[str]:
    past = {"add": "Added", "delete": "Deleted", "update": "Updated", "move": "Moved"}
    for change in changes:
        yield f"{past[change.verb]} {change.label}"


def combined_diff(changes: list[FileChange]) -> str:
    """The unified diffs of all the changes, in patch order."""
    return "".join(change.diff() for change in changes)


class ApplyPatchArgs(ToolArgs):
    patch: str = Field(description="The whole patch, from '*** Begin Patch' to '*** End Patch'.")


class HeredocPatchArgs(ApplyPatchArgs):
    """apply_patch's arguments taken from a `shell` call that is a patch heredoc
    (`agent.tools.patch_heredoc`); never offered to the model."""

    directory: str | None = None
    """Where the patch's relative paths start, relative to the workspace: the shell call's
    `workdir` and the heredoc's `cd` (None: the workspace root)."""


def _directory(args: ApplyPatchArgs) -> str | None:
    return args.directory if isinstance(args, HeredocPatchArgs) else None


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
@@ hunks, in file order, for changes far apart. Sections apply in order (a later one sees what \
the earlier ones did); Add File or Move to onto an existing file replaces it. Example:

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
    freeform_argument = "patch"

    @classmethod
    def freeform_spec(cls) -> dict[str, Any]:
        """The custom-tool form: the input is the patch itself, held to `PATCH_GRAMMAR`."""
        return {
            "type": "custom",
            "name": cls.name,
            "description": "This is a freeform tool: its input is the patch itself, as plain text "
            "(not JSON, not quoted). " + cls.description,
            "format": {"type": "grammar", "syntax": "lark", "definition": PATCH_GRAMMAR},
        }

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
        changes = plan_patch(args.patch, ctx, _directory(args))
        summary = ", ".join(f"{change.verb} {change.label}" for change in changes)
        origin = " (a shell heredoc)" if isinstance(args, HeredocPatchArgs) else ""
        return ApprovalRequest(
            call_id=call_id,
            tool=self.name,
            kind=self.kind,
            summary=f"apply_patch{origin}: {summary}",
            diff=combined_diff(changes),
            rule_key=self.name,
            rule_scope="every apply_patch call: adding, changing, moving or deleting any file in the workspace",
            paths=tuple(
                dict.fromkeys(
                    path for change in changes for path in (change.shown, change.shown_move_to) if path is not None
                )
            ),
        )

    async def run(self, args: ApplyPatchArgs, ctx: ToolContext) -> ToolResult:
        return await asyncio.to_thread(apply_patch, args.patch, ctx, _directory(args))


def apply_patch(patch_text: str, ctx: ToolContext, directory: str | None = None) -> ToolResult:
    """Plan and write a patch (synchronously); records the new contents as read. `directory` is
    where its relative paths start (see `plan_patch`).

    Raises:
        ToolError: the patch cannot be planned (see `plan_patch`) or a write failed (files
            already written are restored from memory, and the message says so).
    """
    changes = plan_patch(patch_text, ctx, directory)
    write_all(changes, ctx)
    for change in changes:
        if change.new_text is None or change.move_to is not None:
            ctx.read_hashes.pop(change.path, None)
        if change.data is not None:
            ctx.remember_read(change.move_to or change.path, change.data)
    return ToolResult(output="\n".join(_summary_lines(changes)), display={"diff": combined_diff(changes)})


__all__ = ["ApplyPatch", "ApplyPatchArgs", "FileChange", "HeredocPatchArgs", "apply_patch", "plan_patch"]
