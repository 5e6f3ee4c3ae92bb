"""A small threaded HTTP server that the per-tracker fakes build on: routing, request log, faults.

Each fake (github.py, gitlab.py, gitea.py, jira.py) speaks its tracker's documented REST API so
the real client libraries work against it unchanged. Faults are injected per test:

    server.add_fault(Fault("status", status=503), method="POST", path=r"/issues$")
    server.add_fault(Fault("rate_limit", retry_after=2))
    server.add_fault(Fault("delay", seconds=1.5))
    server.add_fault(Fault("drop_after"), method="POST")   # handled, then the connection is dropped
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    method: str
    path: str  # without the query string, percent-encoding kept
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    body: bytes
    params: dict[str, str] = field(default_factory=dict)  # named groups of the route
    context: dict[str, Any] = field(default_factory=dict)  # what a fake learnt about the caller (user, scopes)

    def json(self) -> Any:
        if not self.body:
            return {}
        return json.loads(self.body)

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default


@dataclass
class Response:
    status: int = 200
    body: Any = None  # JSON-serialisable, or bytes/str sent as is
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Fault:
    """kind: "status" (answer `status` without handling), "rate_limit" (429 + Retry-After),
    "delay" (sleep `seconds`, then handle), "drop_before" (close without handling),
    "drop_after" (handle, then close without answering)."""

    kind: str
    status: int = 503
    retry_after: float | None = None
    seconds: float = 0.0
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class _FaultRule:
    fault: Fault
    method: str | None
    path: re.Pattern[str] | None
    remaining: int


Handler = Callable[[Request], Response]


class FakeServer:
    """Subclasses register routes in `setup_routes` and keep their state on self."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self._faults: list[_FaultRule] = []
        self.lock = threading.RLock()
        self.requests: list[Request] = []
        self.latency = 0.0  # seconds every request takes: a slow tracker
        self.in_flight = self.max_in_flight = 0  # requests being answered now, and the most at once
        self.setup_routes()
        server = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out in two writes: don't wait 40 ms

            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def _serve(self) -> None:
                with server.lock:
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                try:
                    if server.latency:
                        time.sleep(server.latency)
                    server._dispatch(self)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test): nothing to answer
                finally:
                    with server.lock:
                        server.in_flight -= 1

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

        self.httpd = ThreadingHTTPServer((host, port), _Handler)
        self.httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    # --- to override --------------------------------------------------------------------------

    def setup_routes(self) -> None:
        raise NotImplementedError

    def authenticate(self, request: Request) -> Response | None:
        """Return an error Response when the request's credentials are not accepted."""
        return None

    # --- API for subclasses and tests -----------------------------------------------------------

    def route(self, method: str, pattern: str, handler: Handler) -> None:
        self._routes.append((method, re.compile(f"^{pattern}$"), handler))

    def add_fault(self, fault: Fault, method: str | None = None, path: str | None = None, times: int = 1) -> None:
        with self.lock:
            self._faults.append(_FaultRule(fault, method, re.compile(path) if path else None, times))

    def clear_faults(self) -> None:
        with self.lock:
            self._faults.clear()

    def requests_to(self, method: str, path_regex: str) -> list[Request]:
        pattern = re.compile(path_regex)
        return [r for r in self.requests if r.method == method and pattern.search(r.path)]

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeServer:
        # A short poll interval: shutdown() waits for it, and tests start and stop many servers.
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- internals --------------------------------------------------------------------------------

    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self.lock:
            for rule in self._faults:
                if rule.method and rule.method != method:
                    continue
                if rule.path and not rule.path.search(path):
                    continue
                rule.remaining -= 1
                if rule.remaining <= 0:
                    self._faults.remove(rule)
                return rule.fault
        return None

    def _dispatch(self, http: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(http.path)
        length = int(http.headers.get("Content-Length") or 0)
        body = http.rfile.read(length) if length else b""
        request = Request(
            method=http.command,
            path=parts.path,
            query=parse_qs(parts.query, keep_blank_values=True),
            headers={k.lower(): v for k, v in http.headers.items()},
            body=body,
        )
        with self.lock:
            self.requests.append(request)

        fault = self._take_fault(request.method, request.path)
        if fault and fault.kind == "delay":
            time.sleep(fault.seconds)
        elif fault and fault.kind == "drop_before":
            http.close_connection = True
            http.connection.close()
            return
        elif fault and fault.kind == "status":
            self._send(http, Response(fault.status, fault.body or {"message": "injected fault"}, fault.headers))
            return
        elif fault and fault.kind == "rate_limit":
            headers = {"Retry-After": str(int(fault.retry_after or 1)), **fault.headers}
            self._send(http, Response(429, fault.body or {"message": "rate limit exceeded"}, headers))
            return

        response = self.authenticate(request) or self._handle(request)
        if fault and fault.kind == "drop_after":
            # The write happened; the client never learns it. The case that causes duplicates.
            http.close_connection = True
            http.connection.close()
            return
        self._send(http, response)

    def _handle(self, request: Request) -> Response:
        for method, pattern, handler in self._routes:
            match = pattern.match(request.path)
            if match and method == request.method:
                request.params = {k: v for k, v in match.groupdict().items() if v is not None}
                with self.lock:
                    return handler(request)
        return Response(404, {"message": "Not Found"})

    def _send(self, http: BaseHTTPRequestHandler, response: Response) -> None:
        body = response.body
        if isinstance(body, (bytes, str)):
            data = body.encode() if isinstance(body, str) else body
            content_type = "text/plain"
        elif body is None and response.status == 204:
            data, content_type = b"", ""
        else:
            data = json.dumps(body).encode()
            content_type = "application/json; charset=utf-8"
        http.send_response(response.status)
        headers = {"Content-Type": content_type, **response.headers} if content_type else dict(response.headers)
        for name, value in headers.items():
            http.send_header(name, value)
        http.send_header("Content-Length", str(len(data)))
        http.end_headers()
        http.wfile.write(data)
