"""`Session`: the whole contract between a user interface and the agent.

A UI opens a session (new or resumed), runs turns as streams of `AgentEvent`s, answers the
approvals those turns ask for by call id, cancels, and asks the session for what it shows besides
the events (statistics, workspace files, the history of a resumed session, how a tool call reads).
It never reaches into the agent, the model client or the transports behind it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import secrets
import ssl
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from agent import __version__
from agent.approvals import NON_INTERACTIVE_DENIAL as NON_INTERACTIVE_DENIAL
from agent.approvals import ApprovalGate, ApprovalRequest, Decision, Policy
from agent.approvals import non_interactive_denial as non_interactive_denial
from agent.catalogue import ModelInfo as ModelInfo  # `model_info` for the header and the pickers
from agent.catalogue import user_catalogue
from agent.checkpoints import CheckpointConflict as CheckpointConflict
from agent.checkpoints import CheckpointUnavailable as CheckpointUnavailable
from agent.checkpoints import CommitDraft as CommitDraft
from agent.checkpoints import SessionDiff as SessionDiff
from agent.checkpoints import TurnCheckpoints
from agent.checkpoints import UndoPlan as UndoPlan
from agent.compaction import CompactEndpoint, Compactor
from agent.config import Settings, save_setting
from agent.conversation import Conversation, RequestSettings
from agent.cost import ContextUsage as ContextUsage  # `context_usage` for the header meter
from agent.cost import Cost as Cost
from agent.cost import CostReport as CostReport
from agent.events import AgentEvent, FileChangeSummary, RulesChanged
from agent.export import ExportFormat, export_session
from agent.frame_trace import FrameTrace
from agent.git import RepoInfo, repo_info
from agent.instructions import (
    Environment,
    build_instructions,
    gather_environment,
    instructions_with_environment,
    sandbox_context,
)
from agent.loop import Agent
from agent.mcp.manager import McpServerView as McpServerView  # `/mcp` lists them
from agent.mcp.session_hooks import SessionMcp
from agent.mentions import PreparedPrompt as PreparedPrompt  # what `prepare_prompt` returns
from agent.mentions import prepare_prompt, workspace_files
from agent.model_client import ModelClient
from agent.model_list import ModelChoice as ModelChoice
from agent.model_list import ModelListing as ModelListing
from agent.paths import data_dir, sessions_dir
from agent.permissions import PermissionRule as PermissionRule  # `/permissions` lists and revokes them
from agent.permissions import Permissions
from agent.recorder import SessionRecorder, with_log_notices
from agent.redact import Redactor
from agent.resume import RestoredSession, resume_record
from agent.resume import find_session as find_session  # `--resume`/`--continue` look-ups
from agent.resume import latest_session as latest_session
from agent.sandbox import SandboxMode, SessionSandbox, session_sandbox
from agent.session_git import MIB, SessionCheckpoints, open_checkpoints
from agent.session_log import SessionLog, SessionLogError, SessionSummary, list_sessions
from agent.session_models import SessionModels, tool_specs
from agent.session_models import reasoning_options as reasoning_options  # `codeassist bench` builds requests
from agent.stats import ResponseStats, SessionStats, TurnStats
from agent.tools import CallDescription, SideChannel, Tool, ToolContext, ToolRegistry, default_tools, describe_call
from agent.tools.paths import own_directories
from agent.transport.factory import open_transports

__all__ = [
    "NON_INTERACTIVE_DENIAL",
    "ApprovalRequest",
    "CallDescription",
    "CheckpointConflict",
    "CheckpointUnavailable",
    "CommitDraft",
    "ContextUsage",
    "Cost",
    "CostReport",
    "Decision",
    "FileChangeSummary",
    "McpServerView",
    "ModelChoice",
    "ModelInfo",
    "ModelListing",
    "Policy",
    "PreparedPrompt",
    "RepoInfo",
    "ResponseStats",
    "Session",
    "SessionDiff",
    "SessionStats",
    "SessionSummary",
    "TurnStats",
    "UndoPlan",
    "find_session",
    "latest_session",
    "non_interactive_denial",
]

MAX_REMEMBERED_WORKSPACES = 1000


def first_visit(workspace: Path) -> bool:
    """Whether no session started in `workspace` before (remembered in the user's data directory,
    `workspaces.json`; the newest `MAX_REMEMBERED_WORKSPACES` are kept). A store that cannot be read
    or written counts as a first visit: saying it once too often is harmless."""
    store = data_dir() / "workspaces.json"
    try:
        seen = json.loads(store.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        seen = []
    seen = [entry for entry in seen if isinstance(entry, str)] if isinstance(seen, list) else []
    key = str(workspace)
    if key in seen:
        return False
    seen = [*seen, key][-MAX_REMEMBERED_WORKSPACES:]
    try:
        store.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        temporary = store.with_name(f".{store.name}.{os.getpid()}")
        temporary.write_text(json.dumps(seen), encoding="utf-8")
        os.replace(temporary, store)
    except OSError:
        pass
    return True


def new_session_id() -> str:
    return f"{datetime.now():%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"


class Session(SessionModels, SessionCheckpoints, SessionMcp):
    """One agent session in a workspace: what a user interface may do with it.

    Build it with `Session.open`. The methods are the whole contract; `agent` is the core behind
    them, there for the command line and tests, never for a user interface.
    """

    def __init__(
        self,
        agent: Agent,
        *,
        settings: Settings,
        session_id: str,
        workspace: Path,
        recorder: SessionRecorder | None,
        resumed: RestoredSession | None = None,
        sandbox: SessionSandbox | None = None,
    ) -> None:
        self.agent = agent
        self.settings = settings
        self.id = session_id
        self.workspace = workspace
        self.recorder = recorder
        """The session record this run writes (its `path` names the file)."""
        self.resumed = resumed
        """The saved session this run continues, as read before it appended (only when resuming)."""
        self.warmup_stats: ResponseStats | None = None
        """The warm-up request's figures, once one was answered."""
        self.sandbox = sandbox or session_sandbox("off", settings.approval, workspace, ())
        """Where the session's shell commands run."""
        self.log_failure: str | None = None
        """Why the session log could not be created (the session then runs unrecorded)."""
        self.ssl_context: ssl.SSLContext | None = None
        """The TLS context of the endpoint's requests (None: the system's certificate authorities)."""
        self._log_failure_told = False
        self.checkpoints = TurnCheckpoints(None, reason="not set up", record=lambda event: None)
        """The session's checkpoints (`Session.open` sets them up; `agent.checkpoints`)."""
        self.base_instructions: str | None = None
        """The prompt and AGENTS.md files, read once at start (`agent.instructions`)."""
        self.environment: Environment | None = None
        """What the instructions' `<environment_context>` says; rebuilt when policy or sandbox change."""

    # ---- opening and closing -----------------------------------------------------------------

    @classmethod
    def open(
        cls,
        settings: Settings,
        *,
        cwd: Path,
        tools: list[Tool[Any]] | None = None,
        record: bool = True,
        log_root: Path | None = None,
        ssl_context: ssl.SSLContext | None = None,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        resume: Path | None = None,
    ) -> Session:
        """Open a session for the repository containing `cwd` (or `cwd` itself outside git).

        Args:
            settings: the loaded settings (endpoint, key, model, policy, limits).
            cwd: where the user started codeassist.
            tools: the tool set (default: every tool).
            record: write a session log under `log_root` (default: the user's data directory).
            ssl_context: for `wss://`/`https://` endpoints with a private certificate authority.
            sleep: awaited for backoff delays.
            resume: a session file to continue: its transcript is rebuilt (interrupted tool calls
                get a synthetic "interrupted" output and are never run again), the next request
                resends everything on a new connection, turns are numbered on from the file, and
                with `record` new records are appended to that same file (a version-1 file is
                continued in a new file of the current format, and left as it was).

        A new session whose log cannot be created runs unrecorded; `log_failure` says why and
        `take_log_notices` tells the user. On a full disk the log is created and waits in memory.

        Raises:
            SessionLogError: the session to resume cannot be read or is open in another process.
        """
        repo = repo_info(cwd)
        workspace = (repo.root if repo else cwd).resolve()
        session_id = new_session_id()
        api_key = settings.api_key_value()
        redactor = Redactor(known_secrets=[api_key] if api_key else [])
        header = {
            "id": session_id,
            "cwd": str(cwd),
            "workspace": str(workspace),
            "git_head": repo.head if repo else None,
            "git_branch": repo.branch if repo else None,
            "model": settings.model,
            "endpoint": settings.base_url,
            "transport": settings.transport,
            "approval": settings.approval,
            "version": __version__,
        }
        root = log_root or sessions_dir()
        log: SessionLog | None = None
        resumed: RestoredSession | None = None
        if resume is not None:
            resumed = resume_record(resume)  # read first: it refuses what is not a session
            if record and resumed.format_version == 1:
                log = SessionLog.create(root=root, session_id=session_id, header=header, redactor=redactor)
            elif record:
                log = SessionLog.open_existing(resume, redactor)  # it cuts a torn last line
            else:
                session_id = str(resumed.header.get("id") or Path(resume).stem)
            if log is not None:
                session_id = log.id
        log_failure = None
        if record and resume is None:
            try:
                log = SessionLog.create(root=root, session_id=session_id, header=header, redactor=redactor)
            except (SessionLogError, OSError) as exc:
                log_failure = str(exc)
        recorder = None
        if log is not None:
            trace = None
            if settings.trace_frames:
                trace_id = log.id if resume is None else f"{log.id}-{secrets.token_hex(2)}"
                trace_header = {"trace_of": log.id}
                trace = FrameTrace.create(
                    root=root, session_id=trace_id, header=trace_header, redactor=redactor, suffix=".trace"
                )
            recorder = SessionRecorder(log, redactor, trace=trace)
        on_frame = recorder.frame if recorder is not None and recorder.trace is not None else None
        websocket, http = open_transports(settings, on_frame=on_frame, ssl_context=ssl_context)
        registry = ToolRegistry(tools if tools is not None else default_tools(web_search=settings.web_search))
        sandbox = session_sandbox(settings.sandbox, settings.approval, workspace, own_directories())
        permissions = Permissions(allow=settings.allow, ask=settings.ask, deny=settings.deny)
        models = user_catalogue(settings.models)
        base_instructions = build_instructions(workspace, cwd)
        context = sandbox_context(sandbox)
        environment = gather_environment(
            cwd=cwd, workspace=workspace, approval=settings.approval, sandbox=context, repo=repo
        )
        conversation = Conversation(
            RequestSettings.build(
                model=settings.model,
                instructions=instructions_with_environment(base_instructions, environment),
                tools=tool_specs(registry, models.lookup(settings.model)),
                reasoning=reasoning_options(settings, models),
                store=settings.store,
                prompt_cache_key=session_id,
            ),
            compact_setting=settings.compact_threshold,
            models=models,
        )
        client = ModelClient(websocket=websocket, http=http, max_retries=settings.max_retries, sleep=sleep)
        endpoint = CompactEndpoint(http)
        agent = Agent(
            client=client,
            conversation=conversation,
            tools=registry,
            tool_context=ToolContext(workspace=workspace, sandbox=sandbox.policy, side=SideChannel(http, conversation)),
            approvals=ApprovalGate(Policy(settings.approval), permissions, commands_ask=sandbox.missing),
            recorder=recorder,
            max_steps=settings.max_steps,
            compactor=Compactor(client, conversation, endpoint),
        )
        session = cls(
            agent,
            settings=settings,
            session_id=session_id,
            workspace=workspace,
            recorder=recorder,
            resumed=resumed,
            sandbox=sandbox,
        )
        session.log_failure = log_failure
        session.base_instructions = base_instructions
        session.environment = environment
        session.ssl_context = ssl_context
        if resumed is not None:
            resumed.restore(agent, recorder, resumed_fields={**header, "id": session_id, "resumed_from": str(resume)})
        session.checkpoints = agent.checkpoints = open_checkpoints(
            workspace,
            session_id,
            max_file_bytes=settings.checkpoint_max_file_mb * MIB,
            record=session._record_now,
            history=resumed.history if resumed is not None else (),
            mutating=[tool.name for tool in registry if tool.mutating],
            auto_commit=settings.auto_commit,
            plan=lambda: agent.tool_context.plan,
            repo=repo,
        )
        return session

    def _record_now(self, event: AgentEvent) -> None:
        """Write an event that is not part of a turn into the session record, durably."""
        if self.recorder is not None:
            self.recorder.event(event)
            self.recorder.flush(durable=True)

    async def close(self) -> None:
        """Close the connection, the MCP servers, the checkpoints and the session log — each of them
        even when closing another failed (the first failure is raised afterwards)."""
        closed = await asyncio.gather(self.agent.client.close(), self.close_mcp(), return_exceptions=True)
        try:
            await asyncio.to_thread(self.checkpoints.close)  # waits for a snapshot still running
        finally:
            if self.recorder is not None:
                self.recorder.close()
        for failure in closed:
            if isinstance(failure, BaseException):
                raise failure

    # ---- turns and approvals -----------------------------------------------------------------

    async def warm_up(self) -> None:
        """Start the MCP servers, then open the connection ahead of the first prompt (WebSocket only;
        failures are not fatal) with their tools; its figures go into `stats()`."""
        stats = await self.agent.warm_up() if await self.mcp_before_warm_up() else None
        if stats is not None:
            self.warmup_stats = stats

    def run_turn(self, prompt: str, images: Mapping[str, str] | None = None) -> AsyncGenerator[AgentEvent]:
        """Run one user turn: every event, ending with one `TurnEnded`. `images` (name → `data:`
        URL) go with the prompt.

        When a call needs a person, the stream yields `ApprovalRequested` and waits until
        `answer_approval` (or `cancel`) settles that call. A `Notice` says when the session log
        cannot be written (the turn goes on) and when it is written again."""
        return with_log_notices(self.with_mcp(self.agent.run_turn(prompt, images)), self.recorder)

    def compact(self, focus: str | None = None) -> AsyncGenerator[AgentEvent]:
        """Compact the conversation now, between turns (`/compact [focus]`): `CompactionStarted`,
        then `Compacted` (the next request sends only the compacted window), or an `AgentError`
        saying why not. Through the endpoint's `POST /responses/compact`, or by a summarising
        request where the endpoint has no compaction."""
        return with_log_notices(self.agent.compact(focus or None), self.recorder)

    def answer_approval(self, call_id: str, decision: Decision) -> bool:
        """Answer the pending approval of `call_id`; False when no approval with that id waits
        (already answered, or its turn ended)."""
        return self.agent.answer_approval(call_id, decision)

    async def cancel(self) -> None:
        """Cancel the running turn (a pending approval is answered with `cancel`)."""
        self.stop_waiting_for_mcp()
        await self.agent.cancel()

    # ---- settings ----------------------------------------------------------------------------

    @property
    def policy(self) -> Policy:
        return self.agent.approvals.policy

    def set_policy(self, policy: Policy | str) -> None:
        """Change the approval policy from the next tool call on.

        Raises:
            ValueError: `policy` names no policy.
        """
        chosen = Policy(policy)
        self.agent.approvals.policy = chosen
        self.settings = self.settings.model_copy(update={"approval": chosen.value})
        self._update_environment(approval=chosen.value)

    def _update_environment(self, *, approval: str | None = None, sandbox: str | None = None) -> None:
        """Tell the model of a changed approval policy or sandbox: the next request's instructions
        carry the new `<environment_context>` (a changed instructions field resends everything)."""
        if self.environment is None or self.base_instructions is None:
            return
        current = self.environment
        updated = dataclasses.replace(
            current, approval=approval or current.approval, sandbox=sandbox or current.sandbox
        )
        if updated == current:
            return
        self.environment = updated
        conversation = self.agent.conversation
        instructions = instructions_with_environment(self.base_instructions, updated)
        conversation.update_settings(dataclasses.replace(conversation.settings, instructions=instructions))

    # ---- sandbox and permissions -------------------------------------------------------------

    def safety_summary(self) -> str:
        """The approval policy and the sandbox in one line (`ask · sandbox workspace-write (…)`)."""
        return f"{self.policy.value} · {self.sandbox.describe()}"

    def safety_label(self) -> str:
        """The approval policy and the sandbox mode in a few words, for the header."""
        mode = self.sandbox.policy.mode
        if self.sandbox.missing:
            return f"{self.policy.value} · no sandbox"
        return f"{self.policy.value} · " + ("sandbox off" if mode is SandboxMode.OFF else f"sandbox {mode.value}")

    def start_notices(self) -> list[str]:
        """What the user must hear when the session starts: a session log that cannot be created
        or written, a model the catalogue does not know, no checkpoints outside git (offering
        `/git-init`), a working tree already dirty (its files), a sandbox that cannot run here,
        and, the first time in a workspace, which policy and sandbox apply."""
        notices = self.take_log_notices() + self.model_notices() + self.checkpoint_notices()
        if self.sandbox.missing:
            notices.append(
                f"{self.sandbox.describe()}. Shell commands ask before they run, whatever the approval policy "
                '(`--sandbox off` or `sandbox = "off"` runs them unsandboxed without asking).'
            )
        if first_visit(self.workspace):
            notices.append(
                f"First session in {self.workspace}: approval {self.safety_summary()}. "
                "Change them with /approval and /sandbox (or --approval, --sandbox, the config file)."
            )
        return notices

    def set_sandbox(self, mode: str) -> str:
        """Run the next commands in sandbox `mode` (`auto`, `read-only`, `workspace-write`, `off`);
        the new sandbox's description.

        Raises:
            ValueError: `mode` names no sandbox mode.
        """
        chosen = session_sandbox(mode, self.settings.approval, self.workspace, own_directories())
        self.sandbox = chosen
        self.agent.tool_context.sandbox = chosen.policy
        self.agent.approvals.commands_ask = chosen.missing
        self.settings = self.settings.model_copy(update={"sandbox": mode})
        self._update_environment(sandbox=sandbox_context(chosen))
        return chosen.describe()

    def permission_rules(self) -> list[PermissionRule]:
        """The allow/ask/deny rules in force, in the order they are tried, with their source."""
        return list(self.agent.approvals.permissions.rules)

    def revoke_rule(self, rule: PermissionRule) -> bool:
        """Stop applying `rule` in this session (a config or built-in rule returns with the next
        session; a revoked session rule stays revoked on `--continue`); False when not in force."""
        permissions = self.agent.approvals.permissions
        if not permissions.revoke(rule):
            return False
        if rule.source == "session" and self.recorder is not None:
            self.recorder.event(RulesChanged(session_rules=permissions.session_rules()))
            self.recorder.flush(durable=True)
        return True

    def save_rule(self, rule: PermissionRule) -> Path:
        """Keep `rule` for every session: add it to its list (`allow`, `ask`, `deny`) in the user's
        config file; the file written.

        Raises:
            ConfigError: the config file cannot be read or written.
        """
        existing = list(getattr(self.settings, rule.effect))
        if rule.spec not in existing:
            existing.append(rule.spec)
        path = save_setting(rule.effect, existing)
        self.settings = self.settings.model_copy(update={rule.effect: existing})
        return path

    # ---- what the UI shows besides the events ------------------------------------------------

    def stats(self) -> SessionStats:
        """The connection (transport, fallback, socket age, reconnects) and the session's totals."""
        turns = self.agent.turns
        warmup = self.warmup_stats
        return self.agent.client.session_stats(
            turns=len(turns),
            bytes_sent=sum(t.bytes_sent for t in turns),
            bytes_received=sum(t.bytes_received for t in turns),
            resent_bytes=sum(t.resent_bytes for t in turns),
            warmup_bytes_sent=warmup.bytes_sent if warmup else 0,
            warmup_bytes_received=warmup.bytes_received if warmup else 0,
            input_tokens=sum(t.input_tokens for t in turns),
            cached_tokens=sum(t.cached_tokens for t in turns),
            output_tokens=sum(t.output_tokens for t in turns),
            ignored_events=sum(t.ignored_events for t in turns),
            compaction=self.agent.compactor.describe(),
            compactions=self.agent.compactor.compactions,
        )

    @property
    def turns(self) -> list[TurnStats]:
        """The statistics of every finished turn (a resumed session's earlier turns included)."""
        return list(self.agent.turns)

    def workspace_files(self) -> list[str]:
        """Files for `@` completion (`agent.mentions.workspace_files`); safe to call from a thread."""
        return workspace_files(self.workspace)

    def prepare_prompt(self, text: str) -> PreparedPrompt:
        """What the model is sent for `text`: the files its `@` mentions name and the images whose
        paths were pasted in it attached, with notices for what was left out and why
        (`agent.mentions`). Reads files and decodes images: call it from a thread."""
        return prepare_prompt(self.workspace, text)

    def history(self) -> list[AgentEvent]:
        """The events that draw what a resumed session showed before (empty for a new one)."""
        return list(self.resumed.history) if self.resumed is not None else []

    @staticmethod
    def describe_call(name: str, arguments: str) -> CallDescription:
        """How a tool call reads on screen (summary line, chained commands), from its raw
        arguments; needs no live session, so replays use it too."""
        return describe_call(name, arguments)

    @staticmethod
    def repository(path: Path) -> RepoInfo | None:
        """The git repository containing `path` (root, branch, dirty), or None outside git."""
        return repo_info(path)

    # ---- the session file --------------------------------------------------------------------

    @property
    def log_path(self) -> Path | None:
        """The session file (None when the session is not recorded)."""
        return self.recorder.path if self.recorder is not None else None

    def take_log_notices(self) -> list[str]:
        """What the user has not been told yet about the session log: it could not be created,
        it cannot be written (a full disk), it is written again. Each is told once."""
        notices = []
        if self.log_failure is not None and not self._log_failure_told:
            notices.append(f"The session log cannot be created ({self.log_failure}): this session is not saved.")
            self._log_failure_told = True
        if self.recorder is not None:
            notices += self.recorder.take_notices()
        return notices

    @property
    def log_given_up(self) -> int:
        """Bytes of records the closed session log could not write (the disk stayed full)."""
        return self.recorder.given_up if self.recorder is not None else 0

    def flush(self) -> Path | None:
        """Write everything recorded so far to disk; the session file (None when not recorded)."""
        if self.recorder is None:
            return None
        self.recorder.flush(durable=True)
        return self.recorder.path

    def export(self, fmt: ExportFormat = "markdown", out: Path | None = None) -> Path:
        """Write this session's transcript as Markdown or JSON; the file written.

        Raises:
            ValueError: the session is not recorded, so there is nothing to export.
        """
        path = self.flush()
        if path is None:
            raise ValueError("This session is not being recorded, so there is nothing to export.")
        return export_session(path, fmt, out)

    @staticmethod
    def saved_sessions(limit: int = 20) -> list[SessionSummary]:
        """The newest saved sessions, newest first."""
        return list_sessions(sessions_dir())[:limit]

    @staticmethod
    def find_saved(id_or_path: str) -> Path:
        """The saved session a user named (an id, a unique id prefix or a file).

        Raises:
            SessionLookupError: nothing or several sessions match.
        """
        return find_session(sessions_dir(), id_or_path)

    @staticmethod
    def latest_saved(cwd: Path | None = None) -> Path | None:
        """The session `--continue` reopens in `cwd` (the newest anywhere without one)."""
        return latest_session(sessions_dir(), cwd)
