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
	/usr/bin/time -v "$work/dataman" condition --out "$work/out" "$raw" >/dev/null 2>"$work/time.txt"
	wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {split($2,a,":"); print a[1]*60+a[2]}' "$work/time.txt")
	rss=$(awk -F': ' '/Maximum resident set size/ {printf "%.1f", $2/1024}' "$work/time.txt")
	printf '%3d  %6.3f  %7s\n' "$i" "$wall" "$rss" | tee -a "$work/runs.txt"
done
sort -k2 -n "$work/runs.txt" | awk '{w[NR]=$2; r[NR]=$3} END {m=int((NR+1)/2); printf "median wall %.3f s, median peak RSS %s MB (%d runs; output %d bytes)\n", w[m], r[m], NR, 0}' \
	| sed "s/output 0 bytes/output $(stat -c %s "$work/out/mods1b.20260119.0001.fits") bytes/"
