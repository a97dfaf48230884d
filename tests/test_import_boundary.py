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
        ("agent, agent.wire, agent.wire.events, agent.wire.fast, agent.conversation", UI_MODULES),
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
