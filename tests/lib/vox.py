"""Shared helpers for voxrelay's integration and interop tests (stdlib only).

Import from a test with::

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
    import vox

Contents
--------
- ``bencode(obj) -> bytes`` / ``bdecode(data) -> obj``: bencode codec.
  Encoding accepts ``dict`` (keys ``str`` or ``bytes``; emitted sorted),
  ``list``/``tuple``, ``int`` and ``str``/``bytes``/``bytearray`` values.
  Decoding returns ``dict`` with **str keys**, ``list``, ``int``, and **str**
  for every byte string. Strings are decoded as UTF-8 with
  ``errors="surrogateescape"``, so arbitrary bytes survive a round trip
  (``s.encode("utf-8", "surrogateescape")`` gives the original bytes back, and
  ``bencode`` does exactly that when given such a str). Pass ``raw=True`` to
  ``bdecode`` to get ``bytes`` values instead (keys stay str).
  ``bdecode`` raises ``BencodeError`` on malformed/truncated/trailing input.
- ``NgClient(host, port)``: NG protocol client over UDP. ``call(dict) ->
  dict`` sends ``COOKIE SP bencode(dict)`` with a fresh random cookie,
  retransmits the same datagram on timeout (like Kamailio does), ignores
  replies carrying another cookie, and raises ``NgTimeout`` when no reply came.
  ``send_raw(bytes)`` sends an arbitrary datagram and returns the raw reply or
  ``None``. Also ``ping()``, ``list_calls()``.
- ``free_udp_port()``, ``free_udp_ports(n)``: ports that are free right now
  (UDP and TCP), chosen from a range outside the kernel's ephemeral range so
  they do not collide with relay port ranges in 41000-41999 by accident.
- ``Relay``: context manager that starts the relay under test (voxrelay from
  ``--build-dir`` by default; ``VOX_RELAY_IMPL=rtpengine`` starts Sipwise
  rtpengine with equivalent flags instead), waits until it answers NG ``ping``
  and on exit sends SIGTERM, waits up to 5 s, then SIGKILLs, and reports the
  exit status and stderr tail.
- ``RtpSniffer``: AF_PACKET raw socket on ``lo`` (needs root; another
  interface, or ``"any"`` for all of the namespace's, on request) in a
  background thread, recording IPv4/UDP packets whose source or destination
  port is in the given ranges: addresses, ports, RTP payload type, length.
- ``build_dir_from_argv()``: parses ``--build-dir`` the way ctest passes it.
- Media helpers for integration tests: ``make_sdp``/``audio_media``/``parse_sdp``
  (build an SDP, read a rewritten one), ``rtp_packet``/``rtcp_rr``,
  ``UdpPeer`` (a bound UDP socket with timed receive), ``ng_ok`` (NG call that
  must succeed), ``free_port_pairs``/``query_streams``, ``CaseRunner`` (runs
  named test cases, collects failures, prints PASS/FAIL).
  ``Relay(..., interfaces=[...])`` replaces the default ``--interface=127.0.0.1``.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import random
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Optional

__all__ = [
    "BencodeError", "bencode", "bdecode", "NgClient", "NgTimeout",
    "free_udp_port", "free_udp_ports", "Relay", "RelayError", "RtpSniffer",
    "Packet", "build_dir_from_argv", "relay_impl", "tail",
    "audio_media", "make_sdp", "parse_sdp", "SdpInfo", "SdpMediaInfo", "rtp_packet", "rtcp_rr",
    "UdpPeer", "udp_peer_pair", "ng_ok", "ng_statistics", "free_port_pairs", "query_streams",
    "stream_by_port", "CaseRunner",
]

REPO_ROOT = Path(__file__).resolve().parents[2]

# --------------------------------------------------------------------------
# bencode


class BencodeError(ValueError):
    pass


def _enc(obj: Any, out: list) -> None:
    if isinstance(obj, bool):
        raise TypeError("bencode has no booleans")
    if isinstance(obj, int):
        out.append(b"i%de" % obj)
    elif isinstance(obj, (bytes, bytearray)):
        out.append(b"%d:" % len(obj))
        out.append(bytes(obj))
    elif isinstance(obj, str):
        b = obj.encode("utf-8", "surrogateescape")
        out.append(b"%d:" % len(b))
        out.append(b)
    elif isinstance(obj, (list, tuple)):
        out.append(b"l")
        for v in obj:
            _enc(v, out)
        out.append(b"e")
    elif isinstance(obj, dict):
        out.append(b"d")
        items = []
        for k, v in obj.items():
            kb = k.encode("utf-8", "surrogateescape") if isinstance(k, str) else bytes(k)
            items.append((kb, v))
        for kb, v in sorted(items, key=lambda kv: kv[0]):
            out.append(b"%d:" % len(kb))
            out.append(kb)
            _enc(v, out)
        out.append(b"e")
    else:
        raise TypeError(f"cannot bencode {type(obj).__name__}")


def bencode(obj: Any) -> bytes:
    out: list = []
    _enc(obj, out)
    return b"".join(out)


def _dec(data: bytes, i: int, raw: bool, depth: int):
    if depth > 500:
        raise BencodeError("nesting too deep")
    if i >= len(data):
        raise BencodeError("truncated")
    c = data[i:i + 1]
    if c == b"i":
        j = data.find(b"e", i)
        if j < 0:
            raise BencodeError("truncated integer")
        try:
            return int(data[i + 1:j]), j + 1
        except ValueError as e:
            raise BencodeError(f"bad integer at {i}") from e
    if c == b"l":
        i += 1
        res = []
        while True:
            if i >= len(data):
                raise BencodeError("truncated list")
            if data[i:i + 1] == b"e":
                return res, i + 1
            v, i = _dec(data, i, raw, depth + 1)
            res.append(v)
    if c == b"d":
        i += 1
        res = {}
        while True:
            if i >= len(data):
                raise BencodeError("truncated dict")
            if data[i:i + 1] == b"e":
                return res, i + 1
            k, i = _dec_str(data, i)
            v, i = _dec(data, i, raw, depth + 1)
            res[k.decode("utf-8", "surrogateescape")] = v
    if c.isdigit():
        s, i = _dec_str(data, i)
        return (s if raw else s.decode("utf-8", "surrogateescape")), i
    raise BencodeError(f"unexpected byte {c!r} at {i}")


def _dec_str(data: bytes, i: int):
    j = data.find(b":", i)
    if j < 0 or not data[i:j].isdigit():
        raise BencodeError(f"bad string length at {i}")
    n = int(data[i:j])
    if j + 1 + n > len(data):
        raise BencodeError("truncated string")
    return data[j + 1:j + 1 + n], j + 1 + n


def bdecode(data: bytes, raw: bool = False) -> Any:
    """Decode one bencoded value that spans all of ``data``."""
    v, i = _dec(bytes(data), 0, raw, 0)
    if i != len(data):
        raise BencodeError(f"trailing data at {i}")
    return v


# --------------------------------------------------------------------------
# NG client


class NgTimeout(TimeoutError):
    pass


class NgClient:
    """NG protocol over UDP. One socket per client; not thread-safe."""

    def __init__(self, host: str, port: int, timeout: float = 1.0, retries: int = 3):
        self.addr = (host, port)
        self.timeout = timeout
        self.retries = retries
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(fam, socket.SOCK_DGRAM)
        self.sock.bind(("::1" if fam == socket.AF_INET6 else "127.0.0.1", 0)
                       if host in ("127.0.0.1", "::1") else ("", 0))

    def close(self) -> None:
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @staticmethod
    def new_cookie() -> bytes:
        return ("%x_%x" % (random.getrandbits(48), os.getpid())).encode()

    def _drain(self) -> None:
        self.sock.setblocking(False)
        try:
            while True:
                self.sock.recv(65535)
        except (BlockingIOError, OSError):
            pass
        finally:
            self.sock.setblocking(True)

    def exchange(self, datagram: bytes, cookie: Optional[bytes], timeout: Optional[float] = None,
                 retries: Optional[int] = None) -> Optional[bytes]:
        """Send ``datagram``; return the first reply starting with ``cookie + b' '``
        (or any reply if cookie is None), or None after all attempts timed out."""
        timeout = self.timeout if timeout is None else timeout
        retries = self.retries if retries is None else retries
        self._drain()
        for _ in range(retries + 1):
            self.sock.sendto(datagram, self.addr)
            deadline = time.monotonic() + timeout
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.sock.settimeout(left)
                try:
                    data = self.sock.recv(65535)
                except socket.timeout:
                    break
                except ConnectionRefusedError:
                    # ICMP port unreachable from an earlier send: nobody listens (yet).
                    time.sleep(min(left, 0.05))
                    continue
                if cookie is None or data.startswith(cookie + b" "):
                    return data
        return None

    def send_raw(self, datagram: bytes, timeout: float = 1.0, retries: int = 0,
                 cookie: Optional[bytes] = None) -> Optional[bytes]:
        """Send an arbitrary datagram; return the raw reply or None.
        If ``cookie`` is given only a reply with that cookie counts."""
        return self.exchange(datagram, cookie, timeout, retries)

    def call(self, msg: dict, timeout: Optional[float] = None, retries: Optional[int] = None,
             json_body: bool = False) -> dict:
        cookie = self.new_cookie()
        body = json.dumps(msg).encode() if json_body else bencode(msg)
        data = self.exchange(cookie + b" " + body, cookie, timeout, retries)
        if data is None:
            raise NgTimeout(f"no NG reply from {self.addr[0]}:{self.addr[1]} to {msg.get('command')!r}")
        rest = data[len(cookie) + 1:]
        if rest[:1] == b"{":
            return json.loads(rest)
        return bdecode(rest)

    def ping(self, timeout: float = 0.5, retries: int = 0) -> bool:
        try:
            return self.call({"command": "ping"}, timeout, retries).get("result") == "pong"
        except (NgTimeout, BencodeError, ValueError, OSError):
            return False

    def list_calls(self) -> list:
        r = self.call({"command": "list"})
        if r.get("result") != "ok":
            raise AssertionError(f"NG list failed: {r}")
        return list(r.get("calls", []))


def parse_reply(data: Optional[bytes], cookie: bytes) -> Optional[dict]:
    """Parse a raw NG reply datagram; None if absent. Raises on bad framing."""
    if data is None:
        return None
    if not data.startswith(cookie + b" "):
        raise AssertionError(f"reply has wrong cookie: {data[:80]!r}")
    rest = data[len(cookie) + 1:]
    return json.loads(rest) if rest[:1] == b"{" else bdecode(rest)


# --------------------------------------------------------------------------
# ports

_reserved: set = set()


def _port_free(port: int) -> bool:
    for typ in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
        s = socket.socket(socket.AF_INET, typ)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        finally:
            s.close()
    return True


def free_udp_ports(n: int = 1, lo: int = 20000, hi: int = 30000, step: int = 1) -> list:
    """``n`` consecutive free ports (UDP and TCP on 127.0.0.1), base a multiple
    of ``step``; the range 20000-30000 is below Linux's default ephemeral range,
    so a port picked here is not taken by some client socket a moment later.
    Ports handed out by this process are not handed out again."""
    for _ in range(2000):
        base = random.randrange(lo, hi - n) // step * step
        ports = list(range(base, base + n))
        if any(p in _reserved for p in ports):
            continue
        if all(_port_free(p) for p in ports):
            _reserved.update(ports)
            return ports
    raise RuntimeError(f"no {n} free consecutive ports in {lo}-{hi}")


def free_udp_port(lo: int = 20000, hi: int = 30000) -> int:
    return free_udp_ports(1, lo, hi)[0]


# --------------------------------------------------------------------------
# processes


def tail(source, lines: int = 40) -> str:
    """Last ``lines`` lines of a file (``source`` a Path) or of a text (str)."""
    if isinstance(source, Path):
        try:
            text = source.read_text(errors="replace")
        except OSError as e:
            return f"<cannot read {source}: {e.strerror}>"
    else:
        text = str(source or "")
    return "\n".join(text.splitlines()[-lines:])


def stop_process(proc: subprocess.Popen, grace: float = 5.0) -> tuple:
    """SIGTERM, wait ``grace`` s, then SIGKILL. Returns (returncode, killed)."""
    if proc.poll() is not None:
        return proc.returncode, False
    try:
        proc.send_signal(signal.SIGTERM)
    except ProcessLookupError:
        pass
    try:
        proc.wait(timeout=grace)
        return proc.returncode, False
    except subprocess.TimeoutExpired:
        proc.kill()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        return proc.returncode, True


def build_dir_from_argv(argv=None) -> Path:
    ap = argparse.ArgumentParser()
    ap.add_argument("--build-dir", default=os.environ.get("VOX_BUILD_DIR", str(REPO_ROOT / "build")))
    args, _ = ap.parse_known_args(argv)
    return Path(args.build_dir).resolve()


def relay_impl() -> str:
    return os.environ.get("VOX_RELAY_IMPL", "voxrelay").strip() or "voxrelay"


class RelayError(RuntimeError):
    pass


class Relay:
    """Start the relay under test; ``with Relay(build_dir) as r: r.ng.call(...)``.

    Attributes: ``ng_port``, ``port_min``, ``port_max``, ``ng`` (NgClient),
    ``proc``, ``cmd``, ``impl``, ``stderr_path``; after exit ``returncode``,
    ``killed`` (needed SIGKILL) and ``clean_exit`` (exited 0 after SIGTERM).
    The daemon's stdout+stderr go to ``stderr_path`` (inside ``workdir``)."""

    RTPENGINE = "/usr/bin/rtpengine"

    def __init__(self, build_dir=None, port_min: int = 41000, port_max: int = 41999,
                 ng_port: Optional[int] = None, extra_args: Iterable[str] = (),
                 impl: Optional[str] = None, workdir=None, start_timeout: float = 10.0,
                 verbose: bool = True, interfaces: Iterable[str] = ("127.0.0.1",)):
        self.interfaces = list(interfaces)
        self.build_dir = Path(build_dir) if build_dir else build_dir_from_argv()
        self.port_min, self.port_max = port_min, port_max
        self.ng_port = ng_port or free_udp_port()
        self.extra_args = list(extra_args)
        self.impl = impl or relay_impl()
        self._own_workdir = workdir is None
        self.workdir = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="vox-relay-"))
        self.stderr_path = self.workdir / f"{self.impl}.log"
        self.start_timeout = start_timeout
        self.verbose = verbose
        self.proc: Optional[subprocess.Popen] = None
        self.ng: Optional[NgClient] = None
        self.returncode: Optional[int] = None
        self.killed = False
        self.cmd = self._command()

    def _command(self) -> list:
        common = [*(f"--interface={i}" for i in self.interfaces),
                  f"--listen-ng=127.0.0.1:{self.ng_port}",
                  f"--port-min={self.port_min}", f"--port-max={self.port_max}"]
        if self.impl == "rtpengine":
            return [self.RTPENGINE, "--foreground", "--table=-1", *common, "--log-stderr",
                    *self.extra_args]
        if self.impl != "voxrelay":
            raise RelayError(f"VOX_RELAY_IMPL={self.impl!r}: expected 'voxrelay' or 'rtpengine'")
        return [str(self.build_dir / "voxrelay"), "--foreground", *common, *self.extra_args]

    def start(self) -> "Relay":
        exe = Path(self.cmd[0])
        if not exe.exists():
            raise RelayError(f"relay binary {exe} not found (build the 'voxrelay' target, "
                             f"or set VOX_RELAY_IMPL=rtpengine)")
        self._log = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, stdout=self._log,
                                     stderr=subprocess.STDOUT, cwd=self.workdir,
                                     start_new_session=True)
        self.ng = NgClient("127.0.0.1", self.ng_port, timeout=1.0, retries=2)
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RelayError(f"{self.impl} exited with {self.proc.returncode} during startup:\n"
                                 f"  cmd: {' '.join(self.cmd)}\n{tail(self.stderr_path)}")
            if self.ng.ping(timeout=0.2):
                if self.verbose:
                    print(f"[vox] {self.impl} up (pid {self.proc.pid}): {' '.join(self.cmd)}",
                          flush=True)
                return self
        self.stop()
        raise RelayError(f"{self.impl} did not answer NG ping on 127.0.0.1:{self.ng_port} "
                         f"within {self.start_timeout} s:\n{tail(self.stderr_path)}")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> Optional[int]:
        if self.proc is None:
            return None
        if self.returncode is None:
            self.returncode, self.killed = stop_process(self.proc, 5.0)
            if self.ng:
                self.ng.close()
            self._log.close()
        return self.returncode

    def sigterm_within(self, limit: float, what: str = "SIGTERM") -> float:
        """Sends SIGTERM; AssertionError unless the relay exits 0 within
        ``limit`` s. Returns the seconds it took."""
        t0 = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"{what}: still running after {limit:g} s")
        assert rc == 0, f"{what}: exit code {rc}, expected 0\n{self.stderr_tail()}"
        return time.monotonic() - t0

    @property
    def clean_exit(self) -> bool:
        return self.returncode == 0 and not self.killed

    def stderr_tail(self, lines: int = 40) -> str:
        return tail(self.stderr_path, lines)

    def report(self) -> str:
        how = "SIGKILLed after 5 s" if self.killed else f"exit code {self.returncode}"
        return (f"[vox] {self.impl} stopped: {how}\n"
                f"[vox] {self.impl} log tail ({self.stderr_path}):\n{self.stderr_tail()}")

    def __enter__(self) -> "Relay":
        try:
            return self.start()
        except BaseException:
            self.cleanup()
            raise

    def __exit__(self, exc_type, exc, tb):
        self.stop()
        if self.verbose and self.proc is not None:
            print(self.report() if (exc_type or not self.clean_exit)
                  else f"[vox] {self.impl} stopped: exit code {self.returncode}", flush=True)
        self.cleanup()
        return False

    def cleanup(self) -> None:
        if self._own_workdir and not os.environ.get("VOX_KEEP_TMP"):
            shutil.rmtree(self.workdir, ignore_errors=True)


# --------------------------------------------------------------------------
# sniffer

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
ARPHRD_LOOPBACK = 772
SO_ATTACH_FILTER = 26


def _bpf_udp_ports(ranges) -> bytes:
    """Classic BPF program: accept IPv4/UDP frames (Ethernet framing, as on lo)
    whose source or destination port lies in one of ``ranges``, and every
    non-first fragment (no UDP header to look at: RtpSniffer reassembles
    those whose first fragment it kept). Keeps other traffic on a busy
    loopback (benchmarks, other tests) out of Python."""
    prog = []  # (code, jt, jf, k); jt/jf may be labels "drop"/"accept"/"next"

    def ins(code, k=0, jt=0, jf=0):
        prog.append([code, jt, jf, k])

    ins(0x28, 12)                      # ldh [12]            ethertype
    ins(0x15, 0x0800, 0, "drop")       # jeq #IPv4
    ins(0x30, 23)                      # ldb [23]            IP protocol
    ins(0x15, 17, 0, "drop")           # jeq #UDP
    ins(0x28, 20)                      # ldh [20]            fragment offset
    ins(0x45, 0x1FFF, "accept", 0)     # jset #0x1fff -> accept (a later fragment)
    ins(0xB1, 14)                      # ldxb 4*([14]&0xf)   IP header length
    for off in (14, 16):               # UDP sport, dport
        ins(0x48, off)                 # ldh [x+off]
        for lo, hi in ranges:
            ins(0x35, lo, 0, 1)        # jge #lo ? next : skip the jgt
            ins(0x25, hi, 0, "accept")  # jgt #hi ? continue : accept
    drop = len(prog)
    ins(0x06, 0)                       # drop: ret #0
    accept = len(prog)
    ins(0x06, 0x40000)                 # accept: ret #262144
    out = []
    for i, (code, jt, jf, k) in enumerate(prog):
        def rel(t):
            if t == "drop":
                return drop - i - 1
            if t == "accept":
                return accept - i - 1
            return t
        jt, jf = rel(jt), rel(jf)
        if not (0 <= jt < 256 and 0 <= jf < 256):
            raise ValueError("BPF program too long for the port ranges given")
        out.append(struct.pack("HBBI", code, jt, jf, k))
    return b"".join(out)


@dataclass
class Packet:
    ts: float
    src: str
    sport: int
    dst: str
    dport: int
    length: int                # UDP payload length
    pt: Optional[int]          # RTP payload type (None if not RTP v2)
    marker: bool = False
    payload: bytes = field(default=b"", repr=False)

    def __str__(self):
        pt = "-" if self.pt is None else self.pt
        return f"{self.src}:{self.sport} -> {self.dst}:{self.dport} len={self.length} pt={pt}"


class RtpSniffer:
    """Record UDP packets on ``iface`` (``lo``; ``"any"``: every interface of
    the namespace; all must have Ethernet framing) whose sport or dport is in
    one of ``port_ranges`` (list of (lo, hi) inclusive). Each packet is
    recorded once: on loopback a packet passes twice and the outgoing copy is
    skipped; elsewhere sent and received packets are both recorded.
    ``keep_payload`` stores UDP payloads (for NG capture). Use as a context
    manager or start()/stop()."""

    def __init__(self, port_ranges, iface: str = "lo", keep_payload: bool = False):
        self.ranges = [(int(a), int(b)) for a, b in port_ranges]
        self.iface = iface
        self.keep_payload = keep_payload
        self.packets: list = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self.sock = None
        self.error: Optional[BaseException] = None
        # IPv4 fragments by (src, dst, id): {offset: bytes}, and the total
        # length once the last one came (a reply over 1500 octets on a veth).
        self._frags: dict = {}

    def _want(self, port: int) -> bool:
        return any(a <= port <= b for a, b in self.ranges)

    def start(self) -> "RtpSniffer":
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        try:  # kernel-side filter; the Python-side checks in _parse stay anyway
            import ctypes
            code = _bpf_udp_ports(self.ranges)
            buf = ctypes.create_string_buffer(code, len(code))
            fprog = struct.pack("HL", len(code) // 8, ctypes.addressof(buf))
            self.sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)
            self.bpf = True
        except (OSError, ValueError, ImportError):
            self.bpf = False
        if self.iface != "any":  # unbound: all interfaces
            self.sock.bind((self.iface, 0))
        self.sock.settimeout(0.1)
        self._thread = threading.Thread(target=self._run, name="RtpSniffer", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                try:
                    frame, addr = self.sock.recvfrom(65600)
                except socket.timeout:
                    continue
                if addr[2] == PACKET_OUTGOING and addr[3] == ARPHRD_LOOPBACK:
                    continue  # lo: the same packet comes back as incoming
                self._parse(frame, addr[1])
        except BaseException as e:  # pragma: no cover - reported by the test
            self.error = e

    def _parse(self, frame: bytes, proto: int) -> None:
        # lo has a 14-byte (all-zero) Ethernet header.
        off = 14
        if len(frame) < off + 20 or frame[12:14] != b"\x08\x00":
            return
        ip = frame[off:]
        if ip[0] >> 4 != 4 or ip[9] != 17:
            return
        ihl = (ip[0] & 0x0F) * 4
        frag = struct.unpack("!H", ip[6:8])[0]
        total = struct.unpack("!H", ip[2:4])[0]
        udp = ip[ihl:total]
        if frag & 0x3FFF:  # a fragment: MF set or an offset
            udp = self._reassemble(ip, ihl, total, frag)
            if udp is None:
                return
        if len(udp) < 8:
            return
        sport, dport, ulen = struct.unpack("!HHH", udp[:6])
        if not (self._want(sport) or self._want(dport)):
            return
        payload = udp[8:ulen] if ulen >= 8 else udp[8:]
        pt = None
        marker = False
        if len(payload) >= 12 and payload[0] >> 6 == 2:
            pt = payload[1] & 0x7F
            marker = bool(payload[1] & 0x80)
        pkt = Packet(time.time(), socket.inet_ntoa(ip[12:16]), sport, socket.inet_ntoa(ip[16:20]),
                     dport, max(ulen - 8, 0), pt, marker,
                     bytes(payload) if self.keep_payload else b"")
        with self._lock:
            self.packets.append(pkt)

    def _reassemble(self, ip: bytes, ihl: int, total: int, frag: int) -> Optional[bytes]:
        """The datagram's IP payload once all its fragments are in, else None."""
        key = (ip[12:16], ip[16:20], ip[4:6])
        entry = self._frags.setdefault(key, [{}, None])
        offset = (frag & 0x1FFF) * 8
        entry[0][offset] = bytes(ip[ihl:total])
        if not frag & 0x2000:  # the last one: now the length is known
            entry[1] = offset + total - ihl
        if len(self._frags) > 256:  # fragments of datagrams never completed
            self._frags.pop(next(iter(self._frags)))
        if entry[1] is None:
            return None
        data, at = b"", 0
        for off in sorted(entry[0]):
            if off != at:
                return None
            data += entry[0][off]
            at += len(entry[0][off])
        if at != entry[1]:
            return None
        del self._frags[key]
        return data

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=2)
        if self.sock:
            self.sock.close()
            self.sock = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False

    def snapshot(self) -> list:
        with self._lock:
            return list(self.packets)

    def flows(self) -> dict:
        """{(src, sport, dst, dport): Counter(pt -> packets)}"""
        res: dict = collections.defaultdict(collections.Counter)
        for p in self.snapshot():
            res[(p.src, p.sport, p.dst, p.dport)][p.pt] += 1
        return dict(res)

    def summary(self) -> str:
        lines = []
        for (s, sp, d, dp), pts in sorted(self.flows().items(), key=lambda kv: (kv[0][1], kv[0][3])):
            total = sum(pts.values())
            pts_s = ", ".join(f"pt {'-' if k is None else k}: {v}" for k, v in sorted(
                pts.items(), key=lambda kv: -1 if kv[0] is None else kv[0]))
            lines.append(f"  {s}:{sp} -> {d}:{dp}  {total} pkts ({pts_s})")
        return "\n".join(lines) if lines else "  (no packets)"


# --------------------------------------------------------------------------
# media helpers (SDP, RTP, UDP peers) and a case runner for integration tests


def audio_media(port: int, extra: Iterable[str] = (), proto: str = "RTP/AVP",
                kind: str = "audio") -> tuple:
    """An m= section: PCMU + telephone-event, ptime 20, sendrecv, then ``extra``
    attribute lines (full lines, e.g. ``"a=rtcp-mux"``). For ``make_sdp``."""
    if kind == "audio":
        fmts = "0 101"
        attrs = ["a=rtpmap:0 PCMU/8000", "a=rtpmap:101 telephone-event/8000",
                 "a=fmtp:101 0-16", "a=ptime:20"]
    else:
        fmts = "96"
        attrs = ["a=rtpmap:96 H264/90000"]
    return (f"m={kind} {port} {proto} {fmts}", [*attrs, *extra] if any(
        str(e).startswith(("a=sendrecv", "a=sendonly", "a=recvonly", "a=inactive"))
        for e in extra) else [*attrs, "a=sendrecv", *extra])


def make_sdp(addr: str, media: Iterable, origin: Optional[str] = None, version: int = 1,
             session_id: int = 4711, session_lines: Iterable[str] = ()) -> str:
    """SDP with session-level ``c=`` ``addr``. ``media``: ints (audio ports) or
    (m-line, [attribute lines]) tuples as ``audio_media`` returns."""
    def fam(a):
        return "IP6" if ":" in a else "IP4"
    o = origin or addr
    lines = ["v=0", f"o=- {session_id} {version} IN {fam(o)} {o}", "s=voxtest",
             f"c=IN {fam(addr)} {addr}", "t=0 0", *session_lines]
    for m in media:
        if isinstance(m, int):
            m = audio_media(m)
        lines.append(m[0])
        lines.extend(m[1])
    return "\r\n".join(lines) + "\r\n"


@dataclass
class SdpMediaInfo:
    kind: str
    port: int
    proto: str
    fmts: list
    conn: Optional[str]          # media-level c= address, else the session's
    attrs: list                  # attribute lines without "a=", in order
    lines: list                  # every line of the section (m= first)

    def attr(self, name: str) -> list:
        """Values of ``a=name:value`` (or ``""`` for a flag ``a=name``)."""
        out = []
        for a in self.attrs:
            k, _, v = a.partition(":")
            if k == name:
                out.append(v)
        return out

    def has(self, name: str) -> bool:
        return bool(self.attr(name))


@dataclass
class SdpInfo:
    text: str
    origin: Optional[str]        # o= address
    origin_line: Optional[str]
    conn: Optional[str]          # session-level c= address
    session_lines: list
    media: list                  # SdpMediaInfo per m= line


def parse_sdp(text: str) -> SdpInfo:
    """Parse an SDP (as relays return it) far enough for assertions."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "surrogateescape")
    info = SdpInfo(text, None, None, None, [], [])
    cur: Optional[SdpMediaInfo] = None
    for line in text.replace("\r\n", "\n").split("\n"):
        if not line:
            continue
        if line.startswith("m="):
            f = line[2:].split()
            cur = SdpMediaInfo(f[0], int(f[1]), f[2] if len(f) > 2 else "", f[3:], info.conn,
                               [], [line])
            info.media.append(cur)
            continue
        if cur is None:
            info.session_lines.append(line)
            if line.startswith("o="):
                info.origin_line = line
                info.origin = line.split()[-1]
            elif line.startswith("c="):
                info.conn = line.split()[-1]
            continue
        cur.lines.append(line)
        if line.startswith("c="):
            cur.conn = line.split()[-1]
        elif line.startswith("a="):
            cur.attrs.append(line[2:])
    return info


def rtp_packet(seq: int, ts: int, ssrc: int, payload: bytes = b"\xff" * 160, pt: int = 0,
               marker: bool = False) -> bytes:
    """A valid RTP v2 packet (no CSRC, no extension, no padding)."""
    return struct.pack("!BBHII", 0x80, (0x80 if marker else 0) | (pt & 0x7F), seq & 0xFFFF,
                       ts & 0xFFFFFFFF, ssrc & 0xFFFFFFFF) + bytes(payload)


def rtcp_rr(ssrc: int) -> bytes:
    """A minimal valid RTCP compound packet: one RR without report blocks."""
    return struct.pack("!BBHI", 0x80, 201, 1, ssrc & 0xFFFFFFFF)


class UdpPeer:
    """A UDP socket bound on ``host`` (``port`` 0: any) for playing a SIP
    party's media endpoint. ``recv_for(t)`` collects (data, (ip, port))."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, rcvbuf: int = 1 << 20):
        self.family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(self.family, socket.SOCK_DGRAM)
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        except OSError:
            pass
        self.sock.bind((host, port))
        self.host = host
        self.port = self.sock.getsockname()[1]

    @property
    def addr(self) -> tuple:
        return (self.host, self.port)

    def fileno(self) -> int:
        return self.sock.fileno()

    def sendto(self, data: bytes, addr: tuple) -> None:
        self.sock.sendto(data, addr[:2])

    def recv_for(self, timeout: float, max_packets: int = 100000, until: int = 0) -> list:
        """Packets received within ``timeout`` s; returns early once ``until``
        (> 0) packets arrived."""
        out = []
        deadline = time.monotonic() + timeout
        while len(out) < max_packets:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            self.sock.settimeout(left)
            try:
                data, src = self.sock.recvfrom(65535)
            except socket.timeout:
                break
            except ConnectionRefusedError:
                continue
            out.append((data, (src[0], src[1])))
            if until and len(out) >= until:
                break
        return out

    def drain(self) -> int:
        n = 0
        self.sock.setblocking(False)
        try:
            while True:
                self.sock.recv(65535)
                n += 1
        except (BlockingIOError, OSError):
            pass
        finally:
            self.sock.setblocking(True)
        return n

    def close(self) -> None:
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def udp_peer_pair(host: str = "127.0.0.1", attempts: int = 200) -> tuple:
    """Two UdpPeers on consecutive ports (even, even+1): an RTP/RTCP pair."""
    for _ in range(attempts):
        base = random.randrange(20000, 30000) // 2 * 2
        if base in _reserved or base + 1 in _reserved:
            continue
        try:
            a = UdpPeer(host, base)
        except OSError:
            continue
        try:
            b = UdpPeer(host, base + 1)
        except OSError:
            a.close()
            continue
        _reserved.update((base, base + 1))
        return a, b
    raise RuntimeError("no free consecutive UDP port pair")


def ng_ok(ng: NgClient, msg: dict, what: str = "") -> dict:
    """NG request that must succeed (``result: ok``); AssertionError otherwise."""
    r = ng.call(msg)
    if r.get("result") != "ok":
        raise AssertionError(f"{what or msg.get('command')} (call-id {msg.get('call-id')!r}) "
                             f"failed: {r}")
    return r


class NotifySocket:
    """What systemd listens on for sd_notify ($NOTIFY_SOCKET): one datagram
    per message, collected for a while."""

    def __init__(self, workdir: Path):
        self.path = str(workdir / "notify.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.1)
        self.messages: list = []

    def collect(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                self.messages.append(self.sock.recv(4096).decode())
            except socket.timeout:
                pass

    def count(self, text: str) -> int:
        return sum(text in m for m in self.messages)


def plain_call(ng: NgClient, call_id: str, a: UdpPeer, b: UdpPeer, host: str = "127.0.0.1") -> tuple:
    """Offer from tag A (a's port) and answer from tag B (b's port), plain
    RTP/AVP: (the relay port A sends to, the relay port B sends to)."""
    o = ng_ok(ng, {"command": "offer", "call-id": call_id, "from-tag": "A",
                   "sdp": make_sdp(host, [a.port])})
    r = ng_ok(ng, {"command": "answer", "call-id": call_id, "from-tag": "A", "to-tag": "B",
                   "sdp": make_sdp(host, [b.port])})
    return parse_sdp(r["sdp"]).media[0].port, parse_sdp(o["sdp"]).media[0].port


def two_way(a: UdpPeer, to_a: int, b: UdpPeer, to_b: int, n: int = 5, host: str = "127.0.0.1") -> None:
    """n RTP packets each way through the relay; AssertionError unless all arrive."""
    for i in range(n):
        a.sendto(rtp_packet(i, i * 160, 0xA1), (host, to_a))
        b.sendto(rtp_packet(i, i * 160, 0xB1), (host, to_b))
    got_b, got_a = b.recv_for(2.0, until=n), a.recv_for(2.0, until=n)
    assert len(got_a) == n and len(got_b) == n, f"relayed {len(got_b)} A->B and {len(got_a)} B->A of {n}"


def ng_statistics(ng: NgClient) -> dict:
    return ng_ok(ng, {"command": "statistics"}).get("statistics", {})


def free_port_pairs(ng: NgClient) -> int:
    return int(ng_statistics(ng)["currentstatistics"]["free port pairs"])


def query_streams(reply: dict, tag: str) -> list:
    """The streams of party ``tag`` in a ``query`` reply, flattened over medias:
    [(media index 0.., stream dict), ...]."""
    tags = reply.get("tags", {})
    if tag not in tags:
        raise AssertionError(f"query: tag {tag!r} not in tags {sorted(tags)}")
    out = []
    for i, m in enumerate(tags[tag].get("medias", [])):
        for s in m.get("streams", []):
            out.append((i, s))
    return out


def stream_by_port(reply: dict, tag: str, port: int) -> dict:
    for _, s in query_streams(reply, tag):
        if int(s.get("local port", -1)) == port:
            return s
    raise AssertionError(f"query: no stream with local port {port} for tag {tag!r}: "
                         f"{[s.get('local port') for _, s in query_streams(reply, tag)]}")


class CaseRunner:
    """Runs named cases (callables); an AssertionError (or an NG timeout, a
    relay error, an OSError) fails the case, anything else fails it with a
    traceback. ``finish()`` prints the summary and returns the exit code."""

    def __init__(self, title: str):
        self.title = title
        self.failures: list = []
        self.passed: list = []
        self.t0 = time.monotonic()

    def run(self, name: str, fn, *args, **kw):
        t = time.monotonic()
        try:
            res = fn(*args, **kw)
        except AssertionError as e:
            self.fail(name, str(e))
            return None
        except (NgTimeout, RelayError, OSError, subprocess.SubprocessError) as e:
            self.fail(name, f"{type(e).__name__}: {e}")
            return None
        except Exception:  # a bug in the test or a crash: still report
            import traceback
            self.fail(name, "unexpected exception:\n" + traceback.format_exc())
            return None
        self.passed.append(name)
        print(f"ok    {name} ({time.monotonic() - t:.1f} s)", flush=True)
        return res

    def fail(self, name: str, why: str) -> None:
        self.failures.append(f"{name}: {why}")
        print(f"FAIL  {name}: {why}", flush=True)

    def finish(self) -> int:
        print(f"\n{self.title}: {len(self.passed)} passed, {len(self.failures)} failed, "
              f"{time.monotonic() - self.t0:.1f} s")
        for f in self.failures:
            print(f"FAIL  {f}")
        print("PASS" if not self.failures else "FAIL", flush=True)
        return 1 if self.failures else 0


if __name__ == "__main__":  # tiny self-test of the codec
    sample = {"command": "offer", "sdp": b"v=0\r\n\xff", "flags": ["trust-address"], "n": -3,
              "nested": {"b": [1, "x"]}}
    enc = bencode(sample)
    dec = bdecode(enc)
    assert dec["sdp"].encode("utf-8", "surrogateescape") == b"v=0\r\n\xff"
    assert bencode(dec) == enc, (bencode(dec), enc)
    assert bdecode(enc, raw=True)["sdp"] == b"v=0\r\n\xff"
    for n in range(len(enc)):
        try:
            bdecode(enc[:n])
        except BencodeError:
            continue
        raise AssertionError(f"truncated at {n} decoded")
    print("vox.py self-test ok")
    sys.exit(0)
