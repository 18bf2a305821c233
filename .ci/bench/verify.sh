#!/bin/sh
# Benchmark of "dataman verify" (issue 6): verifies a night of N delivered
# frames (checksums, copies and ledger; no --deep) and, in the same run, cats
# the same files to /dev/null; reports both in MB/s of stored and dispatched
# copies, and their ratio.
#
#   .ci/bench/verify.sh            # 3 full frames (~0.9 GB of copies): small enough for CI
#   N=100 .ci/bench/verify.sh      # the issue's night of 100 full frames (~31 GB of copies)
#
# Two cases, each the best of ROUNDS rounds of cat then verify:
#   cold  the copies evicted from the page cache before each pass (sync, then
#         dd iflag=nocache, which drops only these files' pages): the disk
#         sets the pace, as on the instrument server and /newdata over NFS;
#   warm  the copies in the page cache: reading costs almost nothing, so this
#         shows verify's own cost (SHA-256 of the stored copy, FITS sums, the
#         comparison with the dispatched copy).
#
# Environment: N frames (3), MODE synth readout mode (full), ROUNDS (3),
# JOBS files verified at once (the number of CPUs), WORK folder to build the
# night in (default a new temporary folder, removed afterwards).
set -eu

N=${N:-3}
MODE=${MODE:-full}
ROUNDS=${ROUNDS:-3}
JOBS=${JOBS:-$(nproc)}
repo=$(cd "$(dirname "$0")/../.." && pwd)
if [ -n "${WORK:-}" ]; then
	mkdir -p "$WORK"
else
	WORK=$(mktemp -d "${TMPDIR:-/tmp}/dataman-bench-verify.XXXXXX")
	trap 'rm -rf "$WORK"' EXIT INT TERM
fi
cd "$WORK"

(cd "$repo" && go build -o "$WORK/dataman" ./cmd/dataman)
dm="$WORK/dataman"

# A night delivered through the one delivery path: verify --fix hands each
# raw file that lacks its copies to it.
"$dm" synth --out dataman-data/raw --channel mods1b --mode "$MODE" --count "$N" >/dev/null
"$dm" verify --fix --jobs "$JOBS" --log-level error >/dev/null
"$dm" verify --jobs "$JOBS" --log-level error >/dev/null # all must be intact
sync

files=$(ls dataman-data/proc/*/mods1b.*.fits dataman-data/newdata/mods1b.*.fits)
bytes=$(cat $files | wc -c)

now() { date +%s.%N; }
evict() { for f in $files; do dd if="$f" iflag=nocache count=0 status=none; done; }
min() { echo "$1 $2 $3" | awk '{d = $2 - $1; print (d < $3 ? d : $3)}'; }

echo "$N $MODE frames: $bytes bytes of stored and dispatched copies; $JOBS jobs; best of $ROUNDS"
for case in cold warm; do
	best_cat=999999
	best_verify=999999
	cat $files >/dev/null
	i=0
	while [ "$i" -lt "$ROUNDS" ]; do
		[ "$case" = cold ] && evict
		t0=$(now)
		cat $files >/dev/null
		t1=$(now)
		[ "$case" = cold ] && evict
		t2=$(now)
		"$dm" verify --jobs "$JOBS" --log-level error >/dev/null
		t3=$(now)
		best_cat=$(min "$t0" "$t1" "$best_cat")
		best_verify=$(min "$t2" "$t3" "$best_verify")
		i=$((i + 1))
	done
	echo "$case $bytes $best_cat $best_verify" | awk '{
		cat = $2 / 1e6 / $3; ver = $2 / 1e6 / $4
		printf "%s  cat > /dev/null %7.0f MB/s (%.3f s)   dataman verify %7.0f MB/s (%.3f s)   verify/cat %3.0f %% (target >= 70 %%)\n",
			$1, cat, $3, ver, $4, 100 * ver / cat
	}'
done
