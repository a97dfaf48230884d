"""The no-model screen."""

from __future__ import annotations

from tui.welcome import WelcomeApp, welcome_text


def test_the_three_ways_forward_are_named():
    text = welcome_text("/home/me/.config/codeassist/config.toml").plain
    for hint in ("OPENAI_API_KEY", "--base-url", "codeassist demo", "config.toml"):
        assert hint in text


async def test_d_starts_the_demo_and_q_quits():
    app = WelcomeApp("config.toml")
    async with app.run_test() as pilot:
        await pilot.press("d")
    assert app.return_value == "demo"
    app = WelcomeApp("config.toml")
    async with app.run_test() as pilot:
        await pilot.press("q")
    assert app.return_value is None
