#!/bin/sh
# SPDX-License-Identifier: MIT
# bench/receive.sh -- mf-receive against the durable-spool floor (make bench
# runs it from bench/run, once per filesystem of BENCH_FS).
#
# For 1 KiB, 100 KiB and 10 MiB messages, runs N mf-receive processes (one
# per message) and N processes of bench/floor.c (static: create in tmp/,
# write, fsync, rename into new/, fsync new/), alternating message by
# message on the same disk (bench/drive.c), three times, and prints the
# median messages/s of each and the median of the three mf/floor ratios.  Then one mf-receive on a 100 MiB
# message for its peak RSS.  Results go to stdout and are appended, dated,
# to bench/out/results.txt.  Not part of make check.  The header names the
# filesystem under the work directory: type, mount options, mount point.
#
# Environment: B (build dir, default build), RECV (the mf-receive to
# measure, default $B/mf-receive), CC, N_1K N_100K N_10M (messages per
# measurement, default 1000 300 60), REPS (default 3), BENCH_DIR (where
# the work directory goes, default bench/out), BENCH_WHAT (what that
# filesystem is, for the header; set by bench/run).
set -eu

cd "$(dirname "$0")/.."
B=${B:-build}
CC=${CC:-cc}
N_1K=${N_1K:-1000}
N_100K=${N_100K:-300}
N_10M=${N_10M:-60}
REPS=${REPS:-3}
OUT=bench/out
RECV=${RECV:-$B/mf-receive}
BENCH_DIR=${BENCH_DIR:-$(pwd)/$OUT}
BENCH_WHAT=${BENCH_WHAT:-spool}

[ -x "$RECV" ] || { echo "bench: no $RECV -- run make first" >&2; exit 1; }
mkdir -p "$OUT"
$CC -O2 -static -Wall -Wextra -o "$OUT/floor" bench/floor.c
$CC -O2 -static -Wall -Wextra -o "$OUT/drive" bench/drive.c

W=$BENCH_DIR/work.$$           # spools and messages: on the filesystem measured
cleanup() { rm -rf "$W"; }
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir -p "$W"
# Started as root, both sides run as nobody, as an MTA's pipe transport runs
# mf-receive as the mail filter user (a tool started as root would become
# the spool's owner first, a cost no real pipe pays).
AS=
if [ "$(id -u)" = 0 ]; then
	AS="setpriv --reuid=nobody --regid=nogroup --clear-groups --"
	chown nobody: "$W"
fi
fstype=$(stat -f -c %T "$W")
# type, mount options and mount point of the filesystem under $1 (the last
# line: of two mounts on one point, the one on top)
fsof() {
	findmnt -n -o FSTYPE,OPTIONS,TARGET -T "$1" 2>/dev/null | tail -n 1 | awk '{ printf "%s opts=%s at %s", $1, $2, $3 }' | grep . ||
		echo "$(stat -f -c %T "$1") opts=? (no findmnt)"
}
case $fstype in tmpfs|ramfs)
	echo "bench: $W is on $fstype; fsync costs nothing there -- results would lie" >&2
	exit 1;;
esac

# A message of exactly $1 bytes: headers, base64 body in 76-column lines, LF.
mkmsg() {
	{ printf 'From: bench <bench@example.org>\nTo: rcpt@example.net\n'
	  printf 'Subject: mf bench %s bytes\nMessage-ID: <bench.%s@example.org>\n\n' "$1" "$1"
	  head -c $(($1 * 3 / 4 + 1024)) /dev/urandom | base64 -w 76
	} | head -c $(($1 - 1))
	echo
}

# fresh empty spools, nothing dirty left from the previous measurement
fresh() {
	rm -rf "$W/mf" "$W/fl"
	mkdir -p "$W/mf" "$W/fl/tmp" "$W/fl/new"
	[ -z "$AS" ] || chown -R nobody: "$W/mf" "$W/fl"
	sync
}

field() { sed -n "s/.*$1=\([^ ]*\).*/\1/p"; }
median() { sort -g | sed -n "$(( ($REPS + 1) / 2 ))p"; }

RESULTS=$W/results
: >"$RESULTS"
say() { printf '%s\n' "$*" | tee -a "$RESULTS"; }

say "mf bench $(date -u +%Y-%m-%dT%H:%M:%SZ)  host=$(uname -n) kernel=$(uname -r) cpus=$(nproc) load=$(cut -d' ' -f1-3 /proc/loadavg | tr ' ' /)"
say "fs=$(fsof "$W") ($BENCH_WHAT)"
say "git $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD -- lib cmd Makefile 2>/dev/null || echo '+dirty')  $RECV ($(file -b "$RECV" 2>/dev/null | grep -o 'statically linked\|dynamically linked' || echo '?'), sha256 $(sha256sum <"$RECV" | cut -c1-12)) vs static floor"
say "messages alternate mf, floor one by one; rates are medians of $REPS runs, ratio the median of the $REPS runs' mf/floor"
say ""
say "$(printf '%-8s %6s %10s %10s %7s %9s %9s  %s' size N 'mf msg/s' 'floor/s' ratio 'mf ms cpu' 'fl ms cpu' target)"

for spec in 1024:1KiB:$N_1K 102400:100KiB:$N_100K 10485760:10MiB:$N_10M; do
	bytes=${spec%%:*}; rest=${spec#*:}; name=${rest%%:*}; n=${rest#*:}
	msg=$W/msg.$name
	mkmsg "$bytes" >"$msg"
	: >"$W/mf.txt"; : >"$W/fl.txt"; : >"$W/ratio.txt"
	r=1
	while [ $r -le "$REPS" ]; do
		fresh
		# one drive call alternates mf and floor message by message
		$AS "$OUT/drive" "$n" "$msg" "$RECV" -S "$W/mf" -f bench@example.org -- rcpt@example.net \
			::: "$OUT/floor" "$W/fl" >"$W/pair.txt"
		sed -n 's/^A //p' "$W/pair.txt" >>"$W/mf.txt"
		sed -n 's/^B //p' "$W/pair.txt" >>"$W/fl.txt"
		mfr=$(tail -n 1 "$W/mf.txt" | field rate)
		flr=$(tail -n 1 "$W/fl.txt" | field rate)
		echo "$mfr $flr" | awk '{ printf "%.3f\n", $1 / $2 }' >>"$W/ratio.txt"
		r=$((r + 1))
	done
	mf=$(field rate <"$W/mf.txt" | median)
	fl=$(field rate <"$W/fl.txt" | median)
	ratio=$(median <"$W/ratio.txt")
	mfc=$(field cpu_ms <"$W/mf.txt" | median)
	flc=$(field cpu_ms <"$W/fl.txt" | median)
	target=
	[ "$name" = 1KiB ] && target=$(awk -v r="$ratio" 'BEGIN { print (r >= 0.7 ? "ratio >= 0.7: met" : "ratio >= 0.7: NOT MET") }')
	say "$(printf '%-8s %6s %10.1f %10.1f %7.2f %9.2f %9.2f  %s' "$name" "$n" "$mf" "$fl" "$ratio" "$mfc" "$flc" "$target")"
	say "         runs: mf $(field rate <"$W/mf.txt" | tr '\n' ' ')| floor $(field rate <"$W/fl.txt" | tr '\n' ' ')| ratios $(tr '\n' ' ' <"$W/ratio.txt")"
	rm -f "$msg"
	rm -rf "$W/mf" "$W/fl"
done

# Peak RSS on a 100 MiB message (the child's ru_maxrss; drive is static and
# tiny, so the spawn lends it next to nothing).
msg=$W/msg.100MiB
mkmsg 104857600 >"$msg"
fresh
printf '[Receiver]\nMaxSize = 200M\n' >"$W/rss.conf"   # the default limit is 50M
rss=$($AS "$OUT/drive" 1 "$msg" "$RECV" -c "$W/rss.conf" -S "$W/mf" -f bench@example.org -- rcpt@example.net | field maxrss_kib)
flrss=$($AS "$OUT/drive" 1 "$msg" "$OUT/floor" "$W/fl" | field maxrss_kib)
say ""
say "$(printf 'peak RSS, 100 MiB message: mf-receive %s KiB (%.2f MiB), floor %s KiB  target < 8 MiB: %s' \
	"$rss" "$(awk -v k="$rss" 'BEGIN { print k / 1024 }')" "$flrss" \
	"$(awk -v k="$rss" 'BEGIN { print (k < 8192 ? "met" : "NOT MET") }')")"
say ""
cat "$RESULTS" >>"$OUT/results.txt"

