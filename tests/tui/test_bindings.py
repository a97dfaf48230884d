"""Every keybinding of the app has a Pilot test (this test fails when one is added without)."""

from __future__ import annotations

import importlib

import pytest

from tui.app import CodeassistApp
from tui.welcome import WelcomeApp
from tui.widgets.approval import ApprovalCard
from tui.widgets.prompt import PromptInput

TESTED = {
    (CodeassistApp, "escape"): "tests.tui.test_app:test_escape_interrupts_a_streaming_answer",
    (CodeassistApp, "ctrl+b"): "tests.tui.test_app:test_ctrl_b_toggles_the_stats_panel",
    (CodeassistApp, "ctrl+o"): "tests.tui.test_app:test_ctrl_o_copies_the_last_answer",
    (CodeassistApp, "ctrl+n"): "tests.tui.test_app:test_ctrl_n_starts_a_new_session",
    (CodeassistApp, "space"): "tests.tui.test_replay:test_space_pauses_and_plus_minus_change_the_speed",
    (CodeassistApp, "plus,equals_sign"): "tests.tui.test_replay:test_space_pauses_and_plus_minus_change_the_speed",
    (CodeassistApp, "minus"): "tests.tui.test_replay:test_space_pauses_and_plus_minus_change_the_speed",
    (ApprovalCard, "y"): "tests.tui.test_app:test_y_approves_the_edit_and_the_file_changes",
    (ApprovalCard, "a"): "tests.tui.test_app:test_a_approves_always_for_the_session",
    (ApprovalCard, "n"): "tests.tui.test_app:test_n_denies_with_a_reason_that_reaches_the_model",
    (ApprovalCard, "escape"): "tests.tui.test_app:test_escape_on_an_approval_cancels_the_turn",
    (PromptInput, "ctrl+r"): "tests.tui.test_app:test_prompt_keys_newline_history_search_and_mentions",
    (PromptInput, "tab"): "tests.tui.test_app:test_prompt_keys_newline_history_search_and_mentions",
    (WelcomeApp, "d"): "tests.tui.test_welcome:test_d_starts_the_demo_and_q_quits",
    (WelcomeApp, "q"): "tests.tui.test_welcome:test_d_starts_the_demo_and_q_quits",
}
"""Plus the keys handled in `PromptInput._on_key` (Enter, Shift+Enter/Ctrl+J, Up/Down), tested in
`test_enter_sends_and_the_answer_streams_into_the_transcript` and
`test_prompt_keys_newline_history_search_and_mentions`, and Ctrl+P (the command palette) in
`test_the_command_palette_runs_slash_commands`."""

CLASSES = (CodeassistApp, ApprovalCard, PromptInput, WelcomeApp)


@pytest.mark.parametrize("owner", CLASSES, ids=lambda cls: cls.__name__)
def test_every_binding_has_a_test(owner):
    for binding in owner.BINDINGS:
        key = binding.key if hasattr(binding, "key") else binding[0]
        assert (owner, key) in TESTED, f"{owner.__name__} binding {key!r} has no Pilot test"


@pytest.mark.parametrize("target", sorted(set(TESTED.values())))
def test_the_named_tests_exist(target):
    module, name = target.split(":")
    assert callable(getattr(importlib.import_module(module), name))
