"""Recognising an `apply_patch` heredoc sent to `shell`, so the patch tool can answer it.

Models trained on the Codex CLI often send a patch as a shell command:

    apply_patch <<'EOF'            cd src && apply_patch <<EOF
    *** Begin Patch                *** Begin Patch
    …                              …
    EOF                            EOF

There is no `apply_patch` program, so bash would answer "command not found". Such a command is
routed through the apply_patch tool instead (its diff approval, its rules, its all-or-nothing
result), when the whole command is exactly one of these two forms: the program `apply_patch` or
`applypatch` with no arguments and one heredoc (quoted delimiter or not, `<<` or `<<-`), alone or
after `cd DIR &&` (one plain or quoted directory, no expansions). Anything else in the command (a
second command, a pipe, another redirect, an expansion in the directory) leaves it a shell
command, run as bash would run it.

The heredoc body is taken as written: in an unquoted heredoc bash would expand `$x` and
backquotes, but no program would receive the result here, and a patch means its text literally.

Bash's grammar is not re-implemented here: the command is parsed with tree-sitter's bash grammar
(the parser the Codex CLI uses for the same check), and only the two shapes above are accepted.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tree_sitter import Node, Parser

__all__ = ["PATCH_PROGRAMS", "PatchHeredoc", "patch_heredoc"]

PATCH_PROGRAMS = frozenset({"apply_patch", "applypatch"})
"""The program names a patch heredoc may use."""

_EXPANDING = frozenset("$`~*?[{\\")
"""Characters that would make bash read an unquoted `cd` directory as other than written."""

_BODY_AND_END = ["heredoc_start", "heredoc_body", "heredoc_end"]


@dataclass(frozen=True)
class PatchHeredoc:
    """A shell command that is one apply_patch heredoc."""

    patch: str
    """The heredoc's body: the patch."""
    directory: str | None
    """The `cd` directory before it (None: the command's own working directory)."""


@cache
def _parser() -> Parser:
    # Imported here: the bash grammar is loaded only once a shell call is looked at.
    import tree_sitter
    import tree_sitter_bash

    return tree_sitter.Parser(tree_sitter.Language(tree_sitter_bash.language()))


@lru_cache(maxsize=16)  # one finished call is looked at by the registry, its card and the status line
def patch_heredoc(command: str) -> PatchHeredoc | None:
    """The patch and directory of `command` when it is exactly an apply_patch heredoc (see the
    module docstring), else None."""
    if not any(program in command for program in PATCH_PROGRAMS) or "<<" not in command:
        return None
    try:
        source = command.encode()
    except UnicodeEncodeError:  # a lone surrogate: not a command bash could be given either
        return None
    tree = _parser().parse(source)
    root = tree.root_node
    if root.has_error or root.named_child_count != 1:
        return None
    statement = root.named_children[0]
    if statement.type != "redirected_statement":
        return None
    body = statement.child_by_field_name("body")
    redirects = statement.children_by_field_name("redirect")
    if body is None or len(redirects) != 1 or statement.named_child_count != 2:
        return None
    patch = _heredoc_text(redirects[0])
    if patch is None:
        return None
    if body.type == "command":
        return PatchHeredoc(patch, None) if _is_patch_program(body) else None
    if body.type != "list" or [child.type for child in body.children] != ["command", "&&", "command"]:
        return None
    cd, program = body.children[0], body.children[2]
    directory = _cd_directory(cd)
    if directory is None or not _is_patch_program(program):
        return None
    return PatchHeredoc(patch, directory)


def _text(node: Node) -> str:
    return (node.text or b"").decode(errors="replace")


def _command_words(command: Node) -> tuple[str, list[Node]] | None:
    """A simple command's name (a plain word) and its argument nodes; None for anything else
    (assignments before it, a quoted or expanded name, redirects inside it)."""
    name = command.child_by_field_name("name")
    if name is None or command.named_children[0] != name:
        return None
    if name.named_child_count != 1 or name.named_children[0].type != "word":
        return None
    arguments = command.named_children[1:]
    if len(command.children_by_field_name("argument")) != len(arguments):
        return None
    return _text(name), arguments


def _is_patch_program(command: Node) -> bool:
    words = _command_words(command)
    return words is not None and words[0] in PATCH_PROGRAMS and not words[1]


def _cd_directory(command: Node) -> str | None:
    """The one directory of a plain `cd DIR` (unquoted with no expansion, or quoted with none)."""
    words = _command_words(command)
    if words is None or words[0] != "cd" or len(words[1]) != 1:
        return None
    [argument] = words[1]
    text = _text(argument)
    if argument.type in ("word", "number"):
        if any(char in _EXPANDING for char in text):
            return None
    elif argument.type == "string":
        if any(child.type != "string_content" for child in argument.named_children) or "\\" in text:
            return None
    elif argument.type != "raw_string":
        return None
    words_in_it = shlex.split(text)
    if len(words_in_it) != 1 or not words_in_it[0] or words_in_it[0].startswith("-"):  # `-`, options
        return None
    return words_in_it[0]


def _heredoc_text(redirect: Node) -> str | None:
    """The body of a heredoc redirect that is only `<<[-]DELIM`, a body and the delimiter line."""
    if redirect.type != "heredoc_redirect":
        return None
    kinds = [child.type for child in redirect.children]
    if kinds[0] not in ("<<", "<<-") or kinds[1:] not in (_BODY_AND_END, _BODY_AND_END[::2]):
        return None
    start, end = redirect.children[1], redirect.children[-1]
    source = redirect.text or b""
    offset = redirect.start_byte
    # The body runs from the line after `<<DELIM` to the delimiter line (tree-sitter's body node
    # leaves out the first tab of a `<<-` body, so the span is taken from the source).
    line_end = source.find(b"\n", start.end_byte - offset)
    if line_end < 0:
        return None
    text = source[line_end + 1 : end.start_byte - offset].decode(errors="replace")
    if kinds[0] == "<<-":
        text = "\n".join(line.lstrip("\t") for line in text.split("\n"))
    return text
