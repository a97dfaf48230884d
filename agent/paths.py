"""Where codeassist keeps its files, following the XDG base directory rules.

- configuration: `$XDG_CONFIG_HOME/codeassist` (default `~/.config/codeassist`);
- data: `$XDG_DATA_HOME/codeassist` (default `~/.local/share/codeassist`), holding `sessions/`,
  `history.jsonl`, `bench/` and `exports/`.

An unset, empty or relative `XDG_*_HOME` is ignored, as the spec asks: a relative one would
resolve inside the current directory, which is the workspace, so a repository could supply the
configuration. `HOME` is used when it is absolute; otherwise the user's home as Python finds it.
Every function takes the environment to read (default `os.environ`) and returns a path whether
or not it exists; none creates anything.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

__all__ = ["bench_dir", "config_dir", "data_dir", "exports_dir", "history_file", "sessions_dir"]

APP_NAME = "codeassist"


def _base(variable: str, fallback: tuple[str, ...], environ: Mapping[str, str] | None) -> Path:
    env = os.environ if environ is None else environ
    xdg = env.get(variable, "")
    if xdg and os.path.isabs(xdg):
        return Path(xdg)
    home = env.get("HOME", "")
    return (Path(home) if home and os.path.isabs(home) else Path.home()).joinpath(*fallback)


def config_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The configuration directory: `$XDG_CONFIG_HOME/codeassist` or `~/.config/codeassist`."""
    return _base("XDG_CONFIG_HOME", (".config",), environ) / APP_NAME


def data_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The data directory: `$XDG_DATA_HOME/codeassist` or `~/.local/share/codeassist`."""
    return _base("XDG_DATA_HOME", (".local", "share"), environ) / APP_NAME


def sessions_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Where session logs are saved: `<data>/sessions` (one folder per day below it)."""
    return data_dir(environ) / "sessions"


def history_file(environ: Mapping[str, str] | None = None) -> Path:
    """The prompt history kept across sessions: `<data>/history.jsonl`."""
    return data_dir(environ) / "history.jsonl"


def bench_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Where `codeassist bench` saves its results by default: `<data>/bench`."""
    return data_dir(environ) / "bench"


def exports_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Where exported transcripts go when no path is given: `<data>/exports`."""
    return data_dir(environ) / "exports"
