#!/usr/bin/env python3
"""Plain RTP relaying at moderate scale, over loopback.

For each of two relay runs (one worker, then --workers=2):
  - 120 calls set up with offer/answer (PCMU), each with its own A and B
    UDP sockets on 127.0.0.1;
  - every call sends 50 RTP packets each way, paced over ~1.5 s; each
    packet's 160-byte payload carries call index, direction and sequence;
  - every socket must get exactly its 50 packets, from the relay port its
    SDP named (symmetric RTP), byte-identical, none misrouted/duplicated;
  - `query` of one call reports 50 packets per direction on the right
    streams; `statistics` `packets relayed` grew by at least 12000;
  - `delete` with `delete delay: 0` for all; `list` is empty and `free port
    pairs` is back to its initial value.
With two workers, both workers must have relayed packets.
Exit 0 = pass.
"""

from __future__ import annotations

import hashlib
import selectors
import struct
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
import vox  # noqa: E402

NCALLS = 120
NPKT = 50
PACE_S = 0.03          # between rounds: 50 rounds ~ 1.5 s
LOCAL = "127.0.0.1"
A_TO_B, B_TO_A = 0, 1
HDR = struct.Struct("!4sIBH")  # magic, call index, direction, seq


@dataclass
class LoopCall:
    idx: int
    call_id: str
    a: vox.UdpPeer
    b: vox.UdpPeer
    pa: int = 0              # relay port A sends to (from the answer SDP)
    pb: int = 0              # relay port B sends to (from the offer SDP)
    got: dict = field(default_factory=lambda: {A_TO_B: [], B_TO_A: []})  # by direction


def packet(idx: int, direction: int, seq: int) -> bytes:
    hdr = HDR.pack(b"VOXL", idx, direction, seq)
    fill = hashlib.sha256(hdr).digest() * 5
    payload = (hdr + fill)[:160]
    ssrc = 0x10000000 + idx * 2 + direction
    return vox.rtp_packet(1000 + seq, 160 * seq, ssrc, payload, pt=0, marker=seq == 0)


def setup_calls(relay: vox.Relay, run: str, calls: list) -> None:
    ng = relay.ng
    seen_ports = set()
    for i in range(NCALLS):
        c = LoopCall(i, f"loop-{run}-{i}", vox.UdpPeer(LOCAL), vox.UdpPeer(LOCAL))
        calls.append(c)
        r = vox.ng_ok(ng, {"command": "offer", "call-id": c.call_id, "from-tag": f"a{i}",
                           "sdp": vox.make_sdp(LOCAL, [c.a.port])})
        off = vox.parse_sdp(r["sdp"])
        r = vox.ng_ok(ng, {"command": "answer", "call-id": c.call_id, "from-tag": f"a{i}",
                           "to-tag": f"b{i}", "sdp": vox.make_sdp(LOCAL, [c.b.port])})
        ans = vox.parse_sdp(r["sdp"])
        assert len(off.media) == 1 and len(ans.media) == 1, \
            f"call {i}: expected one m= line each, offer->B:\n{off.text}\nanswer->A:\n{ans.text}"
        c.pb, c.pa = off.media[0].port, ans.media[0].port
        for what, info, port in (("offer to B", off, c.pb), ("answer to A", ans, c.pa)):
            conn = info.media[0].conn
            assert conn == LOCAL, f"call {i}: {what} has c= {conn!r}, expected {LOCAL}"
            assert relay.port_min <= port <= relay.port_max, \
                f"call {i}: {what} port {port} outside --port-min/--port-max " \
                f"{relay.port_min}-{relay.port_max}"
            assert port % 2 == 0, f"call {i}: {what} RTP port {port} is odd"
            assert port not in seen_ports, f"call {i}: {what} port {port} already used by " \
                                           f"another call or side"
            seen_ports.add(port)
    listed = vox.ng_ok(ng, {"command": "list", "limit": 1000}).get("calls", [])
    missing = {c.call_id for c in calls} - set(listed)
    assert not missing, f"list (limit 1000) lacks {len(missing)} of {NCALLS} calls, e.g. " \
                        f"{sorted(missing)[:3]}; got {len(listed)} entries"


def run_traffic(calls: list) -> None:
    sel = selectors.DefaultSelector()
    # key data: (call, direction the socket receives)
    for c in calls:
        sel.register(c.b.sock, selectors.EVENT_READ, (c, A_TO_B))
        sel.register(c.a.sock, selectors.EVENT_READ, (c, B_TO_A))
        c.a.sock.setblocking(False)
        c.b.sock.setblocking(False)
    received = 0
    expected = 2 * NPKT * len(calls)

    def pump(timeout: float) -> None:
        nonlocal received
        for key, _ in sel.select(timeout):
            c, d = key.data
            sock = key.fileobj
            while True:
                try:
                    data, src = sock.recvfrom(65535)
                except (BlockingIOError, InterruptedError):
                    break
                except ConnectionRefusedError:
                    continue
                c.got[d].append((data, (src[0], src[1])))
                received += 1

    try:
        t0 = time.monotonic()
        for seq in range(NPKT):
            for c in calls:
                c.a.sock.sendto(packet(c.idx, A_TO_B, seq), (LOCAL, c.pa))
                c.b.sock.sendto(packet(c.idx, B_TO_A, seq), (LOCAL, c.pb))
            # pace to ~PACE_S per round while draining the receive side
            round_end = t0 + (seq + 1) * PACE_S
            while True:
                left = round_end - time.monotonic()
                pump(max(left, 0))
                if left <= 0:
                    break
        deadline = time.monotonic() + 3.0
        while received < expected and time.monotonic() < deadline:
            pump(0.1)
        print(f"      traffic: sent {expected}, received {received} in "
              f"{time.monotonic() - t0:.2f} s", flush=True)
    finally:
        sel.close()
        for c in calls:
            c.a.sock.setblocking(True)
            c.b.sock.setblocking(True)


def check_delivery(calls: list) -> None:
    problems = []
    lost = misrouted = corrupted = dup = wrong_src = 0
    for c in calls:
        for d in (A_TO_B, B_TO_A):
            side = "B" if d == A_TO_B else "A"
            want_src = (LOCAL, c.pb if d == A_TO_B else c.pa)
            seqs = set()
            for data, src in c.got[d]:
                if len(data) != 172:
                    corrupted += 1
                    problems.append(f"call {c.idx} side {side}: packet of {len(data)} bytes, "
                                    f"expected 172")
                    continue
                magic, idx, direction, seq = HDR.unpack_from(data, 12)
                if magic != b"VOXL" or idx != c.idx or direction != d:
                    misrouted += 1
                    problems.append(f"call {c.idx} side {side}: got a packet of call {idx} "
                                    f"direction {direction} (magic {magic!r})")
                    continue
                if data != packet(idx, direction, seq):
                    corrupted += 1
                    problems.append(f"call {c.idx} side {side} seq {seq}: bytes differ from "
                                    f"what was sent")
                if seq in seqs:
                    dup += 1
                    problems.append(f"call {c.idx} side {side}: seq {seq} received twice")
                seqs.add(seq)
                if src != want_src:
                    wrong_src += 1
                    problems.append(f"call {c.idx} side {side}: packet from {src}, expected from "
                                    f"the relay port in its SDP {want_src}")
            missing = set(range(NPKT)) - seqs
            if missing:
                lost += len(missing)
                problems.append(f"call {c.idx} side {side}: {len(missing)} of {NPKT} packets "
                                f"lost (e.g. seq {sorted(missing)[:5]})")
    if problems:
        raise AssertionError(
            f"lost {lost}, misrouted {misrouted}, corrupted {corrupted}, duplicated {dup}, "
            f"from wrong source {wrong_src} (of {2 * NPKT * len(calls)} packets); first "
            f"problems:\n        " + "\n        ".join(problems[:12]))


def check_query(relay: vox.Relay, c: LoopCall) -> None:
    q = vox.ng_ok(relay.ng, {"command": "query", "call-id": c.call_id})
    for tag, port, who in ((f"a{c.idx}", c.pa, "A"), (f"b{c.idx}", c.pb, "B")):
        s = vox.stream_by_port(q, tag, port)
        st = s.get("stats", {})
        assert int(st.get("packets", -1)) == NPKT, \
            f"query {c.call_id}: {who}'s RTP stream (local port {port}) reports packets=" \
            f"{st.get('packets')}, expected {NPKT}: {s}"
        assert int(st.get("bytes", -1)) == NPKT * 172, \
            f"query {c.call_id}: {who}'s RTP stream reports bytes={st.get('bytes')}, expected " \
            f"{NPKT * 172}"
        drops = {k: v for k, v in st.get("drops", {}).items() if v}
        assert not drops and int(st.get("errors", 0)) == 0, \
            f"query {c.call_id}: {who}'s stream has drops/errors: {st}"
        ep = s.get("endpoint", {})
        want = c.a.port if who == "A" else c.b.port
        assert int(ep.get("port", -1)) == want and ep.get("address") == LOCAL, \
            f"query {c.call_id}: {who}'s endpoint {ep}, expected {LOCAL}:{want}"
    rtp_tot = q.get("totals", {}).get("RTP", {})
    assert int(rtp_tot.get("packets", -1)) == 2 * NPKT, \
        f"query {c.call_id}: totals RTP packets {rtp_tot.get('packets')}, expected {2 * NPKT}"


def one_run(runner: vox.CaseRunner, build_dir: Path, workers: int) -> None:
    name = f"workers={workers}"
    ports = vox.free_udp_ports(1000, step=2)
    calls: list = []
    relay = vox.Relay(build_dir, port_min=ports[0], port_max=ports[-1],
                      extra_args=[f"--workers={workers}", "--timeout=120"])
    try:
        with relay:
            initial_free = vox.free_port_pairs(relay.ng)
            assert_ok = runner.run(f"{name}: set up {NCALLS} calls with offer/answer",
                                   lambda: setup_calls(relay, f"w{workers}", calls) or True)
            if not assert_ok:
                return
            st0 = vox.ng_statistics(relay.ng)
            runner.run(f"{name}: free port pairs dropped by {2 * NCALLS}",
                       lambda: _check_eq(vox.free_port_pairs(relay.ng), initial_free - 2 * NCALLS,
                                         "free port pairs after setup"))
            run_traffic(calls)
            runner.run(f"{name}: {2 * NPKT * NCALLS} packets delivered, zero loss, none "
                       f"misrouted, payload intact", check_delivery, calls)
            runner.run(f"{name}: query counters of call 0 and call {NCALLS // 2}",
                       lambda: (check_query(relay, calls[0]),
                                check_query(relay, calls[NCALLS // 2])))

            def stats_check():
                st1 = vox.ng_statistics(relay.ng)
                tot0, tot1 = st0["totalstatistics"], st1["totalstatistics"]
                relayed = int(tot1["packets relayed"]) - int(tot0["packets relayed"])
                assert relayed >= 2 * NPKT * NCALLS, \
                    f"statistics: packets relayed grew by {relayed}, expected >= " \
                    f"{2 * NPKT * NCALLS}"
                cur = st1["currentstatistics"]
                assert int(cur["sessionsown"]) == NCALLS, \
                    f"statistics: sessionsown {cur['sessionsown']}, expected {NCALLS}"
                ws = st1.get("workers", [])
                assert len(ws) == workers, f"statistics: {len(ws)} workers listed, expected " \
                                           f"{workers}"
                if workers > 1:
                    before = {int(w["worker"]): int(w["tx packets"]) for w in st0["workers"]}
                    idle = [int(w["worker"]) for w in ws
                            if int(w["tx packets"]) - before.get(int(w["worker"]), 0) == 0]
                    assert not idle, f"worker(s) {idle} relayed nothing: calls not spread " \
                                     f"over workers ({ws})"
            runner.run(f"{name}: statistics packets relayed / sessions / workers", stats_check)

            def delete_all():
                for c in calls:
                    vox.ng_ok(relay.ng, {"command": "delete", "call-id": c.call_id,
                                         "delete delay": 0})
                listed = vox.ng_ok(relay.ng, {"command": "list", "limit": 1000}).get("calls")
                assert listed == [], f"list after deleting all: {listed[:5]} " \
                                     f"({len(listed)} calls)"
                free = vox.free_port_pairs(relay.ng)
                assert free == initial_free, f"free port pairs {free} after deleting all, " \
                                             f"expected the initial {initial_free}"
                q = relay.ng.call({"command": "query", "call-id": calls[0].call_id})
                assert q.get("result") == "error", f"query after delete delay 0 still " \
                                                   f"finds the call: {q}"
            runner.run(f"{name}: delete all (delete delay 0): list empty, ports back", delete_all)
        if not relay.clean_exit:
            runner.fail(f"{name}: SIGTERM", f"relay did not exit cleanly ({relay.report()})")
    except (vox.RelayError, vox.NgTimeout) as e:
        runner.fail(name, f"{type(e).__name__}: {e}")
    finally:
        for c in calls:
            c.a.close()
            c.b.close()


def _check_eq(got, want, what):
    assert got == want, f"{what}: {got}, expected {want}"


def main() -> int:
    build_dir = vox.build_dir_from_argv()
    runner = vox.CaseRunner("test_relay_loopback")
    for workers in (1, 2):
        one_run(runner, build_dir, workers)
    return runner.finish()


if __name__ == "__main__":
    sys.exit(main())
