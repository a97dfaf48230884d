"""Shared base for every wire model: unknown fields are kept, absent optionals are not invented."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, model_serializer
from pydantic_core.core_schema import SerializerFunctionWrapHandler


class WireModel(BaseModel):
    """A JSON object of the Responses protocol.

    Unknown fields are accepted and kept (`extra="allow"`), so a newer server or client never
    breaks us and a round trip loses nothing.
    """

    model_config = ConfigDict(extra="allow", populate_by_name=True)


class CompactWireModel(WireModel):
    """A wire model that leaves out declared optional fields whose value is None when serialised.

    Items and content parts are written this way: the API omits an absent `encrypted_content`
    or `status` rather than sending `null`. Unknown (extra) fields are kept as they came, nulls
    included.
    """

    @model_serializer(mode="wrap")
    def _drop_none(self, handler: SerializerFunctionWrapHandler) -> Any:
        data = handler(self)
        if isinstance(data, dict):
            declared = type(self).model_fields
            return {key: value for key, value in data.items() if value is not None or key not in declared}
        return data


class ServerEventBase(CompactWireModel):
    """Fields every server event carries."""

    type: str
    sequence_number: int | None = None
