"""A userspace TCP delay proxy on loopback: network latency without `tc netem`.

Each direction is a link with a one-way delay of RTT/2 and an optional bandwidth cap (bytes/s,
shared by every connection in that direction). A chunk read at time t leaves the link at
`max(t, link free) + size/bandwidth` and is written to the other side `delay` later, so bytes
keep their order within a connection while connections never wait for one another. The TCP
handshake happens on loopback, so without help it would cost nothing; the proxy therefore holds
the client's first bytes until one RTT after it accepted the connection, which is what a real
SYN/SYN-ACK exchange costs the client. What it does not model: TCP congestion control (slow
start, restart after idle), loss, jitter, and per-packet framing.

In process:

    async with DelayProxy("127.0.0.1", server_port, rtt_s=0.08) as proxy:
        ...  # connect to 127.0.0.1:proxy.port; proxy.stats() counts connections and bytes

As a process (`ProxyProcess` drives it): `python -m bench.delay_proxy --target 127.0.0.1:PORT
--rtt-ms 80 [--bandwidth BYTES_PER_S]` prints `{"port": N}`, then answers `stats` on stdin with
one JSON line and stops on `quit` or end of input.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import json
import subprocess
import sys
from dataclasses import asdict, dataclass

CHUNK = 64 * 1024


def require_loopback(host: str) -> None:
    """Refuse anything but a loopback address: this proxy never touches a real network."""
    if host == "localhost":
        return
    try:
        if ipaddress.ip_address(host).is_loopback:
            return
    except ValueError:
        pass
    raise ValueError(f"the delay proxy only works on loopback addresses, not {host!r}")


@dataclass
class ProxyStats:
    """Counters since the proxy started (bytes as they arrived at the proxy)."""

    connections: int = 0
    """TCP connections accepted."""
    open: int = 0
    """Connections currently open."""
    refused: int = 0
    """Connections closed at once because `max_connections` were open."""
    bytes_up: int = 0
    """Client → server."""
    bytes_down: int = 0
    """Server → client."""


class _Link:
    """One direction of the emulated path: a bandwidth-limited queue, then a fixed delay."""

    def __init__(self, delay_s: float, bandwidth: float | None) -> None:
        self.delay_s = delay_s
        self.bandwidth = bandwidth
        self.free_at = 0.0

    def due(self, size: int, now: float) -> float:
        """When a chunk of `size` bytes offered at `now` arrives at the far end."""
        if not self.bandwidth:
            return now + self.delay_s
        start = max(now, self.free_at)
        self.free_at = start + size / self.bandwidth
        return self.free_at + self.delay_s


class DelayProxy:
    """Forward `listen_host:port` to `target_host:target_port` with latency and a bandwidth cap.

    Args:
        target_host / target_port: the server (loopback only).
        rtt_s: round-trip time added; each direction gets half.
        bandwidth: bytes per second per direction (None: unlimited).
        handshake_rtt: hold the client's first bytes until one RTT after accept (models TCP's
            handshake, which happens on loopback here).
        max_connections: connections open at once; more are closed immediately.
        max_buffered_chunks: chunks in flight per direction of one connection before the proxy
            stops reading (back-pressure instead of unbounded memory).
    """

    def __init__(
        self,
        target_host: str,
        target_port: int,
        *,
        rtt_s: float = 0.0,
        bandwidth: float | None = None,
        listen_host: str = "127.0.0.1",
        port: int = 0,
        handshake_rtt: bool = True,
        max_connections: int = 64,
        max_buffered_chunks: int = 256,
    ) -> None:
        require_loopback(target_host)
        require_loopback(listen_host)
        if rtt_s < 0 or (bandwidth is not None and bandwidth <= 0):
            raise ValueError("rtt_s must be >= 0 and bandwidth > 0")
        self.target = (target_host, target_port)
        self.listen = (listen_host, port)
        self.rtt_s = rtt_s
        self.handshake_rtt = handshake_rtt
        self.max_connections = max_connections
        self.max_buffered_chunks = max_buffered_chunks
        self._up = _Link(rtt_s / 2, bandwidth)
        self._down = _Link(rtt_s / 2, bandwidth)
        self._stats = ProxyStats()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def port(self) -> int:
        """The port the proxy listens on (after `start`)."""
        assert self._server is not None, "the proxy is not started"
        return self._server.sockets[0].getsockname()[1]

    def stats(self) -> ProxyStats:
        """A copy of the counters."""
        return ProxyStats(**asdict(self._stats))

    async def start(self) -> DelayProxy:
        self._server = await asyncio.start_server(self._accept, *self.listen)
        return self

    async def stop(self) -> None:
        """Stop listening, drop every connection and wait for their tasks to end."""
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> DelayProxy:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.get_running_loop().create_task(self._connection(reader, writer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _connection(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        accepted = loop.time()
        self._stats.connections += 1
        if self._stats.open >= self.max_connections:
            self._stats.refused += 1
            client_writer.transport.abort()
            return
        self._stats.open += 1
        self._writers.add(client_writer)
        upstream_writer: asyncio.StreamWriter | None = None
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
            self._writers.add(upstream_writer)
            hold_until = accepted + self.rtt_s if self.handshake_rtt else 0.0
            await asyncio.gather(
                self._pump(client_reader, upstream_writer, self._up, hold_until, "bytes_up"),
                self._pump(upstream_reader, client_writer, self._down, 0.0, "bytes_down"),
            )
        except OSError:
            pass
        finally:
            self._stats.open -= 1
            for writer in (client_writer, upstream_writer):
                if writer is not None:
                    self._writers.discard(writer)
                    writer.close()

    async def _pump(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, link: _Link, hold_until: float, counter: str
    ) -> None:
        """Copy one direction: read as fast as the queue allows, write each chunk when due."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[float, bytes | None]] = asyncio.Queue(self.max_buffered_chunks)

        async def receive() -> None:
            try:
                while data := await reader.read(CHUNK):
                    setattr(self._stats, counter, getattr(self._stats, counter) + len(data))
                    await queue.put((link.due(len(data), max(loop.time(), hold_until)), data))
            except OSError:
                pass
            await queue.put((link.due(0, max(loop.time(), hold_until)), None))

        receiving = loop.create_task(receive())
        try:
            while True:
                due, data = await queue.get()
                wait = due - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                if data is None:
                    if writer.can_write_eof() and not writer.transport.is_closing():
                        writer.write_eof()
                    return
                writer.write(data)
                await writer.drain()
        except OSError:
            writer.transport.abort()
        finally:
            receiving.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await receiving


class ProxyProcess:
    """`python -m bench.delay_proxy` in a subprocess, so its CPU is not the client's.

    Use as a context manager; `port` is where clients connect, `stats()` reads the counters.
    """

    def __init__(
        self, target_port: int, *, rtt_ms: float = 0.0, bandwidth: float | None = None, target_host: str = "127.0.0.1"
    ) -> None:
        require_loopback(target_host)
        command = [
            sys.executable,
            "-m",
            "bench.delay_proxy",
            "--target",
            f"{target_host}:{target_port}",
            "--rtt-ms",
            str(rtt_ms),
        ]
        if bandwidth:
            command += ["--bandwidth", str(bandwidth)]
        self.rtt_ms = rtt_ms
        self.bandwidth = bandwidth
        self._process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
        line = self._process.stdout.readline()  # type: ignore[union-attr]
        if not line:
            self._process.wait(timeout=10)
            raise RuntimeError("the delay proxy did not start")
        self.port: int = json.loads(line)["port"]

    def stats(self) -> ProxyStats:
        """The proxy's counters now."""
        assert self._process.stdin is not None and self._process.stdout is not None
        self._process.stdin.write("stats\n")
        self._process.stdin.flush()
        return ProxyStats(**json.loads(self._process.stdout.readline()))

    def close(self) -> None:
        """Stop the proxy (it closes every connection) and wait for it."""
        if self._process.poll() is None:
            try:
                self._process.stdin.write("quit\n")  # type: ignore[union-attr]
                self._process.stdin.close()  # type: ignore[union-attr]
                self._process.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                self._process.kill()
                self._process.wait(timeout=10)
        if self._process.stdout is not None:
            self._process.stdout.close()

    def __enter__(self) -> ProxyProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


async def _serve(args: argparse.Namespace) -> None:
    host, _, port = args.target.rpartition(":")
    proxy = DelayProxy(host, int(port), rtt_s=args.rtt_ms / 1000, bandwidth=args.bandwidth, port=args.port)
    async with proxy:
        print(json.dumps({"port": proxy.port}), flush=True)
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        while command := (await reader.readline()).decode().strip():
            if command == "stats":
                print(json.dumps(asdict(proxy.stats())), flush=True)
            elif command == "quit":
                break


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.delay_proxy", description=__doc__.splitlines()[0])
    parser.add_argument("--target", required=True, metavar="HOST:PORT", help="the server (loopback)")
    parser.add_argument("--rtt-ms", type=float, default=0.0, help="round-trip time to add (default 0)")
    parser.add_argument(
        "--bandwidth", type=float, default=None, metavar="BYTES_PER_S", help="cap per direction (default: none)"
    )
    parser.add_argument("--port", type=int, default=0, help="port to listen on (default: a free one)")
    args = parser.parse_args(argv)
    asyncio.run(_serve(args))


if __name__ == "__main__":
    main()
