#!/usr/bin/env python3
"""Call quality against induced impairment (issue 17), through the real daemon:

  - one PCMU call with rtcp-mux: A sends 5 s of 20 ms packets, every 20th
    dropped (12 of 250: 4.8 % loss) and every other one 8 ms late (RFC 3550
    jitter converges to 8 ms); B sends clean;
  - B's SR goes through to A, A answers it with an RR 50 ms later (DLSR 0):
    the relay measures a 50 ms round trip to A; A's report block (fraction
    lost 13/256, 40 ticks of jitter) is read back as A reported it;
  - `query` and the delete reply give, for A's stream: lost 12 of 250, jitter
    8 ms, RTT 50 ms, MOS in the E-model's range for 5 % loss (3.6-4.1); for
    B's: no loss, MOS >= 4.3 (clean);
  - the end-of-call record (--cdr-file, one JSON line) says the same, and
    /metrics' quality histograms count both streams with those sums;
  - SIGHUP reopens the record file (logrotate moved it away): the next call's
    record lands in a new file;
  - a transcoded call (A PCMU, B Opus, --rtcp-interval=500): each side gets
    the relay's own SRs for the SSRC it hears, with a report block on its
    own stream (A's lost packet counted); neither gets the other's RTCP.
Exit 0 = pass.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import struct
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
import vox  # noqa: E402

LOCAL = "127.0.0.1"
PACKETS = 250
LATE_S = 0.008


def mux_sdp(port: int) -> str:
    return vox.make_sdp(LOCAL, [vox.audio_media(port, ["a=rtcp-mux"])])


def mux_call(relay: vox.Relay, cid: str, a: vox.UdpPeer, b: vox.UdpPeer) -> tuple:
    o = vox.ng_ok(relay.ng, {"command": "offer", "call-id": cid, "from-tag": "A", "sdp": mux_sdp(a.port)})
    r = vox.ng_ok(relay.ng, {"command": "answer", "call-id": cid, "from-tag": "A", "to-tag": "B",
                             "sdp": mux_sdp(b.port)})
    return vox.parse_sdp(r["sdp"]).media[0].port, vox.parse_sdp(o["sdp"]).media[0].port


def send_impaired(a: vox.UdpPeer, to_a: int, b: vox.UdpPeer, to_b: int) -> None:
    """A: every 20th packet lost, every other one LATE_S late; B: clean."""
    t0 = time.monotonic() + 0.05
    for i in range(PACKETS):
        for late, peer, port, ssrc in ((0.0, b, to_b, 0xB1), (LATE_S * (i % 2), a, to_a, 0xA1)):
            while time.monotonic() < t0 + i * 0.02 + late:
                time.sleep(0.0002)
            if peer is a and i % 20 == 10:
                continue
            peer.sendto(vox.rtp_packet(i, i * 160, ssrc), (LOCAL, port))


def sender_report(ssrc: int, ntp: int) -> bytes:
    return struct.pack("!BBHIQIII", 0x80, 200, 6, ssrc, ntp, 0, 0, 0)


def receiver_report(ssrc: int, about: int, lsr: int, fraction: int, lost: int, jitter: int) -> bytes:
    return struct.pack("!BBHIIIIIII", 0x81, 201, 7, ssrc, about, fraction << 24 | lost, 250, jitter, lsr, 0)


def round_trip(a: vox.UdpPeer, to_a: int, b: vox.UdpPeer, to_b: int) -> None:
    """B's SR reaches A; A reports on it 50 ms later."""
    a.drain()
    ntp = 0x0000ABCD_12340000
    b.sendto(sender_report(0xB1, ntp), (LOCAL, to_b))
    got = [d for d, _ in a.recv_for(2.0, until=1) if len(d) > 1 and d[1] == 200]
    assert got, "B's SR did not reach A"
    time.sleep(0.05)
    a.sendto(receiver_report(0xA1, 0xB1, (ntp >> 16) & 0xFFFFFFFF, 13, 12, 40), (LOCAL, to_a))
    time.sleep(0.2)


def stream_quality(reply: dict, tag: str) -> dict:
    streams = reply["tags"][tag]["medias"][0]["streams"]
    q = streams[0].get("quality")
    assert q is not None, f"no quality in {tag}'s RTP stream: {streams[0]}"
    return q


def check_lossy(q: dict, where: str) -> None:
    assert q["expected"] == PACKETS and q["lost"] == 12, f"{where}: A's loss {q}"
    assert 6000 <= q["jitter us"] <= 10000, f"{where}: A's jitter {q['jitter us']} us, want 8000 +- 2000"
    assert 45000 <= q.get("rtt us", 0) <= 90000, f"{where}: A's RTT {q.get('rtt us')} us, want ~50000"
    assert 36 <= q["MOS"] <= 41, f"{where}: A's MOS x10 {q['MOS']}, want 3.6-4.1 (E-model, ~5 % loss)"
    rep = q.get("reported", {})
    assert rep.get("fraction lost") == 13 and rep.get("cumulative lost") == 12, f"{where}: A reported {rep}"
    assert rep.get("jitter us") == 5000, f"{where}: A's reported jitter {rep} (40 ticks at 8 kHz = 5000 us)"


def check_clean(q: dict, where: str) -> None:
    assert q["lost"] == 0 and q["received"] == PACKETS, f"{where}: B's counts {q}"
    assert q["jitter us"] < 3000, f"{where}: B's jitter {q['jitter us']} us (sent paced)"
    assert q["MOS"] >= 43, f"{where}: B's MOS x10 {q['MOS']}, want >= 4.3 (clean)"
    assert "rtt us" not in q, f"{where}: B never answered an SR, yet {q}"


def check_ssrc_mos(reply: dict) -> None:
    """rtpengine's shape, which Kamailio's rtpengine module reads into its
    mos_* variables: each tag's first stream names its SSRC, and "SSRC"
    holds per SSRC the average, lowest and highest MOS (x10), loss in
    percent, jitter in ms, round trip in us."""
    for tag, ssrc in (("A", 0xA1), ("B", 0xB1)):
        stream = reply["tags"][tag]["medias"][0]["streams"][0]
        assert stream.get("SSRC") == ssrc, f"{tag}'s stream SSRC {stream.get('SSRC')}"
    a, b = reply["SSRC"][str(0xA1)], reply["SSRC"][str(0xB1)]
    avg = a["average MOS"]
    assert avg["samples"] >= 1 and 36 <= avg["MOS"] <= 41, f"A's average MOS {a}"
    assert 3 <= avg["packet loss"] <= 7 and 6 <= avg["jitter"] <= 10, f"A's average figures {avg}"
    assert a["lowest MOS"]["MOS"] <= avg["MOS"] <= a["highest MOS"]["MOS"], a
    assert a["lowest MOS"]["reported at"] >= reply["created"], a
    assert a["cumulative loss"] == 12 and a["packets"] == 238, a
    assert b["average MOS"]["MOS"] >= 43 and b["average MOS"]["packet loss"] == 0, f"B's {b}"


def metrics(port: int) -> dict:
    out = {}
    with urllib.request.urlopen(f"http://{LOCAL}:{port}/metrics", timeout=5) as r:
        for line in r.read().decode().splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                out[name] = float(value)
    return out


def records(path: Path) -> list:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def case_impaired(relay: vox.Relay, http_port: int, cdr: Path) -> None:
    a, b = vox.UdpPeer(LOCAL), vox.UdpPeer(LOCAL)
    try:
        to_a, to_b = mux_call(relay, "impaired", a, b)
        send_impaired(a, to_a, b, to_b)
        round_trip(a, to_a, b, to_b)
        q = vox.ng_ok(relay.ng, {"command": "query", "call-id": "impaired"})
        for tag in ("A", "B"):
            print(f"  {tag}'s stream: {stream_quality(q, tag)}")
        check_lossy(stream_quality(q, "A"), "query")
        check_clean(stream_quality(q, "B"), "query")
        d = vox.ng_ok(relay.ng, {"command": "delete", "call-id": "impaired", "delete delay": 0})
        check_lossy(stream_quality(d, "A"), "delete reply")
        check_clean(stream_quality(d, "B"), "delete reply")
        check_ssrc_mos(d)
    finally:
        a.close()
        b.close()

    recs = [r for r in records(cdr) if r["call-id"] == "impaired"]
    assert len(recs) == 1, f"records of the call: {recs}"
    r = recs[0]
    assert r["reason"] == "deleted" and r["ended"] >= r["created"], r
    (pa, pb) = r["parties"]
    assert (pa["tag"], pb["tag"]) == ("A", "B"), r
    sa, sb = pa["streams"][0], pb["streams"][0]
    assert sa["codec"] == "PCMU/8000" and sa["remote"] == f"{LOCAL}:{a.port}", sa
    assert sa["local"] == f"{LOCAL}:{to_a}", sa
    qa, qb = sa["quality"], sb["quality"]
    assert qa["lost"] == 12 and abs(qa["loss"] - 0.048) < 0.001, qa
    assert 6 <= qa["jitter ms"] <= 10 and 45 <= qa["rtt ms"] <= 90 and 3.6 <= qa["mos"] <= 4.1, qa
    assert qb["lost"] == 0 and qb["mos"] >= 4.3, qb

    m = metrics(http_port)
    assert m.get("voxrelay_stream_mos_count") == 2, {k: v for k, v in m.items() if "stream" in k}
    assert abs(m["voxrelay_stream_mos_sum"] - (qa["mos"] + qb["mos"])) < 0.05, m["voxrelay_stream_mos_sum"]
    assert abs(m["voxrelay_stream_packet_loss_ratio_sum"] - 0.048) < 0.001
    assert m["voxrelay_stream_rtt_seconds_count"] == 1 and 0.045 <= m["voxrelay_stream_rtt_seconds_sum"] <= 0.09
    assert m['voxrelay_stream_mos_bucket{le="4"}'] == 1, "the lossy stream under 4, the clean one above"
    assert m['voxrelay_stream_packet_loss_ratio_bucket{le="0"}'] == 1


def case_reopen(relay: vox.Relay, cdr: Path) -> None:
    moved = cdr.with_suffix(".1")
    os.rename(cdr, moved)
    relay.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 5
    while not cdr.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert cdr.exists(), "SIGHUP did not reopen --cdr-file"
    a, b = vox.UdpPeer(LOCAL), vox.UdpPeer(LOCAL)
    try:
        to_a, to_b = vox.plain_call(relay.ng, "after-rotate", a, b)
        vox.two_way(a, to_a, b, to_b)
        vox.ng_ok(relay.ng, {"command": "delete", "call-id": "after-rotate", "delete delay": 0})
    finally:
        a.close()
        b.close()
    new = records(cdr)
    assert [r["call-id"] for r in new] == ["after-rotate"], new
    assert new[0]["parties"][0]["streams"][0]["quality"]["received"] == 5, new[0]
    assert [r["call-id"] for r in records(moved)] == ["impaired"], "the rotated file changed"


OPUS_SILENCE = bytes([0xF8, 0xFF, 0xFE])  # one 20 ms CELT frame of silence


def rtcp_of(packets: list) -> list:
    """(packet type, sender SSRC, first report block or None) of each RTCP packet."""
    out = []
    for data, _ in packets:
        if len(data) >= 8 and 200 <= data[1] <= 204:
            pt, count = data[1], data[0] & 0x1F
            ssrc = struct.unpack("!I", data[4:8])[0]
            first = 28 if pt == 200 else 8
            block = struct.unpack("!IIIIII", data[first:first + 24]) if count and len(data) >= first + 24 else None
            out.append((pt, ssrc, block))
    return out


def case_own_rtcp(relay: vox.Relay) -> None:
    a, b = vox.UdpPeer(LOCAL), vox.UdpPeer(LOCAL)
    try:
        o = vox.ng_ok(relay.ng, {"command": "offer", "call-id": "transcoded", "from-tag": "A",
                                 "sdp": mux_sdp(a.port), "flags": ["codec-transcode-opus", "codec-mask-PCMA"]})
        opus_pt = next(int(v.split()[0]) for v in vox.parse_sdp(o["sdp"]).media[0].attr("rtpmap")
                       if "opus/48000" in v.lower())
        answer = vox.make_sdp(LOCAL, [(f"m=audio {b.port} RTP/AVP {opus_pt}",
                                       [f"a=rtpmap:{opus_pt} opus/48000/2", "a=rtcp-mux", "a=sendrecv"])])
        r = vox.ng_ok(relay.ng, {"command": "answer", "call-id": "transcoded", "from-tag": "A", "to-tag": "B",
                                 "sdp": answer})
        to_a, to_b = vox.parse_sdp(r["sdp"]).media[0].port, vox.parse_sdp(o["sdp"]).media[0].port
        t0 = time.monotonic()
        for i in range(90):  # 1.8 s; first reports after 0.25 s, then every 0.5 s
            while time.monotonic() < t0 + i * 0.02:
                time.sleep(0.0005)
            if i != 40:
                a.sendto(vox.rtp_packet(i, i * 160, 0xA1), (LOCAL, to_a))
            b.sendto(vox.rtp_packet(i, i * 960, 0xB1, OPUS_SILENCE, opus_pt), (LOCAL, to_b))
            if i == 60:  # each party's own RR about what it hears: not for the other
                a.sendto(vox.rtcp_rr(0xA1), (LOCAL, to_a))
                b.sendto(vox.rtcp_rr(0xB1), (LOCAL, to_b))
        got_a, got_b = a.recv_for(1.0), b.recv_for(0.2)
        vox.ng_ok(relay.ng, {"command": "delete", "call-id": "transcoded", "delete delay": 0})
    finally:
        a.close()
        b.close()
    for name, got, own, heard_pt in (("A", got_a, 0xA1, 0), ("B", got_b, 0xB1, opus_pt)):
        rtp_ssrcs = {struct.unpack("!I", d[8:12])[0] for d, _ in got if len(d) >= 12 and d[1] & 0x7F == heard_pt}
        rtcp = rtcp_of(got)
        assert len(rtp_ssrcs) == 1, f"{name} heard RTP from SSRCs {rtp_ssrcs}"
        srs = [x for x in rtcp if x[0] == 200]
        assert 2 <= len(srs) <= 4, f"{name} got {len(srs)} SRs in 1.8 s at 500 ms: {rtcp}"
        assert all(ssrc in rtp_ssrcs for _, ssrc, _ in srs), f"{name}'s SRs are not for what it hears: {rtcp}"
        assert all(ssrc not in (0xA1, 0xB1) for _, ssrc, _ in rtcp), f"{name} got the other's RTCP: {rtcp}"
        blocks = [blk for _, _, blk in srs if blk]
        assert blocks and all(blk[0] == own for blk in blocks), f"{name}'s report blocks: {blocks}"
        lost = blocks[-1][1] & 0xFFFFFF
        assert lost == (1 if name == "A" else 0), f"{name}'s cumulative lost {lost} (A lost packet 40)"
        print(f"  {name}: {len(srs)} SRs from SSRC {srs[0][1]:#x}, last block about {own:#x}: lost {lost}")


def main() -> int:
    build_dir = vox.build_dir_from_argv()
    runner = vox.CaseRunner("test_quality")
    http_port = vox.free_udp_port()  # free for TCP too
    workdir = Path(tempfile.mkdtemp(prefix="vox-quality-"))
    cdr = workdir / "calls.json"
    try:
        with vox.Relay(build_dir, workdir=workdir,
                       extra_args=[f"--listen-http={LOCAL}:{http_port}", f"--cdr-file={cdr}",
                                   "--rtcp-interval=500"]) as relay:
            runner.run("5 % loss and 8 ms jitter: query, delete reply, record and /metrics agree",
                       case_impaired, relay, http_port, cdr)
            runner.run("SIGHUP reopens --cdr-file", case_reopen, relay, cdr)
            runner.run("transcoded: each side gets the relay's own SRs, not the other's RTCP",
                       case_own_rtcp, relay)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return runner.finish()


if __name__ == "__main__":
    sys.exit(main())
