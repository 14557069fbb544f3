"""Network-namespace helpers for voxrelay's integration tests (stdlib only, root).

Import from a test with::

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
    import netns

Contents
--------
- ``run(cmd)``: a subprocess with a timeout; raises ``NetnsError`` (stderr
  included) when it fails and ``check`` is set.
- ``unavailable_reason()``: why ``ip netns`` cannot be used here (``None``
  if it can): no ``ip`` binary, not root, or ``ip netns add`` refused.
- ``Netns(name)``: one named namespace: ``create()`` (with ``lo`` up),
  ``delete()``, ``exists()``, ``ip(...)`` (``ip -n NAME ...``),
  ``exec_prefix()`` (``["ip", "netns", "exec", NAME]``), ``sysctl(key, v)``,
  ``pids()``, ``mac(ifname)``, ``ipv4_addrs(ifname)`` and ``entered()``: a
  context manager that moves the calling *thread* into the namespace
  (setns) and back; sockets created inside stay in that namespace after
  leaving, so one test process can hold sockets in several namespaces.
- ``add_veth(ns_a, name_a, ns_b, name_b)``: a veth pair created directly in
  the two namespaces (never visible in the caller's namespace).
- ``set_tx_checksum(ns, ifname, on)`` / ``tx_checksum(ns, ifname)``: the
  ``ethtool -K IF tx on|off`` switch via the SIOCETHTOOL ioctl (ethtool
  need not be installed).
- ``icmp_ping(ns, dst, ...)``: ICMP echo over a raw socket inside ``ns``;
  every reply's ICMP checksum, identifier, sequence and payload are checked
  (the kernel hands raw sockets replies with bad checksums too).
- ``arp_request(ns, ifname, src_ip, dst_ip)``: one ARP who-has over an
  AF_PACKET socket; returns the parsed reply (or ``None``).
- ``FrameCapture(ns, ifname, accept, limit)``: AF_PACKET capture (thread)
  that keeps up to ``limit`` frames ``accept(frame)`` selects, with the
  kernel's PACKET_AUXDATA status (TP_STATUS_CSUMNOTREADY / CSUM_VALID).
- ``parse_udp4(frame)`` / ``inet_checksum(data)``: IPv4/UDP parsing and the
  header/UDP checksum checks.
- ``reap_stale(prefixes)``: deletes namespaces ``<prefix><pid>`` left by a
  killed earlier run whose pid no longer exists.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import json
import os
import re
import select
import shutil
import socket
import struct
import subprocess
import threading
import time
from dataclasses import dataclass
from typing import Callable, Optional

CLONE_NEWNET = 0x40000000
SOL_PACKET = 263
PACKET_AUXDATA = 8
PACKET_OUTGOING = 4
TP_STATUS_CSUMNOTREADY = 1 << 3
TP_STATUS_CSUM_VALID = 1 << 7
ETH_P_ALL = 0x0003
ETH_P_ARP = 0x0806
ETH_P_IP = 0x0800
SIOCETHTOOL = 0x8946
ETHTOOL_GTXCSUM = 0x16
ETHTOOL_STXCSUM = 0x17


class NetnsError(OSError):
    pass


def run(cmd, check: bool = True, timeout: float = 15.0, input: Optional[str] = None
        ) -> subprocess.CompletedProcess:
    try:
        r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True,
                           timeout=timeout, input=input)
    except subprocess.TimeoutExpired as e:
        raise NetnsError(f"`{' '.join(map(str, cmd))}` did not finish within {timeout} s") from e
    if check and r.returncode != 0:
        raise NetnsError(f"`{' '.join(map(str, cmd))}` failed (exit {r.returncode}): "
                         f"{(r.stderr or r.stdout).strip()}")
    return r


# --------------------------------------------------------------------------
# setns

_libc = None


def _setns(fd: int, nstype: int = CLONE_NEWNET) -> None:
    if hasattr(os, "setns"):  # Python >= 3.12
        os.setns(fd, nstype)
        return
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    if _libc.setns(fd, nstype) != 0:
        e = ctypes.get_errno()
        raise OSError(e, f"setns: {os.strerror(e)}")


def unavailable_reason() -> Optional[str]:
    """None if namespaces can be made here, else why not."""
    if os.geteuid() != 0:
        return "not root (network namespaces and veths need root)"
    if not shutil.which("ip"):
        return "no `ip` binary (iproute2)"
    r = run(["ip", "netns", "list"], check=False)
    if r.returncode != 0:
        return f"`ip netns list` failed: {(r.stderr or r.stdout).strip()}"
    probe = f"voxprobe-{os.getpid()}"
    r = run(["ip", "netns", "add", probe], check=False)
    if r.returncode != 0:
        return f"`ip netns add` failed: {(r.stderr or r.stdout).strip()}"
    run(["ip", "netns", "del", probe], check=False)
    return None


def list_namespaces() -> list:
    r = run(["ip", "netns", "list"], check=False)
    # lines: "name" or "name (id: 3)"
    return [ln.split()[0] for ln in r.stdout.splitlines() if ln.strip()]


def reap_stale(prefixes) -> list:
    """Delete namespaces named ``<prefix><pid>`` whose pid is gone (left by a
    SIGKILLed run). Returns the names removed."""
    removed = []
    for name in list_namespaces():
        for prefix in prefixes:
            m = re.fullmatch(re.escape(prefix) + r"(\d+)", name)
            if m and not os.path.exists(f"/proc/{m.group(1)}"):
                ns = Netns(name)
                for pid in ns.pids():
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.kill(pid, 9)
                ns.delete()
                removed.append(name)
    return removed


class Netns:
    def __init__(self, name: str):
        self.name = name
        self.created = False

    def __repr__(self):
        return f"Netns({self.name!r})"

    @property
    def path(self) -> str:
        return f"/run/netns/{self.name}"

    def exists(self) -> bool:
        return self.name in list_namespaces()

    def create(self) -> "Netns":
        run(["ip", "netns", "add", self.name])
        self.created = True
        self.ip("link", "set", "lo", "up")
        return self

    def delete(self) -> None:
        run(["ip", "netns", "del", self.name], check=False)

    def ip(self, *args, check: bool = True, timeout: float = 15.0) -> subprocess.CompletedProcess:
        return run(["ip", "-n", self.name, *args], check=check, timeout=timeout)

    def ip_json(self, *args):
        out = self.ip("-j", *args).stdout.strip()
        return json.loads(out) if out else []

    def exec_prefix(self) -> list:
        return ["ip", "netns", "exec", self.name]

    def pids(self) -> list:
        r = run(["ip", "netns", "pids", self.name], check=False)
        return [int(p) for p in r.stdout.split() if p.isdigit()]

    @contextlib.contextmanager
    def entered(self):
        """Run the body (this thread only) inside the namespace."""
        own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        try:
            target = os.open(self.path, os.O_RDONLY)
            try:
                _setns(target)
            finally:
                os.close(target)
            try:
                yield self
            finally:
                _setns(own)
        finally:
            os.close(own)

    def sysctl(self, key: str, value) -> None:
        path = "/proc/sys/" + key.replace(".", "/")
        with self.entered():
            with open(path, "w") as f:
                f.write(f"{value}\n")

    def read_sysctl(self, key: str) -> str:
        with self.entered():
            with open("/proc/sys/" + key.replace(".", "/")) as f:
                return f.read().strip()

    def mac(self, ifname: str) -> str:
        links = self.ip_json("link", "show", "dev", ifname)
        if not links:
            raise NetnsError(f"{self.name}: no link {ifname}")
        return links[0]["address"].lower()

    def ipv4_addrs(self, ifname: str) -> list:
        out = []
        for link in self.ip_json("-4", "addr", "show", "dev", ifname):
            out += [a["local"] for a in link.get("addr_info", []) if a.get("family") == "inet"]
        return out

    def snmp(self, proto: str = "Udp") -> dict:
        """The ``proto`` counters of /proc/net/snmp inside the namespace."""
        text = run([*self.exec_prefix(), "cat", "/proc/net/snmp"]).stdout
        rows = [ln.split() for ln in text.splitlines() if ln.startswith(proto + ":")]
        if len(rows) < 2:
            return {}
        return {k: int(v) for k, v in zip(rows[0][1:], rows[1][1:])}


def add_veth(ns_a: Netns, name_a: str, ns_b: Netns, name_b: str) -> None:
    for n in (name_a, name_b):
        if len(n) > 15:
            raise ValueError(f"interface name {n!r} longer than 15 characters")
    run(["ip", "link", "add", name_a, "netns", ns_a.name, "type", "veth",
         "peer", "name", name_b, "netns", ns_b.name])


# --------------------------------------------------------------------------
# ethtool tx checksum (legacy ETHTOOL_[GS]TXCSUM, still mapped to the
# NETIF_F_CSUM_MASK features by current kernels)


def _ethtool_value(ns: Netns, ifname: str, cmd: int, data: int = 0) -> int:
    buf = ctypes.create_string_buffer(struct.pack("II", cmd, data), 8)
    ifreq = struct.pack("16sP", ifname.encode(), ctypes.addressof(buf)) + b"\0" * 16
    with ns.entered():
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        fcntl.ioctl(s.fileno(), SIOCETHTOOL, ifreq)
    finally:
        s.close()
    return struct.unpack("II", buf.raw)[1]


def tx_checksum(ns: Netns, ifname: str) -> bool:
    return bool(_ethtool_value(ns, ifname, ETHTOOL_GTXCSUM))


def set_tx_checksum(ns: Netns, ifname: str, on: bool) -> None:
    _ethtool_value(ns, ifname, ETHTOOL_STXCSUM, 1 if on else 0)
    if tx_checksum(ns, ifname) != on:
        raise NetnsError(f"{ns.name}/{ifname}: tx checksum offload still "
                         f"{'off' if on else 'on'} after setting it {'on' if on else 'off'}")


# --------------------------------------------------------------------------
# checksums, parsing


def inet_checksum(data: bytes, start: int = 0) -> int:
    """One's complement sum folded to 16 bits (not inverted)."""
    if len(data) % 2:
        data += b"\0"
    total = start + sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total


@dataclass
class Udp4:
    src: str
    dst: str
    sport: int
    dport: int
    payload: bytes
    ip_csum_ok: bool
    udp_csum: int        # the field as sent (0: none)
    udp_csum_ok: bool    # False also for 0 (a relay should always fill it in)


def parse_udp4(frame: bytes) -> Optional[Udp4]:
    """Ethernet II (no VLAN) / IPv4 / UDP, else None."""
    if len(frame) < 42 or frame[12:14] != b"\x08\x00":
        return None
    ip = frame[14:]
    if ip[0] >> 4 != 4 or ip[9] != 17:
        return None
    ihl = (ip[0] & 0x0F) * 4
    total = struct.unpack("!H", ip[2:4])[0]
    if ihl < 20 or total > len(ip) or total < ihl + 8:
        return None
    if struct.unpack("!H", ip[6:8])[0] & 0x3FFF:
        return None  # fragment
    ip_ok = inet_checksum(ip[:ihl]) == 0xFFFF
    udp = ip[ihl:total]
    sport, dport, ulen, csum = struct.unpack("!HHHH", udp[:8])
    pseudo = ip[12:20] + struct.pack("!BBH", 0, 17, len(udp))
    udp_ok = csum != 0 and ulen == len(udp) and inet_checksum(pseudo + udp) == 0xFFFF
    return Udp4(socket.inet_ntoa(ip[12:16]), socket.inet_ntoa(ip[16:20]), sport, dport,
                bytes(udp[8:]), ip_ok, csum, udp_ok)


def mac_bytes(mac: str) -> bytes:
    return bytes(int(x, 16) for x in mac.split(":"))


def mac_str(b: bytes) -> str:
    return ":".join(f"{x:02x}" for x in b)


# --------------------------------------------------------------------------
# ICMP echo, ARP


@dataclass
class PingResult:
    sent: int
    replies: int             # valid replies (checksum, id, seq, payload all right)
    bad: list                # descriptions of invalid replies
    rtts_ms: list


def icmp_ping(ns: Netns, dst: str, count: int = 5, interval: float = 0.2,
              timeout: float = 1.0, size: int = 56) -> PingResult:
    """Like ``ping -c COUNT -i INTERVAL -W TIMEOUT DST`` run in ``ns``, but
    every reply is verified here."""
    with ns.entered():
        s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    ident = (os.getpid() ^ int(time.monotonic_ns() & 0xFFFF)) & 0xFFFF
    res = PingResult(0, 0, [], [])
    try:
        for seq in range(1, count + 1):
            payload = struct.pack("!Q", time.monotonic_ns()) + bytes(
                (i * 7 + seq) & 0xFF for i in range(size - 8))
            hdr = struct.pack("!BBHHH", 8, 0, 0, ident, seq)
            csum = 0xFFFF - inet_checksum(hdr + payload)
            req = struct.pack("!BBHHH", 8, 0, csum, ident, seq) + payload
            t0 = time.monotonic()
            s.sendto(req, (dst, 0))
            res.sent += 1
            deadline = t0 + timeout
            got = False
            while not got:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                r, _, _ = select.select([s], [], [], left)
                if not r:
                    break
                data, src = s.recvfrom(65535)
                ihl = (data[0] & 0x0F) * 4
                icmp = data[ihl:]
                if len(icmp) < 8 or src[0] != dst:
                    continue
                typ, code, _, rid, rseq = struct.unpack("!BBHHH", icmp[:8])
                if typ == 8:
                    continue  # our own request (dst is local) or someone else's
                if rid != ident:
                    continue
                problems = []
                if (typ, code) != (0, 0):
                    problems.append(f"type {typ} code {code}")
                if inet_checksum(icmp) != 0xFFFF:
                    problems.append("bad ICMP checksum")
                if inet_checksum(data[:ihl]) != 0xFFFF:
                    problems.append("bad IP header checksum")
                if rseq != seq:
                    problems.append(f"seq {rseq}, expected {seq}")
                if icmp[8:] != payload:
                    problems.append(f"payload differs ({len(icmp) - 8} bytes, sent {size})")
                if problems:
                    res.bad.append(f"seq {seq}: " + ", ".join(problems))
                    continue
                res.replies += 1
                res.rtts_ms.append((time.monotonic() - t0) * 1e3)
                got = True
            pause = t0 + interval - time.monotonic()
            if seq < count and pause > 0:
                time.sleep(pause)
    finally:
        s.close()
    return res


@dataclass
class ArpReply:
    eth_src: str
    eth_dst: str
    sender_mac: str
    sender_ip: str
    target_mac: str
    target_ip: str


def arp_request(ns: Netns, ifname: str, src_ip: str, dst_ip: str, timeout: float = 1.0,
                attempts: int = 3) -> Optional[ArpReply]:
    """Broadcast ``who-has dst_ip tell src_ip`` on ``ifname`` in ``ns``; the
    first reply from ``dst_ip`` (or None)."""
    my_mac = mac_bytes(ns.mac(ifname))
    with ns.entered():
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ARP))
        s.bind((ifname, ETH_P_ARP))
    try:
        arp = struct.pack("!HHBBH6s4s6s4s", 1, ETH_P_IP, 6, 4, 1, my_mac,
                          socket.inet_aton(src_ip), b"\0" * 6, socket.inet_aton(dst_ip))
        frame = b"\xff" * 6 + my_mac + struct.pack("!H", ETH_P_ARP) + arp
        frame += b"\0" * max(0, 60 - len(frame))
        for _ in range(attempts):
            s.send(frame)
            deadline = time.monotonic() + timeout
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                r, _, _ = select.select([s], [], [], left)
                if not r:
                    break
                data, addr = s.recvfrom(2048)
                if addr[2] == PACKET_OUTGOING or len(data) < 42:
                    continue
                htype, ptype, hlen, plen, op, sha, spa, tha, tpa = struct.unpack(
                    "!HHBBH6s4s6s4s", data[14:42])
                if op != 2 or spa != socket.inet_aton(dst_ip):
                    continue
                return ArpReply(mac_str(data[6:12]), mac_str(data[0:6]), mac_str(sha),
                                socket.inet_ntoa(spa), mac_str(tha), socket.inet_ntoa(tpa))
        return None
    finally:
        s.close()


# --------------------------------------------------------------------------
# capture


@dataclass
class Frame:
    data: bytes
    pkttype: int      # PACKET_HOST, PACKET_OUTGOING, ...
    tp_status: int    # PACKET_AUXDATA status (TP_STATUS_*), -1 if absent


class FrameCapture:
    """Frames on ``ifname`` in ``ns`` (both directions, see ``pkttype``) that
    ``accept(data, pkttype)`` selects, up to ``limit``; the socket is closed
    once the limit is reached so the capture costs nothing afterwards."""

    def __init__(self, ns: Netns, ifname: str, accept: Callable[[bytes, int], bool],
                 limit: int = 200):
        self.ns, self.ifname, self.accept, self.limit = ns, ifname, accept, limit
        self.frames: list = []
        self.seen = 0
        self.error: Optional[BaseException] = None
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self.sock = None

    def start(self) -> "FrameCapture":
        with self.ns.entered():
            self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
            self.sock.setsockopt(SOL_PACKET, PACKET_AUXDATA, 1)
            self.sock.bind((self.ifname, ETH_P_ALL))
        self._thread = threading.Thread(target=self._run, name=f"cap-{self.ifname}", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            while not self._stop.is_set() and len(self.frames) < self.limit:
                r, _, _ = select.select([self.sock], [], [], 0.1)
                if not r:
                    continue
                data, anc, _, addr = self.sock.recvmsg(65600, socket.CMSG_SPACE(20))
                self.seen += 1
                if not self.accept(data, addr[2]):
                    continue
                status = -1
                for level, typ, cdata in anc:
                    if level == SOL_PACKET and typ == PACKET_AUXDATA and len(cdata) >= 4:
                        status = struct.unpack("I", cdata[:4])[0]
                self.frames.append(Frame(data, addr[2], status))
        except BaseException as e:  # reported by the test
            self.error = e
        finally:
            with contextlib.suppress(OSError):
                self.sock.close()

    def wait(self, timeout: float) -> bool:
        """Until ``limit`` frames were kept (True) or ``timeout`` s passed."""
        deadline = time.monotonic() + timeout
        while len(self.frames) < self.limit and time.monotonic() < deadline:
            if self._thread is None or not self._thread.is_alive():
                break
            time.sleep(0.05)
        return len(self.frames) >= self.limit

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=2)


__all__ = [
    "NetnsError", "run", "unavailable_reason", "list_namespaces", "reap_stale", "Netns",
    "add_veth", "tx_checksum", "set_tx_checksum", "inet_checksum", "Udp4", "parse_udp4",
    "mac_bytes", "mac_str", "PingResult", "icmp_ping", "ArpReply", "arp_request", "Frame",
    "FrameCapture", "TP_STATUS_CSUMNOTREADY", "TP_STATUS_CSUM_VALID", "PACKET_OUTGOING",
]
