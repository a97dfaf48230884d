"""Server errors read in one place: both `error` event shapes, HTTP error bodies, `Retry-After`."""

from __future__ import annotations

import pytest

from agent.model_client import ServerError
from agent.wire.errors import ErrorEvent, error_body_message, error_body_payload, parse_retry_after, retry_after


def test_both_error_shapes_read_the_same():
    nested = ErrorEvent.model_validate(
        {"type": "error", "status": 429, "error": {"code": "rate_limit_exceeded", "message": "slow down"}}
    )
    flat = ErrorEvent.model_validate(
        {"type": "error", "status_code": 429, "code": "rate_limit_exceeded", "message": "slow down"}
    )
    for event in (nested, flat):
        assert (event.error_code, event.error_message, event.http_status) == ("rate_limit_exceeded", "slow down", 429)


@pytest.mark.parametrize(
    ("header", "message", "expected"),
    [
        ("3", "", 3.0),
        ("-1", "", 0.0),
        (None, "Please try again in 1.5s.", 1.5),
        (None, "try again in 20ms", 0.02),
        ("soon", "nothing", None),
        (None, "", None),
    ],
)
def test_retry_after_prefers_the_header_then_the_message(header, message, expected):
    assert retry_after(header, message) == expected


def test_retry_after_header_alone_ignores_dates_and_garbage():
    assert parse_retry_after("2") == 2.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") is None
    assert parse_retry_after("") is None


def test_server_error_takes_code_status_and_wait_from_the_event():
    error = ServerError.from_event(
        {"type": "error", "status": 503, "error": {"code": None, "message": "busy", "headers": {"Retry-After": "4"}}}
    )
    assert error.status == 503 and error.retryable and error.retry_after == 4.0 and error.cause == "http_503"
    quota = ServerError.from_event({"type": "error", "status": 429, "error": {"code": "insufficient_quota"}})
    assert not quota.retryable and str(quota) == "The server reported an error."


def test_http_error_bodies():
    assert error_body_message(b'{"error": {"message": "nope", "code": "x"}}') == "nope"
    assert error_body_message(b"<html>Bad Gateway</html>") == "<html>Bad Gateway</html>"
    assert error_body_message(b'{"detail": 1}') == "" and error_body_message(None) == ""
    payload = error_body_payload(b'{"error": {"message": "nope", "code": "x", "extra": 1}}')
    assert payload is not None and payload.code == "x" and payload.model_extra == {"extra": 1}
    odd = error_body_payload(b'{"error": {"message": ["no"], "code": 400, "headers": 1}}')
    assert odd is not None and odd.code == "400" and odd.message == "" and odd.headers is None
