#!/usr/bin/env bash
# Memory and start-up with years of history: a ledger of 1,000,000 lines in
# the single-file format of dataman 0.1 (about 330,000 frames over 1,100
# nights), beside one real night of delivered frames. It measures:
#
#   - the one-time migration into night files (the first command that opens
#     the ledger for writing does it);
#   - a no-op `sweep` of the real night (median wall time, peak RSS);
#   - `archive` of one delivered file (median wall time, peak RSS);
#   - `listen`'s RSS once it is up and its start-up sweep is done.
#
#   .ci/bench/ledger.sh [RUNS] [LINES] [FRAMES]    (defaults 9, 1000000, 100)
#
# DATAMAN=/path/to/dataman measures that binary instead of building this tree
# (an older build reads the single-file ledger as it is, every time).
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-9}
lines=${2:-1000000}
frames=${3:-100}
base=${BENCH_DIR:-$PWD}
work=$(mktemp -d "$base/.bench.XXXXXX")
trap 'kill "${lpid:-}" 2>/dev/null || true; rm -rf "$work"' EXIT
if [ -n "${DATAMAN:-}" ]; then
	cp "$DATAMAN" "$work/dataman"
else
	go build -o "$work/dataman" ./cmd/dataman
fi
dm="$work/dataman"
# The folders come from the environment, which every dataman version reads
# (the night's frames were just made; a real night is hours old).
export DATAMAN_PATHS_DATADIR="$work/raw" DATAMAN_PATHS_PROCDIR="$work/proc" DATAMAN_PATHS_REPODIR="$work/newdata"
export DATAMAN_PATHS_STATEDIR="$work/state" DATAMAN_PATHS_LOGDIR="$work" DATAMAN_SWEEP_MINAGE=0s
mkdir -p "$work/newdata"

# One real night, delivered.
"$dm" synth --out "$work/raw" --channel mods1b --mode 1k-2x2 --count "$frames" >/dev/null
"$dm" archive --dispatch --night 20260119 >/dev/null 2>&1

# The history: three lines per frame (condition, store, dispatch) of frames
# whose copies the archive took long ago, written in the 0.1 format before
# the night's own lines, as an upgraded site has it.
legacy="$work/state/ledger/MODS1B.ledger"
awk -v lines="$lines" -v repo="$work/newdata" -v proc="$work/proc" 'BEGIN {
	sha = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	t = 1700000000
	n = 0; frame = 0
	while (n < lines) {
		night = strftime("%Y%m%d", t + int(frame / 300) * 86400, 1)
		seq = frame % 300 + 1
		f = sprintf("mods1b.%s.%04d.fits", night, seq)
		stamp = strftime("%Y-%m-%dT%H:%M:%SZ", t + frame * 60, 1)
		print f " step=condition status=ok raw_size=659520 raw_sha256=" sha " out_size=1730880 out_sha256=" sha " version=0.1.0 config=sha256:e870cae9746a9a91 attempt=1 time=" stamp " uniqname=mods1.20240101.000000.fits"
		print f " step=store status=ok out_size=1730880 out_sha256=" sha " dest=" proc "/" night "/" f " mtime=1700000000000000000 version=0.1.0 config=sha256:e870cae9746a9a91 attempt=1 time=" stamp
		print f " step=dispatch status=ok out_size=1730880 out_sha256=" sha " dest=" repo "/" f " mtime=1700000000000000000 version=0.1.0 config=sha256:e870cae9746a9a91 attempt=1 time=" stamp
		n += 3; frame++
	}
}' >"$work/history"
if [ -d "$work/state/ledger/MODS1B" ]; then
	# This build keeps night files: give it the history as 0.1 left it.
	cat "$work/history" "$work/state/ledger/MODS1B/"*.ledger >"$legacy"
	rm -rf "$work/state/ledger/MODS1B"
else
	cat "$work/history" "$legacy" >"$work/l" && mv "$work/l" "$legacy"
fi
rm "$work/history"
printf 'history: %d lines, %s\n' "$(wc -l <"$legacy")" "$(du -h "$legacy" | cut -f1)"

secs() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.4f\n", b - a }'; }
timed() { # out-file command...: wall seconds and peak RSS (kB) of one run
	local out=$1
	shift
	local t0 t1
	t0=$(secs)
	/usr/bin/time -f '%M' -o "$work/rss.txt" "$@" >/dev/null 2>&1 || true
	t1=$(secs)
	echo "$(elapsed "$t0" "$t1") $(cat "$work/rss.txt")" >>"$out"
}
median() { sort -n -k"$2" "$1" | awk -v k="$2" '{a[NR]=$k} END {print a[int((NR+1)/2)]}'; }

: >"$work/migrate.txt"
timed "$work/migrate.txt" "$dm" sweep --night 20260119
read -r mt mr <"$work/migrate.txt"
printf 'first command (migration of the history + no-op sweep): %.3f s, peak RSS %.1f MB\n' "$mt" "$(awk -v k="$mr" 'BEGIN{print k/1024}')"

: >"$work/sweep.txt"
: >"$work/archive.txt"
for _ in $(seq "$runs"); do
	timed "$work/sweep.txt" "$dm" sweep --night 20260119
	timed "$work/archive.txt" "$dm" archive mods1b.20260119.0001.fits
done
printf 'no-op sweep of one night (%d frames): median %.3f s, peak RSS %.1f MB (%d runs)\n' "$frames" \
	"$(median "$work/sweep.txt" 1)" "$(awk -v k="$(median "$work/sweep.txt" 2)" 'BEGIN{print k/1024}')" "$runs"
printf 'archive of one delivered file:      median %.3f s, peak RSS %.1f MB (%d runs)\n' \
	"$(median "$work/archive.txt" 1)" "$(awk -v k="$(median "$work/archive.txt" 2)" 'BEGIN{print k/1024}')" "$runs"

# listen: RSS once it is up and idle after its start-up sweep (of today's
# nights, plus the real one).
"$dm" listen --addr 127.0.0.1:0 --night 20260119 --set sweep.every=0 2>"$work/listen.log" &
lpid=$!
for _ in $(seq 600); do
	grep -q 'sweep finished' "$work/listen.log" 2>/dev/null && break
	sleep 0.1
done
sleep 0.5
rss=$(awk '/VmRSS/ {print $2}' "/proc/$lpid/status")
hwm=$(awk '/VmHWM/ {print $2}' "/proc/$lpid/status")
kill -TERM "$lpid"
wait "$lpid" 2>/dev/null || true
lpid=
printf 'listen after start-up:              RSS %.1f MB (peak %.1f MB)\n' "$(awk -v k="$rss" 'BEGIN{print k/1024}')" "$(awk -v k="$hwm" 'BEGIN{print k/1024}')"
