"""Arguments that run programs or write outside the workspace never match an "approve always"
rule (`agent.tools.risky_arguments`, through `rule_key`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.approvals import ApprovalGate, Decision, Policy
from agent.tools.base import ToolContext
from agent.tools.command_safety import rule_key
from agent.tools.risky_arguments import risky_argument
from agent.tools.shell import Shell, ShellArgs

RISKY = [
    # the cases of the issue: each would run without asking after approving the program always
    ("rg --pre=sh pattern .", "--pre=sh"),
    ("rg --pre sh pattern", "--pre"),
    ("find . -name '*.pyc' -exec rm {} +", "-exec"),
    ("find . -execdir sh -c x {} ;", "-execdir"),
    ("find . -delete", "-delete"),
    ("find . -fprint /tmp/list", "-fprint"),
    ("go test -exec ./evil ./...", "-exec"),
    ("go test -exec=./evil ./...", "-exec=./evil"),
    ("go build -toolexec=./wrap .", "-toolexec=./wrap"),
    ("go generate ./...", "generate"),
    ("sed -i s/a/b/ ~/.bashrc", "~/.bashrc"),
    ("sed -i.bak s/a/b/ /etc/hosts", "/etc/hosts"),
    ("sed -n 1e/bin/sh file", "1e/bin/sh"),
    ("sed s/a/b/e file", "s/a/b/e"),
    ("sed 's/a/b/w /tmp/out' file", "s/a/b/w /tmp/out"),
    ("sed -f script.sed file", "-f"),
    ("fd -x rm", "-x"),
    ("fd -HX rm", "-HX"),
    ("fd --exec-batch rm", "--exec-batch"),
    ("tar --to-command=sh -xf a.tar", "--to-command=sh"),
    ("tar -I ./unzipper -xf a.tar", "-I"),
    ("tar -xPf a.tar", "-xPf"),
    ("tar -xf a.tar -C /", "-C"),
    ("sort --compress-program=sh data", "--compress-program=sh"),
    ("sort -o /etc/passwd data", "-o"),
    ("git diff --ext-diff", "--ext-diff"),
    ("git grep -O vim pattern", "-O"),
    ("git rebase -x 'make test' main", "-x"),
    ("git config core.fsmonitor ./evil", "config"),
    ("git submodule foreach rm -rf .", "submodule"),
    ("git bisect run ./script", "bisect"),
    ("cargo --config target.x.runner=sh test", "--config"),
    ("tee ~/.bashrc", "~/.bashrc"),
    ("cp notes.txt ../outside.txt", "../outside.txt"),
    ("cp -t /tmp notes.txt", "-t"),
    ("mv a.txt /etc/a.txt", "/etc/a.txt"),
    ("rm -rf ~", "~"),
    ("rm -rf /", "/"),
    ("touch src/../../escape", "src/../../escape"),
    ("dd if=/dev/zero of=/dev/sda", "of=/dev/sda"),
    ("patch -o /etc/x a.diff", "-o"),
    ("npm test --script-shell=./evil", "--script-shell=./evil"),
]


@pytest.mark.parametrize(("command", "argument"), RISKY)
def test_a_risky_argument_is_named_and_the_command_gets_no_key(command: str, argument: str) -> None:
    import shlex

    words = shlex.split(command)
    assert risky_argument(words[0], words[1:]) == argument
    assert rule_key(command) is None


SAFE = [
    ("rg -n TODO src", "rg"),
    ("rg --hidden pattern", "rg"),
    ("find . -name '*.py' -type f", "find"),
    ("go test ./...", "go test"),
    ("go test -run TestX -v ./pkg", "go test"),
    ("sed -n 1,20p file.txt", "sed"),
    ("sed 's/foo/bar/g' file.txt", "sed"),
    ("sed -i 's/foo/bar/g' src/app.py", "sed"),
    ("sed -e '/^#/d' -e 's|a|b|' file", "sed"),
    ("fd -e py", "fd"),
    ("tar -czf build/out.tgz src", "tar"),
    ("sort -o sorted.txt data.txt", "sort"),
    ("git diff --stat", "git diff"),
    ("git log -p -3", "git log"),
    ("tee out/log.txt", "tee"),
    ("cp a.txt b.txt", "cp"),
    ("mkdir -p build/cache", "mkdir"),
    ("rm -rf build dist", "rm"),
    ("touch src/new.py", "touch"),
]


@pytest.mark.parametrize(("command", "key"), SAFE)
def test_the_same_programs_used_harmlessly_keep_their_key(command: str, key: str) -> None:
    assert rule_key(command) == key


@pytest.mark.parametrize(
    ("approved", "later"),
    [
        ("rg TODO", "rg --pre=sh TODO ."),
        ("find . -name x", "find . -exec sh -c id {} +"),
        ("go test ./...", "go test -exec ./evil ./..."),
        ("sed -n 1p a.txt", "sed -i s/a/b/ ~/.bashrc"),
    ],
)
async def test_approving_a_program_always_does_not_approve_its_risky_uses(
    approved: str, later: str, tmp_path: Path
) -> None:
    ctx = ToolContext(workspace=tmp_path)
    shell = Shell()
    gate = ApprovalGate(Policy.ASK)
    first = shell.approval_request("c1", ShellArgs(command=approved), ctx)
    gate.register(first)
    gate.answer("c1", Decision(kind="approve_always"))

    again = shell.approval_request("c2", ShellArgs(command=approved), ctx)
    risky = shell.approval_request("c3", ShellArgs(command=later), ctx)
    assert gate.settle_without_asking(again, mutating=True) is not None
    assert risky.rule_key is None
    assert gate.settle_without_asking(risky, mutating=True) is None  # asked every time
