"""Every keybinding of the app has a Pilot test (this test fails when one is added without).

The classes are discovered: every module of the `tui` and `themes` packages is imported and every
`App` or `Widget` (screens included) defined there with its own `BINDINGS` is checked.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from types import ModuleType

import pytest
from textual.app import App
from textual.binding import Binding
from textual.widget import Widget

import themes
import tui
from tui.app import CodeassistApp
from tui.screens.commit import CommitScreen
from tui.screens.diff import DiffScreen
from tui.screens.mcp import McpScreen
from tui.screens.picker import PickerScreen
from tui.welcome import WelcomeApp
from tui.widgets.approval import ApprovalCard
from tui.widgets.prompt import PromptInput

BLOCKS = "tests.tui.test_blocks"
PICKER = "tests.tui.test_model_picker"
SCREENS = "tests.tui.test_safety_net_screens"
MCP = "tests.tui.test_mcp_screen:test_mcp_screen_lists_servers_moves_with_up_down_r_restarts_and_esc_closes"

TESTED = {
    (CodeassistApp, "escape"): "tests.tui.test_app:test_escape_interrupts_a_streaming_answer",
    (CodeassistApp, "ctrl+b"): "tests.tui.test_app:test_ctrl_b_toggles_the_stats_panel",
    (CodeassistApp, "ctrl+o"): "tests.tui.test_app:test_ctrl_o_copies_the_last_answer",
    (CodeassistApp, "ctrl+n"): "tests.tui.test_app:test_ctrl_n_starts_a_new_session",
    (CodeassistApp, "space"): "tests.tui.test_replay:test_space_pauses_and_plus_minus_change_the_speed",
    (CodeassistApp, "plus,equals_sign"): "tests.tui.test_replay:test_space_pauses_and_plus_minus_change_the_speed",
    (CodeassistApp, "minus"): "tests.tui.test_replay:test_space_pauses_and_plus_minus_change_the_speed",
    (CodeassistApp, "ctrl+g"): "tests.tui.test_focus:test_typing_actually_while_the_card_appears_never_approves",
    (CodeassistApp, "y"): "tests.tui.test_focus:test_y_approves_from_an_empty_prompt_whatever_was_clicked_before",
    (CodeassistApp, "a"): "tests.tui.test_focus:test_a_approves_always_from_an_empty_prompt",
    (CodeassistApp, "n"): "tests.tui.test_focus:test_n_denies_from_an_empty_prompt_with_a_reason",
    (CodeassistApp, "ctrl+up,alt+up"): f"{BLOCKS}:test_blocks_are_focused_one_by_one_and_esc_returns_to_the_prompt",
    (CodeassistApp, "ctrl+down,alt+down"): f"{BLOCKS}:test_blocks_are_focused_one_by_one_and_esc_returns_to_the_prompt",
    (CodeassistApp, "up"): f"{BLOCKS}:test_blocks_are_focused_one_by_one_and_esc_returns_to_the_prompt",
    (CodeassistApp, "down"): f"{BLOCKS}:test_blocks_are_focused_one_by_one_and_esc_returns_to_the_prompt",
    (CodeassistApp, "k"): f"{BLOCKS}:test_blocks_are_focused_one_by_one_and_esc_returns_to_the_prompt",
    (CodeassistApp, "j"): f"{BLOCKS}:test_blocks_are_focused_one_by_one_and_esc_returns_to_the_prompt",
    (CodeassistApp, "enter"): f"{BLOCKS}:test_enter_expands_and_collapses_a_focused_card",
    (CodeassistApp, "c"): f"{BLOCKS}:test_c_copies_the_focused_block",
    (PromptInput, "pageup"): "tests.tui.test_focus:test_page_and_home_end_keys_scroll_the_transcript_from_the_prompt",
    (PromptInput, "pagedown"): "tests.tui.test_focus:test_page_and_home_end_keys_scroll_the_transcript_from_the_prompt",
    (PromptInput, "home"): "tests.tui.test_focus:test_page_and_home_end_keys_scroll_the_transcript_from_the_prompt",
    (PromptInput, "end"): "tests.tui.test_focus:test_page_and_home_end_keys_scroll_the_transcript_from_the_prompt",
    (
        PromptInput,
        "ctrl+home",
    ): "tests.tui.test_focus:test_page_and_home_end_keys_scroll_the_transcript_from_the_prompt",
    (PromptInput, "ctrl+end"): "tests.tui.test_focus:test_page_and_home_end_keys_scroll_the_transcript_from_the_prompt",
    (ApprovalCard, "y"): "tests.tui.test_app:test_y_approves_the_edit_and_the_file_changes",
    (ApprovalCard, "a"): "tests.tui.test_app:test_a_approves_always_for_the_session",
    (ApprovalCard, "n"): "tests.tui.test_app:test_n_denies_with_a_reason_that_reaches_the_model",
    (ApprovalCard, "escape"): "tests.tui.test_app:test_escape_on_an_approval_cancels_the_turn",
    (PromptInput, "ctrl+r"): "tests.tui.test_app:test_prompt_keys_newline_history_search_and_mentions",
    (PromptInput, "tab"): "tests.tui.test_app:test_prompt_keys_newline_history_search_and_mentions",
    (WelcomeApp, "d"): "tests.tui.test_welcome:test_d_starts_the_demo_and_q_quits",
    (WelcomeApp, "q"): "tests.tui.test_welcome:test_d_starts_the_demo_and_q_quits",
    (PickerScreen, "escape"): f"{PICKER}:test_model_picker_moves_with_up_and_down_and_esc_closes_without_a_change",
    (PickerScreen, "down"): f"{PICKER}:test_model_picker_moves_with_up_and_down_and_esc_closes_without_a_change",
    (PickerScreen, "up"): f"{PICKER}:test_model_picker_moves_with_up_and_down_and_esc_closes_without_a_change",
    (CodeassistApp, "d"): "tests.tui.test_safety_net:test_d_and_enter_on_a_turns_changes_line_open_its_diff",
    (McpScreen, "escape"): MCP,
    (McpScreen, "r"): MCP,
    (DiffScreen, "escape"): f"{SCREENS}:test_diff_screen_pages_through_the_patch_follows_the_files_and_esc_closes",
    (DiffScreen, "pagedown"): f"{SCREENS}:test_diff_screen_pages_through_the_patch_follows_the_files_and_esc_closes",
    (DiffScreen, "pageup"): f"{SCREENS}:test_diff_screen_pages_through_the_patch_follows_the_files_and_esc_closes",
    (
        CommitScreen,
        "ctrl+s",
    ): f"{SCREENS}:test_commit_screen_shows_progress_then_the_draft_and_ctrl_s_commits_the_edited_message",
    (
        CommitScreen,
        "escape",
    ): f"{SCREENS}:test_commit_screen_refuses_an_empty_message_keeps_a_failed_commit_open_and_esc_cancels",
}
"""Esc has two app bindings: interrupt (above) and, while a transcript block has the focus, back to
the prompt (`test_blocks_are_focused_one_by_one_and_esc_returns_to_the_prompt`).
Plus the keys handled in `PromptInput._on_key` (Enter, Shift+Enter/Ctrl+J, Up/Down), tested in
`test_enter_sends_and_the_answer_streams_into_the_transcript` and
`test_prompt_keys_newline_history_search_and_mentions`, and Ctrl+P (the command palette) in
`test_the_command_palette_runs_slash_commands`."""

PACKAGES = (tui, themes)


def modules(package: ModuleType) -> list[ModuleType]:
    """The package and every module under it, imported."""
    found = [package]
    for info in pkgutil.walk_packages(package.__path__, prefix=f"{package.__name__}."):
        found.append(importlib.import_module(info.name))
    return found


def classes_with_bindings() -> list[type]:
    """Every `App` or `Widget` subclass defined in `tui` or `themes` that declares `BINDINGS`."""
    found: dict[str, type] = {}
    for package in PACKAGES:
        for module in modules(package):
            for _, cls in inspect.getmembers(module, inspect.isclass):
                if cls.__module__ == module.__name__ and issubclass(cls, (App, Widget)) and "BINDINGS" in vars(cls):
                    found[f"{cls.__module__}.{cls.__qualname__}"] = cls
    return [found[name] for name in sorted(found)]


def binding_keys(owner: type) -> list[str]:
    """The key string of each binding the class declares (a `Binding` or a tuple)."""
    return [binding.key if isinstance(binding, Binding) else binding[0] for binding in vars(owner)["BINDINGS"]]


DISCOVERED = classes_with_bindings()


def test_discovery_finds_every_class_with_bindings():
    """A guard on the discovery itself: the classes known to have bindings are among those found."""
    assert {CodeassistApp, ApprovalCard, PromptInput, WelcomeApp} <= set(DISCOVERED)
    assert {owner for owner, _ in TESTED} <= set(DISCOVERED)


@pytest.mark.parametrize("owner", DISCOVERED, ids=lambda cls: f"{cls.__module__}.{cls.__qualname__}")
def test_every_binding_has_a_test(owner):
    missing = [key for key in binding_keys(owner) if (owner, key) not in TESTED]
    assert not missing, f"{owner.__module__}.{owner.__qualname__}: bindings {missing} have no Pilot test in TESTED"


@pytest.mark.parametrize("target", sorted(set(TESTED.values())))
def test_the_named_tests_exist(target):
    module, name = target.split(":")
    assert callable(getattr(importlib.import_module(module), name))
