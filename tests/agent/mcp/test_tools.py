"""Names, schemas and results of MCP tools (no server needed: the SDK's own result types)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from mcp_types import (
    AudioContent,
    BlobResourceContents,
    CallToolResult,
    EmbeddedResource,
    ImageContent,
    ResourceLink,
    TextContent,
)

from agent.mcp.names import offered_name
from agent.mcp.results import MAX_OUTPUT_CHARS, tool_result
from agent.mcp.schema import schema_problem, strict_form, validate_arguments, without_added_nulls
from agent.mcp.tool import tool_class
from agent.tools.base import ToolError

VALID = re.compile(r"[A-Za-z0-9_-]{1,64}")
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="


def test_names_are_namespaced_sanitised_cut_and_unique():
    taken: set[str] = set()
    assert offered_name("git", "status", taken) == "mcp__git__status"
    assert offered_name("git", "stat.us", taken) == "mcp__git__stat_us"
    clash = offered_name("git", "stat/us", taken)
    assert clash.startswith("mcp__git__stat_us_") and clash not in ("mcp__git__stat_us",)
    long = offered_name("git", "x" * 100, taken)
    assert len(long) == 64 and VALID.fullmatch(long)
    assert offered_name("git", "x" * 100, set()) == long  # the same name from one run to the next


@given(st.lists(st.tuples(st.sampled_from(["a", "b-c", "d_e"]), st.text(min_size=1, max_size=90)), max_size=30))
def test_any_tool_names_give_valid_unique_names(pairs):
    taken: set[str] = set()
    names = [offered_name(server, tool, taken) for server, tool in pairs]
    assert all(VALID.fullmatch(name) for name in names)
    assert len(set(names)) == len(names)


def test_strict_form_requires_everything_and_makes_optional_properties_nullable():
    schema = {
        "type": "object",
        "title": "Args",
        "properties": {
            "path": {"type": "string", "description": "where"},
            "limit": {"type": "integer", "default": 10},
            "mode": {"enum": ["a", "b"]},
            "tags": {"type": "array", "items": {"type": "object", "properties": {"k": {"type": "string"}}}},
        },
        "required": ["path"],
    }
    strict = strict_form(schema)
    assert strict is not None
    assert strict["required"] == ["path", "limit", "mode", "tags"] and strict["additionalProperties"] is False
    assert strict["properties"]["limit"] == {"type": ["integer", "null"]}
    assert strict["properties"]["mode"] == {"anyOf": [{"enum": ["a", "b"]}, {"type": "null"}]}
    item = strict["properties"]["tags"]["items"]
    assert item["required"] == ["k"] and item["properties"]["k"] == {"type": ["string", "null"]}
    assert "title" not in strict
    assert schema["required"] == ["path"]  # the server's schema is left as it was


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "object", "properties": {"m": {"type": "object", "additionalProperties": {"type": "string"}}}},
        {"type": "object", "properties": {"x": {"type": "string"}}, "additionalProperties": True},
        {"type": "object", "properties": {"x": {"oneOf": [{"type": "string"}, {"type": "integer"}]}}},
        {"type": "object", "properties": {"x": {"type": "array", "uniqueItems": True}}},
        {"type": "object", "patternProperties": {"^a": {"type": "string"}}},
        {"type": "object", "properties": {"meta": {"type": "object"}}},
        {"type": "object", "properties": {"list": {"type": "array"}}},
    ],
)
def test_what_strict_mode_cannot_express_stays_non_strict(schema):
    assert strict_form(schema) is None


def test_a_tool_without_arguments_is_strict():
    assert strict_form({"type": "object"}) == {
        "type": "object",
        "properties": {},
        "required": [],
        "additionalProperties": False,
    }


def test_the_nulls_of_the_strict_form_are_taken_out_before_validation():
    schema = {
        "type": "object",
        "properties": {"path": {"type": "string"}, "limit": {"type": "integer"}, "opts": {"$ref": "#/$defs/O"}},
        "required": ["path"],
        "$defs": {"O": {"type": "object", "properties": {"deep": {"type": "boolean"}}}},
    }
    given = {"path": "a", "limit": None, "opts": {"deep": None}}
    assert without_added_nulls(given, schema) == {"path": "a", "opts": {}}
    assert validate_arguments({"path": "a", "opts": {}}, schema) == []
    assert validate_arguments({"limit": "x"}, schema) == [
        "arguments: 'path' is a required property",
        "limit: 'x' is not of type 'integer'",
    ]


def test_schemas_that_cannot_be_offered_say_why():
    assert schema_problem({"type": "string"}) == "its input schema is not an object schema"
    assert "not valid JSON Schema" in (schema_problem({"type": "object", "properties": {"x": {"type": 3}}}) or "")
    assert schema_problem({"type": "object"}) is None


def tool(**changes):
    values = {
        "name": "mcp__s__t",
        "server": "s",
        "remote_name": "t",
        "description": "d",
        "input_schema": {"type": "object", "properties": {"n": {"type": "integer"}}},
        "read_only": False,
    }
    return tool_class(**{**values, **changes})


def test_a_tool_class_offers_its_schema_and_checks_arguments():
    cls = tool()
    spec = cls.spec()
    assert spec["name"] == "mcp__s__t" and spec["strict"] is True
    assert spec["parameters"]["properties"]["n"] == {"type": ["integer", "null"]}
    instance = cls(lambda name, arguments: None)  # type: ignore[arg-type,return-value]
    assert instance.parse_arguments('{"n": null}').values == {}
    for raw, message in [("[1]", "expected a JSON object"), ("{", "not JSON"), ('{"n": "x"}', "'x' is not of type")]:
        with pytest.raises(ToolError, match=message):
            instance.parse_arguments(raw)
    assert cls.mutating and cls.kind == "other"
    assert not tool(read_only=True).mutating and tool(read_only=True).kind == "read"


def test_results_map_text_images_resources_and_errors():
    result = CallToolResult(
        content=[
            TextContent(text="hello"),
            ImageContent(data=PNG, mime_type="image/png"),
            ImageContent(data=PNG, mime_type="image/tiff"),
            ImageContent(data="%%%", mime_type="image/png"),
            AudioContent(data=PNG, mime_type="audio/wav"),
            EmbeddedResource(resource=BlobResourceContents(uri="file:///p.png", blob=PNG, mime_type="image/png")),
            EmbeddedResource(resource=BlobResourceContents(uri="file:///x.bin", blob=PNG, mime_type="application/zip")),
            ResourceLink(uri="file:///r", name="r"),
        ]
    )
    mapped = tool_result(result)
    assert mapped.ok and len(mapped.images) == 2 and mapped.images[0] == f"data:image/png;base64,{PNG}"
    lines = mapped.output.splitlines()
    assert lines[0] == "hello" and "attached as image 1" in lines[1]
    assert "image/tiff" in lines[2] and "not an image type" in lines[2]
    assert "not valid base64" in lines[3] and "audio" in lines[4]
    assert "resource <file:///p.png>" in lines[5] and "attached as image 2" in lines[5]
    assert "application/zip" in lines[6] and "left out" in lines[6]
    assert lines[7] == "[resource link: r <file:///r>]"


def test_errors_structured_content_empty_and_huge_results():
    assert not tool_result(CallToolResult(content=[TextContent(text="bad")], is_error=True)).ok
    structured = tool_result(CallToolResult(content=[], structured_content={"a": 1}))
    assert structured.output == '{\n  "a": 1\n}'
    assert tool_result(CallToolResult(content=[])).output == "(the tool returned no content)"
    huge = tool_result(CallToolResult(content=[TextContent(text="x" * (MAX_OUTPUT_CHARS + 5))]))
    assert huge.output.endswith("[… 5 more characters cut]")


def test_an_mcp_tool_name_is_a_rule_as_offered():
    from agent.permissions import PermissionRule

    rule = PermissionRule.parse("mcp__My-Server__Do_It", "allow", "session")
    assert rule.tool == "mcp__My-Server__Do_It" and rule.pattern is None


@pytest.mark.parametrize("reference", ["#/$defs/missing", "https://example.invalid/n.json"])
def test_arguments_a_schema_with_a_dangling_reference_cannot_check_are_refused_clearly(reference):
    cls = tool(input_schema={"type": "object", "properties": {"n": {"$ref": reference}}})
    instance = cls(lambda name, arguments: None)  # type: ignore[arg-type,return-value]
    with pytest.raises(ToolError, match="the server's input schema cannot check them: it refers to"):
        instance.parse_arguments('{"n": 1}')


def test_arguments_nested_too_deeply_to_read_are_refused_clearly():
    instance = tool()(lambda name, arguments: None)  # type: ignore[arg-type,return-value]
    with pytest.raises(ToolError, match="not JSON"):
        instance.parse_arguments('{"n": ' + "[" * 100_000 + "]" * 100_000 + "}")
