"""Command-line fixtures: the app fixtures, for commands that open the app."""

from tests.tui.conftest import make_app, repo  # noqa: F401 (fixtures used by name)
