"""An HTTP/1.1 forwarding proxy between a client and s3rver that counts and injects faults.

Point the client's endpoint (AWS_ENDPOINT_URL, path-style) at `proxy.endpoint`; every request is
forwarded to the upstream byte for byte (request line, headers - Host as the client sent it, so
a SigV4 signature stays valid - and body), and the answer comes back byte for byte, over one
kept-alive upstream connection per client connection. A thread serves each client connection.

Counters (`counts()`): per method the requests, the request body bytes forwarded upstream and
the response body bytes sent to the client, per fault kind how many were injected, and the
client connections accepted; `log`
holds (method, path, Range header or '', status or 0, body bytes sent, fault or '', time.monotonic()
when answered - for a stall, when the stall began) per request.

Faults, on a seeded schedule: request number n (in arrival order) is faulty when
random.Random(f"{seed}:{n}").random() < rate; the faulty ones take their kinds in rounds, each
round a seeded permutation of `kinds` (a kind listed twice comes twice as often), so any
2 * len(kinds) - 1 consecutive faults include every kind:
  reset       the request is read, not forwarded, and the connection is reset (RST, no answer)
  500, 503    answered here with an S3 XML error (InternalError, ServiceUnavailable), not forwarded
  slowdown    503 with S3's <Code>SlowDown</Code> body, not forwarded
  stall       the request is read and not forwarded; the connection stays silent until the
              client gives up (closes it) or `stall_s` passes
  truncate    forwarded; the answer's headers (with their Content-Length) and half of its body
              are sent, then the connection is closed (FIN)
  reset_body  forwarded; headers and half the body are sent, then the connection is reset
An answer with no body to cut (a PUT's 200) gets `lost_answer` instead of truncate/reset_body:
the request reached the server, its answer is dropped and the connection reset - the case that
makes a retried PUT or DELETE run twice. `fail_from=N` makes every request from number N on
faulty (rate 1 from there; `fail_from=0`: fail every request).
"""
import random
import select
import socket
import struct
import threading
import time
from collections import defaultdict

KINDS = ("reset", "500", "503", "slowdown", "stall", "truncate", "reset_body")

_ERRORS = {
    "500": (500, "Internal Server Error", "InternalError",
            "We encountered an internal error. Please try again."),
    "503": (503, "Service Unavailable", "ServiceUnavailable", "Please reduce your request rate."),
    "slowdown": (503, "Slow Down", "SlowDown", "Please reduce your request rate."),
}


class _Reader:
    """Buffered reads from a socket: header blocks, exact byte counts, chunked bodies."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = bytearray()

    def _fill(self):
        data = self.sock.recv(1 << 18)
        if not data:
            raise EOFError
        self.buf += data

    def head(self):
        """The bytes up to and including the blank line; EOFError if the peer closed first."""
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end >= 0:
                out = bytes(self.buf[:end + 4])
                del self.buf[:end + 4]
                return out
            if len(self.buf) > 1 << 20:
                raise ValueError("header block over 1 MiB")
            self._fill()

    def exact(self, n):
        while len(self.buf) < n:
            self._fill()
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def line(self):
        while True:
            end = self.buf.find(b"\r\n")
            if end >= 0:
                out = bytes(self.buf[:end + 2])
                del self.buf[:end + 2]
                return out
            self._fill()

    def chunked(self):
        """A chunked body as it came (raw) and the payload size."""
        raw, size = bytearray(), 0
        while True:
            line = self.line()
            raw += line
            n = int(line.split(b";")[0].strip(), 16)
            if n == 0:
                while True:  # trailers, then the blank line
                    t = self.line()
                    raw += t
                    if t == b"\r\n":
                        return bytes(raw), size
            raw += self.exact(n + 2)
            size += n

    def until_close(self):
        try:
            while True:
                self._fill()
        except (EOFError, OSError):
            pass
        out = bytes(self.buf)
        self.buf.clear()
        return out


def _parse(head):
    """(first line parts, {lower-case name: value}) of a header block."""
    lines = head.decode("latin-1").split("\r\n")
    first = lines[0].split(" ", 2)
    headers = {}
    for l in lines[1:]:
        if ":" in l:
            k, v = l.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    return first, headers


def _reset(sock):
    """Close with RST instead of FIN."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


class S3Proxy:
    def __init__(self, upstream_port, rate=0.0, seed=0, kinds=KINDS, fail_from=None,
                 stall_s=30.0, upstream_host="127.0.0.1"):
        self.upstream = (upstream_host, upstream_port)
        self.rate = rate
        self.seed = seed
        self.kinds = list(kinds)
        self.fail_from = fail_from
        self.stall_s = stall_s
        self._lock = threading.Lock()
        self._n = 0
        self._faulty = 0
        self._stop = threading.Event()
        self._threads = []
        self._socks = set()
        self.reset_counts()
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]

    @property
    def endpoint(self):
        return f"http://127.0.0.1:{self.port}"

    # ---- control ------------------------------------------------------------------------

    def start(self):
        self._listener.listen(256)
        self._listener.settimeout(0.1)  # accept() wakes up to see stop()
        t = threading.Thread(target=self._accept, name="s3proxy-accept", daemon=True)
        t.start()
        self._threads.append(t)
        return self

    def stop(self, deadline_s=10):
        self._stop.set()
        try:
            self._listener.close()
        except OSError:
            pass
        with self._lock:
            socks = list(self._socks)
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        end = time.monotonic() + deadline_s
        for t in list(self._threads):
            t.join(max(0.0, end - time.monotonic()))

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def configure(self, rate=None, seed=None, kinds=None, fail_from=None):
        """Changes the schedule from the next request on (fail_from=-1: off)."""
        with self._lock:
            if rate is not None:
                self.rate = rate
            if seed is not None:
                self.seed = seed
            if kinds is not None:
                self.kinds = list(kinds)
                self._faulty = 0
            if fail_from is not None:
                self.fail_from = None if fail_from < 0 else fail_from

    def reset_counts(self):
        with self._lock:
            self.requests = defaultdict(int)
            self.bytes_up = defaultdict(int)
            self.bytes_down = defaultdict(int)
            self.faults = defaultdict(int)
            self.log = []
            self.connections = 0

    def counts(self):
        with self._lock:
            return {"requests": dict(self.requests), "bytes_up": dict(self.bytes_up),
                    "bytes_down": dict(self.bytes_down), "faults": dict(self.faults),
                    "connections": self.connections, "total_requests": self._n}

    def requests_served(self):
        with self._lock:
            return self._n

    # ---- serving ------------------------------------------------------------------------

    def _accept(self):
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            conn.settimeout(None)
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            t = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            with self._lock:
                self.connections += 1
                self._socks.add(conn)
                self._threads = [x for x in self._threads if x.is_alive()]
                self._threads.append(t)
            t.start()

    def _schedule(self):
        """(request number, fault kind or None) for the next request."""
        with self._lock:
            n = self._n
            self._n += 1
            if self.fail_from is not None and n >= self.fail_from:
                rate = 1.0
            else:
                rate = self.rate
            if not (rate > 0 and random.Random(f"{self.seed}:{n}").random() < rate):
                return n, None
            k = self._faulty
            self._faulty += 1
            rnd = list(self.kinds)
            random.Random(f"{self.seed}:round:{k // len(rnd)}").shuffle(rnd)
            return n, rnd[k % len(rnd)]

    def _record(self, method, path, rng, status, sent_down, sent_up, fault):
        with self._lock:
            self.requests[method] += 1
            self.bytes_down[method] += sent_down
            self.bytes_up[method] += sent_up
            if fault:
                self.faults[fault] += 1
            self.log.append((method, path, rng, status, sent_down, fault or "", time.monotonic()))

    def _serve(self, client):
        reader = _Reader(client)
        up = None  # (socket, _Reader) to the upstream, kept alive across requests
        try:
            while not self._stop.is_set():
                try:
                    head = reader.head()
                except (EOFError, OSError):
                    return
                (method, path, *_), headers = _parse(head)
                rng = headers.get("range", "")
                expect = headers.get("expect", "").lower() == "100-continue"
                _, fault = self._schedule()
                close_after = headers.get("connection", "").lower() == "close"

                if fault in ("reset", "500", "503", "slowdown", "stall"):
                    # Not forwarded: the body is read (unless the client waits for 100 Continue).
                    if not expect:
                        self._read_body(reader, headers)
                    if fault == "reset":
                        self._record(method, path, rng, 0, 0, 0, fault)
                        _reset(client)
                        return
                    if fault == "stall":
                        self._record(method, path, rng, 0, 0, 0, fault)
                        self._stall(client)
                        return
                    status, reason, code, message = _ERRORS[fault]
                    body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
                            f"<Message>{message}</Message><Resource>{path}</Resource>"
                            f"<RequestId>proxy-fault</RequestId></Error>").encode()
                    close = expect or close_after
                    answer = (f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/xml\r\n"
                              f"Content-Length: {len(body)}\r\n"
                              f"Connection: {'close' if close else 'keep-alive'}\r\n\r\n").encode()
                    sent = len(body) if method != "HEAD" else 0
                    self._record(method, path, rng, status, sent, 0, fault)
                    client.sendall(answer + (body if method != "HEAD" else b""))
                    if close:
                        client.close()
                        return
                    continue

                # Forwarded (a fault after forwarding cuts the answer).
                if expect:
                    up = self._connect(up)
                    usock, ureader = up
                    usock.sendall(head)
                    interim = ureader.head()
                    (_, status, *_), _ = _parse(interim)
                    client.sendall(interim)
                    if status != "100":  # a final answer instead: relay its body, then close
                        rest = self._response_body(ureader, method, interim)
                        self._record(method, path, rng, int(status), rest[1], 0, None)
                        client.sendall(rest[0])
                        client.close()
                        return
                    raw_body, body_len = self._read_body(reader, headers)
                    usock.sendall(raw_body)
                    rhead = ureader.head()
                else:
                    raw_body, body_len = self._read_body(reader, headers)
                    # A kept-alive upstream connection the server closed just as it was reused
                    # answers nothing: the request goes again on a new one.
                    for attempt in (0, 1):
                        reused = up is not None
                        up = self._connect(up)
                        usock, ureader = up
                        try:
                            usock.sendall(head + raw_body)
                            rhead = ureader.head()
                            break
                        except (EOFError, ConnectionError):
                            usock.close()
                            up = None
                            if not reused or attempt == 1:
                                raise
                while rhead.split(b" ", 2)[1].startswith(b"1"):  # interim answers pass through
                    client.sendall(rhead)
                    rhead = ureader.head()
                (_, status, *_), rheaders = _parse(rhead)
                raw, body_len_down = self._response_body(ureader, method, rhead)
                upstream_closes = (rheaders.get("connection", "").lower() == "close"
                                   or ("content-length" not in rheaders
                                       and "chunked" not in rheaders.get("transfer-encoding", "")
                                       and body_len_down > 0))
                if upstream_closes:
                    usock.close()
                    up = None

                # Every request is recorded before its answer leaves: a client that has its
                # answer (and a test that then reads the counts) finds it counted.
                if fault in ("truncate", "reset_body"):
                    cut = "content-length" in rheaders and body_len_down >= 2
                    if cut:
                        half = body_len_down // 2
                        self._record(method, path, rng, int(status), half, body_len, fault)
                        client.sendall(rhead + raw[:half])
                        if fault == "truncate":
                            client.shutdown(socket.SHUT_RDWR)
                            client.close()
                        else:
                            _reset(client)
                    else:
                        self._record(method, path, rng, int(status), 0, body_len, "lost_answer")
                        _reset(client)
                    return
                self._record(method, path, rng, int(status), body_len_down, body_len, None)
                client.sendall(rhead + raw)
                if close_after or upstream_closes:
                    client.close()
                    return
        except (OSError, EOFError, ValueError):
            return
        finally:
            if up is not None:
                up[0].close()
            try:
                client.close()
            except OSError:
                pass
            with self._lock:
                self._socks.discard(client)
                if up is not None:
                    self._socks.discard(up[0])

    def _connect(self, up):
        """`up` if still open, else a new upstream connection."""
        if up is not None and (up[0].fileno() < 0 or self._stale(up[0])):
            up[0].close()
            with self._lock:
                self._socks.discard(up[0])
            up = None
        if up is None:
            s = socket.create_connection(self.upstream)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self._socks.add(s)
            up = (s, _Reader(s))
        return up

    @staticmethod
    def _read_body(reader, headers):
        """(raw bytes as sent, payload length) of a request body."""
        if "chunked" in headers.get("transfer-encoding", "").lower():
            return reader.chunked()
        n = int(headers.get("content-length", "0") or 0)
        return reader.exact(n), n

    @staticmethod
    def _response_body(reader, method, rhead):
        (_, status, *_), h = _parse(rhead)
        if method == "HEAD" or status in ("204", "304") or status.startswith("1"):
            return b"", 0
        if "chunked" in h.get("transfer-encoding", "").lower():
            return reader.chunked()
        if "content-length" in h:
            n = int(h["content-length"])
            return reader.exact(n), n
        data = reader.until_close()
        return data, len(data)

    @staticmethod
    def _stale(sock):
        """True when a kept-alive upstream connection was closed by the server meanwhile."""
        r, _, _ = select.select([sock], [], [], 0)
        if not r:
            return False
        try:
            return sock.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    def _stall(self, client):
        """Says nothing until the client closes the connection, `stall_s` passes or stop()."""
        end = time.monotonic() + self.stall_s
        while not self._stop.is_set() and time.monotonic() < end:
            r, _, _ = select.select([client], [], [], 0.1)
            if r:
                try:
                    if client.recv(1 << 16) == b"":
                        return
                except OSError:
                    return
