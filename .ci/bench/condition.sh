#!/usr/bin/env bash
# Wall time and peak RSS of `dataman condition` on one full frame
# (4 × 4178×1544), warm page cache, under /usr/bin/time -v.
#
#   .ci/bench/condition.sh [RUNS]     (default 11 runs; prints each and the median)
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-11}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go build -o "$work/dataman" ./cmd/dataman
"$work/dataman" synth --out "$work/raw" --channel mods1b --mode full >/dev/null
raw=$work/raw/mods1b/mods1b.20260119.0001.fits
mkdir -p "$work/out"
cat "$raw" >/dev/null # warm the page cache
"$work/dataman" condition --out "$work/out" "$raw" >/dev/null
printf 'run  wall_s  peak_rss_MB\n'
for i in $(seq "$runs"); do
	# Each run writes the file anew: condition leaves alone a file that is
	# already there with the same bytes.
	rm -f "$work/out/mods1b.20260119.0001.fits"
	/usr/bin/time -v "$work/dataman" condition --out "$work/out" "$raw" >/dev/null 2>"$work/time.txt"
	wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {split($2,a,":"); print a[1]*60+a[2]}' "$work/time.txt")
	rss=$(awk -F': ' '/Maximum resident set size/ {printf "%.1f", $2/1024}' "$work/time.txt")
	printf '%3d  %6.3f  %7s\n' "$i" "$wall" "$rss" | tee -a "$work/runs.txt"
done
wall=$(sort -k2 -n "$work/runs.txt" | awk '{a[NR]=$2} END {print a[int((NR+1)/2)]}')
rss=$(sort -k3 -n "$work/runs.txt" | awk '{a[NR]=$3} END {print a[int((NR+1)/2)]}')
printf 'median wall %s s, median peak RSS %s MB (%d runs; output %d bytes)\n' "$wall" "$rss" "$runs" \
	"$(stat -c %s "$work/out/mods1b.20260119.0001.fits")"
