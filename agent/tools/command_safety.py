"""What a shell command really does, for the approval prompt and for "approve always" rules.

Three questions, each answered conservatively (when the analysis cannot decide, it never allows):

- `escape_for_display`: the complete command with every character a terminal would hide or act
  on (control characters, escape sequences, `\\r`, bidi controls, zero-width characters, unusual
  spaces) shown escaped, so a person approves exactly what will run.
- `rule_key`: what "approve always" remembers for a command: its program, plus the first
  argument when that is a subcommand (`git status`). Anything a prefix cannot describe (chains,
  pipes, redirects, substitutions, newlines, assignments, expansions in the program position,
  shells, interpreters, wrappers, network programs, unparseable quoting) has no key at all.
- `segments` and `uses_network`: every chained command, and whether any of them can reach the
  network (such commands never get a key either).

Commands are tokenised by `shlex` in POSIX mode with `punctuation_chars=True`; quoting rules are
never re-implemented here. What `shlex` does not model (`$(…)`, backticks, `${…}`, `$'…'`, `$"…"`)
makes `rule_key` give up, even inside quotes: in double quotes a substitution still runs, and
ANSI-C quoting could make `shlex` and bash disagree about where a quote ends.

A key describes a program, so a command whose arguments make that program run another one or
write outside the workspace (`rg --pre=sh`, `find -exec`, `go test -exec`, `sed -i … ~/.bashrc`,
`tee /etc/x`: `agent.tools.risky_arguments`) gets no key, and neither do the programs whose
arguments are code (shells, interpreters, `env`, `sudo`, `xargs`, …).
"""

from __future__ import annotations

import posixpath
import re
import shlex
import unicodedata
from dataclasses import dataclass

from agent.tools.risky_arguments import risky_argument

__all__ = [
    "MAX_ANALYSED_CHARS",
    "NETWORK_PROGRAMS",
    "escape_for_display",
    "rule_key",
    "segments",
    "uses_network",
]

MAX_ANALYSED_CHARS = 10_000
"""Longer commands are not tokenised: no rule key, one segment (the whole command)."""

NETWORK_PROGRAMS = frozenset(
    {
        "aria2c",
        "curl",
        "curlie",
        "ftp",
        "http",
        "https",
        "lftp",
        "mosh",
        "nc",
        "ncat",
        "netcat",
        "nmap",
        "ping",
        "rsync",
        "scp",
        "sftp",
        "socat",
        "ssh",
        "telnet",
        "tftp",
        "wget",
        "xh",
    }
)
"""Programs whose purpose is talking to other hosts; a command naming one never gets a rule key."""

_OPERATOR_CHARS = "();<>|&"
"""The characters `shlex(punctuation_chars=True)` turns into operator tokens."""

_BASH_OPERATORS = re.compile(r";;&|;;|;&|\|\||\|&|&&|&>>|&>|>>|>&|>\||<<<|<<-|<<|<&|<>|[;|&<>()]")
"""Splits a run of operator characters into bash's operators, longest first."""

_CONTROL_OPERATORS = frozenset({";", ";;", ";&", ";;&", "&&", "||", "|", "|&", "&"})
"""Operators that separate one command from the next (the rest are redirects and grouping)."""

_UNMODELLED = ("`", "$(", "${", "$[", "$'", '$"')
"""Substitutions and quoting that `shlex` does not understand; their presence means no key."""

_PROGRAM = re.compile(r"[A-Za-z0-9_./+-]+")
_SUBCOMMAND = re.compile(r"[a-z][a-z0-9]*(?:[-_:][a-z0-9]+)*")
_PYTHON_MODULE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
_PYTHON = re.compile(r"(?:python|pypy)(?:\d+(?:\.\d+)?)?")
_NETWORK_WORD_SPLIT = re.compile(r"[^A-Za-z0-9_.+/-]+")
_NETWORK_DEVICES = ("/dev/tcp/", "/dev/udp/")

_NO_KEY_PROGRAMS = frozenset(
    {
        # shells and interpreters: their arguments are code
        "bash",
        "sh",
        "zsh",
        "dash",
        "ksh",
        "mksh",
        "fish",
        "csh",
        "tcsh",
        "busybox",
        "node",
        "nodejs",
        "deno",
        "perl",
        "ruby",
        "irb",
        "php",
        "lua",
        "luajit",
        "Rscript",
        "R",
        "julia",
        "tclsh",
        "wish",
        "osascript",
        "pwsh",
        "powershell",
        "awk",
        "gawk",
        "mawk",
        "nawk",
        "ipython",
        "groovy",
        # wrappers: they run another command given as arguments
        "env",
        "sudo",
        "doas",
        "su",
        "pkexec",
        "runuser",
        "xargs",
        "exec",
        "eval",
        "command",
        "builtin",
        "source",
        "nohup",
        "timeout",
        "time",
        "nice",
        "ionice",
        "setsid",
        "stdbuf",
        "chroot",
        "unshare",
        "nsenter",
        "watch",
        "parallel",
        "script",
        "flock",
        "taskset",
        "chrt",
        "strace",
        "ltrace",
        "unbuffer",
        "expect",
        "trap",
        "coproc",
        # shell reserved words
        "if",
        "then",
        "else",
        "elif",
        "fi",
        "for",
        "while",
        "until",
        "do",
        "done",
        "case",
        "esac",
        "select",
        "function",
        "in",
    }
)
"""Programs that never get a key (their arguments are code, or another command)."""

_SUBCOMMAND_PROGRAMS = frozenset(
    {
        "git",
        "gh",
        "npm",
        "pnpm",
        "yarn",
        "bun",
        "cargo",
        "rustup",
        "go",
        "docker",
        "podman",
        "kubectl",
        "helm",
        "pip",
        "pip3",
        "uv",
        "poetry",
        "pdm",
        "hatch",
        "conda",
        "brew",
        "apt",
        "apt-get",
        "systemctl",
        "dotnet",
        "bundle",
        "gem",
        "terraform",
        "nix",
    }
)
"""Programs whose key must include a subcommand (`git -C x push` has none, so no key)."""

_COMMAND_RUNNERS = {
    "uv": {"run", "tool"},
    "poetry": {"run"},
    "pdm": {"run"},
    "hatch": {"run"},
    "pipx": {"run"},
    "npm": {"exec", "x"},
    "pnpm": {"exec", "dlx"},
    "yarn": {"exec", "dlx"},
    "bun": {"x"},
    "bundle": {"exec"},
}
"""Subcommands that run another command: the key covers that command too (`uv run pytest`)."""

_NO_KEY_SUBCOMMANDS = {"docker": {"run", "exec"}, "podman": {"run", "exec"}, "kubectl": {"run", "exec"}}
"""Subcommands that run arbitrary commands in a container: no prefix describes them."""

_STANDALONE_RUNNERS = frozenset({"npx", "uvx", "bunx", "pnpx"})
"""Programs that run another command (`npx prettier` → key `npx prettier`)."""

_SCRIPT_RUNNERS = {"npm": {"run", "run-script"}, "pnpm": {"run"}, "yarn": {"run"}, "bun": {"run"}}
"""Subcommands that run a named project script: the key includes the script (`npm run build`)."""


def _needs_escape(char: str) -> bool:
    if char in "\n\t":
        return False
    if char == " ":
        return False
    category = unicodedata.category(char)
    # Cc: C0, DEL, C1. Cf: bidi, zero-width, BOM, tag characters. Zs other than a space, Zl, Zp:
    # characters that look like a space or a line break but are neither to bash.
    return category in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp", "Zs")


def _escape(char: str) -> str:
    if char == "\r":
        return "\\r"
    code = ord(char)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def escape_for_display(command: str) -> str:
    """The complete command with every hidden or terminal-controlling character shown escaped.

    Newlines and tabs are kept (they are visible). `\\r` becomes `\\r`; other control characters
    (C0, DEL, C1, hence every ANSI/OSC escape sequence, whose ESC shows as `\\x1b`), bidi controls,
    zero-width characters, BOMs, tag characters, unassigned and private-use code points, and any
    space other than U+0020 become `\\xNN`, `\\uNNNN` or `\\UNNNNNNNN`. A backslash already in the
    command is left as it is.

    Args:
        command: the command exactly as it will run.

    Returns:
        Text that is safe to print and shows everything `command` contains.
    """
    return "".join(_escape(char) if _needs_escape(char) else char for char in command)


@dataclass(frozen=True)
class _Token:
    text: str
    """The word after quote removal, or the operator characters."""
    start: int
    end: int
    """The token's span in the command (quotes included)."""
    operator: bool
    """An unquoted run of operator characters (`&&`, `|`, `>`, `2>&1`'s `>&`, `(`...)."""


class _CountingReader:
    """The lexer's input; counts the characters read so each token's span is known."""

    def __init__(self, text: str) -> None:
        self._text = text
        self.offset = 0
        self.at_end = False

    def read(self, size: int = 1) -> str:
        chunk = self._text[self.offset : self.offset + size]
        self.offset += len(chunk)
        self.at_end = not chunk
        return chunk

    def readline(self) -> str:  # only used for comments, which are disabled
        return self.read(len(self._text))


def _tokenize(command: str) -> list[_Token]:
    """The tokens of `command` with their spans.

    A token ends at the character that ended it (whitespace, or an operator/word boundary the
    lexer pushes back), which is the last one read, or at the end of the input. Comments are off,
    so `#` is an ordinary character: that can only make the analysis stricter.

    Raises:
        ValueError: unbalanced quotes, a trailing backslash, or a span that does not line up.
    """
    reader = _CountingReader(command)
    lexer = shlex.shlex(reader, posix=True, punctuation_chars=True)  # type: ignore[arg-type]
    lexer.whitespace_split = True
    lexer.commenters = ""
    tokens: list[_Token] = []
    position = 0
    while (text := lexer.get_token()) is not None:
        end = reader.offset if reader.at_end else reader.offset - 1
        start = position
        while start < end and command[start] in lexer.whitespace:
            start += 1
        operator = start < len(command) and command[start] in _OPERATOR_CHARS
        if operator and command[start:end] != text:
            raise ValueError("token span mismatch")
        tokens.append(_Token(text, start, end, operator))
        position = end
    return tokens


def _parse(command: str) -> list[_Token] | None:
    if len(command) > MAX_ANALYSED_CHARS:
        return None
    try:
        return _tokenize(command)
    except ValueError:
        return None


def segments(command: str) -> list[str]:
    """The chained commands of `command`, as written, for the approval card.

    Split at unquoted `;`, `&&`, `||`, `|`, `|&`, `&`, `;;` and newlines; redirects stay with their
    command. A command that cannot be tokenised (or is longer than `MAX_ANALYSED_CHARS`) is one
    segment: the whole command.

    Args:
        command: the shell command.

    Returns:
        The non-empty segments, stripped, in order.
    """
    tokens = _parse(command)
    if tokens is None:
        return [command.strip()] if command.strip() else []
    cuts: list[tuple[int, int]] = []
    previous_end = 0
    for token in tokens:
        cuts.extend(_newlines(command, previous_end, token.start))
        previous_end = token.end
        if token.operator:
            for match in _BASH_OPERATORS.finditer(token.text):
                if match.group() in _CONTROL_OPERATORS:
                    cuts.append((token.start + match.start(), token.start + match.end()))
    cuts.extend(_newlines(command, previous_end, len(command)))
    pieces: list[str] = []
    start = 0
    for cut_start, cut_end in sorted(cuts):
        pieces.append(command[start:cut_start])
        start = cut_end
    pieces.append(command[start:])
    return [piece.strip() for piece in pieces if piece.strip()]


def _newlines(command: str, start: int, end: int) -> list[tuple[int, int]]:
    """The spans of the newlines in `command[start:end]` (a gap between tokens: unquoted)."""
    return [(index, index + 1) for index in range(start, end) if command[index] == "\n"]


def _names_network_program(word: str) -> bool:
    return any(posixpath.basename(part) in NETWORK_PROGRAMS for part in _NETWORK_WORD_SPLIT.split(word) if part)


def uses_network(command: str) -> bool:
    """Whether any part of `command` names a network program (or bash's `/dev/tcp`, `/dev/udp`).

    Deliberately broad: every word counts, not only each segment's program, so `xargs curl`,
    `env wget`, `bash -c "ssh host"` and `c"ur"l` are caught; `grep ssh notes` is a false
    positive, which only costs the command its rule key.

    Args:
        command: the shell command.

    Returns:
        True when a network program appears anywhere (by basename: `/usr/bin/curl` counts).
    """
    if any(device in command for device in _NETWORK_DEVICES):
        return True
    if _names_network_program(command):
        return True
    tokens = _parse(command)
    return tokens is not None and any(not token.operator and _names_network_program(token.text) for token in tokens)


def rule_key(command: str) -> str | None:
    """The "approve always" key of `command`, or None when no prefix rule may ever match it.

    The key is the program plus its first argument when that is a subcommand-like word
    (`pytest -q` → `pytest`, `git status --short` → `git status`, `npm test` → `npm test`), with
    these refinements:

    - `python -m mod …` → `python -m mod`; any other use of an interpreter or shell → None;
    - programs with subcommands (`git`, `npm`, `cargo`, …) need one: `git -C x push` → None;
    - runners include what they run: `uv run pytest` → `uv run pytest`, `npx prettier` →
      `npx prettier`, `npm run build` → `npm run build`;

    and None for: an empty command; a newline or any character `escape_for_display` would escape;
    `` ` ``, `$(`, `${`, `$[`, `$'`, `$"` anywhere (even quoted); any unquoted operator (`;`, `&&`,
    `||`, `|`, `&`, `>`, `>>`, `<`, `2>`, `&>`, `<<`, `<(`, `(`…); unbalanced quotes or a trailing
    backslash; an assignment prefix (`FOO=1 cmd`); a program that is not a plain name or path
    (`$CMD`, `~/x`, `{a,b}`, `!`); wrappers (`env`, `sudo`, `xargs`, `timeout`, …); and any
    command naming a network program (`uses_network`).

    Args:
        command: the shell command.

    Returns:
        The key (only letters, digits, spaces and `_./+:-`), or None.
    """
    if not command.strip() or "\n" in command or any(_needs_escape(char) for char in command):
        return None
    if any(marker in command for marker in _UNMODELLED):
        return None
    tokens = _parse(command)
    if not tokens or any(token.operator for token in tokens):
        return None
    if uses_network(command):
        return None
    return _key_for_words([token.text for token in tokens])


def _key_for_words(words: list[str]) -> str | None:
    """The key of one simple command, given its words (no operators)."""
    if not words:
        return None
    program = words[0]
    name = posixpath.basename(program)
    if not _PROGRAM.fullmatch(program) or program.startswith("-") or name in ("", ".", ".."):
        return None
    if name in _NO_KEY_PROGRAMS or risky_argument(name, words[1:]) is not None:
        return None
    if _PYTHON.fullmatch(name):
        if len(words) >= 3 and words[1] == "-m" and _PYTHON_MODULE.fullmatch(words[2]):
            return f"{program} -m {words[2]}"
        return None
    first = words[1] if len(words) > 1 else None
    if name in _STANDALONE_RUNNERS:
        return _runner_key(program, words[1:])
    if first is not None and first in _NO_KEY_SUBCOMMANDS.get(name, ()):
        return None
    if first is not None and first in _COMMAND_RUNNERS.get(name, ()):
        return _runner_key(f"{program} {first}", words[2:])
    if first is not None and first in _SCRIPT_RUNNERS.get(name, ()):
        script = words[2] if len(words) > 2 else None
        return f"{program} {first} {script}" if script and _SUBCOMMAND.fullmatch(script) else None
    if first is not None and _SUBCOMMAND.fullmatch(first):
        return f"{program} {first}"
    if name in _SUBCOMMAND_PROGRAMS:
        return None
    return program


def _runner_key(prefix: str, rest: list[str]) -> str | None:
    if not rest or rest[0].startswith("-"):
        return None
    inner = _key_for_words(rest)
    return f"{prefix} {inner}" if inner is not None else None
