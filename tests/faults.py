"""A moto S3 server behind a fault-injecting WSGI layer: 5xx / SlowDown answers, connections dropped
mid-upload or after the server acted, bodies cut short. Test infrastructure, not product code."""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass, field
from typing import Callable

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import make_server

ERROR_XML = '<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code><Message>injected</Message></Error>'


@dataclass
class Rule:
    """Apply ``action`` to requests whose method and path match, after ``skip`` matches, ``times`` times."""

    method: str
    path_contains: str
    action: str  # "503", "500", "slowdown", "drop-request", "drop-response", "truncate-response", "4xx Code"
    times: int = 1
    skip: int = 0
    hits: int = 0


@dataclass
class FaultyS3:
    """Start with :meth:`start`; add rules with :meth:`fail`; every request is logged as (method, path)."""

    rules: list[Rule] = field(default_factory=list)
    log: list[tuple[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fail(self, method: str, path_contains: str, action: str, *, times: int = 1, skip: int = 0) -> Rule:
        rule = Rule(method, path_contains, action, times, skip)
        with self.lock:
            self.rules.append(rule)
        return rule

    def clear(self) -> None:
        with self.lock:
            self.rules.clear()
            self.log.clear()

    def _match(self, method: str, path: str) -> Rule | None:
        with self.lock:
            self.log.append((method, path))
            for rule in self.rules:
                if rule.method == method and rule.path_contains in path and rule.times > 0:
                    if rule.skip > 0:
                        rule.skip -= 1
                        continue
                    rule.times -= 1
                    rule.hits += 1
                    return rule
        return None

    def wsgi(self, inner: Callable):
        def app(environ, start_response):
            rule = self._match(environ["REQUEST_METHOD"], environ.get("PATH_INFO", ""))
            if rule is None:
                return inner(environ, start_response)
            sock: socket.socket = environ["werkzeug.socket"]
            if rule.action in ("503", "500", "slowdown"):
                _drain(environ)
                status, code = {"503": ("503 Service Unavailable", "ServiceUnavailable"), "500": ("500 Internal Server Error", "InternalError"), "slowdown": ("503 Slow Down", "SlowDown")}[rule.action]
                body = ERROR_XML.format(code=code).encode()
                start_response(status, [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))])
                return [body]
            if rule.action[:1] == "4":  # e.g. "403 SignatureDoesNotMatch": a client error carrying that S3 code
                _drain(environ)
                status, code = rule.action.split(" ", 1)
                body = ERROR_XML.format(code=code).encode()
                start_response(f"{status} Client Error", [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))])
                return [body]
            if rule.action == "drop-request":  # the client is mid-upload when the connection goes
                length = int(environ.get("CONTENT_LENGTH") or 0)
                environ["wsgi.input"].read(max(0, length // 2))
                _kill(sock)
                return []
            chunks: list[bytes] = []
            captured: dict = {}

            def capture(status, headers, exc_info=None):
                captured["status"], captured["headers"] = status, headers
                return chunks.append

            for chunk in inner(environ, capture):
                chunks.append(chunk)
            if rule.action == "drop-response":  # the server acted; the client never hears
                _kill(sock)
                return []
            body = b"".join(chunks)  # truncate-response: full headers, half the body, then gone
            start_response(captured["status"], [(k, v) for k, v in captured["headers"] if k.lower() != "content-length"] + [("Content-Length", str(len(body)))])

            def half():
                yield body[: len(body) // 2]
                _kill(sock)

            return half()

        return app

    def start(self) -> str:
        app = self.wsgi(DomainDispatcherApplication(create_backend_app))
        self.server = make_server("127.0.0.1", 0, app, True, request_handler=MotoRequestHandler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join()


def _drain(environ) -> None:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    if length:
        environ["wsgi.input"].read(length)


def _kill(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
