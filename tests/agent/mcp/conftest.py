"""A real MCP server process (written with the SDK: `mcp_server.py`) over stdio or streamable HTTP."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

SERVER_SCRIPT = str(Path(__file__).with_name("mcp_server.py"))


def stdio_server(**changes: Any) -> dict[str, Any]:
    """The `mcp_servers` table of the test server run over stdio."""
    return {"command": sys.executable, "args": [SERVER_SCRIPT, "stdio"], **changes}


class HttpServer:
    """The test server on a loopback port (streamable HTTP), stopped at the end of the test."""

    def __init__(self) -> None:
        self.process = subprocess.Popen([sys.executable, SERVER_SCRIPT, "http"], stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        self.url = f"http://127.0.0.1:{int(line.split()[1])}/mcp"

    def table(self, **changes: Any) -> dict[str, Any]:
        return {"url": self.url, "headers": {"X-Token": "secret"}, **changes}

    def stop(self) -> None:
        self.process.kill()
        self.process.wait()


@pytest.fixture
def http_server() -> Iterator[HttpServer]:
    server = HttpServer()
    yield server
    server.stop()
