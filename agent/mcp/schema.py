"""A server's input schema as the model is offered it, and the model's arguments checked against it.

Strict function calling (the model's arguments always match the schema) accepts a subset of JSON
Schema: every object closes its properties (`additionalProperties: false`) and requires all of them,
and only some keywords are known. `strict_form` rewrites a schema into that subset where it can
(optional properties become required but nullable); a schema it cannot rewrite is offered as it
is, non-strict. Either way the arguments are validated against the server's own schema before the
call (`validate_arguments`), after the nulls the strict form added are taken out again.
"""

from __future__ import annotations

import copy
from typing import Any

STRICT_KEYWORDS = frozenset(
    {
        "type",
        "description",
        "enum",
        "const",
        "anyOf",
        "$ref",
        "$defs",
        "definitions",
        "properties",
        "required",
        "additionalProperties",
        "items",
        "minItems",
        "maxItems",
        "pattern",
        "format",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "multipleOf",
    }
)
"""Keywords strict mode understands."""

DROPPED_KEYWORDS = frozenset(
    {"title", "default", "examples", "$schema", "$id", "$comment", "deprecated", "readOnly", "writeOnly"}
)
"""Annotations that constrain nothing: left out of the strict form."""

STRICT_FORMATS = frozenset({"date-time", "time", "date", "duration", "email", "hostname", "ipv4", "ipv6", "uuid"})
MAX_DEPTH = 10


class NotStrict(Exception):
    """The schema uses something strict mode cannot express."""


def strict_form(schema: dict[str, Any]) -> dict[str, Any] | None:
    """`schema` rewritten for strict function calling, or None when it cannot be."""
    if schema.get("type") != "object":
        return None
    try:
        return _strict(copy.deepcopy(schema), 0)  # type: ignore[no-any-return]
    except NotStrict:
        return None


def _strict(node: Any, depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise NotStrict("nested too deeply")
    if isinstance(node, bool) or not isinstance(node, dict):
        raise NotStrict("a schema that is not an object")
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in DROPPED_KEYWORDS:
            continue
        if key not in STRICT_KEYWORDS:
            raise NotStrict(key)
        if key == "format" and value not in STRICT_FORMATS:
            continue
        if key in ("$defs", "definitions"):
            out[key] = {name: _strict(sub, depth + 1) for name, sub in value.items()}
        elif key == "anyOf":
            out[key] = [_strict(sub, depth + 1) for sub in value]
        elif key == "items":
            out[key] = _strict(value, depth + 1)
        elif key != "properties":
            out[key] = value
    types = node.get("type")
    kinds = types if isinstance(types, list) else [types]
    if "array" in kinds and "items" not in node:
        raise NotStrict("an array of anything")
    if types == "object" or "properties" in node:
        if node.get("additionalProperties", False) is not False:
            raise NotStrict("additionalProperties")
        if depth and "properties" not in node:
            raise NotStrict("an object of anything")
        properties = node.get("properties") or {}
        required = set(node.get("required") or ())
        out["properties"] = {
            name: _strict(sub, depth + 1) if name in required else _nullable(_strict(sub, depth + 1))
            for name, sub in properties.items()
        }
        out["required"] = list(properties)
        out["additionalProperties"] = False
        out["type"] = "object"
    return out


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    kind = schema.get("type")
    if "enum" in schema or "const" in schema or not isinstance(kind, str | list):
        return {"anyOf": [schema, {"type": "null"}]}
    kinds = [kind] if isinstance(kind, str) else kind
    return schema if "null" in kinds else {**schema, "type": [*kinds, "null"]}


def without_added_nulls(arguments: Any, schema: dict[str, Any], root: dict[str, Any] | None = None) -> Any:
    """`arguments` with the null of every optional property left out (the strict form asks for
    one where the model had nothing to give), following `schema`'s properties, items and refs."""
    root = schema if root is None else root
    schema = _resolved(schema, root)
    if isinstance(arguments, dict) and isinstance(schema.get("properties"), dict):
        required = set(schema.get("required") or ())
        return {
            key: without_added_nulls(value, schema["properties"].get(key, {}), root)
            for key, value in arguments.items()
            if not (value is None and key not in required and key in schema["properties"])
        }
    if isinstance(arguments, list) and isinstance(schema.get("items"), dict):
        return [without_added_nulls(value, schema["items"], root) for value in arguments]
    if isinstance(schema.get("anyOf"), list) and arguments is not None:
        choices = [sub for sub in schema["anyOf"] if isinstance(sub, dict) and sub.get("type") != "null"]
        if len(choices) == 1:
            return without_added_nulls(arguments, choices[0], root)
    return arguments


def _resolved(schema: Any, root: dict[str, Any]) -> dict[str, Any]:
    for _ in range(MAX_DEPTH):
        reference = schema.get("$ref") if isinstance(schema, dict) else None
        if not isinstance(reference, str) or not reference.startswith("#/"):
            break
        target: Any = root
        for part in reference[2:].split("/"):
            target = target.get(part) if isinstance(target, dict) else None
        if not isinstance(target, dict):
            break
        schema = target
    return schema if isinstance(schema, dict) else {}


def schema_problem(schema: object) -> str | None:
    """Why `schema` cannot be a tool's input schema (None: it can): not an object schema, or not
    valid JSON Schema."""
    from jsonschema import SchemaError
    from jsonschema.validators import validator_for

    if not isinstance(schema, dict) or schema.get("type") != "object":
        return "its input schema is not an object schema"
    try:
        validator_for(schema).check_schema(schema)
    except SchemaError as exc:
        return f"its input schema is not valid JSON Schema ({exc.message})"
    return None


class SchemaCannotCheck(Exception):
    """The server's schema cannot check arguments (a `$ref` to nowhere, or nesting past Python's
    recursion limit); the message says why."""


def validate_arguments(arguments: object, schema: dict[str, Any]) -> list[str]:
    """What is wrong with `arguments` under `schema`: one line per problem (at most eight), each
    naming where (`items.0.name: …`); empty when they are valid.

    Raises:
        SchemaCannotCheck: the schema refers to what it does not hold (nothing is fetched), or the
            arguments nest too deeply to check.
    """
    from jsonschema.validators import validator_for
    from referencing.exceptions import Unresolvable

    validator = validator_for(schema)(schema)
    try:
        errors = list(validator.iter_errors(arguments))
    except Unresolvable as exc:
        raise SchemaCannotCheck(f"it refers to {getattr(exc, 'ref', None) or exc}, which it does not hold") from None
    except RecursionError:
        raise SchemaCannotCheck("the arguments nest too deeply") from None
    problems = []
    for error in sorted(errors, key=lambda error: [str(part) for part in error.absolute_path])[:8]:
        where = ".".join(str(part) for part in error.absolute_path) or "arguments"
        problems.append(f"{where}: {error.message}")
    return problems
