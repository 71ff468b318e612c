"""HTTP layer shared by the emulator and the receiver: a keep-alive HTTP/1.1 server on a background thread.

A server subclasses `BackgroundServer` and answers each parsed `Request` with a `Reply` from
its `handle`; `run_until_signalled` serves until SIGTERM/SIGINT (the command-line entry points).
"""

from __future__ import annotations

import json
import signal
import socket
import sys
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

JSON_TYPE = "application/json; charset=utf-8"


@dataclass
class Request:
    """One parsed HTTP request handed to a server's `handle`."""

    method: str
    target: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-cased names
    body: bytes
    connection: socket.socket | None = None

    def header(self, name: str, default: str | None = None) -> str | None:
        """A header value by case-insensitive name."""
        return self.headers.get(name.lower(), default)

    def json(self) -> Any:
        """The body parsed as JSON ({} when empty); ValueError when malformed."""
        return json.loads(self.body) if self.body.strip() else {}


@dataclass
class Reply:
    """What to answer: status, body, headers; `drop` closes the connection without answering."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False


def json_reply(status: int, payload: Any, headers: dict[str, str] | None = None) -> Reply:
    """A JSON reply."""
    body = json.dumps(payload, separators=(",", ":")).encode()
    return Reply(status, body, {"Content-Type": JSON_TYPE, **(headers or {})})


def raw_json_reply(status: int, text: str, headers: dict[str, str] | None = None) -> Reply:
    """A reply whose body is already JSON text."""
    return Reply(status, text.encode(), {"Content-Type": JSON_TYPE, **(headers or {})})


class _Handler(BaseHTTPRequestHandler):
    """Keep-alive HTTP/1.1 handler that hands every request to `server.owner.handle`."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server_version = "auth0-webhooks-devtools/1.0"

    def version_string(self) -> str:
        return self.server_version

    def setup(self) -> None:
        super().setup()
        self.server.owner._track(self.connection, True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.owner._track(self.connection, False)

    def do_GET(self) -> None:
        self._dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return self._read_chunked()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _read_chunked(self) -> bytes:
        parts = []
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(parts)
            parts.append(self.rfile.read(size))
            self.rfile.readline()

    def _dispatch(self) -> None:
        body = self._read_body()
        split = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        headers = {k.lower(): v for k, v in self.headers.items()}
        request = Request(self.command, self.path, split.path, query, headers, body, self.connection)
        owner = self.server.owner
        try:
            reply = owner.handle(request)
        except Exception as exc:  # a bug in a dev tool must not kill the connection silently
            reply = json_reply(500, {"statusCode": 500, "error": "Internal Server Error", "message": repr(exc)})
        self._send(reply)

    def _send(self, reply: Reply) -> None:
        if reply.drop:
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(reply.body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (stdlib signature)
        if self.server.owner.verbose and self.server.owner.log_requests:
            sys.stderr.write(f"[{self.server.owner.name}] {self.address_string()} {format % args}\n")
            sys.stderr.flush()


class _ThreadingServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients that hang up (timeouts, dropped connections) are normal here: stay quiet."""
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


class BackgroundServer:
    """An HTTP server on a background thread: start() -> base_url, stop(), context manager."""

    name = "server"
    log_requests = True  # with verbose: print http.server's access line for every request

    def __init__(self, host: str = "127.0.0.1", port: int = 0, verbose: bool = False) -> None:
        self.host = host
        self.port = port
        self.verbose = verbose
        self._httpd: _ThreadingServer | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        self._stopping = threading.Event()

    @property
    def base_url(self) -> str:
        """http://host:port of the running server."""
        host = "127.0.0.1" if self.host in ("", "0.0.0.0") else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> str:
        """Serve on a background thread; returns the base URL. Restarting reuses the same port."""
        if self._httpd is not None:
            return self.base_url
        self._stopping.clear()
        httpd = _ThreadingServer((self.host, self.port), _Handler)
        httpd.owner = self  # type: ignore[attr-defined]
        self.port = httpd.server_address[1]
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, name=f"{self.name}-{self.port}", daemon=True
        )
        self._thread.start()
        return self.base_url

    def stop(self) -> None:
        """Stop serving and close every open connection (hanging answers are cut short)."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self._stopping.set()
        httpd.shutdown()
        httpd.server_close()
        with self._connections_lock:
            connections, self._connections = list(self._connections), set()
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(timeout=5)

    @property
    def running(self) -> bool:
        """Whether the server is serving."""
        return self._httpd is not None

    def __enter__(self) -> "BackgroundServer":
        self.start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    def sleep(self, seconds: float) -> None:
        """Sleep that stop() interrupts."""
        if seconds > 0:
            self._stopping.wait(seconds)

    def handle(self, request: Request) -> Reply:
        """Answer one request (subclasses)."""
        raise NotImplementedError

    def _track(self, conn: socket.socket, opened: bool) -> None:
        with self._connections_lock:
            if opened:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)


def run_until_signalled(server: BackgroundServer, tick: Callable[[], None] | None = None, every: float = 0.0) -> None:
    """Block until SIGTERM/SIGINT; call tick() every `every` seconds meanwhile; then stop."""
    stop = threading.Event()

    def _on_signal(signum: int, frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    try:
        while not stop.wait(every if tick and every > 0 else 3600):
            if tick:
                tick()
    finally:
        server.stop()
