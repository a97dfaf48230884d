"""Parsing Codex's apply_patch envelope into file sections and hunks (no file is touched)."""

from __future__ import annotations

from dataclasses import dataclass, field

from agent.tools.base import ToolError

BEGIN = "*** Begin Patch"
END = "*** End Patch"
ADD = "*** Add File: "
DELETE = "*** Delete File: "
UPDATE = "*** Update File: "
MOVE = "*** Move to: "
END_OF_FILE = "*** End of File"


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
