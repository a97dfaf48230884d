"""docs/reliability.md cannot rot: every test it names exists, every row of the test matrix is
there, and its retry table is the one in the model client's docstring."""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

import agent.model_client

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "reliability.md"
CITATION = re.compile(r"`(tests/[\w/]+\.py)((?:::\w+)+)`")
NO_TEST = "(no test yet)"
RETRY_TABLE = re.compile(r"<!-- retry-table[^>]*-->\n(.*?)<!-- end retry-table -->", re.S)


def fault_rows() -> list[list[str]]:
    """The cells of every row of the fault table (`| 1 | …`, `| H3 | …`)."""
    rows = []
    for line in DOC.read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
        if cells and re.fullmatch(r"H?\d+", cells[0]):
            rows.append(cells)
    return rows


@cache
def defined_tests(path: str) -> frozenset[str]:
    """`name` and `Class::name` of every test function a test file defines."""
    tree = ast.parse((ROOT / path).read_text(encoding="utf-8"))
    names = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            names.add(node.name)
        elif isinstance(node, ast.ClassDef):
            names |= {
                f"{node.name}::{member.name}"
                for member in node.body
                if isinstance(member, ast.FunctionDef | ast.AsyncFunctionDef)
            }
    return frozenset(name for name in names if name.rsplit("::", 1)[-1].startswith("test_"))


def test_every_row_of_the_matrix_and_of_the_campaign_is_listed_once():
    ids = [cells[0] for cells in fault_rows()]
    numbered = [int(row) for row in ids if not row.startswith("H")]
    campaign = [int(row[1:]) for row in ids if row.startswith("H")]
    assert numbered == list(range(1, 26))
    assert campaign == list(range(1, len(campaign) + 1)) and campaign


def test_every_row_names_a_test_or_says_it_has_none():
    for cells in fault_rows():
        assert len(cells) == 4, f"row {cells[0]}: four columns"
        assert cells[2], f"row {cells[0]}: what codeassist promises"
        assert CITATION.search(cells[3]) or cells[3] == NO_TEST, f"row {cells[0]}: {cells[3]!r}"


def test_every_test_named_exists():
    missing = []
    for cells in fault_rows():
        for path, name in CITATION.findall(cells[3]):
            if not (ROOT / path).is_file() or name.removeprefix("::") not in defined_tests(path):
                missing.append(f"row {cells[0]}: {path}{name}")
    assert missing == []


def test_the_retry_table_is_the_model_clients():
    documented = RETRY_TABLE.search(DOC.read_text(encoding="utf-8"))
    assert documented is not None, "the retry table is marked in docs/reliability.md"
    docstring = agent.model_client.__doc__ or ""
    table = [line for line in docstring.splitlines() if line.startswith("|")]
    assert documented.group(1).strip().splitlines() == table
