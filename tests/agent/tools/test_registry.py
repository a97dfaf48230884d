"""Every registered tool: a strict schema, a unique snake_case name matching its module."""

from __future__ import annotations

import re

import pytest

from agent.tools import ToolError, ToolRegistry, default_tools

TOOLS = default_tools(web_search=True)


def walk(schema):
    yield schema
    for value in schema.values():
        if isinstance(value, dict):
            yield from walk(value)
        elif isinstance(value, list):
            for entry in value:
                if isinstance(entry, dict):
                    yield from walk(entry)


@pytest.mark.parametrize("tool", TOOLS, ids=lambda tool: tool.name)
def test_every_tool_schema_is_strict(tool):
    spec = tool.spec()
    assert spec["type"] == "function" and spec["strict"] is True
    assert spec["name"] == tool.name and spec["description"]
    for node in walk(spec["parameters"]):
        if node.get("type") == "object":
            assert node["additionalProperties"] is False
            assert sorted(node["required"]) == sorted(node["properties"])
        assert "title" not in node and "default" not in node and "$ref" not in node
    for name, prop in spec["parameters"]["properties"].items():
        assert prop.get("description"), f"{tool.name}.{name} has no description"


@pytest.mark.parametrize("tool", TOOLS, ids=lambda tool: tool.name)
def test_every_tool_name_is_snake_case_and_matches_its_module(tool):
    assert re.fullmatch(r"[a-z][a-z0-9_]*", tool.name)
    assert type(tool).__module__ == f"agent.tools.{tool.name}"


def test_tool_names_are_unique_and_mutating_tools_are_declared():
    names = [tool.name for tool in TOOLS]
    assert len(names) == len(set(names))
    mutating = {tool.name for tool in TOOLS if tool.mutating}
    assert mutating == {"edit_file", "write_file", "apply_patch", "shell"}
    with pytest.raises(ValueError):
        ToolRegistry([*TOOLS, TOOLS[0]])


@pytest.mark.parametrize(
    ("name", "raw", "message"),
    [
        ("read_file", "{not json", "Invalid arguments for read_file"),
        ("read_file", '{"path": 5}', "path"),
        ("read_file", '{"path": "a", "evil": 1}', "evil"),
        ("read_file", "[]", "Invalid arguments"),
        ("shell", '{"command": "ls", "timeout_s": "soon"}', "timeout_s"),
        ("nope", "{}", "no tool named 'nope'"),
        ("read_file", '{"path": "' + "x" * (1024 * 1024 + 10) + '"}', "larger than"),
    ],
)
def test_invalid_arguments_are_one_clear_error(name, raw, message):
    with pytest.raises(ToolError, match=message):
        ToolRegistry(TOOLS).parse(name, raw)
