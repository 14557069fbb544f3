#!/usr/bin/env python3
"""webrtc_bench_report.py RESULTS.jsonl: the table webrtc_bench.sh prints:
per round and relay the figures of each part, then medians over rounds and
the voxrelay/rtpengine ratios (each ratio taken within a round, then the
median of those) against the targets of TARGETS.md."""
import json
import statistics
import sys

rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]


def phase(r, name):
    for p in (r or {}).get("phases", []):
        if p["name"] == name:
            return p
    return None


def per_call(r, name):
    p = phase(r, name)
    return p.get("relay_cpu_us_per_call") if p else None


def figures(part, r):
    """The figures one voxload result gives for its part (None: failed)."""
    if r is None:
        return None
    if part == "bound":
        return {"server_us": r["server_us"]}
    if part == "hs":
        hs = per_call(r, "handshake")
        p = phase(r, "handshake")
        if not hs or not p or p["errors"]:
            return None
        return {"hs_cpu_us": hs, "hs_per_s_core": 1e6 / hs, "ice_cpu_us": per_call(r, "ice"),
                "negotiate_cpu_us": per_call(r, "negotiate"), "hs_wall_per_s": p["ok"] / p["wall_s"],
                "role": "server" if r["dtls_client"] else "client", "profile": r["srtp_profile"]}
    if part == "calls":
        c = per_call(r, "call")
        p = phase(r, "call")
        if not c or p["errors"]:
            return None
        return {"call_cpu_us": c, "calls_per_s_core": 1e6 / c, "calls_wall_per_s": p["ok"] / p["wall_s"]}
    if part == "tfa":
        if not r["handshake_n"]:
            return None
        return {k: r[k] for k in ("handshake_p50_us", "handshake_p99_us", "ice_p50_us", "first_packet_p50_us",
                                  "first_packet_p99_us", "offer_p50_us", "answer_p50_us")}
    if part == "mem":
        n = r["calls"]
        before = r["relay_rss_before_kb"]
        rss = {p["name"]: p["rss_kb"] for p in r["phases"]}
        if any(phase(r, x) is None or phase(r, x)["errors"] for x in ("negotiate", "handshake", "first_packet")):
            return None
        return {"negotiated_kb": (rss["negotiate"] - before) / n,
                "handshaking_kb": (rss["handshake_half"] - before) / n,
                "established_kb": (rss["first_packet"] - before) / n,
                "held_kb": (rss["hold"] - before) / n if "hold" in rss else None}
    if part.startswith("media-"):
        p = phase(r, "media")
        if not p or not p["packets"]:
            return None
        return {"us_per_packet": p["relay_cpu_s"] * 1e6 / p["packets"],
                "delivered_pct": 100.0 * p["delivered"] / p["packets"]}
    return None


# by[part][relay] = list of (round, figures)
by = {}
for row in rows:
    f = figures(row["part"], row["result"])
    by.setdefault(row["part"], {}).setdefault(row["relay"], []).append((row["round"], f))


def med(part, relay, key):
    xs = [f[key] for _, f in by.get(part, {}).get(relay, []) if f and f.get(key) is not None]
    return statistics.median(xs) if xs else None


def round_ratios(part_a, relay_a, key_a, part_b, relay_b, key_b):
    """Median over rounds of a/b, both from the same round."""
    a = {rd: f[key_a] for rd, f in by.get(part_a, {}).get(relay_a, []) if f and f.get(key_a)}
    b = {rd: f[key_b] for rd, f in by.get(part_b, {}).get(relay_b, []) if f and f.get(key_b)}
    xs = [a[rd] / b[rd] for rd in a if rd in b]
    return (statistics.median(xs), xs) if xs else (None, [])


def fmt(x, spec=".1f"):
    return "-" if x is None else format(x, spec)


print("\nper round:")
for part in by:
    for relay, rs in by[part].items():
        for rd, f in sorted(rs, key=lambda x: x[0]):
            print(f"  {part:<12} {relay:<10} round {rd}: " +
                  ("failed" if f is None else ", ".join(f"{k} {fmt(v) if isinstance(v, float) else v}"
                                                          for k, v in f.items())))

relays = ["voxrelay", "rtpengine"]
print("\nmedians over rounds:")
lines = []


def verdict(ok):
    return "met" if ok else "MISSED"


if "hs" in by:
    for rl in relays:
        print(f"  hs     {rl:<10} relay CPU per handshake {fmt(med('hs', rl, 'hs_cpu_us'))} us "
              f"({fmt(med('hs', rl, 'hs_per_s_core'), '.0f')} handshakes/s/core; ICE check "
              f"{fmt(med('hs', rl, 'ice_cpu_us'))} us, offer+answer {fmt(med('hs', rl, 'negotiate_cpu_us'))} us)")
    print(f"  bound  openssl    in-memory server side {fmt(med('bound', 'openssl', 'server_us'))} us per handshake")
    r, xs = round_ratios("hs", "voxrelay", "hs_per_s_core", "hs", "rtpengine", "hs_per_s_core")
    if r:
        lines.append(f"handshakes/s/core voxrelay/rtpengine: {r:.2f} (rounds {', '.join(f'{x:.2f}' for x in xs)}; "
                     f"target >= 1.4: {verdict(r >= 1.4)})")
    r, xs = round_ratios("hs", "voxrelay", "hs_cpu_us", "bound", "openssl", "server_us")
    if r:
        lines.append(f"voxrelay CPU per handshake / in-memory bound: {r:.2f} (rounds {', '.join(f'{x:.2f}' for x in xs)}; "
                     f"target <= 1.15: {verdict(r <= 1.15)})")
if "calls" in by:
    for rl in relays:
        print(f"  calls  {rl:<10} relay CPU per whole call {fmt(med('calls', rl, 'call_cpu_us'))} us "
              f"({fmt(med('calls', rl, 'calls_per_s_core'), '.0f')} calls/s/core; "
              f"{fmt(med('calls', rl, 'calls_wall_per_s'), '.0f')} calls/s wall)")
    r, xs = round_ratios("calls", "voxrelay", "calls_per_s_core", "calls", "rtpengine", "calls_per_s_core")
    if r:
        lines.append(f"whole calls/s/core voxrelay/rtpengine: {r:.2f} (rounds {', '.join(f'{x:.2f}' for x in xs)}; "
                     f"target >= 2: {verdict(r >= 2)}; stretch >= 2 (0.5x CPU))")
if "tfa" in by:
    for rl in relays:
        print(f"  tfa    {rl:<10} ClientHello -> handshake complete p50 {fmt(med('tfa', rl, 'handshake_p50_us'))} us, "
              f"p99 {fmt(med('tfa', rl, 'handshake_p99_us'))} us; ICE check p50 {fmt(med('tfa', rl, 'ice_p50_us'))} us; "
              f"first packet relayed p50 {fmt(med('tfa', rl, 'first_packet_p50_us'))} / p99 "
              f"{fmt(med('tfa', rl, 'first_packet_p99_us'))} us")
    p50, p99 = med("tfa", "voxrelay", "handshake_p50_us"), med("tfa", "voxrelay", "handshake_p99_us")
    if p50 is not None:
        lines.append(f"voxrelay handshake p50 {p50:.0f} us (target <= 1000: {verdict(p50 <= 1000)}), "
                     f"p99 {p99:.0f} us (target <= 3000: {verdict(p99 <= 3000)})")
if "mem" in by:
    for rl in relays:
        print(f"  mem    {rl:<10} RSS per call: negotiated {fmt(med('mem', rl, 'negotiated_kb'))} kB, handshaking "
              f"{fmt(med('mem', rl, 'handshaking_kb'))} kB, established {fmt(med('mem', rl, 'established_kb'))} kB, "
              f"after hold {fmt(med('mem', rl, 'held_kb'))} kB")
    e, h = med("mem", "voxrelay", "held_kb"), med("mem", "voxrelay", "handshaking_kb")
    if e is not None:
        lines.append(f"voxrelay RSS per established call (after hold) {e:.1f} kB (target <= 32: {verdict(e <= 32)}); "
                     f"handshaking {h:.1f} kB (target <= 100: {verdict(h <= 100)})")
if any(p.startswith("media-") for p in by):
    for rl in relays:
        d, s, p = (med(f"media-{leg}", rl, "us_per_packet") for leg in ("dtls", "sdes", "plain"))
        print(f"  media  {rl:<10} relay CPU per packet: DTLS-SRTP leg {fmt(d, '.2f')} us, SDES leg {fmt(s, '.2f')} us, "
              f"plain {fmt(p, '.2f')} us; SRTP part (leg - plain): DTLS {fmt(d - p if d and p else None, '.2f')} us, "
              f"SDES {fmt(s - p if s and p else None, '.2f')} us")
    r, xs = round_ratios("media-dtls", "voxrelay", "us_per_packet", "media-sdes", "voxrelay", "us_per_packet")
    if r:
        lines.append(f"voxrelay per-packet CPU DTLS-SRTP leg / SDES leg: {r:.3f} (rounds {', '.join(f'{x:.3f}' for x in xs)})")
print("\nratios and targets:")
for l in lines:
    print("  " + l)
