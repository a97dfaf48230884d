"""AGENTS.md lookup: the user's config directory, the repository root and each directory down to
the current one, nearer last; bounded per file and in total, every cut said."""

from __future__ import annotations

import os
from pathlib import Path

from agent.instructions import (
    BASE_INSTRUCTIONS,
    MAX_AGENTS_MD_BYTES,
    MAX_AGENTS_MD_TOTAL_BYTES,
    agents_md_files,
    build_instructions,
)


def tree(tmp_path: Path) -> tuple[Path, Path, Path]:
    config = tmp_path / "config"
    repo = tmp_path / "repo"
    cwd = repo / "pkg" / "sub"
    cwd.mkdir(parents=True)
    config.mkdir()
    (config / "AGENTS.md").write_text("user: answer in French\n")
    (repo / "AGENTS.md").write_text("root: use tabs\n")
    (repo / "pkg" / "AGENTS.md").write_text("pkg: use spaces\n")
    (cwd / "AGENTS.md").write_text("sub: two spaces\n")
    return config, repo, cwd


def test_every_level_is_read_farthest_first_and_labelled(tmp_path: Path) -> None:
    config, repo, cwd = tree(tmp_path)
    text = build_instructions(repo, cwd, config_dir=config)
    order = [text.index(marker) for marker in ("user: answer", "root: use", "pkg: use", "sub: two")]
    assert order == sorted(order), "nearer files come later"
    assert "nearer file (later in this text) wins" in text
    assert f"# Project instructions from {config / 'AGENTS.md'} (your configuration directory)" in text
    for label in ("AGENTS.md", "pkg/AGENTS.md", "pkg/sub/AGENTS.md"):
        assert f"# Project instructions from {label}\n" in text
    assert text.startswith(BASE_INSTRUCTIONS)


def test_directories_without_agents_md_are_skipped_and_none_means_the_base_prompt(tmp_path: Path) -> None:
    config, repo, cwd = tree(tmp_path)
    (repo / "pkg" / "AGENTS.md").unlink()
    assert [f.label for f in agents_md_files(repo, cwd, config)][1:] == ["AGENTS.md", "pkg/sub/AGENTS.md"]
    empty = tmp_path / "empty"
    empty.mkdir()
    assert build_instructions(empty, config_dir=tmp_path / "nowhere") == BASE_INSTRUCTIONS


def test_a_symlink_out_of_the_repository_is_not_read_but_the_same_file_is_listed_once(tmp_path: Path) -> None:
    config, repo, cwd = tree(tmp_path)
    secret = tmp_path / "credentials"
    secret.write_text("SHOULD-NOT-LEAK\n")
    (cwd / "AGENTS.md").unlink()
    os.symlink(secret, cwd / "AGENTS.md")
    (repo / "pkg" / "AGENTS.md").unlink()
    os.symlink(repo / "AGENTS.md", repo / "pkg" / "AGENTS.md")
    text = build_instructions(repo, cwd, config_dir=config)
    assert "SHOULD-NOT-LEAK" not in text
    assert text.count("root: use tabs") == 1


def test_a_large_file_is_cut_and_the_cut_is_said(tmp_path: Path) -> None:
    config, repo, cwd = tree(tmp_path)
    (cwd / "AGENTS.md").write_text("x" * (MAX_AGENTS_MD_BYTES + 100))
    text = build_instructions(repo, cwd, config_dir=config)
    assert f"[… cut: 100 of {MAX_AGENTS_MD_BYTES + 100} bytes left out]" in text
    assert "root: use tabs" in text


def test_the_total_is_bounded_and_the_farthest_files_give_way(tmp_path: Path) -> None:
    config, repo, cwd = tree(tmp_path)
    big = "y" * MAX_AGENTS_MD_BYTES
    (cwd / "AGENTS.md").write_text(big)
    (repo / "pkg" / "AGENTS.md").write_text(big)
    text = build_instructions(repo, cwd, config_dir=config)
    assert len(text) < len(BASE_INSTRUCTIONS) + MAX_AGENTS_MD_TOTAL_BYTES + 2000
    assert text.count(big) == 2, "the two nearest files are whole"
    assert "root: use tabs" not in text and "user: answer" not in text
    assert "[left out: 15 bytes, over the total limit]" in text
