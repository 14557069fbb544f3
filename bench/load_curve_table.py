#!/usr/bin/python3
"""load_curve_table.py: the tables behind bench/load_curve.sh's plots.

  collect DAT ROUNDS RATE=RESULTS.jsonl... [--meta KEY=VALUE]...
      Reads relay_bench.sh's results.jsonl of each offered rate, writes every
      round (with its rate) to ROUNDS (JSON lines) and the medians per rate
      and relay to DAT: whitespace-separated, one row per (rate, relay),
      sorted by relay then rate, '# key: value' header lines (the plot
      titles come from them), 'nan' where no round succeeded.
  markdown DAT
      Prints DAT's rows as a Markdown table (for bench/RESULTS.md).
"""
import json
import math
import statistics
import sys

COLUMNS = [
    # (DAT column, voxload JSON key or None, printf format)
    ("rate_pps", None, "{:.0f}"),
    ("relay", None, "{}"),
    ("offered_pps", "offered_pps", "{:.0f}"),
    ("delivered_pps", "delivered_pps", "{:.0f}"),
    ("cpu_us_per_pkt", "relay_cpu_us_per_pkt", "{:.2f}"),
    ("loss_pct", "loss_pct", "{:.4f}"),
    ("p50_us", "latency_p50_us", "{:.1f}"),
    ("p99_us", "latency_p99_us", "{:.1f}"),
    ("p999_us", "latency_p999_us", "{:.1f}"),
    ("relay_cpu_pct", "relay_cpu_pct", "{:.1f}"),
    ("gen_cpu_pct", "self_cpu_pct", "{:.1f}"),
    ("other_cpu_pct_max", "other_cpu_pct", "{:.1f}"),  # max over rounds, not median
    ("rounds_ok", None, "{}"),
    ("rounds_failed", None, "{}"),
    # the spread over the rounds of the three plotted figures (error bars)
    ("cpu_us_per_pkt_min", "relay_cpu_us_per_pkt", "{:.2f}"),
    ("cpu_us_per_pkt_max", "relay_cpu_us_per_pkt", "{:.2f}"),
    ("loss_pct_min", "loss_pct", "{:.4f}"),
    ("loss_pct_max", "loss_pct", "{:.4f}"),
    ("p99_us_min", "latency_p99_us", "{:.1f}"),
    ("p99_us_max", "latency_p99_us", "{:.1f}"),
]
RELAY_ORDER = {"voxrelay": 0, "rtpengine": 1}


def fmt(spec, value):
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    return spec.format(value)


def collect(argv):
    dat, rounds_path, meta, inputs = argv[0], argv[1], [], []
    rest = iter(argv[2:])
    for arg in rest:
        if arg == "--meta":
            meta.append(next(rest).split("=", 1))
        else:
            rate, path = arg.split("=", 1)
            inputs.append((float(rate), path))

    groups = {}  # (rate, relay) -> [voxload result or None]
    with open(rounds_path, "w") as out:
        for rate, path in inputs:
            try:
                lines = [l for l in open(path) if l.strip()]
            except FileNotFoundError:
                lines = []
            for line in lines:
                row = json.loads(line)
                row = {"rate_pps": rate, **row}
                out.write(json.dumps(row) + "\n")
                groups.setdefault((rate, row["relay"]), []).append(row["result"])
            for relay in ("voxrelay", "rtpengine"):
                if not lines and meta_relays(meta, relay):
                    groups.setdefault((rate, relay), [])  # the run did not start: a nan row

    rows = []
    for (rate, relay), results in groups.items():
        ok = [r for r in results if r is not None]
        row = {"rate_pps": rate, "relay": relay, "rounds_ok": len(ok),
               "rounds_failed": len(results) - len(ok)}
        for name, key, _ in COLUMNS:
            if key is None:
                continue
            values = [r[key] for r in ok if r.get(key) is not None]
            if not values:
                row[name] = float("nan")
            elif name.endswith("_max"):
                row[name] = max(values)
            elif name.endswith("_min"):
                row[name] = min(values)
            else:
                row[name] = statistics.median(values)
        rows.append(row)
    rows.sort(key=lambda r: (RELAY_ORDER.get(r["relay"], 9), r["relay"], r["rate_pps"]))

    with open(dat, "w") as f:
        f.write("# relay load curve: voxrelay vs rtpengine (bench/load_curve.sh)\n")
        for key, value in meta:
            f.write(f"# {key}: {value}\n")
        f.write("# values: medians over the rounds at each rate (*_min, *_max: the smallest and largest);"
                " cpu_us_per_pkt: relay CPU (user+system) per relayed packet; latency one-way,"
                " sender to receiver through the relay\n")
        f.write("# " + " ".join(name for name, _, _ in COLUMNS) + "\n")
        for row in rows:
            f.write(" ".join(fmt(spec, row[name]) for name, _, spec in COLUMNS) + "\n")


def meta_relays(meta, relay):
    for key, value in meta:
        if key == "relays":
            return relay in value.split()
    return True


def markdown(argv):
    header, rows = None, []
    for line in open(argv[0]):
        if line.startswith("# rate_pps"):
            header = line[2:].split()
        elif line.strip() and not line.startswith("#"):
            rows.append(dict(zip(header, line.split())))
    print("| offered pps (target) | relay | µs CPU / packet | loss % | p99 µs | p50 µs | delivered pps "
          "| relay CPU % | voxload CPU % | other % (max) | rounds |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")

    def spread(r, name):  # "median (min-max)" when the rounds differ
        lo, hi = r[name + "_min"], r[name + "_max"]
        return r[name] if lo == hi else f"{r[name]} ({lo}-{hi})"

    for r in rows:
        rounds = r["rounds_ok"] + (f" ({r['rounds_failed']} failed)" if r["rounds_failed"] != "0" else "")
        print(f"| {r['rate_pps']} | {r['relay']} | {spread(r, 'cpu_us_per_pkt')} | {spread(r, 'loss_pct')} "
              f"| {spread(r, 'p99_us')} | {r['p50_us']} | {r['delivered_pps']} | {r['relay_cpu_pct']} "
              f"| {r['gen_cpu_pct']} | {r['other_cpu_pct_max']} | {rounds} |")

if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] == "collect":
        collect(sys.argv[2:])
    elif len(sys.argv) == 3 and sys.argv[1] == "markdown":
        markdown(sys.argv[2:])
    else:
        sys.exit(__doc__)
