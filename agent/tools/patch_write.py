"""Writing a planned patch: every change by descriptor, all or nothing (best effort).

`write_all` writes the changes `agent.tools.apply_patch.plan_patch` computed. Files are written
with `atomic_write` and deleted with `workspace_fs.remove_file`, each reached by descriptor from
the workspace root (never through a symlink swapped in after planning); missing directories are
created by descriptor. When a write fails, the changes already made are undone from memory,
newest first, and the error says what was restored.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from agent.tools.atomic import TextFormat, atomic_write, unified_diff
from agent.tools.base import ToolContext, ToolError
from agent.tools.workspace_fs import os_error_reason, remove_empty_directory, remove_file


@dataclass(frozen=True)
class FileChange:
    """What the patch does to one file, computed before anything is written."""

    path: Path
    """The resolved path of the file being added, updated or deleted (the source of a move)."""
    shown: str
    old_text: str | None
    """The current text ("\\n" line endings); None when the file is being added."""
    new_text: str | None
    """The text after the patch; None when the file is being deleted."""
    move_to: Path | None
    shown_move_to: str | None
    fmt: TextFormat
    mode: int
    """Permission bits for the written file (the original's, or the default for new files)."""
    original: bytes | None
    """The current bytes (None when adding), for restoring after a failed write."""
    data: bytes | None
    """Exactly the bytes that will be written (None when deleting)."""
    replaced: bytes | None = None
    """The bytes of the existing file a move overwrites (None: the destination is new)."""
    replaced_text: str | None = None
    replaced_mode: int = 0
    overwrites: bool = False
    """An Add or a Move onto an existing file, which it replaces (as Codex does)."""

    @property
    def verb(self) -> str:
        if self.overwrites:
            return "move" if self.move_to is not None else "add"
        if self.old_text is None:
            return "add"
        if self.new_text is None:
            return "delete"
        return "move" if self.move_to is not None else "update"

    @property
    def label(self) -> str:
        label = f"{self.shown} → {self.shown_move_to}" if self.move_to is not None else self.shown
        return f"{label} (overwriting it)" if self.overwrites else label

    def diff(self) -> str:
        """The unified diff of this change; a move onto an existing file shows that file replaced
        and the source deleted."""
        if self.move_to is not None and self.replaced_text is not None and self.shown_move_to is not None:
            return unified_diff(self.replaced_text, self.new_text, self.shown_move_to) + unified_diff(
                self.old_text, None, self.shown
            )
        return unified_diff(self.old_text, self.new_text, self.shown, new_shown_path=self.shown_move_to)


def write_all(changes: list[FileChange], ctx: ToolContext) -> None:
    """Write the planned changes; on failure undo those already written (best effort) and raise.

    Raises:
        ToolError: a write or delete failed; the message ends with what was restored.
    """
    root = ctx.workspace
    undo: list[tuple[str, Callable[[], None]]] = []
    created: list[Path] = []
    try:
        for change in changes:
            target = change.move_to or change.path
            shown_target = change.shown_move_to or change.shown
            if change.data is not None:
                atomic_write(
                    target, change.data, mode=change.mode, shown_path=shown_target, workspace=root, created=created
                )
                if change.move_to is not None and change.replaced is not None:
                    undo.append(
                        (shown_target, _writer(root, target, change.replaced, change.replaced_mode, shown_target))
                    )
                elif change.original is None or change.move_to is not None:
                    undo.append((shown_target, _remover(root, target, shown_target)))
                else:
                    undo.append((change.shown, _restorer(change, root)))
            if change.new_text is None or change.move_to is not None:
                try:
                    remove_file(root, change.path, change.shown)
                except OSError as exc:
                    raise ToolError(
                        f"{os_error_reason(exc)} while deleting '{change.shown}'; it was not deleted."
                    ) from exc
                undo.append((change.shown, _restorer(change, root)))
    except ToolError as exc:
        raise ToolError(f"apply_patch failed: {exc} {_roll_back(undo, created, root)}") from exc


def _remover(root: Path, path: Path, shown: str) -> Callable[[], None]:
    return lambda: remove_file(root, path, shown)


def _writer(root: Path, path: Path, data: bytes, mode: int, shown: str) -> Callable[[], None]:
    return lambda: atomic_write(path, data, mode=mode, shown_path=shown, workspace=root)


def _restorer(change: FileChange, root: Path) -> Callable[[], None]:
    assert change.original is not None
    return _writer(root, change.path, change.original, change.mode, change.shown)


def _roll_back(undo: list[tuple[str, Callable[[], None]]], created: list[Path], root: Path) -> str:
    """Undo the writes already done, newest first; says what happened."""
    if not undo and not created:
        return "No file was changed."
    restored: list[str] = []
    failed: list[str] = []
    for shown, action in reversed(undo):
        try:
            action()
        except (OSError, ToolError):
            failed.append(shown)
        else:
            restored.append(shown)
    for directory in reversed(created):
        with contextlib.suppress(OSError):
            remove_empty_directory(root, directory)
    message = ""
    if restored:
        message += f"The files already changed were restored: {', '.join(sorted(set(restored)))}."
    if failed:
        message += f" COULD NOT RESTORE: {', '.join(sorted(set(failed)))}; check them before continuing."
    return message.strip()
