#!/bin/sh
# SPDX-License-Identifier: MIT
# bench/send.sh -- mf-send against its peers, on loopback (make bench runs it
# from bench/run).  Each figure is a ratio against a peer measured in the
# same run, into the same smtp-sink (no -d: it writes nothing):
#
#  1. queue run: N entries spooled into out/ (one mf-inject, then copied
#     under new names), drained by one `mf-send -q`, against
#     `smtp-source -d -s 1 -m N -F MSG` sending the same message N times
#     over one session.  1 KiB and 100 KiB; runs alternate mf/peer.
#     mf-send's peak RSS (VmHWM at its exit, bench/peak.c) for both sizes.
#  2. chain, per message: `mf-receive < MSG | mf-send` against the floor of
#     the same shape, `floor DIR < MSG | smtp-source -s 1 -m 1 -F MSG`:
#     two processes exec'd and joined by a pipe, one durable write and one
#     SMTP transaction (bench/chain.c, alternating message by message).
#  3. reference: a private Postfix (own config and queue under the work
#     dir, root only) relaying N messages from smtp-source to the sink,
#     timed from the start of smtp-source until the sink has counted all N.
#
# Spools, the floor's directory and Postfix's queue all live in the work
# directory, on the filesystem measured; the header names it (type, mount
# options, mount point).  On tmpfs only the queue run is measured (fsync
# costs nothing there: the chain's floor and Postfix would be no reference).
#
# Environment: B (build dir), CC, REPS (3), N_Q1K (2000), N_Q100K (300),
# N_CHAIN (300), N_PF (1000), PF (1; 0 skips Postfix), SEND_PARTS (which of
# "queue chain postfix" to run, default all), BENCH_DIR (where the work
# directory goes, default bench/out), BENCH_WHAT (what that filesystem is,
# for the header; set by bench/run).
set -eu

cd "$(dirname "$0")/.."
B=${B:-build}
CC=${CC:-cc}
REPS=${REPS:-3}
N_Q1K=${N_Q1K:-2000}
N_Q100K=${N_Q100K:-300}
N_CHAIN=${N_CHAIN:-300}
N_PF=${N_PF:-1000}
PF=${PF:-1}
SEND_PARTS=${SEND_PARTS:-queue chain postfix}
OUT=bench/out
SEND=$B/mf-send
RECV=$B/mf-receive
INJECT=$B/mf-inject
SINK=/usr/sbin/smtp-sink
SOURCE=/usr/sbin/smtp-source
FROM=from@example.org
TO=to@example.net

for p in "$SEND" "$RECV" "$INJECT"; do
	[ -x "$p" ] || { echo "bench/send.sh: no $p -- run make first" >&2; exit 1; }
done
[ -x "$SINK" ] && [ -x "$SOURCE" ] ||
	{ echo "bench/send.sh: needs Postfix's smtp-sink and smtp-source in /usr/sbin" >&2; exit 1; }
command -v python3 >/dev/null || { echo "bench/send.sh: needs python3" >&2; exit 1; }
mkdir -p "$OUT"
for c in floor peak chain; do
	$CC -O2 -static -Wall -Wextra -o "$OUT/$c" "bench/$c.c"
done

BENCH_DIR=${BENCH_DIR:-$(pwd)/$OUT}
BENCH_WHAT=${BENCH_WHAT:-spool}
W=$BENCH_DIR/send.$$
SINKPID=
PFCONF=
cleanup() {
	if [ -n "$PFCONF" ]; then
		mpid=$(cat "$W/pf/queue/pid/master.pid" 2>/dev/null | tr -d ' ') || mpid=
		postfix -c "$PFCONF" stop >/dev/null 2>&1 || true
		i=0
		while [ -n "$mpid" ] && kill -0 "$mpid" 2>/dev/null && [ $i -lt 100 ]; do
			sleep 0.1; i=$((i + 1))
		done
		[ -n "$mpid" ] && kill -9 "$mpid" 2>/dev/null || true
	fi
	if [ -n "$SINKPID" ]; then
		kill "$SINKPID" 2>/dev/null || true
		wait "$SINKPID" 2>/dev/null || true
	fi
	rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir -p "$W"
chmod 755 "$W"
fstype=$(stat -f -c %T "$W")
want() { case " $SEND_PARTS " in *" $1 "*) return 0;; esac; return 1; }
case $fstype in tmpfs|ramfs)
	if want chain || want postfix; then
		echo "bench/send.sh: $W is on $fstype; fsync costs nothing there (SEND_PARTS=queue only)" >&2; exit 1
	fi;;
esac
# type, mount options and mount point of the filesystem under $1 (the last
# line: of two mounts on one point, the one on top)
fsof() {
	findmnt -n -o FSTYPE,OPTIONS,TARGET -T "$1" 2>/dev/null | tail -n 1 | awk '{ printf "%s opts=%s at %s", $1, $2, $3 }' | grep . ||
		echo "$(stat -f -c %T "$1") opts=? (no findmnt)"
}

freeport() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# A message of exactly $1 bytes: headers, base64 body in 76-column lines, LF.
mkmsg() {
	{ printf 'From: bench <%s>\nTo: %s\n' "$FROM" "$TO"
	  printf 'Subject: mf send bench %s bytes\nMessage-ID: <send.%s@example.org>\n\n' "$1" "$1"
	  head -c $(($1 * 3 / 4 + 1024)) /dev/urandom | base64 -w 76
	} | head -c $(($1 - 1))
	echo
}

field() { sed -n "s/.*$1=\([^ ]*\).*/\1/p"; }
med() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
now() { date +%s.%N; }

RESULTS=$W/results
: >"$RESULTS"
say() { printf '%s\n' "$*" | tee -a "$RESULTS"; }

# the sink: every SMTP peer delivers into it; -c counts sessions and messages
SPORT=$(freeport)
u=
[ "$(id -u)" = 0 ] && u="-u nobody"
# shellcheck disable=SC2086
"$SINK" -c $u 127.0.0.1:"$SPORT" 1000 >"$W/sink.out" 2>"$W/sink.err" &
SINKPID=$!
i=0
until ss -Hltn "sport = :$SPORT" | grep -q .; do
	i=$((i + 1))
	[ $i -lt 100 ] || { echo "bench/send.sh: smtp-sink did not start" >&2; cat "$W/sink.err" >&2; exit 1; }
	sleep 0.05
done
# sink counters: "SESSIONS MESSAGES" (sessions counted when they end)
counts() {
	tr '\r' '\n' <"$W/sink.out" | sed -n 's/^sess=\([0-9]*\) quit=[0-9]* mesg=\([0-9]*\)$/\1 \2/p' | tail -n 1 |
		awk '{ print } END { if (!NR) print "0 0" }'
}
# wait_mesg TARGET SECS: until the sink has counted TARGET messages
wait_mesg() {
	end=$(awk -v t="$(now)" -v s="$2" 'BEGIN { printf "%.0f", t + s }')
	while [ "$(counts | cut -d' ' -f2)" -lt "$1" ]; do
		[ "$(date +%s)" -lt "$end" ] || return 1
		sleep 0.005
	done
}
# settle: the sink counts a session only when it ends; wait for the count
settle() { sleep 0.05; }

CONF=$W/mf.conf
printf '[General]\nSyslog = no\n[Sender]\nAddress = inet:%s@127.0.0.1\nTLS = none\n' "$SPORT" >"$CONF"

# spool DIR N MSG: a fresh spool whose out/new holds N entries of MSG
spool() {
	rm -rf "$1"; mkdir -p "$1"
	[ "$(id -u)" != 0 ] || chown nobody: "$1"
	e=$("$INJECT" -S "$1" -c "$CONF" -Q out -f "$FROM" -- "$TO" <"$3")
	python3 - "$e" "$2" <<'PY'
import os, re, sys
src, n = sys.argv[1], int(sys.argv[2])
os.umask(0o077)
new, base = os.path.split(src)
head, _, tail = base.partition("Q")          # SECONDS.MUSECPPID Q COUNT.HOST
host = tail.partition(".")[2]
msg = open(os.path.join(src, "message"), "rb").read()
env = open(os.path.join(src, "envelope"), "r").read()
for i in range(n):
    eid = "%sQ%d.%s" % (head, 1000000 + i, host)
    d = os.path.join(new, eid)
    os.mkdir(d, 0o700)
    with open(os.path.join(d, "message"), "wb") as f:
        f.write(msg)
    with open(os.path.join(d, "envelope"), "w") as f:
        f.write(re.sub(r"(?m)^Id: .*$", "Id: " + eid, env))
for f in ("message", "envelope"):
    os.unlink(os.path.join(src, f))
os.rmdir(src)
PY
	[ "$(id -u)" != 0 ] || chown -R nobody: "$1"
	sync
}

say "mf-send bench $(date -u +%Y-%m-%dT%H:%M:%SZ)  host=$(uname -n) kernel=$(uname -r) cpus=$(nproc) load=$(cut -d' ' -f1-3 /proc/loadavg | tr ' ' /)"
say "fs=$(fsof "$W") ($BENCH_WHAT)"
say "git $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD -- lib cmd Makefile 2>/dev/null || echo '+dirty')  $SEND (sha256 $(sha256sum <"$SEND" | cut -c1-12)), $RECV; peers: Postfix $(postconf -d -h mail_version 2>/dev/null || echo "?") smtp-source/smtp-sink; loopback, smtp-sink without -d"
say ""
mkmsg 1024 >"$W/msg.1KiB"        # the chain's and Postfix's message

# ---- 1. queue run -------------------------------------------------------
if want queue; then
	say "queue run: mf-send -q draining N entries of out/ vs smtp-source -d -s 1 -m N -F MSG (one session), medians of $REPS alternating runs"
	say "$(printf '%-7s %5s %10s %10s %6s %8s %9s %9s %10s  %s' size N 'mf msg/s' 'src msg/s' ratio 'mf sess' 'mf ms cpu' 'src ms cpu' 'mf VmHWM' target)"
	RSS=
	for spec in 1024:1KiB:$N_Q1K 102400:100KiB:$N_Q100K; do
		bytes=${spec%%:*}; rest=${spec#*:}; name=${rest%%:*}; n=${rest#*:}
		msg=$W/msg.$name
		mkmsg "$bytes" >"$msg"
		: >"$W/q.mf"; : >"$W/q.src"; : >"$W/q.ratio"
		r=1
		while [ $r -le "$REPS" ]; do
			spool "$W/sp" "$n" "$msg"
			for who in $( [ $((r % 2)) = 1 ] && echo "mf src" || echo "src mf"); do
				settle
				set -- $(counts); s0=$1; m0=$2
				if [ "$who" = mf ]; then
					"$OUT/peak" "$W/peak.txt" "$SEND" -S "$W/sp" -c "$CONF" -q ||
						{ echo "bench/send.sh: mf-send -q failed" >&2; exit 1; }
				else
					"$OUT/peak" "$W/peak.txt" "$SOURCE" -d -s 1 -m "$n" -F "$msg" -f "$FROM" -t "$TO" 127.0.0.1:"$SPORT" ||
						{ echo "bench/send.sh: smtp-source failed" >&2; exit 1; }
				fi
				wait_mesg $((m0 + n)) 30 || { echo "bench/send.sh: $who: sink got $(counts) of $m0+$n" >&2; exit 1; }
				settle
				set -- $(counts)
				echo "$(cat "$W/peak.txt") sess=$(($1 - s0)) mesg=$(($2 - m0))" >>"$W/q.$who"
			done
			left=$(find "$W/sp/out/new" "$W/sp/out/cur" -mindepth 1 -maxdepth 1 | wc -l)
			[ "$left" = 0 ] || { echo "bench/send.sh: $left entries left in out/ after mf-send -q" >&2; exit 1; }
			awk -v n="$n" -v a="$(tail -n 1 "$W/q.mf" | field secs)" -v b="$(tail -n 1 "$W/q.src" | field secs)" \
				'BEGIN { printf "%.3f\n", b / a }' >>"$W/q.ratio"
			r=$((r + 1))
		done
		mfr=$(field secs <"$W/q.mf" | awk -v n="$n" '{ printf "%.1f\n", n / $1 }' | med)
		srr=$(field secs <"$W/q.src" | awk -v n="$n" '{ printf "%.1f\n", n / $1 }' | med)
		ratio=$(med <"$W/q.ratio")
		sess=$(field sess <"$W/q.mf" | med)
		mfc=$(field cpu_ms <"$W/q.mf" | awk -v n="$n" '{ printf "%.3f\n", $1 / n }' | med)
		src=$(field cpu_ms <"$W/q.src" | awk -v n="$n" '{ printf "%.3f\n", $1 / n }' | med)
		hwm=$(field vmhwm_kib <"$W/q.mf" | sort -g | tail -n 1)
		RSS="$RSS $name=$hwm"
		target=$(awk -v r="$ratio" 'BEGIN { print (r >= 0.5 ? "ratio >= 0.5: met" : "ratio >= 0.5: NOT MET") }')
		say "$(printf '%-7s %5s %10.1f %10.1f %6.2f %8s %9.3f %9.3f %7s KiB  %s' "$name" "$n" "$mfr" "$srr" "$ratio" "$sess" "$mfc" "$src" "$hwm" "$target")"
		say "        runs: mf $(field secs <"$W/q.mf" | awk -v n="$n" '{ printf "%.0f ", n / $1 }')| src $(field secs <"$W/q.src" | awk -v n="$n" '{ printf "%.0f ", n / $1 }')| ratios $(tr '\n' ' ' <"$W/q.ratio")| src sessions $(field sess <"$W/q.src" | tr '\n' ' ')"
		rm -rf "$W/sp"
	done
	rss1=$(echo "$RSS" | field 1KiB); rss100=$(echo "$RSS" | field 100KiB)
	say "$(printf 'peak RSS of mf-send -q (VmHWM at exit): 1 KiB entries %s KiB, 100 KiB entries %s KiB (%+d KiB)  independent of message size: %s' \
		"$rss1" "$rss100" $((rss100 - rss1)) "$(awk -v a="$rss1" -v b="$rss100" 'BEGIN { print (b - a < 256 ? "yes" : "NO") }')")"
	say ""
fi

# ---- 2. chain -------------------------------------------------------------
if want chain; then
	say "chain, 1 KiB: per message mf-receive < MSG | mf-send  vs  floor DIR < MSG | smtp-source -s 1 -m 1 -F MSG, N=$N_CHAIN, medians of $REPS"
	say "$(printf '%-7s %5s %10s %10s %6s %9s %9s  %s' size N 'mf msg/s' 'floor/s' ratio 'mf ms cpu' 'fl ms cpu' target)"
	msg=$W/msg.1KiB
	: >"$W/c.mf"; : >"$W/c.fl"; : >"$W/c.ratio"
	r=1
	while [ $r -le "$REPS" ]; do
		rm -rf "$W/ch" "$W/fl"; mkdir -p "$W/ch" "$W/fl/tmp" "$W/fl/new"
		[ "$(id -u)" != 0 ] || chown nobody: "$W/ch"; sync
		settle
		set -- $(counts); m0=$2
		"$OUT/chain" "$N_CHAIN" "$msg" \
			"$RECV" -S "$W/ch" -c "$CONF" -f "$FROM" -- "$TO" '|' "$SEND" -S "$W/ch" -c "$CONF" \
			::: "$OUT/floor" "$W/fl" '|' "$SOURCE" -s 1 -m 1 -F "$msg" -f "$FROM" -t "$TO" 127.0.0.1:"$SPORT" \
			>"$W/pair.txt"
		wait_mesg $((m0 + 2 * N_CHAIN)) 30 || { echo "bench/send.sh: chain: sink got $(counts) of $m0+2*$N_CHAIN" >&2; exit 1; }
		left=$(find "$W/ch" -mindepth 3 -maxdepth 3 | wc -l)
		[ "$left" = 0 ] || { echo "bench/send.sh: chain left $left entries in the spool" >&2; exit 1; }
		sed -n 's/^A //p' "$W/pair.txt" >>"$W/c.mf"
		sed -n 's/^B //p' "$W/pair.txt" >>"$W/c.fl"
		awk -v a="$(tail -n 1 "$W/c.mf" | field rate)" -v b="$(tail -n 1 "$W/c.fl" | field rate)" \
			'BEGIN { printf "%.3f\n", a / b }' >>"$W/c.ratio"
		r=$((r + 1))
	done
	rm -rf "$W/ch" "$W/fl"
	ratio=$(med <"$W/c.ratio")
	say "$(printf '%-7s %5s %10.1f %10.1f %6.2f %9.2f %9.2f  %s' 1KiB "$N_CHAIN" "$(field rate <"$W/c.mf" | med)" "$(field rate <"$W/c.fl" | med)" \
		"$ratio" "$(field cpu_ms <"$W/c.mf" | med)" "$(field cpu_ms <"$W/c.fl" | med)" \
		"$(awk -v r="$ratio" 'BEGIN { print (r >= 0.6 ? "ratio >= 0.6: met" : "ratio >= 0.6: NOT MET") }')")"
	say "        runs: mf $(field rate <"$W/c.mf" | tr '\n' ' ')| floor $(field rate <"$W/c.fl" | tr '\n' ' ')| ratios $(tr '\n' ' ' <"$W/c.ratio")"
	say ""
fi

# ---- 3. Postfix reference ------------------------------------------------
if ! want postfix; then
	:
elif [ "$PF" = 1 ] && [ "$(id -u)" = 0 ] && command -v postfix >/dev/null && id postfix >/dev/null 2>&1; then
	pf=$W/pf
	PPORT=$(freeport)
	mkdir -p "$pf/conf" "$pf/queue" "$pf/data"
	chown postfix "$pf/data"
	cat >"$pf/conf/main.cf" <<CF
compatibility_level = 3.6
queue_directory = $pf/queue
data_directory = $pf/data
myhostname = mf-bench.localdomain
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relayhost = [127.0.0.1]:$SPORT
smtpd_relay_restrictions = permit_mynetworks, reject
alias_maps =
alias_database =
local_recipient_maps =
maillog_file_prefixes = $pf
maillog_file = $pf/maillog
CF
	cat >"$pf/conf/master.cf" <<CF
127.0.0.1:$PPORT inet n - n - - smtpd
pickup    unix n - n 60 1 pickup
cleanup   unix n - n - 0 cleanup
qmgr      unix n - n 300 1 qmgr
rewrite   unix - - n - - trivial-rewrite
bounce    unix - - n - 0 bounce
defer     unix - - n - 0 bounce
trace     unix - - n - 0 bounce
verify    unix - - n - 1 verify
flush     unix n - n 1000? 0 flush
proxymap  unix - - n - - proxymap
smtp      unix - - n - - smtp
relay     unix - - n - - smtp
showq     unix n - n - - showq
error     unix - - n - - error
retry     unix - - n - - error
discard   unix - - n - - discard
anvil     unix - - n - 1 anvil
scache    unix - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
CF
	PFCONF=$pf/conf
	if postfix -c "$PFCONF" start >"$pf/start.log" 2>&1; then
		i=0
		until ss -Hltn "sport = :$PPORT" | grep -q .; do
			i=$((i + 1)); [ $i -lt 100 ] || break; sleep 0.05
		done
		msg=$W/msg.1KiB
		# warm-up: 20 messages, not counted
		set -- $(counts); m0=$2
		"$SOURCE" -d -s 1 -m 20 -F "$msg" -f "$FROM" -t "$TO" 127.0.0.1:"$PPORT"
		if wait_mesg $((m0 + 20)) 30; then
			: >"$W/pf.rate"
			r=1
			while [ $r -le "$REPS" ]; do
				set -- $(counts); m0=$2
				t0=$(now)
				"$SOURCE" -d -s 1 -m "$N_PF" -F "$msg" -f "$FROM" -t "$TO" 127.0.0.1:"$PPORT"
				t1=$(now)
				wait_mesg $((m0 + N_PF)) 60 || { echo "bench/send.sh: postfix: sink got $(counts) of $m0+$N_PF" >&2; break; }
				t2=$(now)
				awk -v n="$N_PF" -v a="$t0" -v b="$t1" -v c="$t2" \
					'BEGIN { printf "%.1f %.1f\n", n / (c - a), n / (b - a) }' >>"$W/pf.rate"
				r=$((r + 1))
			done
			say "reference: private Postfix $(postconf -d -h mail_version 2>/dev/null) relaying smtp-source -d -s 1 -m $N_PF (1 KiB) -> smtpd -> queue -> smtp -> the sink"
			say "$(printf '  %.1f msgs/s end to end (median of %s; runs %s); smtpd acceptance alone %.1f msgs/s' \
				"$(cut -d' ' -f1 <"$W/pf.rate" | med)" "$(wc -l <"$W/pf.rate")" "$(cut -d' ' -f1 <"$W/pf.rate" | tr '\n' ' ')" \
				"$(cut -d' ' -f2 <"$W/pf.rate" | med)")"
		else
			say "reference: Postfix did not relay the warm-up messages; see its log"
			tail -n 20 "$pf/maillog" >&2 || true
		fi
	else
		say "reference: postfix did not start: $(tr '\n' ' ' <"$pf/start.log")"
	fi
else
	say "reference: Postfix skipped (needs root, postfix and PF=1)"
fi
say ""
cat "$RESULTS" >>"$OUT/results.txt"
