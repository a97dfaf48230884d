"""Sample diffs and commit drafts for the safety net's screens (their snapshots and key tests)."""

from __future__ import annotations

from agent.events import FileChangeSummary
from agent.session import CommitDraft, SessionDiff

PATCH = """diff --git a/pkg/core.py b/pkg/core.py
index 1111111..2222222 100644
--- a/pkg/core.py
+++ b/pkg/core.py
@@ -1,3 +1,5 @@
-X = 1
+X = 2
+
+
 def main():
     return X
diff --git a/notes.txt b/notes.txt
new file mode 100644
index 0000000..3333333
--- /dev/null
+++ b/notes.txt
@@ -0,0 +1,2 @@
+hello
+world
diff --git a/old.py b/new.py
similarity index 90%
rename from old.py
rename to new.py
index 4444444..5555555 100644
--- a/old.py
+++ b/new.py
@@ -1,2 +1 @@
-# old
 VALUE = 3
diff --git a/logo.png b/logo.png
new file mode 100644
index 0000000..6666666
Binary files /dev/null and b/logo.png differ
"""

FILES = [
    FileChangeSummary(path="pkg/core.py", status="modified", added=3, removed=1),
    FileChangeSummary(path="notes.txt", status="added", added=2, removed=0),
    FileChangeSummary(path="new.py", status="renamed", old_path="old.py", added=0, removed=1),
    FileChangeSummary(path="logo.png", status="added", binary=True),
]

SAMPLE_DIFF = SessionDiff(title="Turn 2", files=FILES, patch=PATCH)

SAMPLE_DRAFT = CommitDraft(
    message="Greet the world from a.py\n\nThe greeting moves into pkg/core.py; notes.txt says why.",
    files=["a.py", "pkg/core.py"],
    left_out=["TODO.md"],
    drafted_by="model",
)


def long_diff(files: int = 3, lines: int = 200) -> SessionDiff:
    """A diff taller than the screen: `files` added files of `lines` lines each."""
    pieces, summaries = [], []
    for number in range(files):
        path = f"file{number}.txt"
        body = "\n".join(f"+line {line}" for line in range(lines))
        pieces.append(
            f"diff --git a/{path} b/{path}\nnew file mode 100644\n--- /dev/null\n+++ b/{path}\n@@ -0,0 +1,{lines} @@\n{body}"
        )
        summaries.append(FileChangeSummary(path=path, status="added", added=lines))
    return SessionDiff(title="This session (turns 1–3)", files=summaries, patch="\n".join(pieces) + "\n")


async def never_commit(message: str, files: list[str]):
    raise AssertionError("the snapshot does not commit")
