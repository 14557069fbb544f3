#!/usr/bin/env python3
"""Interop: SIPp UAC -> Kamailio (rtpengine module) -> SIPp UAS, media via the relay.

Starts the relay under test (voxrelay from --build-dir; VOX_RELAY_IMPL=rtpengine
for Sipwise rtpengine as a stand-in), Kamailio with tests/interop/kamailio.cfg
(ports substituted), a SIPp UAS (uas_dtmf.xml) and a SIPp UAC (uac_dtmf.xml).
Both UAs play G.711 (PCMU) audio and an RFC 2833 DTMF event. A raw-socket
sniffer on lo proves the media went UA -> relay -> UA in both directions with
payload types 0 and 101, from/to relay ports inside the relay's range, that
the UAs sent to exactly the ports the relay put in the SDPs, and that nothing
went UA -> UA directly. Afterwards NG `list` must no longer show the call and
the relay must exit 0 on SIGTERM.

Needs root (AF_PACKET sniffer; SIPp sends pcap audio through raw sockets),
kamailio + kamailio-extra-modules, sip-tester. Exit 0 = pass.
Env: VOX_RELAY_IMPL=rtpengine|voxrelay, VOX_KEEP_TMP=1 keeps the temp dir,
VOX_VERBOSE=1 prints the NG dicts Kamailio exchanged even on success.

--external-relay-ng HOST:PORT uses a relay someone else started (port range
41000-41999; the caller checks how it exits) instead of starting one, with
--media-ip (the UAs' media address), --relay-ip (the relay's media address)
and --sniff-iface (an interface, or "any"): test_kamailio_sipp_dpdk.py runs
this test so inside a network namespace against voxrelay --backend=dpdk.

``main(scenario)`` runs another call through the same harness:
test_kamailio_sipp_transcode.py passes a ``Scenario`` subclass (offer flags,
SIPp scenarios and pcaps, media checks, checks during and after the call).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "lib"))
import vox  # noqa: E402

RELAY_MIN, RELAY_MAX = 41000, 41999
SIPP_PCAPS = Path("/usr/share/sip-tester")
KAMAILIO = shutil.which("kamailio") or "/usr/sbin/kamailio"
SIPP = shutil.which("sipp") or "/usr/bin/sipp"
KAM_MODULES = "/usr/lib/x86_64-linux-gnu/kamailio/modules/"
WHOLE_TEST_LIMIT = 85  # seconds; SIGALRM aborts (and cleans up) after this
SIPP_TIMEOUT = 30      # seconds, sipp -timeout (each sipp also -timeout_error)
AUDIO_PTS = {0, 8}
DTMF_PT = 101


class TestFailure(Exception):
    pass


class Deadline(BaseException):
    pass


def log(msg: str) -> None:
    print(f"[interop] {msg}", flush=True)


# --------------------------------------------------------------------------
# pcap preparation: SIPp ships only an A-law pcap; the call negotiates PCMU
# (the UAS answers PCMU only), so transcode the payload and set PT 0.

def _alaw_to_linear(a: int) -> int:
    a ^= 0x55
    t = (a & 0x0F) << 4
    seg = (a & 0x70) >> 4
    if seg == 0:
        t += 8
    elif seg == 1:
        t += 0x108
    else:
        t = (t + 0x108) << (seg - 1)
    return t if a & 0x80 else -t


def _linear_to_ulaw(pcm: int) -> int:
    sign = 0x80 if pcm < 0 else 0
    pcm = min(abs(pcm), 32635) + 0x84
    exp = max(min((pcm >> 7).bit_length() - 1, 7), 0)
    mant = (pcm >> (exp + 3)) & 0x0F
    return ~(sign | (exp << 4) | mant) & 0xFF


A2U = bytes(_linear_to_ulaw(_alaw_to_linear(a)) for a in range(256))


def make_pcmu_pcap(src: Path, dst: Path) -> int:
    """Copy an Ethernet/IPv4/UDP/RTP PCMA pcap to dst with PT 8 -> 0 and the
    payload converted to mu-law. Returns the number of packets converted."""
    data = bytearray(src.read_bytes())
    magic = struct.unpack("<I", data[:4])[0]
    if magic != 0xA1B2C3D4:
        raise TestFailure(f"{src}: unexpected pcap magic {magic:#x}")
    off, n = 24, 0
    while off + 16 <= len(data):
        incl = struct.unpack("<I", data[off + 8:off + 12])[0]
        pkt = off + 16
        ip = pkt + 14
        if data[pkt + 12:pkt + 14] == b"\x08\x00" and data[ip + 9] == 17:
            udp = ip + (data[ip] & 0x0F) * 4
            rtp = udp + 8
            if data[rtp] >> 6 == 2 and data[rtp + 1] & 0x7F == 8:
                cc = data[rtp] & 0x0F
                data[rtp + 1] = data[rtp + 1] & 0x80  # PT 0, keep marker
                data[udp + 6:udp + 8] = b"\x00\x00"  # no UDP checksum (sipp recomputes)
                end = pkt + incl
                for i in range(rtp + 12 + 4 * cc, end):
                    data[i] = A2U[data[i]]
                n += 1
        off = pkt + incl
    dst.write_bytes(bytes(data))
    return n


# --------------------------------------------------------------------------
# processes

class Proc:
    """A child process with its output in a file; stopped by id in cleanup."""

    def __init__(self, name: str, cmd: list, cwd: Path, out: Path):
        self.name, self.cmd, self.out = name, cmd, out
        self._fh = open(out, "wb")
        self.p = subprocess.Popen(cmd, cwd=cwd, stdin=subprocess.DEVNULL, stdout=self._fh,
                                  stderr=subprocess.STDOUT, start_new_session=True)

    def wait(self, timeout: float):
        try:
            return self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self) -> None:
        if self.p.poll() is None:
            vox.stop_process(self.p, 5.0)
        # Kamailio forks workers into the group we created (pgid == our child's pid).
        try:
            os.killpg(self.p.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self._fh.close()


def sip_options_ok(port: int, timeout: float = 0.3) -> bool:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.bind(("127.0.0.1", 0))
        lport = s.getsockname()[1]
        msg = (f"OPTIONS sip:127.0.0.1:{port} SIP/2.0\r\n"
               f"Via: SIP/2.0/UDP 127.0.0.1:{lport};branch=z9hG4bK-probe{time.time_ns()}\r\n"
               f"From: <sip:probe@127.0.0.1>;tag=probe\r\nTo: <sip:127.0.0.1:{port}>\r\n"
               f"Call-ID: probe-{time.time_ns()}@127.0.0.1\r\nCSeq: 1 OPTIONS\r\n"
               f"Max-Forwards: 5\r\nContent-Length: 0\r\n\r\n").encode()
        s.sendto(msg, ("127.0.0.1", port))
        s.settimeout(timeout)
        return s.recv(4096).startswith(b"SIP/2.0 200")
    except OSError:
        return False
    finally:
        s.close()


def udp_port_bound(port: int) -> bool:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.bind(("127.0.0.1", port))
        return False
    except OSError:
        return True
    finally:
        s.close()


# --------------------------------------------------------------------------
# NG capture (Kamailio <-> relay, from the sniffer)

def ng_exchanges(packets, ng_port: int, exclude_port=None) -> list:
    """[(cookie, request dict, reply dict|None, sends)] in order, from sniffed
    NG datagrams; ``sends`` counts retransmissions of the same cookie.
    ``exclude_port``: the test's own NG client port (its pings/lists)."""
    reqs, sends, replies = [], {}, {}
    for p in packets:
        if exclude_port in (p.sport, p.dport):
            continue
        body = p.payload
        if b" " not in body:
            continue
        cookie, rest = body.split(b" ", 1)
        try:
            d = vox.bdecode(rest) if rest[:1] == b"d" else {"<raw>": rest[:200]}
        except vox.BencodeError:
            d = {"<undecodable>": rest[:200]}
        if p.dport == ng_port:
            if cookie not in sends:
                reqs.append((cookie, d))
            sends[cookie] = sends.get(cookie, 0) + 1
        elif p.sport == ng_port:
            replies.setdefault(cookie, d)
    return [(c.decode(errors="replace"), d, replies.get(c), sends[c]) for c, d in reqs]


def short(d, limit=4000) -> str:
    s = repr(d)
    return s if len(s) <= limit else s[:limit] + "..."


def sdp_audio_port(sdp: str):
    for line in (sdp or "").splitlines():
        if line.startswith("m=audio "):
            return int(line.split()[1])
    return None


# --------------------------------------------------------------------------

def media_legs(packets, uac_mp: int, uas_mp: int) -> dict:
    """The sniffed RTP packets of each leg, in capture order."""
    rtp = [p for p in packets if p.pt is not None]
    return {
        "UAC -> relay": [p for p in rtp if p.sport == uac_mp],
        "relay -> UAS": [p for p in rtp if p.dport == uas_mp],
        "UAS -> relay": [p for p in rtp if p.sport == uas_mp],
        "relay -> UAC": [p for p in rtp if p.dport == uac_mp],
    }


def analyse_media(packets, uac_mp: int, uas_mp: int, relay_ip: str, errors: list,
                  expect=None) -> dict:
    """Per-leg checks; returns {leg: relay-side ports}. ``expect``: {leg: (set of
    audio PTs, telephone-event PT)}, and then any other PT on a leg is an error;
    default: G.711 (PT 0/8) and PT 101 on every leg, other PTs tolerated."""
    def in_relay(port):
        return RELAY_MIN <= port <= RELAY_MAX

    def pts(pkts):
        out = {}
        for p in pkts:
            out[p.pt] = out.get(p.pt, 0) + 1
        return out

    rtp = [p for p in packets if p.pt is not None]
    legs = media_legs(packets, uac_mp, uas_mp)
    relay_ports = {}
    for name, pk in legs.items():
        counts = pts(pk)
        audio_pts, dtmf_pt = expect[name] if expect else (AUDIO_PTS, DTMF_PT)
        log(f"{name}: {len(pk)} RTP packets, payload types {dict(sorted(counts.items()))}")
        if len(pk) < 50:
            errors.append(f"{name}: only {len(pk)} RTP packets (expected >= 50)")
        if not audio_pts & set(counts):
            errors.append(f"{name}: no G.711 (PT 0/8) packets" if not expect else
                          f"{name}: no audio packets (PT {'/'.join(map(str, sorted(audio_pts)))})")
        if dtmf_pt not in counts:
            errors.append(f"{name}: no telephone-event (PT {dtmf_pt}) packets")
        stray = sorted(set(counts) - set(audio_pts) - {dtmf_pt}) if expect else []
        if stray:
            errors.append(f"{name}: unexpected payload types {stray} (expected "
                          f"{sorted(audio_pts)} and {dtmf_pt})")
        relay_side = [(p.dport if name.startswith("UA") else p.sport) for p in pk]
        outside = sorted({rp for rp in relay_side if not in_relay(rp)})
        if outside:
            errors.append(f"{name}: relay-side ports {outside} outside the relay range "
                          f"{RELAY_MIN}-{RELAY_MAX} (media bypassed the relay?)")
        relay_ports[name] = sorted(set(relay_side))
        other_ip = {p.dst if name.startswith("UA") else p.src for p in pk}
        if other_ip - {relay_ip}:
            errors.append(f"{name}: unexpected relay addresses {other_ip}")
    direct = [p for p in rtp if {p.sport, p.dport} == {uac_mp, uas_mp}]
    if direct:
        errors.append(f"{len(direct)} RTP packets went directly between the UAs, e.g. {direct[0]}")
    return relay_ports


@dataclass
class CallInfo:
    """What a Scenario's hooks get: the running call's endpoints and tools."""
    tmp: Path
    uac_mp: int
    uas_mp: int
    relay_ip: str
    ng: "vox.NgClient"
    ng_port: int
    sniffer: "vox.RtpSniffer"
    procs: dict

    def ng_exchanges(self) -> list:
        """ng_exchanges() of Kamailio's NG traffic sniffed so far."""
        return ng_exchanges([p for p in self.sniffer.snapshot()
                             if self.ng_port in (p.sport, p.dport)], self.ng_port,
                            self.ng.sock.getsockname()[1])


class Scenario:
    """The call of this test: both UAs play PCMU (made from SIPp's g711a.pcap)
    and SIPp's RFC 2833 pcap. Subclasses change the hooks."""
    offer_flags = ""          # extra rtpengine_offer() flags (@OFFER_FLAGS@ in kamailio.cfg)
    uac_xml, uas_xml = "uac_dtmf.xml", "uas_dtmf.xml"
    call_note = "call lasts ~10 s"

    def prepare(self, tmp: Path) -> None:
        """Put the SIPp scenarios and the pcaps they play into tmp."""
        n = make_pcmu_pcap(SIPP_PCAPS / "g711a.pcap", tmp / "audio.pcap")
        shutil.copy(SIPP_PCAPS / "dtmf_2833_1.pcap", tmp / "dtmf.pcap")
        log(f"audio.pcap: {n} PCMU packets (from g711a.pcap); dtmf.pcap: RFC 2833 '1'")
        for f in (self.uac_xml, self.uas_xml):
            shutil.copy(HERE / f, tmp / f)

    def during_call(self, call: CallInfo) -> None:
        """Runs once both UAs are started, before waiting for the UAC to end."""

    def check_media(self, call: CallInfo, packets: list, offer: tuple, answer: tuple,
                    errors: list) -> dict:
        """Media checks; returns {leg: relay-side ports} (see analyse_media).
        offer/answer: Kamailio's NG (request, reply) dicts, or (None, None)."""
        return analyse_media(packets, call.uac_mp, call.uas_mp, call.relay_ip, errors)

    def after_call(self, call: CallInfo, errors: list) -> None:
        """Runs after the NG `list` check (the relay still runs)."""


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build-dir", type=Path, default=vox.build_dir_from_argv([]))
    ap.add_argument("--external-relay-ng", metavar="HOST:PORT",
                    help="use this running relay (ports %d-%d) instead of starting one"
                    % (RELAY_MIN, RELAY_MAX))
    ap.add_argument("--media-ip", default="127.0.0.1", help="the UAs' media address (sipp -mi)")
    ap.add_argument("--relay-ip", default="127.0.0.1", help="the relay's media address")
    ap.add_argument("--sniff-iface", default="lo", help='sniffer interface, or "any"')
    ap.add_argument("--time-limit", type=int, default=WHOLE_TEST_LIMIT, help="seconds")
    return ap.parse_args()


def main(scenario: Scenario = None) -> int:
    sc = scenario or Scenario()
    args = parse_args()
    build_dir = args.build_dir.resolve()
    verbose = bool(os.environ.get("VOX_VERBOSE"))
    for tool in (KAMAILIO, SIPP):
        if not Path(tool).exists():
            log(f"FAIL: {tool} not installed (tools/setup.sh --test installs it)")
            return 2
    if os.geteuid() != 0:
        log("FAIL: needs root (AF_PACKET sniffer, SIPp raw-socket pcap play)")
        return 2

    tmp = Path(tempfile.mkdtemp(prefix="vox-interop-"))
    procs: dict = {}
    relay = sniffer = ng = None
    errors: list = []
    t0 = time.monotonic()

    def on_alarm(signum, _):
        raise Deadline(f"test exceeded {args.time_limit} s" if signum == signal.SIGALRM
                       else f"got {signal.Signals(signum).name}")

    signal.signal(signal.SIGALRM, on_alarm)
    signal.signal(signal.SIGTERM, on_alarm)
    signal.alarm(args.time_limit)
    try:
        # ports: SIP (proxy, UAS, UAC), media (4 each: sipp uses mp, mp+2 for echo)
        kam_port, uas_port, uac_port = (vox.free_udp_port() for _ in range(3))
        uac_mp = vox.free_udp_ports(4, step=4)[0]
        uas_mp = vox.free_udp_ports(4, step=4)[0]
        if args.external_relay_ng:
            ng_host, _, port = args.external_relay_ng.rpartition(":")
            ng_port = int(port)
        else:
            ng_host, ng_port = "127.0.0.1", vox.free_udp_port()
        log(f"ports: kamailio {kam_port}, UAS {uas_port} (media {uas_mp}), UAC {uac_port} "
            f"(media {uac_mp}), NG {ng_port}, relay range {RELAY_MIN}-{RELAY_MAX}; tmp {tmp}")

        sc.prepare(tmp)

        sniffer = vox.RtpSniffer([(RELAY_MIN, RELAY_MAX), (uac_mp, uac_mp + 3),
                                  (uas_mp, uas_mp + 3), (ng_port, ng_port)],
                                 iface=args.sniff_iface, keep_payload=True).start()

        if args.external_relay_ng:
            ng = vox.NgClient(ng_host, ng_port, timeout=1.0, retries=2)
            if not ng.ping(timeout=1.0, retries=2):
                raise TestFailure(f"external relay: no NG pong from {ng_host}:{ng_port}")
        else:
            relay = vox.Relay(build_dir, port_min=RELAY_MIN, port_max=RELAY_MAX,
                              ng_port=ng_port, workdir=tmp)
            relay.start()
            ng = relay.ng

        cfg = (HERE / "kamailio.cfg").read_text()
        cfg = (cfg.replace("@SIP_PORT@", str(kam_port)).replace("@NG_PORT@", str(ng_port))
               .replace("@NG_HOST@", ng_host).replace("@MODULE_PATH@", KAM_MODULES)
               .replace("@OFFER_FLAGS@", f" {sc.offer_flags}" if sc.offer_flags else ""))
        (tmp / "kamailio.cfg").write_text(cfg)
        (tmp / "run").mkdir()
        procs["kamailio"] = Proc("kamailio", [
            KAMAILIO, "-DD", "-E", "-f", str(tmp / "kamailio.cfg"), "-P", str(tmp / "kamailio.pid"),
            "-Y", str(tmp / "run"), "-w", str(tmp), "-m", "64", "-M", "8", "--atexit=no"],
            tmp, tmp / "kamailio.log")
        deadline = time.monotonic() + 15
        while not sip_options_ok(kam_port):
            if procs["kamailio"].p.poll() is not None or time.monotonic() > deadline:
                raise TestFailure("kamailio did not come up (no 200 to OPTIONS)")
            time.sleep(0.2)
        log("kamailio up")

        common = ["-i", "127.0.0.1", "-mi", args.media_ip, "-m", "1",
                  "-timeout", f"{SIPP_TIMEOUT}s", "-timeout_error", "-trace_err", "-trace_msg",
                  "-nostdin", "-max_recv_loops", "1000"]
        procs["uas"] = Proc("sipp UAS", [
            SIPP, "-sf", sc.uas_xml, "-p", str(uas_port), "-mp", str(uas_mp), *common,
            "-error_file", "uas_errors.log", "-message_file", "uas_messages.log"],
            tmp, tmp / "uas_screen.log")
        deadline = time.monotonic() + 10
        while not udp_port_bound(uas_port):
            if procs["uas"].p.poll() is not None or time.monotonic() > deadline:
                raise TestFailure("SIPp UAS did not bind its SIP port")
            time.sleep(0.1)
        procs["uac"] = Proc("sipp UAC", [
            SIPP, f"127.0.0.1:{uas_port}", "-rsa", f"127.0.0.1:{kam_port}", "-s", "voxtest",
            "-sf", sc.uac_xml, "-p", str(uac_port), "-mp", str(uac_mp), *common,
            "-error_file", "uac_errors.log", "-message_file", "uac_messages.log"],
            tmp, tmp / "uac_screen.log")
        log(f"SIPp UAS and UAC started; {sc.call_note}")
        call = CallInfo(tmp, uac_mp, uas_mp, args.relay_ip, ng, ng_port, sniffer, procs)
        sc.during_call(call)

        uac_rc = procs["uac"].wait(SIPP_TIMEOUT + 10)
        uas_rc = procs["uas"].wait(15)
        log(f"sipp exit codes: UAC {uac_rc}, UAS {uas_rc}")
        if uac_rc != 0:
            errors.append(f"SIPp UAC exit code {uac_rc} (0 = call succeeded)")
        if uas_rc != 0:
            errors.append(f"SIPp UAS exit code {uas_rc} (0 = call succeeded)")

        time.sleep(0.3)  # last RTP / NG replies
        packets = sniffer.snapshot()

        # --- NG traffic Kamailio <-> relay
        my_ng_port = ng.sock.getsockname()[1]
        ex = ng_exchanges([p for p in packets if ng_port in (p.sport, p.dport)], ng_port,
                          my_ng_port)
        cmds = [req.get("command") for _, req, _, _ in ex]
        log(f"NG commands from kamailio: {cmds}")
        for cookie, req, rep, sends in ex:
            if verbose:
                log(f"NG request (cookie {cookie}, sent {sends}x): {short(req)}")
                log(f"NG reply:   {short(rep)}")
            if rep is None:
                errors.append(f"no NG reply captured for {req.get('command')!r}")
            elif rep.get("result") != ("pong" if req.get("command") == "ping" else "ok"):
                errors.append(f"NG {req.get('command')!r} failed: {short(rep, 500)}")
        for c in ("offer", "answer", "delete"):
            if c not in cmds:
                errors.append(f"kamailio never sent NG {c!r}")
        offer = next(((q, r) for _, q, r, _ in ex if q.get("command") == "offer"), (None, None))
        answer = next(((q, r) for _, q, r, _ in ex if q.get("command") == "answer"), (None, None))
        call_id = offer[0].get("call-id") if offer[0] else None

        # --- media
        relay_ports = sc.check_media(call, packets, offer, answer, errors)
        # The UAS must send to the port the relay wrote into the offer's SDP,
        # the UAC to the one in the answer's SDP.
        for name, (q, r) in (("UAS -> relay", offer), ("UAC -> relay", answer)):
            if r and r.get("sdp"):
                want = sdp_audio_port(r["sdp"])
                if relay_ports.get(name) and relay_ports[name] != [want]:
                    errors.append(f"{name}: sent to relay ports {relay_ports[name]} but the "
                                  f"relay's rewritten SDP said {want}")

        # --- the call must be gone after BYE
        if call_id:
            deadline = time.monotonic() + 3
            calls = ng.list_calls()
            while call_id in calls and time.monotonic() < deadline:
                time.sleep(0.2)
                calls = ng.list_calls()
            if call_id in calls:
                errors.append(f"call {call_id!r} still listed by NG 'list' 3 s after BYE: {calls}")
            else:
                log(f"NG list after BYE: {calls}")
        sc.after_call(call, errors)
        if relay is not None and relay.impl == "voxrelay":
            check_mos_from_kamailio(tmp / "kamailio.log", errors)
        if relay is not None and not relay.alive():
            errors.append(f"relay died during the test (exit {relay.proc.returncode})")

    except Deadline as e:
        errors.append(str(e))
    except (TestFailure, vox.RelayError, vox.NgTimeout) as e:
        errors.append(str(e))
    except Exception:
        errors.append("unexpected exception:\n" + traceback.format_exc())
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # let the cleanup finish
        for name in ("uac", "uas", "kamailio"):
            if name in procs:
                procs[name].stop()
        if relay is not None:
            relay.stop()
            if relay.proc is not None and not relay.clean_exit:
                errors.append(f"relay did not exit cleanly on SIGTERM: "
                              f"{'SIGKILLed' if relay.killed else f'exit code {relay.returncode}'}")
        elif ng is not None:
            ng.close()
        if sniffer is not None:
            sniffer.stop()
            if sniffer.error:
                errors.append(f"sniffer thread failed: {sniffer.error!r}")

        if errors:
            log("FAILED:")
            for e in errors:
                log(f"  - {e}")
            diagnose(tmp, relay, sniffer, ng_port if "ng_port" in locals() else None)
        if os.environ.get("VOX_KEEP_TMP"):
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    log(f"{'FAIL' if errors else 'PASS'} ({time.monotonic() - t0:.1f} s, relay "
        f"{'at ' + args.external_relay_ng if args.external_relay_ng else vox.relay_impl()})")
    return 1 if errors else 0


def check_mos_from_kamailio(kam_log: Path, errors: list) -> None:
    """Kamailio's rtpengine module read the delete reply's MOS (its mos_*
    variables, from the "SSRC" dictionary): a clean call over loopback."""
    text = kam_log.read_text(errors="replace") if kam_log.exists() else ""
    m = re.search(r"rtpengine MOS on BYE: average (\S+) min (\S+) max (\S+) samples (\S+)", text)
    if not m:
        errors.append("kamailio logged no MOS line on BYE")
        return
    log(f"kamailio's mos_* variables after rtpengine_delete: average {m[1]}, min {m[2]}, max {m[3]}, "
        f"samples {m[4]}")
    try:
        average, low, high = float(m[1]), float(m[2]), float(m[3])
    except ValueError:
        errors.append(f"kamailio's mos_* variables are not numbers: {m[0]!r}")
        return
    if not (4.0 <= low <= average <= high <= 4.5):
        errors.append(f"MOS of a clean loopback call out of range 4.0-4.5: {m[0]!r}")


def diagnose(tmp: Path, relay, sniffer, ng_port) -> None:
    def section(title, text):
        print(f"----- {title} -----\n{text}", flush=True)

    for f in ("uac_errors.log", "uas_errors.log"):
        p = tmp / f
        if p.exists() and p.stat().st_size:
            section(f"SIPp {f}", vox.tail(p, 40))
    for f in ("uac_screen.log", "uas_screen.log"):
        if (tmp / f).exists():
            section(f"SIPp {f} (tail)", vox.tail(tmp / f, 25))
    for f in ("uac_messages.log", "uas_messages.log"):
        if (tmp / f).exists():
            section(f"SIPp {f} (tail)", vox.tail(tmp / f, 60))
    if (tmp / "kamailio.log").exists():
        section("kamailio stderr (tail)", vox.tail(tmp / "kamailio.log", 40))
    if relay is not None:
        section(f"{relay.impl} log (tail)", relay.stderr_tail(40))
    if sniffer is not None:
        section("sniffer: UDP flows (src -> dst, packets by RTP payload type)", sniffer.summary())
        if ng_port:
            ex = ng_exchanges([p for p in sniffer.snapshot() if ng_port in (p.sport, p.dport)],
                              ng_port)
            section("NG exchanges kamailio <-> relay",
                    "\n".join(f"> [{c} x{n}] {short(q, 1500)}\n< {short(r, 1500)}"
                              for c, q, r, n in ex) or "(none)")


if __name__ == "__main__":
    sys.exit(main())
