"""Repository facts for the header and the session log (root, branch, head, dirty), read with gitpython.

Everything returns plain data. Listing a workspace's files is not here: it runs `git ls-files`
in `agent.tools.list_files.git_files`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import git

GIT_ERRORS: tuple[type[BaseException], ...] = (
    git.GitError,
    git.InvalidGitRepositoryError,
    git.NoSuchPathError,
    OSError,
    ValueError,
)
"""What gitpython raises for a missing, broken or unusual repository."""


@dataclass(frozen=True)
class RepoInfo:
    """What the header and the session log show about the repository."""

    root: Path
    branch: str | None
    """None on a detached HEAD."""
    head: str | None
    """The commit id, None before the first commit."""
    dirty: bool


def repo_info(path: Path) -> RepoInfo | None:
    """The repository containing `path`, or None when it is not inside one (or git fails)."""
    try:
        repo = git.Repo(path, search_parent_directories=True)
    except GIT_ERRORS:
        return None
    try:
        root = Path(repo.working_tree_dir or path)
        try:
            head = repo.head.commit.hexsha
        except GIT_ERRORS:
            head = None
        branch = None if repo.head.is_detached else repo.active_branch.name
        return RepoInfo(root=root, branch=branch, head=head, dirty=repo.is_dirty(untracked_files=True))
    except GIT_ERRORS:
        return None
    finally:
        repo.close()
