#!/bin/bash
# Benchmark of "dataman listen" (issue 4 item 10), over the real binary on a
# loopback port, with every write fsynced as in production:
#
#   latency     for N full frames, one at a time, PACE seconds apart: the
#               time from sending "proc <file>" (a new socket per datagram, as
#               the camera server does) until <CHAN>.new names the file; median
#               and p99, and the medians of the steps listen logs for each
#               file;
#   floor       between those frames, the time this machine takes to write
#               one conditioned full frame to a new file with fsync (dd
#               conv=fsync): no delivery can put a frame in /newdata faster;
#               the file is removed at once, so the next one may reuse its
#               pages, or those listen dropped after its last delivery;
#   kept floor  after the latency run, the same copy into a file kept until
#               the end, as listen's /newdata copies are: into pages new to
#               the page cache, which on this virtual machine cost far more
#               than pages just freed;
#   bound       after the latency run, what the delivery cannot avoid once its conditioning is free
#               (.ci/bench/bound): the conditioned frame, read from the page
#               cache, written into two new files kept until the end and
#               hashed with SHA-256 at once, until one of them is fsynced
#               (the other then is too, untimed, so that no writeback is
#               left for the next frame);
#   cpu         the CPU time (user + system) listen spent per full frame of
#               the latency run, previews included, against the CPU time of
#               "dataman condition" of the same frames, one process each
#               (median), and their ratio;
#   throughput  M 1kx1k frames announced at once: frames per second, and MB/s
#               of raw input, from the first datagram until the last file is
#               in repoDir.
#
#   .ci/bench/listen.sh                 # N=20 full frames, M=100 1kx1k frames
#   N=5 M=20 .ci/bench/listen.sh        # quicker
#
# Environment: N (20), M (100), JOBS (the config's default, 2), PREVIEW (Y or
# N: preview.enabled for listen; default the config's, Y), PACE (3
# seconds: a full frame takes 22 s to read out, so frames never come faster;
# 3 s keeps the run short while each frame finds the server idle, as at the
# telescope), DATAMAN (a dataman binary to measure instead of building this
# tree, to compare builds), WORK folder to run in (default a new temporary
# folder, removed afterwards; it needs about 0.5 GB per full frame). The raw
# files are written and synced before listen starts, and are in the page
# cache, as after the camera server wrote them; on the mountain they come
# over NFS.
#
# bash, not sh: datagrams are sent through bash's /dev/udp, which opens a
# socket per redirection.
set -eu

N=${N:-20}
M=${M:-100}
repo=$(cd "$(dirname "$0")/../.." && pwd)
if [ -n "${WORK:-}" ]; then
	mkdir -p "$WORK"
else
	WORK=$(mktemp -d "${TMPDIR:-/tmp}/dataman-bench-listen.XXXXXX")
	trap 'kill "$pid" 2>/dev/null || true; rm -rf "$WORK"' EXIT INT TERM
fi
pid=
if [ -n "${DATAMAN:-}" ]; then
	dm=$(realpath "$DATAMAN")
else
	(cd "$repo" && go build -o "$WORK/dataman" ./cmd/dataman)
	dm="$WORK/dataman"
fi
(cd "$repo" && go build -o "$WORK/bound" ./.ci/bench/bound)
jobs=()
[ -n "${JOBS:-}" ] && jobs=(--jobs "$JOBS")
[ -n "${PREVIEW:-}" ] && jobs+=(--set "preview.enabled=$PREVIEW")

now() { date +%s%N; }

# cputime PID: the user + system CPU seconds the process has used so far.
cputime() { awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$1/stat"; }

# start DIR: runs listen in DIR on a free port and sets $pid and $port.
start() {
	cd "$1"
	# sweep.every=0: only the start-up sweep, which leaves the fresh frames
	# (younger than sweep.minAge) to the datagrams being measured.
	"$dm" listen --addr 127.0.0.1:0 --set sweep.every=0s "${jobs[@]}" 2>listen.log &
	pid=$!
	port=
	for _ in $(seq 1000); do
		port=$(sed -n 's/^addr=127\.0\.0\.1://p' dataman-data/state/.status 2>/dev/null || true)
		[ -n "$port" ] && break
		sleep 0.01
	done
	[ -n "$port" ] || { echo "listen did not start:" >&2; cat listen.log >&2; exit 1; }
}

stop() {
	printf 'quit' >"/dev/udp/127.0.0.1/$port"
	wait "$pid"
	pid=
}

# floorcopy SRC DST: copies SRC to the new file DST with fsync (dd) and
# prints the seconds it took.
floorcopy() {
	local t0 t1
	t0=$(now)
	dd if="$1" of="$2" bs=1M conv=fsync status=none
	t1=$(now)
	echo "$(((t1 - t0) / 1000))" | awk '{print $1 / 1e6}'
}

send() { printf 'proc /home/data/%s' "$1" >"/dev/udp/127.0.0.1/$port"; }

# stats: reads seconds, one a line; prints the median and the p99 (nearest rank).
stats() {
	sort -g | awk '{v[NR] = $1} END {
		m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		r = int(0.99 * NR); if (r < 0.99 * NR) r++
		printf "median %.3f s  p99 %.3f s  (n=%d, min %.3f s, max %.3f s)", m, v[r], NR, v[1], v[NR]
	}'
}

# overhead: the median of what listen adds to the delivery path's steps for
# a file (its completeness check, the queue, the ledger), in seconds.
overhead() {
	grep 'msg=delivered ' listen.log | awk '
	function sec(v) {
		if (v ~ /ms$/) return substr(v, 1, length(v) - 2) / 1e3
		if (v ~ /µs$/) return substr(v, 1, length(v) - 2) / 1e6
		if (v ~ /m[0-9.]+s$/) { split(v, p, "m"); return p[1] * 60 + substr(p[2], 1, length(p[2]) - 1) }
		if (v ~ /s$/) return substr(v, 1, length(v) - 1)
		return 0
	}
	{
		for (i = 1; i <= NF; i++) { split($i, kv, "="); t[kv[1]] = sec(kv[2]) }
		print t["latency"] - t["condition"] - t["store"] - t["dispatch"]
	}' | sort -g | awk '{v[NR] = $1} END {printf "%.3f", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'
}

# step NAME: the median of one timing of listen's "delivered" lines, in seconds.
step() {
	grep 'msg=delivered ' listen.log | sed -n "s/.* $1=\([^ ]*\).*/\1/p" | awk '{
		v = $1; s = 0
		if (v ~ /ms$/) s = substr(v, 1, length(v) - 2) / 1e3
		else if (v ~ /µs$/) s = substr(v, 1, length(v) - 2) / 1e6
		else if (v ~ /m[0-9.]+s$/) { split(v, p, "m"); s = p[1] * 60 + substr(p[2], 1, length(p[2]) - 1) }
		else if (v ~ /s$/) s = substr(v, 1, length(v) - 1)
		print s
	}' | sort -g | awk '{v[NR] = $1} END {printf "%.3f", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'
}

echo "dataman listen, $(nproc) CPUs, $(uname -r), work folder on $(df --output=source "$WORK" | tail -1)"

# Latency: one full frame at a time.
mkdir -p "$WORK/latency" && cd "$WORK/latency"
"$dm" synth --out dataman-data/raw --channel mods1b --mode full --count "$N" >/dev/null
sync
start "$WORK/latency"
: >latency.txt
: >floor.txt
: >kept.txt
: >bound.txt
mkdir -p kept
i=0
cpu0=$(cputime "$pid")
for f in $(cd dataman-data/raw/mods1b && ls); do
	sleep "${PACE:-3}"
	t0=$(now)
	send "$f"
	until [ "$(cat dataman-data/newdata/MODS1B.new 2>/dev/null)" = "$f" ]; do :; done
	t1=$(now)
	echo "$(((t1 - t0) / 1000))" | awk '{print $1 / 1e6}' >>latency.txt
	# The floor, measured between the frames: one durable copy of the
	# conditioned frame just delivered, into a new file.
	sleep "${PACE:-3}"
	i=$((i + 1))
	floorcopy "dataman-data/newdata/$f" "floor.$i" >>floor.txt
	rm -f "floor.$i"
done
cpu1=$(cputime "$pid")
stop
# The kept floor and the bound, frame by frame, once listen has stopped:
# measured between the frames they would change what the next frame finds
# in the page cache.
i=0
for f in $(cd dataman-data/raw/mods1b && ls); do
	i=$((i + 1))
	sleep "${PACE:-3}"
	floorcopy "dataman-data/newdata/$f" "kept/floor.$i" >>kept.txt
	sleep "${PACE:-3}"
	"$WORK/bound" "dataman-data/newdata/$f" "kept/store.$i" "kept/newdata.$i" | awk '{print $1}' >>bound.txt
done
# The CPU time of conditioning each of the same frames on its own. The
# outputs are kept until the end, as listen keeps its copies: each writes
# into pages new to the page cache, which costs this virtual machine more
# than pages it used before.
: >cond-cpu.txt
for f in $(cd dataman-data/raw/mods1b && ls); do
	/usr/bin/time -f '%U %S' -o cond-time.txt "$dm" condition --out cond "dataman-data/raw/mods1b/$f" >/dev/null 2>&1
	awk '{print $1 + $2}' cond-time.txt >>cond-cpu.txt
done
rm -rf cond
echo "latency, datagram to MODS1B.new, $N full frames, ${PACE:-3} s apart: $(stats <latency.txt)"
echo "floor, one fsynced copy of a conditioned frame (dd), between them: $(stats <floor.txt)"
echo "kept floor, the same copy into a file kept until the end: $(stats <kept.txt)"
echo "bound, two copies kept and a SHA-256 at once, one fsynced, no conditioning: $(stats <bound.txt)"
# ratio A B LABEL: the median, frame by frame, of A / B.
ratio() { paste "$1" "$2" | awk '{print $1 / $2}' | sort -g | awk -v l="$3" '{v[NR] = $1} END {printf "  %s, frame by frame: median %.2f\n", l, (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
ratio latency.txt floor.txt "latency / floor"
ratio latency.txt kept.txt "latency / kept floor"
ratio bound.txt floor.txt "bound / floor"
ratio bound.txt kept.txt "bound / kept floor"
echo "  step medians: check $(step check) s  condition $(step condition) s  store $(step store) s  dispatch $(step dispatch) s  listen's own time (check, queue, ledger) $(overhead) s"
condcpu=$(sort -g cond-cpu.txt | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}')
awk -v a="$cpu0" -v b="$cpu1" -v n="$N" -v c="$condcpu" 'BEGIN {
	f = (b - a) / n
	printf "cpu, user + system: listen %.3f s per full frame (previews included), dataman condition %.3f s (median); ratio %.2f\n", f, c, f / c
}'

# Throughput: M 1kx1k frames announced at once.
mkdir -p "$WORK/throughput" && cd "$WORK/throughput"
"$dm" synth --out dataman-data/raw --channel mods1b --mode 1kx1k --count "$M" >/dev/null
rawbytes=$(cat dataman-data/raw/mods1b/* | wc -c)
start "$WORK/throughput"
t0=$(now)
for f in $(cd dataman-data/raw/mods1b && ls); do send "$f"; done
until [ "$(ls dataman-data/newdata | grep -c '^mods1b\..*\.fits$')" -ge "$M" ]; do sleep 0.005; done
t1=$(now)
stop
echo "$M $rawbytes $(((t1 - t0) / 1000))" | awk '{
	s = $3 / 1e6
	printf "throughput, %d 1kx1k frames announced at once: %.1f frames/s, %.1f MB/s of raw input (%.2f s)\n", $1, $1 / s, $2 / 1e6 / s, s
}'
echo "  step medians: check $(step check) s  condition $(step condition) s  store $(step store) s  dispatch $(step dispatch) s  listen's own time (check, queue, ledger) $(overhead) s"
