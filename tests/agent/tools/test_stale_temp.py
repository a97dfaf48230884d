"""Temporary files a crashed write left are removed when a workspace is first used; nothing
else is: not a live writer's file, not a recent one, not a symlink, not a look-alike."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from agent.tools import ToolContext
from agent.tools.stale_temp import STALE_AFTER_S, TEMP_SUFFIX, clean_stale_temp_files, temp_name

CRASHING_WRITER = """
import os, sys
sys.path.insert(0, sys.argv[2])
from agent.tools.stale_temp import temp_name
fd = os.open(os.path.join(sys.argv[1], temp_name("notes.txt")), os.O_CREAT | os.O_WRONLY, 0o600)
os.write(fd, b"half of the new cont")
os._exit(9)  # killed mid-write: the temporary file stays behind
"""


def age(path: Path, seconds: float = STALE_AFTER_S * 10) -> Path:
    """Make `path` (not what it points to) look `seconds` old."""
    past = os.lstat(path).st_mtime - seconds
    os.utime(path, (past, past), follow_symlinks=False)
    return path


def crashed_write(directory: Path) -> Path:
    """A temporary file left by a real process that died in the middle of writing it."""
    root = str(Path(__file__).resolve().parents[3])
    subprocess.run([sys.executable, "-c", CRASHING_WRITER, str(directory), root], check=False)
    (left,) = [path for path in directory.iterdir() if path.name.endswith(TEMP_SUFFIX)]
    return left


def dead_pid() -> int:
    """The pid of a process that has exited (so only the kind of entry can keep it)."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_a_crashed_writes_temporary_file_is_removed_when_the_workspace_is_opened(tmp_path):
    workspace = tmp_path / "ws"
    (workspace / "src/deep").mkdir(parents=True)
    left = age(crashed_write(workspace / "src/deep"))
    earlier = workspace / f".old.py.abc_1234{TEMP_SUFFIX}"  # named the way earlier versions did
    earlier.write_text("x")
    age(earlier)
    ToolContext(workspace=workspace)
    assert not left.exists() and not earlier.exists()


def test_only_stale_temporary_files_of_dead_writers_are_removed(tmp_path):
    workspace = tmp_path / "ws"
    outside = tmp_path / "outside"
    (workspace / ".git").mkdir(parents=True)
    outside.mkdir()
    recent = crashed_write(workspace)  # dead writer, but too recent
    live = workspace / temp_name("live.txt")  # this process: a write in progress
    live.write_text("writing")
    age(live)
    parent_pid = workspace / f".a.txt.{os.getppid()}.0123abcd{TEMP_SUFFIX}"  # a running process
    parent_pid.write_text("writing")
    age(parent_pid)
    lookalike = workspace / f"notes{TEMP_SUFFIX}"  # not our naming
    lookalike.write_text("mine")
    age(lookalike)
    target = outside / "precious.txt"
    target.write_text("keep")
    link = workspace / f".link.{dead_pid()}.0123abcd{TEMP_SUFFIX}"
    link.symlink_to(target)
    age(link)
    in_git = age(crashed_write(workspace / ".git"))
    directory = workspace / f".dir.{dead_pid()}.0123abcd{TEMP_SUFFIX}"
    directory.mkdir()
    age(directory)
    assert clean_stale_temp_files(workspace) == []
    for kept in (recent, live, parent_pid, lookalike, link, in_git, directory):
        assert os.path.lexists(kept), kept
    assert target.read_text() == "keep"


def test_the_temporary_name_fits_beside_a_255_byte_name():
    name = "é" * 127 + "x"
    tmp = temp_name(name)
    assert len(name.encode()) == 255
    assert len(tmp.encode()) < 255 and tmp.endswith(TEMP_SUFFIX) and f".{os.getpid()}." in tmp


def test_a_symlinked_directory_is_not_entered(tmp_path):
    workspace = tmp_path / "ws"
    outside = tmp_path / "outside"
    workspace.mkdir()
    outside.mkdir()
    stranger = age(crashed_write(outside))
    (workspace / "link").symlink_to(outside)
    assert clean_stale_temp_files(workspace) == []
    assert stranger.exists()
