"""Smoke version of `bench.client_overhead`: every arm runs a real turn and reports its figures."""

from __future__ import annotations

import json

from bench import client_overhead


def test_every_arm_measures_a_complete_turn(capsys, tmp_path):
    out = tmp_path / "result.json"
    client_overhead.main(["--turns", "2", "--events", "60", "--out", str(out)])
    result = json.loads(capsys.readouterr().out)
    assert result == json.loads(out.read_text())
    assert set(result["arms"]) == {
        "floor",
        "websocket_transport",
        "http_transport",
        "websocket_agent_turn",
        "http_agent_turn",
        "websocket_agent_turn_logged",
    }
    for arm in result["arms"].values():
        assert arm["events"] == 60
        assert arm["cpu_ms_median"] > 0
    assert result["ratio_to_websocket_transport"]["websocket_transport"] == 1.0
    assert result["ratio_to_floor"]["floor"] == 1.0
    assert result["floor_goal_ratio"] == 1.25
    assert result["websocket_within_floor_goal"] == (
        result["arms"]["websocket_transport"]["cpu_ms_median"] <= 1.25 * result["arms"]["floor"]["cpu_ms_median"]
    )


async def test_the_floor_reads_a_whole_response_as_bytes():
    with client_overhead.served(60) as base_url:
        floor = client_overhead.FloorSocket(base_url.replace("http://", "ws://") + "/responses", "bench")
        try:
            first = await floor.turn(client_overhead.BODY)
            second = await floor.turn(client_overhead.BODY)
        finally:
            await floor.close()
    assert first > 60 * 40  # every event is a JSON object of at least this size
    assert abs(second - first) < first // 10
