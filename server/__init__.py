"""`codeassist serve`: a local OpenAI Responses-API server over WebSocket and HTTP/SSE.

One process, one port: `GET /v1/responses` upgraded to WebSocket mode and `POST /v1/responses`
(SSE or JSON). Responses come from a pluggable engine (the deterministic `scripted` engine plays
a scenario file); fault injection makes every failure path of a client testable.
"""
