"""`/model` and `/effort` in the app: the pickers (keyboard only), the header, the next request."""

from __future__ import annotations

import pytest

from tests.agent.model_endpoint import ModelEndpoint
from tests.tui.conftest import SIZE, scenario, wait_idle
from tests.tui.test_app import send
from tui.screens.picker import PickerScreen
from tui.widgets.header import RepoHeader
from tui.widgets.transcript import NoticeLine

HELLO = scenario(*({"output": [{"type": "message", "text": "Hi."}]} for _ in range(3)))


def picker(app) -> PickerScreen:
    assert isinstance(app.screen, PickerScreen)
    return app.screen


def shown(app) -> list[str]:
    return [row.value for row in picker(app).shown]


def highlighted(app) -> str:
    screen = picker(app)
    index = screen.query_one("#picker-choices").highlighted
    return screen.shown[index].value


async def until_loaded(app, pilot) -> None:
    await app.workers.wait_for_complete()
    await pilot.pause()


async def test_model_picker_filters_by_typing_and_enter_switches_the_model(make_app):
    app = make_app(HELLO)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "/model")
        await pilot.pause()
        await until_loaded(app, pilot)
        assert highlighted(app) == "scripted-test", "the current model is highlighted"
        assert {"scripted-test", "gpt-5.2", "gpt-4.1"} <= set(shown(app))
        await pilot.press(*"4.1")
        assert shown(app) == ["gpt-4.1"]
        await pilot.press("enter")
        await pilot.pause()
        assert not isinstance(app.screen, PickerScreen)
        assert app.session.model == "gpt-4.1" and app.settings.model == "gpt-4.1"
        assert "model is now gpt-4.1" in app.query(NoticeLine).last().message
        assert "model gpt-4.1" in str(app.query_one(RepoHeader).content)
        await send(pilot, "hi")
        await wait_idle(app, pilot)
        body = app.server.state.received[-1].body
        assert body["model"] == "gpt-4.1" and "previous_response_id" not in body


async def test_model_picker_moves_with_up_and_down_and_esc_closes_without_a_change(make_app):
    app = make_app(HELLO)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "/model")
        await until_loaded(app, pilot)
        order = shown(app)
        start = order.index(highlighted(app))
        await pilot.press("down")
        assert highlighted(app) == order[(start + 1) % len(order)]
        await pilot.press("up", "up")
        assert highlighted(app) == order[(start - 1) % len(order)]
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, PickerScreen)
        assert app.session.model == "scripted-test"
        assert app.running is False


async def test_model_picker_lists_the_endpoints_models_and_a_typed_name_not_listed(make_app):
    with ModelEndpoint() as endpoint:
        app = make_app(HELLO, base_url=endpoint.base_url)
        async with app.run_test(size=SIZE) as pilot:
            await send(pilot, "/model")
            await until_loaded(app, pilot)
            assert "local-coder" in shown(app)
            await pilot.press(*"coder")
            assert shown(app) == ["local-coder"]
            assert "32.8k window" in picker(app).shown[0].detail and "endpoint" in picker(app).shown[0].detail
            await pilot.press(*"-next")
            assert shown(app) == []
            await pilot.press("enter")
            await pilot.pause()
            assert app.session.model == "coder-next", "a name the list lacks is taken as typed"


async def test_model_picker_shows_an_endpoint_that_cannot_list_models_and_keeps_the_catalogue(make_app):
    with ModelEndpoint() as endpoint:
        app = make_app(HELLO, base_url=endpoint.base_url.replace("/v1", "/broken/v1"))
        async with app.run_test(size=SIZE) as pilot:
            await send(pilot, "/model")
            await until_loaded(app, pilot)
            status = picker(app).query_one("#picker-status")
            assert "endpoint models not listed" in str(status.content) and "HTTP 500" in str(status.content)
            assert status.has_class("-error")
            assert "gpt-5.2" in shown(app)


async def test_effort_picker_and_argument_set_the_effort_shown_in_the_header(make_app):
    app = make_app(HELLO, reasoning_effort="medium")
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "/effort")
        await pilot.pause()
        assert shown(app) == ["none", "minimal", "low", "medium", "high", "xhigh"]
        assert highlighted(app) == "medium"
        await pilot.press("down", "enter")
        await pilot.pause()
        assert app.session.effort == "high" and app.settings.reasoning_effort == "high"
        assert "effort high" in str(app.query_one(RepoHeader).content)
        await send(pilot, "hi")
        await wait_idle(app, pilot)
        assert app.server.state.received[-1].body["reasoning"]["effort"] == "high"
        await send(pilot, "/effort low")
        await pilot.pause()
        assert app.session.effort == "low" and "effort low" in str(app.query_one(RepoHeader).content)
        await send(pilot, "/effort extreme")
        await pilot.pause()
        assert "no reasoning effort 'extreme'" in app.query(NoticeLine).last().message


@pytest.mark.parametrize("argument", ["", " low"])
async def test_effort_is_refused_for_a_model_without_reasoning(make_app, argument):
    app = make_app(HELLO, reasoning_effort="medium")
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "/model gpt-4.1")
        await send(pilot, f"/effort{argument}")
        await pilot.pause()
        assert not isinstance(app.screen, PickerScreen)
        notice = app.query(NoticeLine).last()
        assert "gpt-4.1 takes no reasoning effort" in notice.message and notice.has_class("-error")
        assert "effort" not in str(app.query_one(RepoHeader).content)
