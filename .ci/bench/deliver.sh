#!/usr/bin/env bash
# Condition + store + dispatch of one full frame (fsync on every file, as
# dataman always does) against `cp` + `sync` of the same bytes to two
# directories on the same disk, run alternately in one session; and the
# bound (.ci/bench/bound): the same two copies and a SHA-256 of the bytes at
# once, both synced, which is what the delivery cannot avoid once its
# conditioning is free.
#
#   .ci/bench/deliver.sh [RUNS]      (default 9; prints medians and the ratio)
#
# DATAMAN=/path/to/dataman measures that binary instead of building this tree.
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-9}
base=${BENCH_DIR:-$PWD}
work=$(mktemp -d "$base/.bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
if [ -n "${DATAMAN:-}" ]; then
	cp "$DATAMAN" "$work/dataman"
else
	go build -o "$work/dataman" ./cmd/dataman
fi
go build -o "$work/bound" ./.ci/bench/bound
"$work/dataman" synth --out "$work/raw" --channel mods1b --mode full >/dev/null
name=mods1b.20260119.0001.fits
# A conditioned copy of the same frame, the bytes cp has to move.
mkdir -p "$work/ref"
"$work/dataman" condition --out "$work/ref" "$work/raw/mods1b/$name" >/dev/null
cat "$work/raw/mods1b/$name" "$work/ref/$name" >/dev/null

secs() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.4f\n", b - a }'; }
: >"$work/dm.txt"
: >"$work/cp.txt"
: >"$work/bound.txt"
for i in $(seq "$runs"); do
	rm -rf "$work/proc" "$work/newdata" "$work/state" "$work/cp1" "$work/cp2"
	mkdir -p "$work/newdata" "$work/cp1" "$work/cp2"
	sync
	t0=$(secs)
	/usr/bin/time -f '%M' -o "$work/rss.txt" "$work/dataman" archive --dispatch \
		--set paths.dataDir="$work/raw" --set paths.procDir="$work/proc" \
		--set paths.repoDir="$work/newdata" --set paths.stateDir="$work/state" \
		--set paths.logDir="$work" "$name" >/dev/null 2>&1
	t1=$(secs)
	echo "$(elapsed "$t0" "$t1") $(cat "$work/rss.txt")" >>"$work/dm.txt"
	sync
	t0=$(secs)
	cp "$work/ref/$name" "$work/cp1/$name"
	cp "$work/ref/$name" "$work/cp2/$name"
	sync
	t1=$(secs)
	elapsed "$t0" "$t1" >>"$work/cp.txt"
	rm -rf "$work/cp1" "$work/cp2"
	mkdir -p "$work/cp1" "$work/cp2"
	sync
	"$work/bound" "$work/ref/$name" "$work/cp1/$name" "$work/cp2/$name" | awk '{print $2}' >>"$work/bound.txt"
done
dm=$(sort -n "$work/dm.txt" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
rss=$(sort -k2 -n "$work/dm.txt" | awk '{a[NR]=$2} END {printf "%.1f", a[int((NR+1)/2)]/1024}')
cp=$(sort -n "$work/cp.txt" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
printf 'dataman archive --dispatch: median %.3f s, peak RSS %s MB\n' "$dm" "$rss"
printf 'cp + cp + sync:             median %.3f s\n' "$cp"
bound=$(sort -n "$work/bound.txt" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
printf 'bound (two copies + SHA-256, both synced, no conditioning): median %.3f s\n' "$bound"
printf 'ratio: %.2f (%d runs each); bound / cp + cp + sync: %.2f\n' "$(awk -v a="$dm" -v b="$cp" 'BEGIN { print a / b }')" "$runs" "$(awk -v a="$bound" -v b="$cp" 'BEGIN { print a / b }')"
