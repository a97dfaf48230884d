"""Arguments that make an otherwise harmless program run another program or write outside the
workspace: a command using them never matches an "approve always" rule.

Approving `rg` always must not approve `rg --pre=sh`, nor `find` always `find . -exec rm {} +`,
nor `sed` always `sed -i s/x/y/ ~/.bashrc`. `risky_argument` looks at one simple command (its
words, already split by the shell's rules) and names the first argument that does either, per
program; `agent.tools.command_safety.rule_key` gives such a command no key, so it is asked about
every time.

The lists are per program, and conservative where a program's syntax is too rich to check
(`sed` scripts other than plain substitutions, prints and deletions; anything after `--` in
`find`). A path counts as inside the workspace only when it is relative, does not start with `~`
and has no `..` component (commands run in the workspace; a symlink inside pointing out is the
sandbox's business, not this list's).
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Sequence

__all__ = ["PROGRAM_RUNNING_OPTIONS", "WRITING_PROGRAMS", "risky_argument"]

PROGRAM_RUNNING_OPTIONS: dict[str, tuple[str, ...]] = {
    "rg": ("--pre", "--hostname-bin"),
    "find": ("-exec", "-execdir", "-ok", "-okdir", "-fprint", "-fprint0", "-fprintf", "-fls", "-delete"),
    "fd": ("-x", "--exec", "-X", "--exec-batch"),
    "fdfind": ("-x", "--exec", "-X", "--exec-batch"),
    "go": ("-exec", "-toolexec", "-vettool", "-overlay", "-modfile"),
    "cargo": ("--config", "-Z"),
    "tar": (
        "--to-command",
        "--use-compress-program",
        "-I",
        "--checkpoint-action",
        "--info-script",
        "--new-volume-script",
        "-F",
        "--rsh-command",
        "--absolute-names",
        "-P",
    ),
    "sort": ("--compress-program",),
    "zip": ("-TT", "--unzip-command"),
    "git": (
        "--ext-diff",
        "--open-files-in-pager",
        "-O",
        "--exec",
        "--extcmd",
        "--upload-pack",
        "--receive-pack",
        "--config-env",
        "--output",
        "--tool",
    ),
    "npm": ("--script-shell",),
    "man": ("-P", "--pager", "-H", "--html"),
    "less": ("+",),
    "vim": ("-c", "+", "--cmd", "-S"),
    "nvim": ("-c", "+", "--cmd", "-S"),
}
"""Options that run a program, write a file named elsewhere, or change where a program writes
(`--pre` also covers `--pre=sh`; a one-letter option also counts inside a cluster such as `-Hx`;
`+` stands for vim's and less's `+command`)."""

_GIT_RISKY_SUBCOMMANDS = frozenset({"config", "filter-branch", "difftool", "mergetool", "submodule", "bisect"})
"""git subcommands that run configured or given programs (`bisect run`, `submodule foreach`) or
write configuration that later runs one (`config core.fsmonitor=…`)."""

_GO_RISKY_SUBCOMMANDS = frozenset({"generate", "tool"})
"""`go generate` runs the commands named in source comments; `go tool` runs any tool."""

WRITING_PROGRAMS = frozenset(
    {
        "cp",
        "mv",
        "install",
        "ln",
        "rm",
        "rmdir",
        "touch",
        "mkdir",
        "chmod",
        "chown",
        "chgrp",
        "truncate",
        "shred",
        "unlink",
        "tee",
    }
)
"""Programs whose every operand may be written (created, removed, changed): each must be inside
the workspace."""

_OUTPUT_OPTIONS: dict[str, tuple[str, ...]] = {
    "sort": ("-o", "--output"),
    "dd": ("of",),
    "patch": ("-o", "--output", "-d", "--directory"),
    "tar": ("-f", "--file", "-C", "--directory"),
    "cp": ("-t", "--target-directory"),
    "mv": ("-t", "--target-directory"),
    "install": ("-t", "--target-directory"),
    "ln": ("-t", "--target-directory"),
}
"""Options whose value is a path written to (or, for `tar -C`, `patch -d`, written under)."""

_SED_IN_PLACE = re.compile(r"^(?:-[A-Za-z]*i.*|--in-place(?:=.*)?)$")
_SED_SAFE_COMMAND = re.compile(
    r"""^\s*(?:\d+|\$|/[^/]*/)?(?:,(?:\d+|\$|/[^/]*/))?\s*"""  # an optional address or range
    r"""(?:[pdq=]|s(?P<d>[^\w\s\\])(?:(?!(?P=d)).)*(?P=d)(?:(?!(?P=d)).)*(?P=d)[gIpi0-9]*)?\s*$"""
)
"""One `sed` command that only prints, deletes, quits or substitutes (no `e`/`w` flag, no `r`, `w`,
`e` command): the only scripts a rule may cover."""


def _inside_workspace(path: str) -> bool:
    if not path or path.startswith(("/", "~")):
        return False
    return ".." not in path.split("/")


def _matches_option(argument: str, option: str) -> bool:
    if option == "+":
        return argument.startswith("+")
    if len(option) > 2:  # `--long` or `-long` (find, go): alone or with `=value`
        return argument == option or argument.startswith(option + "=")
    # a one-letter option: alone, with its value attached, or in a cluster
    return argument.startswith("-") and not argument.startswith("--") and option[1] in argument[1:]


def _option_value(arguments: Sequence[str], index: int, option: str) -> str | None:
    """The value of `option` at `arguments[index]`: attached (`--output=x`, `-ox`, `of=x`) or the
    next argument."""
    argument = arguments[index]
    if option == "of":
        return argument[3:] if argument.startswith("of=") else None
    if argument == option:
        return arguments[index + 1] if index + 1 < len(arguments) else ""
    if option.startswith("--") and argument.startswith(option + "="):
        return argument[len(option) + 1 :]
    if len(option) == 2 and argument.startswith(option) and not argument.startswith("--"):
        return argument[2:]
    return None


def _written_outside(program: str, arguments: Sequence[str]) -> str | None:
    for index, argument in enumerate(arguments):
        for option in _OUTPUT_OPTIONS.get(program, ()):
            value = _option_value(arguments, index, option)
            if value is not None and not _inside_workspace(value):
                return argument
    if program in WRITING_PROGRAMS:
        return next((operand for operand in _operands(arguments) if not _inside_workspace(operand)), None)
    return None


def _operands(arguments: Sequence[str]) -> list[str]:
    """The arguments that are not options (everything after `--` is an operand)."""
    operands: list[str] = []
    options_done = False
    for argument in arguments:
        if options_done or not argument.startswith("-") or argument == "-":
            operands.append(argument)
        elif argument == "--":
            options_done = True
    return operands


def _sed_risk(arguments: Sequence[str]) -> str | None:
    scripts: list[str] = []
    files: list[str] = []
    in_place = False
    expecting_script = False
    for argument in arguments:
        if expecting_script:
            scripts.append(argument)
            expecting_script = False
        elif argument in ("-e", "--expression"):
            expecting_script = True
        elif argument.startswith("--expression="):
            scripts.append(argument.split("=", 1)[1])
        elif argument in ("-f", "--file") or argument.startswith("--file="):
            return argument
        elif _SED_IN_PLACE.match(argument):
            in_place = True
        elif argument.startswith("-"):
            if "f" in argument[1:] and not argument.startswith("--"):
                return argument
        else:
            files.append(argument)
    if not scripts and files:
        scripts.append(files.pop(0))
    for script in scripts:
        for command in re.split(r"[;\n]", script):
            if command.strip() and not _SED_SAFE_COMMAND.match(command):
                return script
    if in_place:
        for path in files:
            if not _inside_workspace(path):
                return path
    return None


def _git_risk(arguments: Sequence[str]) -> str | None:
    if arguments and arguments[0] in _GIT_RISKY_SUBCOMMANDS:
        return arguments[0]
    if arguments and arguments[0] == "rebase" and any(_matches_option(arg, "-x") for arg in arguments[1:]):
        return "-x"
    return None


def _go_risk(arguments: Sequence[str]) -> str | None:
    if arguments and arguments[0] in _GO_RISKY_SUBCOMMANDS:
        return arguments[0]
    return None


_SPECIAL: dict[str, Callable[[Sequence[str]], str | None]] = {"sed": _sed_risk, "git": _git_risk, "go": _go_risk}


def risky_argument(program: str, arguments: Sequence[str]) -> str | None:
    """The first argument through which `program arguments…` would run another program or write
    outside the workspace, or None when there is none.

    Args:
        program: the program's name (a path is reduced to its last component).
        arguments: its arguments, as the shell splits them.
    """
    name = posixpath.basename(program)
    special = _SPECIAL.get(name)
    if special is not None and (found := special(arguments)) is not None:
        return found
    for argument in arguments:
        if argument == "--" and name != "find":
            break
        if any(_matches_option(argument, option) for option in PROGRAM_RUNNING_OPTIONS.get(name, ())):
            return argument
    return _written_outside(name, arguments)
