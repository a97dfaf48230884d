"""Smoke version of `bench.transport` (RTT 0, a few turns, tiny tool times) and its delay proxy.

Only accounting and integrity are checked, never wall-clock figures: bytes the client counted
against bytes the server received, identical transcripts across arms, increments only over the
WebSocket after the first request, and a forced drop that loses and duplicates nothing.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os

import pytest

from bench import transport
from bench.delay_proxy import DelayProxy, _Link
from bench.rollout import Rollout, canonical
from bench.transport_stats import growth, percentile


@pytest.fixture(scope="module")
def smoke(tmp_path_factory) -> tuple[dict, str]:
    out = tmp_path_factory.mktemp("transport") / "result.json"
    transport.main(
        [
            "--rtts",
            "0",
            "--reps",
            "1",
            "--tool-calls",
            "5",
            "--long-tool-s",
            "0.01",
            "--short-tool-s",
            "0",
            "--warmup-turns",
            "1",
            "--reconnect-reps",
            "1",
            "--reconnect-turns",
            "5",
            "--no-plot",
            "--out",
            str(out),
        ]
    )
    return json.loads(out.read_text()), out.read_text()


def test_the_result_has_every_arm_and_the_machine(smoke):
    result, _ = smoke
    assert result["benchmark"] == "transport"
    assert set(result["conditions"][0]["arms"]) == {"http_full", "http_chained", "websocket"}
    assert result["machine"]["cores"] >= 1


def test_client_bytes_match_what_the_server_received(smoke):
    checks = smoke[0]["checks"]
    assert checks["bytes_match_server"], checks["mismatches"]
    # warm-up + measured rollouts of three arms, plus the reconnect rollouts
    assert checks["requests_checked"] >= 3 * 6


def test_the_three_arms_produce_the_same_transcript(smoke):
    condition = smoke[0]["conditions"][0]
    assert condition["transcripts_equal"]
    assert condition["transcript_items"] > 6 * 2
    assert smoke[0]["checks"]["events_complete_in_order"]


def test_the_websocket_arm_sends_only_increments_after_the_first_request(smoke):
    checks = smoke[0]["checks"]
    assert checks["websocket_first_request_full"]
    assert checks["websocket_increments_only_after_first"]
    arms = smoke[0]["conditions"][0]["arms"]
    assert arms["websocket"]["incremental_turns"] == arms["websocket"]["turns_per_rollout"] - 1
    assert arms["http_chained"]["incremental_turns"] == arms["http_chained"]["turns_per_rollout"] - 1
    assert arms["http_full"]["incremental_turns"] == 0


def test_full_resend_grows_each_request_and_increments_do_not(smoke):
    arms = smoke[0]["conditions"][0]["arms"]
    full = arms["http_full"]["per_turn"]["bytes_sent"]
    ws = arms["websocket"]["per_turn"]["bytes_sent"]
    assert all(later > earlier for earlier, later in itertools.pairwise(full))
    assert full[0] == pytest.approx(ws[0], rel=0.01)  # the first request is the same in both
    assert max(ws[1:]) < full[-1] / 1.5
    assert arms["http_full"]["bytes_sent_per_rollout"] > arms["websocket"]["bytes_sent_per_rollout"]


def test_a_forced_close_loses_and_duplicates_nothing(smoke):
    reconnect = smoke[0]["reconnect"][0]
    assert reconnect["samples"] == 1
    assert reconnect["no_event_lost_or_duplicated"], reconnect["integrity"]
    assert reconnect["resend_bytes"] > reconnect["incremental_bytes"]


# ---- the delay proxy ---------------------------------------------------------------------------


def test_a_link_delays_each_chunk_and_serialises_it_at_the_bandwidth():
    link = _Link(0.04, None)
    assert link.due(1000, 10.0) == pytest.approx(10.04)
    capped = _Link(0.01, 1000.0)
    first = capped.due(500, 0.0)
    second = capped.due(500, 0.0)  # queued behind the first
    assert first == pytest.approx(0.51)
    assert second == pytest.approx(1.01)
    assert capped.due(0, 0.2) >= second  # end of stream never overtakes data


async def test_the_proxy_keeps_every_byte_in_order_across_concurrent_connections():
    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(4096):
            writer.write(data)
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    payloads = [os.urandom(200_000 + n) for n in range(4)]
    try:
        async with DelayProxy("127.0.0.1", port, rtt_s=0.01, bandwidth=20_000_000) as proxy:

            async def roundtrip(payload: bytes) -> bytes:
                reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
                for offset in range(0, len(payload), 7_001):  # many small writes
                    writer.write(payload[offset : offset + 7_001])
                await writer.drain()
                writer.write_eof()
                received = await reader.read()
                writer.close()
                return received

            echoed = await asyncio.gather(*(roundtrip(p) for p in payloads))
            stats = proxy.stats()
        assert echoed == payloads
        assert stats.connections == 4 and stats.open == 0
        assert stats.bytes_up == stats.bytes_down == sum(map(len, payloads))
    finally:
        server.close()
        await server.wait_closed()


def test_the_proxy_refuses_anything_but_loopback():
    with pytest.raises(ValueError, match="loopback"):
        DelayProxy("10.1.2.3", 443)
    with pytest.raises(ValueError, match="loopback"):
        DelayProxy("127.0.0.1", 443, listen_host="0.0.0.0")


# ---- pure parts -----------------------------------------------------------------------------


def test_growth_tells_linear_from_quadratic_totals():
    assert growth([14_000 + (i % 3) * 500 for i in range(31)])["kind"] == "linear"
    assert growth([14_000 + 3_000 * i for i in range(31)])["kind"] == "quadratic"
    assert percentile([5, 1, 4, 2, 3], 95) == 5
    assert percentile([5, 1, 4, 2, 3], 50) == 3


def test_the_rollout_is_deterministic_and_checks_its_context():
    rollout = Rollout(tool_calls=12)
    scenario = rollout.scenario()
    assert len(scenario["turns"]) == 13
    assert scenario["turns"][5]["expect"][0]["call_id"] == "call_004"
    assert rollout.output_text(4) == Rollout(tool_calls=12).output_text(4)
    assert 1_000 < len(rollout.output_text(1)) < 8_000
    items = [
        {"type": "function_call", "id": "fc_1", "status": "completed", "call_id": "c", "name": "n", "arguments": "{}"}
    ]
    assert canonical(items) == [{"type": "function_call", "call_id": "c", "name": "n", "arguments": "{}"}]
