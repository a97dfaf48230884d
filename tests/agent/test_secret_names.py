"""One secret-name rule: what the shell tool keeps from commands is what the session log scrubs."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent.redact import (
    REDACTED,
    SECRET_NAME_PARTS,
    SECRET_NAME_PREFIXES,
    SECRET_NAME_WORDS,
    Redactor,
    is_secret_name,
    is_secret_variable,
)
from agent.tools.shell import CHILD_ENV_OVERRIDES, child_environment

# Names built from the rule's own pieces, near misses and ordinary words, in any case.
_PIECES = st.sampled_from(
    [
        *SECRET_NAME_WORDS,
        *(prefix.rstrip("_") for prefix in SECRET_NAME_PREFIXES),
        *SECRET_NAME_PARTS,
        "AUTHOR",
        "AUTHORS",
        "AUTHORIZATION",
        "PATH",
        "PATCH",
        "GITHUB",
        "HOME",
        "MY",
        "DB",
        "X1",
    ]
)
_NAMES = st.builds(
    lambda pieces, lower: "_".join(pieces).lower() if lower else "_".join(pieces),
    st.lists(_PIECES, min_size=1, max_size=4),
    st.booleans(),
).filter(lambda name: name not in CHILD_ENV_OVERRIDES)
# Values that no token-shape rule scrubs on its own (`sk-…` would be redacted whatever its name),
# so only the name rule decides.
_VALUES = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=12, max_size=30).filter(
    lambda value: Redactor(environ={}).redact(f"out: {value}") == f"out: {value}"
)


@given(name=_NAMES, value=_VALUES)
def test_every_variable_kept_from_commands_has_its_value_scrubbed_from_the_log(name: str, value: str) -> None:
    stripped = name not in child_environment({name: value})
    scrubbed = Redactor(environ={name: value}).redact(f"out: {value}") == f"out: {REDACTED}"
    assert stripped == scrubbed == is_secret_name(name)


@pytest.mark.parametrize(
    "name",
    [
        "GITHUB_PAT",
        "OPENAI_API_KEY",
        "AWS_SESSION_TOKEN",
        "GH_ENTERPRISE_HOST",
        "HTTP_AUTHORIZATION",
        "npm_config_auth",
    ],
)
def test_credential_names_are_stripped_and_scrubbed(name: str) -> None:
    value = "value-that-is-long-enough"
    assert name not in child_environment({name: value})
    assert Redactor(environ={name: value}).redact(value) == REDACTED


@pytest.mark.parametrize("name", ["PATH", "GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "AUTHORS_FILE", "PATCH_LEVEL", "HOME"])
def test_ordinary_names_are_passed_and_left_in_the_log(name: str) -> None:
    value = "value-that-is-long-enough"
    assert child_environment({name: value})[name] == value
    assert Redactor(environ={name: value}).redact(value) == value


SHAPED_VALUES = {
    "DEPLOY_URL": "postgres://app:correct-horse-battery@db.internal:5432/app",
    "HUB_LOGIN": "hf_" + "AbCdEfGhIjKlMnOpQrStUvWxYz01234567",
    "CI_JOB_HEADER_VALUE": "glpat-" + "x1Y2z3A4b5C6d7E8f9G0",
    "SLACK_HOOK_URL": "https://hooks.slack.com/services/T0000ABCD/B0000EFGH/XXXXXXXXXXXXXXXXXXXXXXXX",
    "AZURE_STORAGE": "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=" + "Zm9vYmFy" * 11 + "==;",
}


@pytest.mark.parametrize(("name", "value"), SHAPED_VALUES.items())
def test_a_variable_whose_value_is_shaped_like_a_secret_is_stripped_and_scrubbed(name: str, value: str) -> None:
    assert not is_secret_name(name)
    assert is_secret_variable(name, value)
    assert name not in child_environment({name: value})
    assert value not in Redactor(environ={name: value}).redact(f"echo {value}")
