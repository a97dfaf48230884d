"""Smoke version of `bench.checkpoint`: tiny repositories, both arms, every operation measured and
checked, JSON complete. No figure is compared with a time."""

from __future__ import annotations

import json

from bench import checkpoint


def test_tiny_repositories_are_measured_in_both_arms_and_the_json_is_complete(capsys, tmp_path):
    out = tmp_path / "result.json"
    checkpoint.main(["--quick", "--out", str(out)])
    result = json.loads(capsys.readouterr().out)
    assert result == json.loads(out.read_text())
    assert result["benchmark"] == "checkpoint" and result["sizes"] == [40, 120]
    assert result["changes"] == 10 and result["repeats"] == 2 and result["arms"] == ["codeassist", "git"]
    assert result["machine"]["git"].startswith("git version") and result["machine"]["cores"] >= 1
    assert set(result["results"]) == {"40", "120"}
    for files, figures in result["results"].items():
        assert figures["files"] == int(files) and figures["megabytes"] > 0
        for arm, operations in checkpoint.OPERATIONS.items():
            assert set(figures["arms"][arm]) == set(operations)
            for operation in operations:
                timing = figures["arms"][arm][operation]
                assert len(timing["runs_ms"]) == 2
                assert 0 <= timing["min_ms"] <= timing["median_ms"] <= timing["max_ms"]
        codeassist, git = figures["arms"]["codeassist"], figures["arms"]["git"]
        for operation in checkpoint.COMPARED:
            assert codeassist[operation]["median_ms"] > 0 and git[operation]["median_ms"] > 0
            expected = round(codeassist[operation]["median_ms"] / git[operation]["median_ms"], 2)
            assert figures["ratios"][operation] == expected
        assert figures["ratios"]["create_first"] == round(
            codeassist["create_first"]["median_ms"] / git["create"]["median_ms"], 2
        )
        assert figures["checks"] == {
            "codeassist": {
                "undo_exact": True,
                "undo_paths": True,
                "conflicts": [0],
                "problems": [],
                "diff_files": [10],
                "first_equals_after": True,
            },
            "git": {"undo_exact": True, "undo_paths": True, "diff_files": [10]},
            "same_tree": True,
            "same_diff": True,
        }
    assert result["goals"] == {"ratio": 1.5, "create_ms_at_10k_files": 300.0}
    assert set(result["goals_met"]) == {
        "create_within_1.5x",
        "create_first_within_1.5x",
        "undo_within_1.5x",
        "diff_within_1.5x",
    }  # the 300 ms goal is for 10k files, not measured here
    assert result["within_goals"] == all(result["goals_met"].values())


def test_the_generated_repository_is_committed_with_a_fresh_index_and_the_changes_revert(tmp_path):
    root = tmp_path / "repo"
    generated = checkpoint.generate_repository(root, 300)
    assert generated["tracked_files"] == 300
    plain = checkpoint.PlainGit(root, tmp_path)
    assert checkpoint.run(["status", "--porcelain"], root, plain.env) == b""  # build/ is ignored
    assert len({checkpoint.file_path(number).rsplit("/", 1)[0] for number in range(300)}) >= 10
    tracked = checkpoint.run(["ls-files", "src"], root, plain.env).decode().split()
    changes = checkpoint.Changes(root, tracked, 10, seed=1)
    assert len(changes.paths) == 10 and len({path.rsplit("/", 1)[0] for path in changes.edited}) == 8
    changes.apply()
    status = checkpoint.run(["status", "--porcelain"], root, plain.env).decode().splitlines()
    assert sorted(line[3:] for line in status) == changes.paths and not changes.undone()
    changes.revert()
    assert changes.undone() and checkpoint.run(["status", "--porcelain"], root, plain.env) == b""


def test_numstat_is_read_with_renames_and_binary_files():
    numstat = b"3\t1\ta.py\x00-\t-\timage.png\x000\t0\t\x00old.py\x00new.py\x00"
    assert checkpoint.parse_numstat(numstat) == {"a.py": (3, 1), "image.png": (0, 0), "new.py": (0, 0)}
