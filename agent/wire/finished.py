"""Recognising events of responses that already ended, so they are never read as the next one's.

A transport stops reading at a response's terminal event. Whatever the server sent after it — a
duplicated `response.completed`, a late `output_item.done` — stays in the connection's buffer
and would be read at the start of the next response. `FinishedResponses` remembers the ids of the
responses a connection finished and of their output items; each transport asks it about every
event it reads and skips (and counts) the stale ones.

An event is stale when it carries the id of a finished response (`response.created`, terminal
and other lifecycle events carry `response.id`), or when it comes before the current
response's `response.created` and names an item of a finished response (`item_id` of deltas,
`item.id` of `output_item.*`). After `response.created`, item ids are not consulted: a server
may reuse them across responses, and a stale event cannot follow the next response's start on
an ordered connection. On a connection whose responses have all started with
`response.created`, anything but an `error` read before the next one's `response.created` is a
leftover too, whatever it names. Response ids are taken to be unique, as the API makes them.

The WebSocket transport keeps one per connection. Over HTTP each response has its own stream
(a fresh one per request); what comes after the terminal event is read to the end and counted.
"""

from __future__ import annotations

from typing import Any

__all__ = ["FinishedResponses"]


class FinishedResponses:
    """The most recently finished responses of one connection (or transport) and their items.

    Args:
        limit: how many response ids and item ids are remembered (the oldest are forgotten).
    """

    def __init__(self, limit: int = 4096) -> None:
        self.limit = limit
        self._responses: dict[str, None] = {}
        self._items: dict[str, None] = {}
        self._created = False
        self._current: str | None = None
        self._current_items: list[Any] = []
        self._announces = False
        self._finished_any = False

    def begin(self) -> None:
        """A new request's events start."""
        self._created = False
        self._current = None
        self._current_items = []

    def stale(self, event: dict[str, Any]) -> bool:
        """Whether `event` belongs to a response that already finished (see the module docstring).

        Cheap for deltas once the response has started: one dict lookup.
        """
        response = event.get("response")
        if response is not None:
            rid = response.get("id") if isinstance(response, dict) else None
            if isinstance(rid, str):
                if rid in self._responses:
                    return True
                if event.get("type") == "response.created":
                    self._created, self._current = True, rid
                return False  # a response not finished yet: its events are never dropped
            return self._before_announced_start()
        item = event.get("item")
        if self._created:
            if isinstance(item, dict):
                self._current_items.append(item.get("id"))
            return False
        if event.get("type") != "error" and self._before_announced_start():
            return True
        item_id = event.get("item_id")
        if item_id is None and isinstance(item, dict):
            item_id = item.get("id")
        return isinstance(item_id, str) and item_id in self._items

    def _before_announced_start(self) -> bool:
        """Whether the current response has not started yet on a connection whose responses so
        far all started with `response.created` (then anything but an error is a leftover)."""
        return self._announces and not self._created

    def finish(self, terminal: dict[str, Any]) -> None:
        """The current response ended with `terminal`: remember its id and its output items'."""
        self._announces = self._created and (self._announces or not self._finished_any)
        self._finished_any = True
        response = terminal.get("response")
        ids: list[Any] = [self._current]
        self._remember(self._items, self._current_items)
        if isinstance(response, dict):
            ids.append(response.get("id"))
            output = response.get("output")
            if isinstance(output, list):
                self._remember(self._items, [item.get("id") for item in output if isinstance(item, dict)])
        self._remember(self._responses, ids)
        self.begin()

    def _remember(self, table: dict[str, None], ids: list[Any]) -> None:
        for value in ids:
            if isinstance(value, str):
                table[value] = None
        while len(table) > self.limit:
            del table[next(iter(table))]
