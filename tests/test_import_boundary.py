"""`agent` never loads the UI; headless commands never load textual."""

from __future__ import annotations

import subprocess
import sys

import pytest

UI_MODULES = ("textual", "rich", "tui", "themes")


# httpx's package imports its optional command line when click, rich and pygments are installed
# (they are: textual and uvicorn bring them), so modules that use httpx load rich indirectly.
@pytest.mark.parametrize(
    ("modules", "forbidden"),
    [
        ("agent, agent.wire, agent.wire.errors, agent.wire.fast, agent.conversation", UI_MODULES),
        ("agent.session, codeassist.exec, agent.loop, agent.events, agent.config", ("textual", "tui", "themes")),
        ("server.app, server.runner, codeassist.serve, server.demo", ("textual", "tui", "themes")),
        ("codeassist.main", ("textual",)),
    ],
)
def test_import_does_not_load_the_ui(modules, forbidden):
    code = (
        f"import sys; import {modules}; "
        f"loaded = sorted(m for m in sys.modules if m.split('.')[0] in {forbidden!r}); print(loaded)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


UI_FACING = {
    "agent.session",
    "agent.events",
    "agent.config",
    "agent.replay",
    "agent.paths",
    "agent.plan",
    "agent.terminal_text",
    "agent.redact",
}
"""The modules of `agent` the TUI may import (see the import contract in pyproject.toml)."""


def test_the_import_contract_forbids_every_other_agent_module_to_the_tui():
    """`lint-imports` (run by `make lint`) can only hold the TUI to the facade if every other
    module of `agent` is listed: a new module must be added to the contract (or to `UI_FACING`)."""
    import pkgutil
    import tomllib
    from pathlib import Path

    import agent

    root = Path(__file__).resolve().parent.parent
    contracts = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    [facade] = [contract for contract in contracts if contract["source_modules"] == ["tui"]]
    forbidden = set(facade["forbidden_modules"])
    modules = {f"agent.{info.name}" for info in pkgutil.iter_modules(agent.__path__)}
    assert modules - UI_FACING == forbidden, "list every agent module the TUI must not import"
    assert facade["allow_indirect_imports"] is True  # the facade itself imports them


def test_tui_modules_import_only_the_facade():
    """The same rule checked on the sources without import-linter: every `agent` import in `tui`."""
    import ast
    from pathlib import Path

    import tui

    allowed = UI_FACING | {"agent"}
    found = []
    package = Path(tui.__file__).parent
    for path in sorted(package.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                relative = f"tui/{path.relative_to(package).as_posix()}"
                if name.split(".")[0] == "agent" and name not in allowed:
                    found.append((relative, name))
    assert found == []
