"""The tool contract: a pydantic `Args` model (→ strict JSON schema), a declared kind, `run`.

Failures the model should hear about are `ToolError`s: their message becomes the call's output.
An `OSError` that a tool did not turn into a clearer message (a name too long, a file vanishing,
permission denied…) becomes a `ToolError` too, at the boundary of `run`, `approval_request`,
`touched_paths` and `escalation_request` (`Tool.__init_subclass__`). Only programming errors
propagate.
"""

from __future__ import annotations

import asyncio
import copy
import errno
import functools
import glob
import hashlib
import inspect
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from agent.approvals import ApprovalRequest, ToolKind
from agent.sandbox import SandboxPolicy
from agent.tools.stale_temp import clean_once

if TYPE_CHECKING:
    from agent.side_request import SideChannel


class ToolError(Exception):
    """A failure reported to the model as the tool's output (not a crash)."""


class ToolArgs(BaseModel):
    """Base of every tool's arguments: unknown keys are refused."""

    model_config = ConfigDict(extra="forbid")


class LiveOutput:
    """The output of the tool call that is running, for the UI while it runs.

    The tool says where its output can be read (`follow`) and when more arrived (`touched`, cheap
    enough to call per chunk); the loop reads the tail (`tail`) at its own bounded pace. A tool
    that is cancelled leaves what it had gathered in `partial`, so the call's aborted output keeps it.
    """

    def __init__(self) -> None:
        self.changed = asyncio.Event()
        """Set when output arrived since the loop last read the tail (the loop clears it)."""
        self.partial: str | None = None
        """The output gathered before the call was cancelled (set by the tool)."""
        self._read: Callable[[], tuple[str, int]] = lambda: ("", 0)

    def follow(self, read: Callable[[], tuple[str, int]]) -> None:
        """Where the tail comes from: `read()` returns the latest lines and the bytes printed in all."""
        self._read = read

    def touched(self) -> None:
        """More output arrived."""
        self.changed.set()

    def tail(self) -> tuple[str, int]:
        """The latest lines of the output, and how many bytes were printed in all."""
        return self._read()


@dataclass
class ToolContext:
    """What tools share within one agent session."""

    workspace: Path
    """The resolved workspace root; tools never touch anything outside it."""
    read_hashes: dict[Path, str] = field(default_factory=dict)
    """sha256 of each file's bytes when the model last read it (to refuse stale edits)."""
    plan: list[dict[str, str]] = field(default_factory=list)
    """The model's current plan (`update_plan`)."""
    live: LiveOutput | None = None
    """The running call's live output (set by the loop while a call runs; None otherwise)."""
    sandbox: SandboxPolicy | None = None
    """Where shell commands run (None: unsandboxed)."""
    hard_links_asked: set[tuple[int, int]] = field(default_factory=set)
    """(device, inode) of the files with other hard links whose reading asked for approval."""
    side: SideChannel | None = None
    """Where tools send requests of their own to the model's endpoint (`web_search`); None: nowhere."""

    def __post_init__(self) -> None:
        self.workspace = self.workspace.resolve()
        clean_once(self.workspace)  # temporary files a crashed write left (`agent.tools.stale_temp`)

    def remember_read(self, path: Path, data: bytes) -> None:
        self.read_hashes[path] = hashlib.sha256(data).hexdigest()


class ToolResult(BaseModel):
    """A finished call: the text the model receives, plus detail for the UI."""

    model_config = ConfigDict(frozen=True)

    output: str
    ok: bool = True
    display: dict[str, Any] | None = None
    images: tuple[str, ...] = ()
    """Images the model receives with the output, as `data:` URLs (`view_image`, MCP results)."""


ArgsT = TypeVar("ArgsT", bound=ToolArgs)

SUMMARY_LIMIT = 120
"""Characters of a call's summary line."""


@dataclass(frozen=True)
class CallDescription:
    """How one tool call reads on screen (tool cards, approval cards, replay)."""

    summary: str
    """One line: the call's key argument (`a.py`, `pytest -q`, `3 steps`), at most `SUMMARY_LIMIT` characters."""
    segments: tuple[str, ...] = ()
    """For commands: each chained command on its own line (`a && b | c` → `a`, `b`, `c`)."""


def one_line(text: str, limit: int = SUMMARY_LIMIT) -> str:
    """`text` on one line (newlines shown as `\\n`), cut to `limit` characters with an ellipsis."""
    flat = text.replace("\n", "\\n").replace("\t", " ")
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def text_argument(arguments: dict[str, Any], *names: str) -> str | None:
    """The first of `names` whose value is a non-empty string."""
    for name in names:
        value = arguments.get(name)
        if isinstance(value, str) and value:
            return value
    return None


def os_error_reason(exc: OSError) -> str:
    """A readable reason for `exc` (its `strerror`, explained for the errors paths cause)."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    explained = {
        errno.ENAMETOOLONG: "a name in the path is longer than the 255 bytes the file system allows",
        errno.ELOOP: "a symbolic link appeared in the path while it was in use, or a link loops",
        errno.ENOTDIR: "a part of the path is not a directory",
        errno.ENXIO: "it is a socket or a device, not a regular file",
    }
    detail = explained.get(exc.errno or 0)
    return f"{reason} ({detail})" if detail else reason


def os_error_text(exc: OSError) -> str:
    """`exc` as one readable sentence, without a traceback."""
    where = f" ('{one_line(str(exc.filename))}')" if exc.filename is not None else ""
    return f"The tool failed: {os_error_reason(exc)}{where}."


def _os_errors_as_tool_errors(method: Callable[..., Any]) -> Callable[..., Any]:
    if inspect.iscoroutinefunction(method):

        @functools.wraps(method)
        async def run_guarded(*args: Any, **kwargs: Any) -> Any:
            try:
                return await method(*args, **kwargs)
            except OSError as exc:
                raise ToolError(os_error_text(exc)) from exc

        return run_guarded

    @functools.wraps(method)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except OSError as exc:
            raise ToolError(os_error_text(exc)) from exc

    return guarded


class Tool(ABC, Generic[ArgsT]):
    """One tool the model can call."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Wrap the subclass's own entry points so that no `OSError` leaves them."""
        super().__init_subclass__(**kwargs)
        for name in ("run", "approval_request", "touched_paths", "escalation_request"):
            if name in cls.__dict__:
                setattr(cls, name, _os_errors_as_tool_errors(cls.__dict__[name]))

    name: ClassVar[str]
    description: ClassVar[str]
    Args: ClassVar[type[ToolArgs]]
    kind: ClassVar[ToolKind] = "read"
    mutating: ClassVar[bool] = False
    """Whether it changes anything (mutating tools go through approvals)."""
    parallel_safe: ClassVar[bool] = False
    """Whether calls of it may run at the same time as other such calls of one response (it
    changes nothing, and reads nothing another call of the response could be changing)."""
    freeform_argument: ClassVar[str | None] = None
    """For a tool that can also be offered in freeform form (`freeform_spec`): the argument its
    raw input fills."""

    @classmethod
    def spec(cls) -> dict[str, Any]:
        """The `tools[]` entry: a strict function tool."""
        return {
            "type": "function",
            "name": cls.name,
            "description": cls.description,
            "parameters": strict_schema(cls.Args),
            "strict": True,
        }

    @classmethod
    def freeform_spec(cls) -> dict[str, Any] | None:
        """The `tools[]` entry of the tool's freeform form: a custom tool whose input is raw text
        (`freeform_argument`) constrained by a grammar; None for a tool that has none."""
        return None

    def parse_arguments(self, raw_arguments: str) -> ArgsT:
        """The call's arguments, validated against `Args`.

        Raises:
            ToolError: not a JSON object, or not matching the schema (the message says what is
                wrong, field by field).
        """
        try:
            return self.Args.model_validate_json(raw_arguments or "{}")  # type: ignore[return-value]
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or 'arguments'}: {err['msg']}" for err in exc.errors()[:8]
            )
            raise ToolError(f"Invalid arguments for {self.name}: {problems}.") from None

    def approval_request(self, call_id: str, args: ArgsT, ctx: ToolContext) -> ApprovalRequest:
        """What a person sees when this call needs consent (tools override for diffs/commands).

        A reading call that names one path is remembered by "approve always" for that path only
        (`read_file:config/.env`): it is asked about only when a rule says so (secrets)."""
        paths = self.touched_paths(args, ctx)
        key = f"{self.name}:{glob.escape(paths[0])}" if self.kind == "read" and len(paths) == 1 else self.name
        return ApprovalRequest(
            call_id=call_id,
            tool=self.name,
            kind=self.kind,
            summary=" ".join((self.name, *paths)),
            rule_key=key,
            rule_scope=f"reading `{paths[0]}` with {self.name}" if key != self.name else f"every {self.name} call",
            paths=paths,
        )

    def escalation_request(
        self, call_id: str, args: ArgsT, ctx: ToolContext, result: ToolResult
    ) -> ApprovalRequest | None:
        """After a run the sandbox blocked: the request to run the call again with more (network,
        or no sandbox); None for tools the sandbox does not confine."""
        return None

    def touched_paths(self, args: ArgsT, ctx: ToolContext) -> tuple[str, ...]:
        """The workspace-relative paths (or globs) the call reads or changes, for path rules."""
        return ()

    @classmethod
    def describe(cls, arguments: dict[str, Any]) -> CallDescription:
        """How a call reads on screen, from its arguments as the model sent them.

        They are not validated (invalid calls are shown too), so tools read them defensively.
        Tools override this to name their key argument; this default lists every argument."""
        shown = ", ".join(f"{key}={value!r}" for key, value in arguments.items() if value is not None)
        return CallDescription(one_line(shown))

    @abstractmethod
    async def run(self, args: ArgsT, ctx: ToolContext) -> ToolResult:
        """Do the work; raise `ToolError` for failures the model should see."""


def strict_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema in the strict form function calling requires.

    Every property is required (optional ones are nullable instead), `additionalProperties` is
    false on every object, and titles and defaults are dropped.
    """
    schema = copy.deepcopy(model.model_json_schema())
    definitions = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return inline(definitions[node["$ref"].rsplit("/", 1)[-1]])
            node = {key: inline(value) for key, value in node.items() if key not in ("title", "default")}
            if node.get("type") == "object" or "properties" in node:
                node["type"] = "object"
                node.setdefault("properties", {})
                node["required"] = list(node["properties"])
                node["additionalProperties"] = False
            return node
        if isinstance(node, list):
            return [inline(value) for value in node]
        return node

    inlined: dict[str, Any] = inline(schema)
    return inlined
