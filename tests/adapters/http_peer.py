"""A real HTTP server on 127.0.0.1 for outbound-HTTP tests: routes that echo, fail, stall,
redirect and send big bodies, and a count of the requests each key received."""

from __future__ import annotations

import json
import socket
import ssl
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit


class Peer:
    """The running server: ``url(path)``, and ``hits[key]`` for the ``/flaky`` and ``/hold``
    routes."""

    def __init__(self, server: ThreadingHTTPServer) -> None:
        self.server = server
        self.port = server.server_address[1]
        self.hits: Counter[str] = Counter()
        self.lock = threading.Lock()

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def hit(self, key: str) -> int:
        with self.lock:
            self.hits[key] += 1
            return self.hits[key]


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go in two writes: no delayed-ACK stall

    def log_message(self, format: str, *args: object) -> None:  # quiet
        return None

    def _answer(
        self,
        status: int,
        body: bytes = b"",
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, value: object, headers: dict[str, str] | None = None) -> None:
        self._answer(status, json.dumps(value).encode(), headers=headers)

    def _route(self) -> None:
        parts = urlsplit(self.path)
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        segments = [segment for segment in parts.path.split("/") if segment]
        route = segments[0] if segments else ""
        peer = self.server.peer
        if route == "echo":
            self._json(
                200,
                {
                    "method": self.command,
                    "path": parts.path,
                    "query": query,
                    "headers": {name.lower(): value for name, value in self.headers.items()},
                    "body": body.decode("utf-8", "replace"),
                },
            )
        elif route == "text":
            self._answer(200, "héllo".encode("latin-1"), "text/plain; charset=latin-1")
        elif route == "status":  # /status/<code>
            self._json(int(segments[1]), {"error": "as asked", "echo": dict(self.headers)})
        elif route == "flaky":  # /flaky/<key>/<failures>/<code>[?retryAfter=..]
            key, failures, code = segments[1], int(segments[2]), int(segments[3])
            if peer.hit(key) <= failures:
                extra = {"Retry-After": query["retryAfter"]} if "retryAfter" in query else None
                self._json(code, {"error": "not yet"}, extra)
            else:
                self._json(200, {"ok": True, "attempts": peer.hits[key]})
        elif route == "slow":
            time.sleep(float(query.get("seconds", "2")))
            self._json(200, {"slow": True})
        elif route == "hold":  # /hold/<key>?seconds=..&times=..: counted, answers late
            if peer.hit(segments[1]) <= int(query.get("times", "1000000")):
                time.sleep(float(query.get("seconds", "60")))
            self._json(200, {"held": True})
        elif route == "big":
            size = int(query["bytes"])
            if query.get("chunked"):
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for _ in range(0, size, 1024):
                    self.wfile.write(b"400\r\n" + b"x" * 1024 + b"\r\n")
                self.wfile.write(b"0\r\n\r\n")
            else:
                self._answer(200, b"x" * size, "text/plain")
        elif route == "redirect":  # /redirect?to=<url>&status=302
            self._answer(int(query.get("status", "302")), b"", headers={"Location": query["to"]})
        elif route == "hops":  # /hops/<n>: n redirects, then /echo
            left = int(segments[1])
            target = f"/hops/{left - 1}" if left > 1 else "/echo"
            self._answer(302, b"", headers={"Location": target})
        elif route == "drop":
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
        else:
            self._json(404, {"error": "no such route"})

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _route


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    peer: Peer

    def handle_error(self, request: object, client_address: object) -> None:
        return None  # a client that gave up (timeouts) is expected here


@contextmanager
def running_peer(tls: ssl.SSLContext | None = None) -> Iterator[Peer]:
    server = _Server(("127.0.0.1", 0), _Handler)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    peer = Peer(server)
    server.peer = peer
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield peer
    finally:
        server.shutdown()
        server.server_close()


def self_signed(host: str, directory: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A certificate for ``host``: (the server's context, a client context trusting it)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert_file, key_file)
    client = ssl.create_default_context(cafile=str(cert_file))
    return server, client


def closed_port() -> int:
    """A port on 127.0.0.1 with nothing listening (connections are refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
