# plot_load_curve.gp: the three SVGs of bench/load_curve.sh from its table.
# CPU per relayed packet, packet loss and p99 latency against offered load,
# one line per relay. Run by `bench/load_curve.sh --plot-only`, or by hand:
#   gnuplot -e "dat='bench/plots/load_curve.dat'; outdir='bench/plots'; sub='...'" \
#     bench/plot_load_curve.gp
# dat: the table (columns named in its last '#' line; rows sorted by relay
# then rate); outdir: where the SVGs go; sub: the titles' second line
# (date, commit, calls, rounds). Points: medians over the rounds; bars:
# the smallest and largest round.

if (!exists("dat")) dat = "bench/plots/load_curve.dat"
if (!exists("outdir")) outdir = "bench/plots"
if (!exists("sub")) sub = ""

set encoding utf8
set terminal svg size 760,460 dynamic noenhanced font "sans,12" background "white"
set datafile missing "nan"
set key outside right top vertical box Left reverse
set grid xtics ytics mxtics mytics lc rgb "#dddddd"
set border 3
set tics nomirror
set xrange [0:*]
set format x "%.0s%c"   # 10k, 20k, ...
set xlabel "offered load (packets/s into the relay, all calls, both directions)"

relays = "voxrelay rtpengine"
colour(i) = (i == 1 ? "#1f6fb4" : "#e6700f")
pt(i) = (i == 1 ? 7 : 5)
# x: the offered load voxload measured (column 3), nudged 0.6 % left for the
# first relay and right for the second so that their bars do not overlap;
# rows of other relays are undefined here, and as each relay's rows are
# contiguous, lines stay whole. y: the median over the rounds, the bars
# from the smallest to the largest round (columns named in the table).
pick(relay, col) = (strcol(2) eq relay ? column(col) : NaN)
x(i) = pick(word(relays, i), 3) * (i == 1 ? 0.994 : 1.006)

# --- CPU per relayed packet --------------------------------------------------
set output outdir."/cpu_per_packet.svg"
set title "Relay CPU per relayed packet vs offered load\n".sub
set ylabel "relay CPU per relayed packet (µs, user+system)"
set yrange [0:*]
set format y "%g"
plot for [i=1:words(relays)] dat using (x(i)):(pick(word(relays, i), 5)):(pick(word(relays, i), 15)):(pick(word(relays, i), 16)) \
     with yerrorlines lw 2 pt pt(i) ps 1 lc rgb colour(i) title word(relays, i)

# --- packet loss -------------------------------------------------------------
set output outdir."/loss.svg"
set title "Packet loss vs offered load\n".sub
set ylabel "packet loss (% of packets sent)"
stats dat using 18 nooutput
if (STATS_max <= 0) { set yrange [0:1] } else { set yrange [0:*] }
plot for [i=1:words(relays)] dat using (x(i)):(pick(word(relays, i), 6)):(pick(word(relays, i), 17)):(pick(word(relays, i), 18)) \
     with yerrorlines lw 2 pt pt(i) ps 1 lc rgb colour(i) title word(relays, i)

# --- p99 latency -------------------------------------------------------------
set output outdir."/p99_latency.svg"
set title "p99 one-way latency through the relay vs offered load\n".sub
set ylabel "p99 latency (µs, log scale; k = 10³, M = 10⁶)"
set logscale y
set yrange [*:*]
set format y "%.0s%c"
plot for [i=1:words(relays)] dat using (x(i)):(pick(word(relays, i), 8)):(pick(word(relays, i), 19)):(pick(word(relays, i), 20)) \
     with yerrorlines lw 2 pt pt(i) ps 1 lc rgb colour(i) title word(relays, i)

unset output
