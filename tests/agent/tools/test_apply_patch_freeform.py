"""apply_patch's freeform form: its grammar (as Lark, and in llguidance, the engine behind
grammar-constrained sampling), the custom tool spec, and how the registry reads a custom call."""

from __future__ import annotations

from pathlib import Path

import lark
import llguidance
import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent.tools import ToolError, ToolRegistry, default_tools, describe_call
from agent.tools.apply_patch import ApplyPatch, ApplyPatchArgs
from agent.tools.patch_grammar import PATCH_GRAMMAR
from agent.tools.patch_parse import parse_patch
from agent.wire.items import CustomToolCall
from tests.agent.tools.test_apply_patch_conformance import SCENARIOS


class _ByteTokens:
    """A tokenizer whose tokens are the 256 bytes (and an end token): text is matched byte by byte."""

    eos_token_id = 256
    bos_token_id = None
    tokens = [bytes([value]) for value in range(256)] + [b"<eos>"]
    special_token_ids = (256,)

    def __call__(self, text: bytes | str) -> list[int]:
        return list(text if isinstance(text, bytes) else text.encode())


TOKENIZER = llguidance.LLTokenizer(llguidance.TokenizerWrapper(_ByteTokens()))
LARK = lark.Lark(PATCH_GRAMMAR)


def sampling_accepts(text: str) -> bool:
    """Whether grammar-constrained sampling with `PATCH_GRAMMAR` can produce exactly `text`."""
    matcher = llguidance.LLMatcher(TOKENIZER, llguidance.grammar_from("lark", PATCH_GRAMMAR), log_level=0)
    return matcher.consume_tokens(TOKENIZER.tokenize_bytes(text.encode())) and matcher.is_accepting()


def lark_accepts(text: str) -> bool:
    try:
        LARK.parse(text)
    except lark.exceptions.LarkError:
        return False
    return True


def test_the_grammar_is_valid_for_grammar_constrained_sampling():
    assert llguidance.LLMatcher.validate_grammar_with_warnings(llguidance.grammar_from("lark", PATCH_GRAMMAR)) == (
        False,
        [],
    )


GRAMMAR_REFUSES = {
    "005_rejects_empty_patch": "no file section",
    "008_rejects_empty_update_hunk": "an Update File without a hunk",
    "013_rejects_invalid_hunk_header": "an unknown section header",
    "017_whitespace_padded_hunk_header": "padding around a marker (the grammar is the canonical form)",
    "018_whitespace_padded_patch_markers": "padding around a marker (the grammar is the canonical form)",
    "020_whitespace_padded_patch_marker_lines": "padding around a marker (the grammar is the canonical form)",
}


def _fixture_patches() -> list[object]:
    if not SCENARIOS.is_dir():
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"no conformance data at {SCENARIOS}"))]
    return [pytest.param(path, id=path.parent.name) for path in sorted(SCENARIOS.glob("*/patch.txt")) if path.is_file()]


@pytest.mark.parametrize("patch_file", _fixture_patches())
def test_the_grammar_takes_every_well_formed_codex_patch_and_refuses_the_malformed_ones(patch_file: Path | None):
    assert patch_file is not None
    text = patch_file.read_text(encoding="utf-8")
    expected = patch_file.parent.name not in GRAMMAR_REFUSES
    assert sampling_accepts(text) is expected
    assert lark_accepts(text) is expected
    if expected:
        parse_patch(text)


TEXT = st.text(alphabet=st.characters(exclude_categories=("Cs",), exclude_characters="\r\n"), max_size=20)
PATH = TEXT.filter(lambda path: path.strip() != "" and path == path.strip())
CHANGE = st.tuples(st.sampled_from(" -+"), TEXT).map("".join)
HUNK = st.tuples(st.none() | TEXT.filter(bool), st.lists(CHANGE, min_size=1, max_size=4), st.booleans())
SECTION = st.one_of(
    st.tuples(st.just("add"), PATH, st.lists(TEXT, max_size=3)),
    st.tuples(st.just("delete"), PATH, st.just([])),
    st.tuples(st.just("update"), PATH, st.tuples(st.none() | PATH, st.lists(HUNK, min_size=1, max_size=3))),
)


def render(sections: list[tuple]) -> str:
    lines = ["*** Begin Patch"]
    for kind, path, body in sections:
        if kind == "add":
            lines += [f"*** Add File: {path}", *(f"+{line}" for line in body)]
        elif kind == "delete":
            lines.append(f"*** Delete File: {path}")
        else:
            move_to, hunks = body
            lines += [f"*** Update File: {path}", *([f"*** Move to: {move_to}"] if move_to else [])]
            for header, changes, at_end in hunks:
                lines += ["@@" if header is None else f"@@ {header}", *changes]
                lines += ["*** End of File"] if at_end else []
    return "\n".join([*lines, "*** End Patch", ""])


@given(st.lists(SECTION, min_size=1, max_size=4))
def test_what_the_grammar_produces_the_patch_reader_reads(sections):
    text = render(sections)
    assert sampling_accepts(text)
    ops = parse_patch(text)
    assert [op.action for op in ops] == [kind for kind, _, _ in sections]


def test_the_freeform_spec_is_a_custom_tool_with_the_lark_grammar():
    spec = ApplyPatch.freeform_spec()
    assert spec["type"] == "custom" and spec["name"] == "apply_patch"
    assert spec["format"] == {"type": "grammar", "syntax": "lark", "definition": PATCH_GRAMMAR}
    assert "not JSON" in spec["description"] and "*** Begin Patch" in spec["description"]
    registry = ToolRegistry(default_tools())
    freeform = {spec["name"]: spec for spec in registry.specs(freeform=True)}
    assert freeform["apply_patch"] == spec
    assert all(spec["type"] == "function" for name, spec in freeform.items() if name != "apply_patch")
    assert {spec["type"] for spec in registry.specs()} == {"function"}


def test_a_custom_call_to_apply_patch_is_its_patch_argument_and_to_another_tool_a_clear_error():
    registry = ToolRegistry(default_tools())
    patch = "*** Begin Patch\n*** Add File: a.txt\n+x\n*** End Patch\n"
    tool, args = registry.parse_call(CustomToolCall(call_id="c", name="apply_patch", input=patch))
    assert isinstance(tool, ApplyPatch) and args == ApplyPatchArgs(patch=patch)
    with pytest.raises(ToolError, match="'read_file' is not a freeform tool"):
        registry.parse_call(CustomToolCall(call_id="c", name="read_file", input="a.py"))
    with pytest.raises(ToolError, match="'nope' is not a freeform tool"):
        registry.parse_call(CustomToolCall(call_id="c", name="nope", input=""))
    with pytest.raises(ToolError, match="larger than"):
        registry.parse_call(CustomToolCall(call_id="c", name="apply_patch", input="+" * (1024 * 1024 + 1)))


def test_the_card_of_a_custom_call_names_the_files_of_its_patch():
    patch = "*** Begin Patch\n*** Update File: a.py\n@@\n-x\n+y\n*** Add File: b.py\n+z\n*** End Patch"
    assert describe_call("apply_patch", patch).summary == "update a.py, add b.py"
