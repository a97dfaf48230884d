"""Who may talk to `codeassist serve`: the `Host` and `Origin` checks, before any route runs.

A web page the user visits can reach a loopback server: it can open a WebSocket to it or POST to
it (the browser sends an `Origin` header), and a DNS-rebinding page can even read its answers
(the browser then sends the attacker's name as `Host`). So every request, WebSocket handshakes
and `/_codeassist/*` included, must name the server by a loopback name or address (or the
address it was bound to, or a name `--allow-host` adds), and a browser `Origin`, when there is
one, must be a loopback origin or one `--allow-origin` adds. Clients that send no `Origin` (the
SDKs, the Codex CLI, codeassist itself) are not affected.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

logger = logging.getLogger("codeassist.serve")

LOOPBACK_NAMES = frozenset({"localhost"})
WILDCARD_ADDRESSES = frozenset({"", "0.0.0.0", "::"})


def _ip(name: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _normal_name(name: str) -> str:
    name = name.strip().lower().rstrip(".")
    address = _ip(name)
    return str(address) if address is not None else name


def is_loopback_name(name: str) -> bool:
    """Whether `name` (a host name or address, IPv6 with or without brackets) is loopback."""
    name = _normal_name(name)
    if name in LOOPBACK_NAMES:
        return True
    address = _ip(name)
    return address is not None and address.is_loopback


def binds_loopback_only(host: str) -> bool:
    """Whether listening on `host` is reachable from this machine only."""
    if is_loopback_name(host):
        return True
    if _ip(host) is not None or host in WILDCARD_ADDRESSES:
        return False
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except OSError:
        return False
    return bool(infos) and all(is_loopback_name(str(info[4][0])) for info in infos)


def _split_host_header(value: str) -> tuple[str, str]:
    """The name in a `Host` header and its port ("" when none)."""
    value = value.strip()
    if value.startswith("[") and "]" in value:
        end = value.find("]")
        return value[1:end], value[end + 1 :].removeprefix(":")
    if value.count(":") == 1:
        name, port = value.split(":")
        return name, port
    return value, ""


def _normal_origin(origin: str) -> str:
    origin = origin.strip().rstrip("/").lower()
    if origin == "null":
        return origin
    parts = urlsplit(origin)
    default_port = {"http": 80, "https": 443, "ws": 80, "wss": 443}.get(parts.scheme)
    try:
        port = parts.port
    except ValueError:
        return origin
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{host}" + (f":{port}" if port is not None and port != default_port else "")


@dataclass(frozen=True)
class AccessPolicy:
    """Which `Host` names and `Origin`s the server answers."""

    bound_host: str = "127.0.0.1"
    allowed_hosts: frozenset[str] = frozenset()
    allowed_origins: frozenset[str] = frozenset()
    machine_name: str = ""
    """This machine's host name, answered too when `bound_host` is a wildcard."""

    @classmethod
    def build(cls, bound_host: str, hosts: Iterable[str] = (), origins: Iterable[str] = ()) -> AccessPolicy:
        """The policy for a server bound to `bound_host`, plus `--allow-host` and `--allow-origin`."""
        names = {_normal_name(name) for name in hosts}
        if bound_host not in WILDCARD_ADDRESSES:
            names.add(_normal_name(bound_host))
        origins = frozenset(_normal_origin(origin) for origin in origins)
        return cls(bound_host, frozenset(names), origins, _normal_name(socket.gethostname()))

    def host_allowed(self, host_header: str | None) -> bool:
        """Whether a request naming the server `host_header` is answered (no header: HTTP/1.0)."""
        if host_header is None:
            return True
        name = _normal_name(_split_host_header(host_header)[0])
        if is_loopback_name(name) or name in self.allowed_hosts:
            return True
        if self.bound_host in WILDCARD_ADDRESSES:
            # An address cannot be rebound by DNS; only names need allowing.
            return _ip(name) is not None or name == self.machine_name
        return False

    def origin_allowed(self, origin: str | None, host_header: str | None = None) -> bool:
        """Whether a request with this `Origin` header (None: not from a browser) is answered.

        Besides loopback origins and `--allow-origin` ones, an origin naming the server exactly as
        the (allowed) `host_header` does is answered: some WebSocket clients send one, and no page
        can have it since the server serves none.
        """
        if origin is None:
            return True
        normal = _normal_origin(origin)
        if "*" in self.allowed_origins or normal in self.allowed_origins:
            return True
        parts = urlsplit(normal)
        if parts.scheme not in ("http", "https", "ws", "wss"):
            return False
        if is_loopback_name(parts.hostname or ""):
            return True
        if host_header is None:
            return False
        name, port = _split_host_header(host_header)
        try:
            origin_port = str(parts.port or "")
        except ValueError:
            return False
        host_port = "" if port in ("80", "443") else port  # as the origin's default port was dropped
        return _normal_name(parts.hostname or "") == _normal_name(name) and origin_port == host_port

    def refusal(self, host: str | None, origin: str | None) -> JSONResponse | None:
        """The answer refusing a request with these headers, or None when it is allowed."""
        if not self.host_allowed(host):
            logger.warning("refused a request for Host %s (not a loopback name; see --allow-host)", ascii(host))
            return _refused(
                421,
                "host_not_allowed",
                f"Host {host!r} is not served: codeassist serve answers requests for localhost, 127.0.0.1, [::1] "
                "and the address it listens on. Start it with --allow-host NAME to add a name.",
            )
        if not self.origin_allowed(origin, host):
            logger.warning("refused a request from Origin %s (see --allow-origin)", ascii(origin))
            return _refused(
                403,
                "origin_not_allowed",
                f"Origin {origin!r} is not allowed: codeassist serve answers browser pages from loopback origins "
                "only. Start it with --allow-origin ORIGIN to allow one.",
            )
        return None


def _refused(status: int, code: str, message: str) -> JSONResponse:
    body = {"error": {"type": "invalid_request_error", "code": code, "message": message, "param": None}}
    return JSONResponse(body, status_code=status)


class HostOriginGuard:
    """ASGI middleware refusing requests and WebSocket handshakes the policy does not allow."""

    def __init__(self, app: ASGIApp, policy: AccessPolicy) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            headers = {name: value for name, value in scope["headers"] if name in (b"host", b"origin")}
            host, origin = headers.get(b"host"), headers.get(b"origin")
            refusal = self.policy.refusal(
                host.decode("latin-1") if host is not None else None,
                origin.decode("latin-1") if origin is not None else None,
            )
            if refusal is not None:
                if scope["type"] == "http" or "websocket.http.response" in scope.get("extensions", {}):
                    await refusal(scope, receive, send)
                else:
                    await send({"type": "websocket.close", "code": 1008})
                return
        await self.app(scope, receive, send)
