#!/usr/bin/env python3
"""Interop, transcoding: SIPp UAC (G.711) -> Kamailio (rtpengine module) -> SIPp UAS (Opus).

test_kamailio_sipp.py's harness (relay, Kamailio, SIPp, sniffer on lo, NG
capture, NG `list` after BYE, relay exit 0 on SIGTERM, cleanup, time limit)
with another call: Kamailio's rtpengine_offer() adds `codec-transcode-opus
codec-mask-PCMA` (kamailio.cfg's @OFFER_FLAGS@). The UAC (uac_transcode.xml)
offers PCMU/PCMA/telephone-event/8000; the UAS (uas_opus.xml) takes the
payload types the relay offered it for opus/48000/2 and telephone-event/48000
from the INVITE and answers with exactly those. Both play one RTP stream
written here with a minimal pcap writer (Ethernet/IPv4/UDP/RTP, as SIPp's own
pcaps; SIPp rewrites addresses and ports): the UAC a 1000 Hz tone in PCMU, the
UAS a 600 Hz tone in Opus (libopus via ctypes, 48 kHz clock, 20 ms), 4 s
each, with an RFC 4733 event inside the audio (UAC digit 4 at 8 kHz, UAS digit
7 at 48 kHz). Checks:
  - SDPs (from the sniffed NG traffic): the relay offered the UAS exactly
    PCMU, opus, telephone-event/8000 and /48000 (any order; no PCMA), opus
    and te48 on the PTs the UAS's pcap carries (96/97); the UAS answered
    those; the UAC got PCMU + telephone-event/8000 only;
  - media legs (sniffer): UAC <-> relay only PT 0 and 101, relay <-> UAS only
    the opus and te48 PTs, both directions, relay ports only, nothing UA -> UA;
  - audio: the relay's Opus to the UAS decodes (libopus) to the UAC's 1000 Hz
    tone, the relay's PCMU to the UAC (µ-law) to the UAS's 600 Hz tone;
  - DTMF: each UA gets the other's digit with the end bit and the final
    duration rescaled (x6 toward the UAS, /6 toward the UAC);
  - NG `query` during the call: both directions' transcoding counters > 0 and
    no decode errors; after the call `statistics` transcoding totals > 0.

Needs root, kamailio + kamailio-extra-modules, sip-tester, libopus0
(like test_kamailio_sipp.py, which has the options and environment variables:
VOX_RELAY_IMPL=rtpengine, VOX_KEEP_TMP=1, VOX_VERBOSE=1). ~7 s. Exit 0 = pass.
"""

from __future__ import annotations

import shutil
import socket
import struct
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "lib"))
sys.path.insert(0, str(HERE))
import rtpaudio as ra  # noqa: E402
import vox  # noqa: E402
import test_kamailio_sipp as interop  # noqa: E402

log = interop.log

PCMU_PT, TE8_PT = 0, 101      # the UAC's offer
OPUS_PT, TE48_PT = 96, 97     # what the relay offers the UAS for that offer (checked)
FRAMES = 200                  # 20 ms audio packets per direction (4 s)
EVENT_AT = 150                # the RFC 4733 event starts with this audio slot
EVENT_UPDATES = 7             # packets with growing duration, then 3 end packets
EVENT_VOLUME = 10
UAC_DIGIT, UAS_DIGIT = 4, 7
UAC_TONE_HZ, UAS_TONE_HZ = 1000.0, 600.0
TONE_AMP = 8000.0             # about -12 dBFS
ANALYSE_FROM_S, ANALYSE_S = 0.5, 1.5   # the part of each received tone analysed
QUERY_AFTER_S = 3.0           # NG query this long after Kamailio's answer (media: ~4 s)


# --------------------------------------------------------------------------
# pcaps for SIPp's play_pcap_audio


def _ip_checksum(hdr: bytes) -> int:
    s = sum(struct.unpack(f"!{len(hdr) // 2}H", hdr))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def write_pcap(path: Path, packets, src=("192.0.2.1", 6000), dst=("192.0.2.2", 8000)) -> None:
    """A pcap (LINKTYPE_ETHERNET, µs timestamps) of IPv4/UDP datagrams, all
    src -> dst. ``packets``: [(microseconds from the first, UDP payload)].
    SIPp sends each payload from -mi/-mp to the SDP's address and port, paced
    by the timestamps (its port offset is dport minus the capture's lowest
    dport: 0 here)."""
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
    sip, dip = socket.inet_aton(src[0]), socket.inet_aton(dst[0])
    eth = bytes.fromhex("020000000002" "020000000001") + b"\x08\x00"
    t0 = 1_700_000_000
    for i, (t_us, payload) in enumerate(packets):
        udp = struct.pack("!HHHH", src[1], dst[1], 8 + len(payload), 0) + payload
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), i & 0xFFFF, 0x4000, 64, 17,
                         0, sip, dip)
        ip = ip[:10] + struct.pack("!H", _ip_checksum(ip)) + ip[12:]
        frame = eth + ip + udp
        out.append(struct.pack("<IIII", t0 + t_us // 1_000_000, t_us % 1_000_000, len(frame),
                               len(frame)) + frame)
    path.write_bytes(b"".join(out))


def rtp_stream(ssrc: int, seq0: int, ts0: int, unit: int, audio_pt: int, payload, te_pt: int,
               digit: int) -> tuple:
    """One RTP stream: FRAMES audio packets 20 ms apart (``payload(i)``; ``unit``
    clock ticks each, marker on the first) and an RFC 4733 event sent with the
    audio from slot EVENT_AT (EVENT_UPDATES updates, then 3 end packets; the
    event's timestamp is its first slot's, marker on its first packet).
    Returns ([(µs, RTP packet)], [(end, duration)] of the event packets)."""
    pkts, events, seq = [], [], seq0
    ev_ts = ts0 + EVENT_AT * unit
    for i in range(FRAMES):
        t_us = i * 20_000
        pkts.append((t_us, vox.rtp_packet(seq, ts0 + i * unit, ssrc, payload(i), audio_pt,
                                          marker=(i == 0))))
        seq += 1
        j = i - EVENT_AT
        if 0 <= j < EVENT_UPDATES + 3:
            end, dur = j >= EVENT_UPDATES, unit * (min(j, EVENT_UPDATES) + 1)
            pkts.append((t_us, vox.rtp_packet(seq, ev_ts, ssrc, ra.telephone_event(
                digit, end, EVENT_VOLUME, dur), te_pt, marker=(j == 0))))
            events.append((end, dur))
            seq += 1
    return pkts, events


# --------------------------------------------------------------------------
# checks


def _pt(s: str):
    return int(s) if s.strip().isdigit() else s.strip()


def codecs(sdp: str, what: str, errors: list):
    """[(PT, encoding)] of the only m= line of an SDP, or None (error noted).
    A PT that is not a number stays a str (so the comparison fails)."""
    info = vox.parse_sdp(sdp or "")
    if len(info.media) != 1:
        errors.append(f"{what}: {len(info.media)} m= lines:\n{sdp}")
        return None
    maps = {}
    for v in info.media[0].attr("rtpmap"):
        pt, _, enc = v.partition(" ")
        maps[_pt(pt)] = enc.strip()
    return [(_pt(f), maps.get(_pt(f), "?")) for f in info.media[0].fmts]


def check_tone(pcm: list, want_hz: float, what: str, errors: list) -> None:
    if not pcm:
        errors.append(f"{what}: no audio to analyse")
        return
    a = ra.tone_analysis(pcm, 8000)
    info = (f"{what}: {len(pcm)} samples analysed, dominant {a['freq']:.0f} Hz (sent "
            f"{want_hz:.0f}), RMS {a['rms']:.0f}, {100 * a['purity']:.0f} % of the power in "
            f"the tone")
    log(info)
    if abs(a["freq"] - want_hz) > 50 or a["rms"] < 1000 or a["purity"] < 0.5:
        errors.append(f"{info}: expected {want_hz:.0f} Hz +- 50, RMS >= 1000, purity >= 50 %")


def check_events(pkts: list, pt: int, digit: int, final_dur: int, what: str,
                 errors: list) -> None:
    evs = []
    for p in pkts:
        r = ra.parse_rtp(p.payload) if p.pt == pt else None
        te = ra.parse_telephone_event(r.payload) if r else None
        if te:
            evs.append((te, r.ts))
    log(f"{what}: {len(evs)} telephone-event packets on PT {pt}: " + ", ".join(
        f"ev={e} E={int(end)} dur={d}" for (e, end, _, d), _ in evs))
    if not evs:
        errors.append(f"{what}: no telephone-event packets on PT {pt}")
        return
    digits = {e for (e, _, _, _), _ in evs}
    if digits != {digit}:
        errors.append(f"{what}: events {sorted(digits)}, expected only {digit}")
    if not any(end for (_, end, _, _), _ in evs):
        errors.append(f"{what}: no telephone-event packet with the end bit")
    if max(d for (_, _, _, d), _ in evs) != final_dur:
        errors.append(f"{what}: final event duration {max(d for (_, _, _, d), _ in evs)}, "
                      f"expected {final_dur}")
    if len({ts for _, ts in evs}) != 1:
        errors.append(f"{what}: one event but timestamps {sorted({ts for _, ts in evs})}")


class TranscodeScenario(interop.Scenario):
    offer_flags = "codec-transcode-opus codec-mask-PCMA"
    uac_xml, uas_xml = "uac_transcode.xml", "uas_opus.xml"
    call_note = "call lasts ~5 s"

    def __init__(self):
        self.uac_events: list = []
        self.uas_events: list = []
        self.query = None          # (reply, from-tag, to-tag)
        self.query_error = None

    def prepare(self, tmp: Path) -> None:
        if not ra.Opus.available():
            raise interop.TestFailure("libopus (libopus.so.0) cannot be loaded via ctypes")
        for f in (self.uac_xml, self.uas_xml):
            shutil.copy(HERE / f, tmp / f)
        pkts, self.uac_events = rtp_stream(
            0x1A2B3C4D, 1000, 160_000, 160, PCMU_PT,
            lambda i: ra.ulaw_encode(ra.tone(UAC_TONE_HZ, 160, 8000, TONE_AMP, 160 * i)),
            TE8_PT, UAC_DIGIT)
        write_pcap(tmp / "caller.pcap", pkts)
        enc = ra.Opus.encoder(48000, 1)
        opus = [enc.encode(ra.tone(UAS_TONE_HZ, 960, 48000, TONE_AMP, 960 * i))
                for i in range(FRAMES)]
        enc.close()
        pkts2, self.uas_events = rtp_stream(0x5E6F7081, 40000, 960_000, 960, OPUS_PT,
                                            lambda i: opus[i], TE48_PT, UAS_DIGIT)
        write_pcap(tmp / "callee.pcap", pkts2)
        log(f"caller.pcap: {len(pkts)} packets (PCMU {UAC_TONE_HZ:.0f} Hz, PT {PCMU_PT}; "
            f"digit {UAC_DIGIT} on PT {TE8_PT}); callee.pcap: {len(pkts2)} packets (Opus "
            f"{UAS_TONE_HZ:.0f} Hz, {min(map(len, opus))}-{max(map(len, opus))} bytes, PT "
            f"{OPUS_PT}; digit {UAS_DIGIT} on PT {TE48_PT})")

    def during_call(self, call: interop.CallInfo) -> None:
        """Once Kamailio's NG answer succeeded, let the media run, then query."""
        uac = call.procs["uac"].p
        ids = None
        deadline = time.monotonic() + interop.SIPP_TIMEOUT
        while ids is None and uac.poll() is None and time.monotonic() < deadline:
            for _, q, r, _ in call.ng_exchanges():
                if q.get("command") == "answer" and r and r.get("result") == "ok":
                    ids = (q.get("call-id"), q.get("from-tag"), q.get("to-tag"))
            if ids is None:
                time.sleep(0.2)
        if ids is None:
            self.query_error = "no successful NG answer seen, so no query during the call"
            return
        until = time.monotonic() + QUERY_AFTER_S
        while uac.poll() is None and time.monotonic() < until:
            time.sleep(0.1)
        if uac.poll() is not None:
            self.query_error = f"the UAC ended (exit {uac.returncode}) before the query"
            return
        try:
            self.query = (call.ng.call({"command": "query", "call-id": ids[0]}), ids[1], ids[2])
        except vox.NgTimeout as e:
            self.query_error = f"NG query during the call: {e}"

    def check_media(self, call, packets, offer, answer, errors) -> dict:
        self.check_sdps(offer, answer, errors)
        expect = {"UAC -> relay": ({PCMU_PT}, TE8_PT), "relay -> UAC": ({PCMU_PT}, TE8_PT),
                  "relay -> UAS": ({OPUS_PT}, TE48_PT), "UAS -> relay": ({OPUS_PT}, TE48_PT)}
        relay_ports = interop.analyse_media(packets, call.uac_mp, call.uas_mp, call.relay_ip,
                                            errors, expect)
        legs = interop.media_legs(packets, call.uac_mp, call.uas_mp)
        for leg, pt in (("UAC -> relay", PCMU_PT), ("UAS -> relay", OPUS_PT)):
            n = sum(1 for p in legs[leg] if p.pt == pt)
            if n != FRAMES:
                errors.append(f"{leg}: SIPp played {n} of the pcap's {FRAMES} audio packets")
        lo, n = int(ANALYSE_FROM_S * 8000), int(ANALYSE_S * 8000)
        # PCMU -> Opus: what the UAS got
        opus = [r for r in (ra.parse_rtp(p.payload) for p in legs["relay -> UAS"]
                            if p.pt == OPUS_PT) if r]
        if len(opus) < FRAMES * 0.9:
            errors.append(f"relay -> UAS: {len(opus)} Opus packets for {FRAMES} PCMU packets")
        dec, pcm = ra.Opus.decoder(8000, 1), []
        for i, r in enumerate(opus):
            try:
                pcm += dec.decode(r.payload, 960)
            except ra.OpusError as e:
                errors.append(f"relay -> UAS: Opus packet {i} (seq {r.seq}) does not decode: {e}")
                break
        dec.close()
        check_tone(pcm[lo:lo + n], UAC_TONE_HZ, "UAS's decoded Opus", errors)
        # Opus -> PCMU: what the UAC got
        pcmu = [r for r in (ra.parse_rtp(p.payload) for p in legs["relay -> UAC"]
                            if p.pt == PCMU_PT) if r]
        if len(pcmu) < FRAMES * 0.9:
            errors.append(f"relay -> UAC: {len(pcmu)} PCMU packets for {FRAMES} Opus packets")
        pcm = ra.ulaw_decode(b"".join(r.payload for r in pcmu))
        check_tone(pcm[lo:lo + n], UAS_TONE_HZ, "UAC's decoded PCMU", errors)
        # DTMF, rescaled to the receiver's clock
        check_events(legs["relay -> UAS"], TE48_PT, UAC_DIGIT, self.uac_events[-1][1] * 6,
                     "relay -> UAS", errors)
        check_events(legs["relay -> UAC"], TE8_PT, UAS_DIGIT, self.uas_events[-1][1] // 6,
                     "relay -> UAC", errors)
        self.check_query(errors)
        return relay_ports

    def check_sdps(self, offer, answer, errors) -> None:
        oq, orep = offer
        aq, arep = answer
        if not (oq and orep and aq and arep):
            errors.append("no complete NG offer/answer captured: SDPs not checked")
            return
        tc = oq.get("codec", {}) if isinstance(oq.get("codec"), dict) else {}
        log(f"NG offer from kamailio: codec {tc or '-'}, flags {oq.get('flags', '-')}")
        to_uas = codecs(orep.get("sdp"), "the relay's offer to the UAS", errors)
        want = [(PCMU_PT, "PCMU/8000"), (OPUS_PT, "opus/48000/2"), (TE8_PT, "telephone-event/8000"),
                (TE48_PT, "telephone-event/48000")]
        log(f"offer to the UAS: {to_uas}")
        if to_uas is not None and sorted((pt, e.lower()) for pt, e in to_uas) != \
                sorted((pt, e.lower()) for pt, e in want):
            errors.append(f"the relay's offer to the UAS: codecs {to_uas}, expected {want} (the "
                          f"UAS's callee.pcap carries opus on PT {OPUS_PT}, telephone-event/48000 "
                          f"on PT {TE48_PT})")
        from_uas = codecs(aq.get("sdp"), "the UAS's answer", errors)
        if from_uas is not None and [pt for pt, _ in from_uas] != [OPUS_PT, TE48_PT]:
            errors.append(f"the UAS answered {from_uas}, expected PTs {OPUS_PT}, {TE48_PT}")
        to_uac = codecs(arep.get("sdp"), "the relay's answer to the UAC", errors)
        log(f"answer to the UAC: {to_uac}")
        if to_uac is not None and sorted((pt, e.lower()) for pt, e in to_uac) != \
                [(PCMU_PT, "pcmu/8000"), (TE8_PT, "telephone-event/8000")]:
            errors.append(f"the relay's answer to the UAC: codecs {to_uac}, expected PCMU "
                          f"{PCMU_PT} and telephone-event/8000 {TE8_PT}")

    def check_query(self, errors) -> None:
        if self.query is None:
            errors.append(self.query_error or "no NG query during the call")
            return
        q, from_tag, to_tag = self.query
        if q.get("result") != "ok":
            errors.append(f"NG query during the call failed: {interop.short(q, 500)}")
            return
        for tag, what in ((from_tag, "UAC -> UAS (PCMU -> Opus)"),
                          (to_tag, "UAS -> UAC (Opus -> PCMU)")):
            medias = q.get("tags", {}).get(tag, {}).get("medias", [])
            tc = medias[0].get("transcoding") if medias else None
            if not isinstance(tc, dict):
                errors.append(f"NG query: no transcoding counters for {what} (tag {tag!r}): "
                              f"{interop.short(medias, 800)}")
                continue
            log(f"NG query during the call, {what}: {tc}")
            zero = [k for k in ("packets in", "frames decoded", "frames encoded", "packets out")
                    if not int(tc.get(k, 0)) > 0]
            if zero:
                errors.append(f"NG query, {what}: transcoding counters {zero} not > 0: {tc}")
            if int(tc.get("decode errors", 0)):
                errors.append(f"NG query, {what}: {tc['decode errors']} decode errors")

    def after_call(self, call, errors) -> None:
        st = vox.ng_statistics(call.ng)
        tc = st.get("totalstatistics", {}).get("transcoding")
        log(f"NG statistics after the call: transcoding {tc}")
        if not isinstance(tc, dict):
            errors.append(f"NG statistics: no totalstatistics.transcoding: "
                          f"{interop.short(st.get('totalstatistics'), 800)}")
            return
        zero = [k for k in ("frames decoded", "frames encoded") if not int(tc.get(k, 0)) > 0]
        if zero:
            errors.append(f"NG statistics: transcoding totals {zero} not > 0: {tc}")


if __name__ == "__main__":
    sys.exit(interop.main(TranscodeScenario()))
