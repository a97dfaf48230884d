"""Assembling an agent session from settings: transports, log, tools, approvals, conversation."""

from __future__ import annotations

import asyncio
import secrets
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from agent import __version__
from agent.approvals import ApprovalCallback, ApprovalGate, Policy
from agent.config import Settings
from agent.conversation import Conversation, RequestSettings
from agent.git import repo_info
from agent.instructions import build_instructions
from agent.loop import Agent
from agent.model_client import ModelClient
from agent.redact import Redactor
from agent.resume import find_session as find_session  # re-exported: `--resume`/`--continue` look-ups
from agent.resume import latest_session as latest_session
from agent.resume import previous_turn_stats, session_turns
from agent.session_log import LoadedSession, SessionLog, load_session, sessions_root
from agent.tools import Tool, ToolContext, ToolRegistry, default_tools
from agent.transport import ResponsesHTTP, ResponsesSocket


@dataclass
class AgentSession:
    """A ready agent and what was built for it."""

    agent: Agent
    settings: Settings
    workspace: Path
    log: SessionLog | None
    resumed: LoadedSession | None = None
    """The session file as it was before this run appended to it (only when resuming); replay
    it with `SessionReplay(resumed, instant=True)` to restore the transcript on screen."""

    async def close(self) -> None:
        await self.agent.client.close()
        if self.log is not None:
            self.log.close()


def new_session_id() -> str:
    return f"{datetime.now():%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"


def reasoning_options(settings: Settings) -> dict[str, Any] | None:
    if settings.reasoning_effort is None:
        return None
    options: dict[str, Any] = {"effort": settings.reasoning_effort}
    if settings.reasoning_summary is not None:
        options["summary"] = settings.reasoning_summary
    return options


def open_session(
    settings: Settings,
    *,
    cwd: Path,
    decide: ApprovalCallback,
    tools: list[Tool[Any]] | None = None,
    record: bool = True,
    log_root: Path | None = None,
    ssl_context: ssl.SSLContext | None = None,
    sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    resume: Path | None = None,
) -> AgentSession:
    """Build an agent for the repository containing `cwd` (or `cwd` itself outside git).

    Args:
        settings: the loaded settings (endpoint, key, model, policy, limits).
        cwd: where the user started codeassist.
        decide: answers approval requests the policy leaves open.
        tools: the tool set (default: every tool).
        record: write a session log under `log_root` (default: the user's data directory).
        ssl_context: for `wss://`/`https://` endpoints with a private certificate authority.
        sleep: awaited for backoff delays.
        resume: a session file to continue: its transcript is rebuilt (interrupted tool calls get
            a synthetic "interrupted" output and are never run again), the next request resends
            everything on a new connection, turns are numbered on from the file, and with
            `record` new records are appended to that same file.

    Raises:
        SessionLogError: the log cannot be created, or the session to resume cannot be read or
            is open in another process.
    """
    repo = repo_info(cwd)
    workspace = (repo.root if repo else cwd).resolve()
    session_id = new_session_id()
    api_key = settings.api_key_value()
    redactor = Redactor(known_secrets=[api_key] if api_key else [])
    log: SessionLog | None = None
    resumed: LoadedSession | None = None
    if resume is not None:
        if record:
            log = SessionLog.open_existing(resume, redactor)  # first: it cuts a torn last line
        try:
            resumed = load_session(resume)
        except BaseException:
            if log is not None:
                log.close()
            raise
        session_id = log.id if log is not None else str(resumed.header.get("id") or Path(resume).stem)
    elif record:
        log = SessionLog.create(
            root=log_root or sessions_root(),
            session_id=session_id,
            header={
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
            },
            redactor=redactor,
        )
    on_frame = (lambda direction, raw, t: log.append_raw_frame(direction, raw, t)) if log is not None else None
    websocket = None
    if settings.transport == "websocket":
        websocket = ResponsesSocket(
            settings.websocket_url,
            api_key,
            max_size=settings.max_frame_bytes,
            ping_interval=settings.ping_interval_s,
            ping_timeout=settings.ping_timeout_s,
            open_timeout=settings.open_timeout_s,
            idle_timeout=settings.idle_timeout_s,
            max_age=settings.max_connection_age_s,
            on_frame=on_frame,
            ssl_context=ssl_context,
        )
    http = ResponsesHTTP(
        settings.responses_url,
        api_key,
        open_timeout=settings.open_timeout_s,
        idle_timeout=settings.idle_timeout_s,
        on_frame=on_frame,
        verify=ssl_context if ssl_context is not None else True,
    )
    registry = ToolRegistry(tools if tools is not None else default_tools())
    conversation = Conversation(
        RequestSettings.build(
            model=settings.model,
            instructions=build_instructions(workspace, cwd),
            tools=registry.specs(),
            reasoning=reasoning_options(settings),
            store=settings.store,
            prompt_cache_key=session_id,
        )
    )
    agent = Agent(
        client=ModelClient(websocket=websocket, http=http, max_retries=settings.max_retries, sleep=sleep),
        conversation=conversation,
        tools=registry,
        tool_context=ToolContext(workspace=workspace),
        approvals=ApprovalGate(Policy(settings.approval), decide),
        log=log,
        max_steps=settings.max_steps,
    )
    if resumed is not None:
        _restore(
            agent, resumed, log, settings=settings, cwd=cwd, workspace=workspace, repo_head=repo.head if repo else None
        )
    return AgentSession(agent=agent, settings=settings, workspace=workspace, log=log, resumed=resumed)


def _restore(
    agent: Agent,
    resumed: LoadedSession,
    log: SessionLog | None,
    *,
    settings: Settings,
    cwd: Path,
    workspace: Path,
    repo_head: str | None,
) -> None:
    """Put a saved transcript into a fresh agent and mark the resumption in the log."""
    turns = session_turns(resumed)
    agent.conversation.add(*(item for turn in turns for item in turn.items))
    agent.conversation.break_chain("resumed session")
    agent.turns = previous_turn_stats(turns)
    if log is not None:
        log.append(
            "session_resumed",
            cwd=str(cwd),
            workspace=str(workspace),
            git_head=repo_head,
            model=settings.model,
            version=__version__,
            turns=len(agent.turns),
            interrupted=[call.call_id for turn in turns for call in turn.tool_calls if call.interrupted],
        )
        log.flush(fsync=True)
