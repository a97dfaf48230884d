"""Allow / ask / deny rules: which tool calls run, ask or are refused, whatever the policy says.

A rule is written `tool` or `tool:pattern` (the spelling of the config file, `/permissions` and
the approval card):

- `shell:<command prefix>`: words a command starts with, e.g. `shell:pytest`, `shell:git status`
  (the program matches by name, so `/usr/bin/git status` is `git status` too).
- `network:<command prefix>`, `unsandboxed:<command prefix>`: run such a command in the sandbox
  with network access, or outside the sandbox (see `agent.sandbox`).
- `<file tool>:<glob>`: a path glob for `read_file`, `grep`, `list_files`, `edit_file`,
  `write_file` and `apply_patch`, matched against the workspace-relative path and against the
  file name alone: `read_file:.env*` covers `.env` and `config/.env.local`.
- `<tool>`: every call of the tool (`write_file`, `shell`, `mcp__github__create_issue`).

Three lists, from the user's config (`[permissions]`, never from the workspace), plus the rules
of the session ("approve always") and the built-in ones; deny wins over ask, ask over allow, and
all of them over the approval policy:

- **deny**: refused with a reason naming the rule. A shell deny rule matches wherever its words
  occur in a command — in any chained command, in a quoted `bash -c "…"` — so `deny shell:git push`
  also refuses `make && git push`.
- **ask**: a person is asked, even under `full-auto` and for reading tools. Built in: reading
  `.env*`, private keys and credential files (`DEFAULT_ASK`).
- **allow**: runs without asking. A shell allow rule matches only a command that could have a
  prefix rule at all (`agent.tools.command_safety.rule_key`: one simple command, no chain, pipe,
  redirect, substitution, network program, or option that runs programs or writes outside the
  workspace) whose words start with the rule's words; a file allow rule matches only when every
  path the call touches matches.
"""

from __future__ import annotations

import fnmatch
import posixpath
import re
import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "COMMAND_TOOLS",
    "DEFAULT_ASK",
    "FILE_TOOLS",
    "CallFacts",
    "Effect",
    "PermissionRule",
    "PermissionRuleError",
    "Permissions",
    "RuleSource",
]

Effect = Literal["allow", "ask", "deny"]
RuleSource = Literal["built-in", "config", "session"]

FILE_TOOLS = frozenset({"read_file", "grep", "list_files", "edit_file", "write_file", "apply_patch"})
"""Tools whose pattern is a path glob."""

COMMAND_TOOLS = frozenset({"shell", "network", "unsandboxed"})
"""Tools whose pattern is a command prefix: `shell`, and the two ways of re-running a command the
sandbox blocked (`network:pip install` — with network access; `unsandboxed:make deploy` —
outside the sandbox)."""

_TOOL_NAME = re.compile(r"[a-z][a-z0-9_]*(?:\.[a-z0-9_-]+)*|mcp__[A-Za-z0-9_-]{1,59}")
"""A built-in tool's name, or an MCP server's tool (`mcp__<server>__<tool>`, as offered)."""

DEFAULT_ASK: tuple[str, ...] = tuple(
    f"{tool}:{glob}"
    for tool in ("read_file", "grep")
    for glob in (
        ".env*",
        "*.pem",
        "*.key",
        "*.p12",
        "*.pfx",
        "id_rsa*",
        "id_dsa*",
        "id_ecdsa*",
        "id_ed25519*",
        ".netrc",
        ".git-credentials",
        ".npmrc",
        ".pypirc",
        "credentials",
        "credentials.json",
        "*.keystore",
    )
)
"""Reading these asks, whatever the policy (ask wins over allow: revoking the built-in rule with
`/permissions` is what stops it for a session)."""


class PermissionRuleError(ValueError):
    """A rule that cannot be understood (the message says why)."""


@dataclass(frozen=True)
class CallFacts:
    """What a rule looks at in a tool call."""

    tool: str
    command: str | None = None
    """For shell: the command as the model sent it."""
    rule_key: str | None = None
    """For shell: the command's prefix-rule key (None when no prefix rule may match it)."""
    paths: tuple[str, ...] = ()
    """For file tools: the workspace-relative paths the call reads or changes."""


@dataclass(frozen=True)
class PermissionRule:
    """One rule: its effect, the tool, the pattern (None: every call of the tool), its source."""

    effect: Effect
    tool: str
    pattern: str | None = None
    source: RuleSource = "config"
    words: tuple[str, ...] = field(default=(), compare=False, repr=False)

    @property
    def spec(self) -> str:
        """The rule as written: `shell:git status`, `read_file:.env*`, `write_file`."""
        return self.tool if self.pattern is None else f"{self.tool}:{self.pattern}"

    def __str__(self) -> str:
        return f"{self.effect} {self.spec} ({self.source})"

    @classmethod
    def parse(cls, spec: str, effect: Effect, source: RuleSource = "config") -> PermissionRule:
        """Read `tool` or `tool:pattern`.

        Raises:
            PermissionRuleError: an empty spec, a bad tool name, an empty pattern, or a shell
                pattern that is not plain words.
        """
        tool, separator, pattern = spec.strip().partition(":")
        tool = tool.strip()
        if not _TOOL_NAME.fullmatch(tool):
            raise PermissionRuleError(f"{spec!r}: expected `tool` or `tool:pattern` (e.g. `shell:pytest`)")
        if not separator:
            return cls(effect, tool, None, source)
        pattern = pattern.strip()
        if not pattern:
            raise PermissionRuleError(f"{spec!r}: the pattern after `:` is empty")
        words: tuple[str, ...] = ()
        if tool in COMMAND_TOOLS:
            try:
                words = tuple(shlex.split(pattern))
            except ValueError as exc:
                raise PermissionRuleError(f"{spec!r}: {exc}") from None
            if not words:
                raise PermissionRuleError(f"{spec!r}: the command prefix is empty")
            pattern = " ".join(words)
        return cls(effect, tool, pattern, source, words)

    def matches(self, call: CallFacts) -> bool:
        """Whether the rule applies to `call` (see the module docstring for each kind)."""
        if call.tool != self.tool:
            return False
        if self.pattern is None:
            return True
        if self.tool in COMMAND_TOOLS:
            return self._matches_command(call)
        if not call.paths:
            return False
        hits = [_path_matches(path, self.pattern) for path in call.paths]
        return all(hits) if self.effect == "allow" else any(hits)

    def _matches_command(self, call: CallFacts) -> bool:
        if self.effect == "allow":
            if call.rule_key is None:
                return False
            return _starts_with(shlex.split(call.command or call.rule_key), self.words)
        return call.command is not None and _occurs_in(_all_words(call.command), self.words)


def _path_matches(path: str, pattern: str) -> bool:
    name = posixpath.basename(path.rstrip("/"))
    return fnmatch.fnmatchcase(path, pattern) or fnmatch.fnmatchcase(name, pattern)


def _program_matches(word: str, program: str) -> bool:
    return word == program or posixpath.basename(word) == program


def _starts_with(words: Sequence[str], prefix: Sequence[str]) -> bool:
    if len(words) < len(prefix) or not prefix:
        return False
    return _program_matches(words[0], prefix[0]) and list(words[1 : len(prefix)]) == list(prefix[1:])


_WORD_BREAKS = re.compile(r"[\s;&|()<>`$\"'{}]+")


def _all_words(command: str) -> list[str]:
    """Every word of `command`, quotes and operators ignored, quoted commands split too: broad on
    purpose, for deny and ask rules."""
    return [word for word in _WORD_BREAKS.split(command) if word]


def _occurs_in(words: Sequence[str], sequence: Sequence[str]) -> bool:
    return any(_starts_with(words[index:], sequence) for index in range(len(words)))


class Permissions:
    """The rules in force: built-in, from the config, and the session's own.

    Args:
        allow, ask, deny: rule specs from the user's config.
        session: specs of "approve always" rules of this session (restored on `--continue`).
        built_in_ask: the built-in ask rules (`DEFAULT_ASK`).

    Raises:
        PermissionRuleError: a config rule cannot be read.
    """

    def __init__(
        self,
        *,
        allow: Iterable[str] = (),
        ask: Iterable[str] = (),
        deny: Iterable[str] = (),
        session: Iterable[str] = (),
        built_in_ask: Iterable[str] = DEFAULT_ASK,
    ) -> None:
        self.rules: list[PermissionRule] = [
            *(PermissionRule.parse(spec, "ask", "built-in") for spec in built_in_ask),
            *(PermissionRule.parse(spec, "deny") for spec in deny),
            *(PermissionRule.parse(spec, "ask") for spec in ask),
            *(PermissionRule.parse(spec, "allow") for spec in allow),
        ]
        for spec in session:
            self.add_session_rule(spec)

    def first(self, effect: Effect, call: CallFacts, *, source: RuleSource | None = None) -> PermissionRule | None:
        """The first rule with `effect` (and `source`, if given) that applies to `call`."""
        return next(
            (
                rule
                for rule in self.rules
                if rule.effect == effect and (source is None or rule.source == source) and rule.matches(call)
            ),
            None,
        )

    def add_session_rule(self, spec: str) -> PermissionRule:
        """An "approve always" answer: allow `spec` for the rest of the session."""
        rule = PermissionRule.parse(spec, "allow", "session")
        if rule not in self.rules:
            self.rules.append(rule)
        return rule

    def session_rules(self) -> list[str]:
        """The specs of the session's own rules, in the order they were added."""
        return [rule.spec for rule in self.rules if rule.source == "session"]

    def revoke(self, rule: PermissionRule) -> bool:
        """Remove `rule` for the rest of the session (a config rule comes back with the next
        session unless it is removed from the config too); False when it is not in force."""
        if rule not in self.rules:
            return False
        self.rules.remove(rule)
        return True
