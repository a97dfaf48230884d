"""The scripted rollout every arm of `bench.transport` plays.

The model side is a scenario for `codeassist serve`: each turn a short reasoning summary, now and
then a sentence of text, and one function call; the last turn a closing message. Each turn checks
that the previous call's output arrived (by call id and a marker in the text), so an arm that
sent the wrong context gets `response.failed`, not a silent pass. The client side answers each
call with a canned output (`codeassist.bench_task.canned_output`) after the call's scripted duration;
a few calls last longer than HTTP keep-alive's 5 s idle expiry, like a test-suite run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from agent.wire import FunctionCallOutput, user_message
from codeassist.bench_task import TASK_PROMPT, TOOL_NAMES, canned_output, tool_arguments

SEQUENCE = (
    "list_files",
    "read_file",
    "grep",
    "read_file",
    "shell",
    "edit_file",
    "read_file",
    "grep",
    "apply_patch",
    "shell",
)
"""The order of tool calls, repeated: look around, read, search, test, edit, patch, test again."""


@dataclass(frozen=True)
class Rollout:
    """The shape of one rollout.

    Args:
        tool_calls: function calls before the closing message (turns = tool_calls + 1).
        long_tool_s: duration of the long calls (default just over httpx's 5 s keep-alive expiry).
        long_calls: indices of the calls that take `long_tool_s`.
        short_tool_s: duration of every other call.
        tokens_per_second: the scripted model's streaming pace (0: as fast as possible).
    """

    tool_calls: int = 30
    long_tool_s: float = 5.5
    long_calls: tuple[int, ...] = (9, 21)
    short_tool_s: float = 0.02
    tokens_per_second: float = 0.0
    marker: str = field(default="bench-marker", repr=False)

    @property
    def turns(self) -> int:
        return self.tool_calls + 1

    def tool_name(self, index: int) -> str:
        return SEQUENCE[index % len(SEQUENCE)]

    def call_id(self, index: int) -> str:
        return f"call_{index:03d}"

    def duration(self, index: int) -> float:
        """How long call `index` "runs"."""
        return self.long_tool_s if index in self.long_calls else self.short_tool_s

    def tool_time(self, turns: int | None = None) -> float:
        """Total tool time of a rollout cut after `turns` turns (default: all)."""
        calls = min(self.tool_calls, turns if turns is not None else self.tool_calls)
        return sum(self.duration(index) for index in range(calls))

    def output_text(self, index: int) -> str:
        """The canned result of call `index`, ending with a marker the next turn checks."""
        return f"{canned_output(self.tool_name(index), index)}\n[{self.marker} {self.call_id(index)}]"

    def first_input(self) -> list[dict[str, Any]]:
        return [user_message(TASK_PROMPT).model_dump(mode="json")]

    def tool_output_item(self, call_id: str) -> dict[str, Any]:
        """The `function_call_output` answering `call_id` (any id the scenario produced)."""
        index = int(call_id.rsplit("_", 1)[1])
        return FunctionCallOutput(call_id=call_id, output=self.output_text(index)).model_dump(mode="json")

    def scenario(self) -> dict[str, Any]:
        """The scenario for `codeassist serve --script`."""
        turns: list[dict[str, Any]] = []
        for index in range(self.tool_calls):
            name = self.tool_name(index)
            output: list[dict[str, Any]] = [
                {
                    "type": "reasoning",
                    "summary": [
                        f"Step {index + 1}: use {name} to learn more about how "
                        "words are split, then decide on the next step."
                    ],
                }
            ]
            if index % 3 == 0:
                output.append({"type": "message", "text": f"Next I will call {name} to check the code path."})
            output.append(
                {
                    "type": "function_call",
                    "call_id": self.call_id(index),
                    "name": name,
                    "arguments": tool_arguments(name, index),
                }
            )
            turns.append({"expect": self._expect(index), "output": output})
        turns.append(
            {
                "expect": self._expect(self.tool_calls),
                "output": [
                    {
                        "type": "message",
                        "text": "Fixed: the tokenizer now keeps combining marks with their "
                        "base character; the full test suite passes.",
                    }
                ],
            }
        )
        return {
            "name": "transport-bench",
            "model": "bench-model",
            "tokens_per_second": self.tokens_per_second,
            "turns": turns,
            "on_exhausted": "fail",
        }

    def _expect(self, index: int) -> list[dict[str, Any]]:
        if index == 0:
            return [{"type": "message", "role": "user", "contains": "combining accents"}]
        previous = self.call_id(index - 1)
        return [{"type": "function_call_output", "call_id": previous, "contains": f"{self.marker} {previous}"}]


assert set(SEQUENCE) <= set(TOOL_NAMES)


def canonical(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A transcript without what differs between runs (ids, status, encrypted reasoning).

    Two arms that had the same conversation give equal canonical transcripts.
    """
    result = []
    for item in items:
        kind = item.get("type") or ("message" if "role" in item else "unknown")
        entry: dict[str, Any] = {"type": kind}
        if kind == "message":
            content = item.get("content")
            entry["role"] = item.get("role")
            entry["text"] = (
                content if isinstance(content, str) else "".join(part.get("text", "") for part in content or [])
            )
        elif kind == "reasoning":
            entry["summary"] = [part.get("text", "") for part in item.get("summary") or []]
        elif kind == "function_call":
            entry.update(call_id=item.get("call_id"), name=item.get("name"), arguments=item.get("arguments"))
        elif kind == "function_call_output":
            entry.update(call_id=item.get("call_id"), output=item.get("output"))
        result.append(entry)
    return result
