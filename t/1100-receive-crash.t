#!/bin/sh
# SPDX-License-Identifier: MIT
# mf-receive killed with SIGKILL at random moments: an entry in in/new/ is
# always complete, and an exit 0 always means the printed entry is there.
#
# MF_CRASH_RUNS overrides the number of runs (300; 100 under ASan), MF_SEED
# the schedule's seed (printed; it replays the sources picked and the kill
# times relative to the tool's measured run time).
. "${0%/*}/lib.sh"

printf '[General]\nSyslog = no\n' >mf.conf
MF_CONFIG=$TRASH/mf.conf; export MF_CONFIG
if [ "${MF_SANITIZED:-}" = 1 ]; then runs=${MF_CRASH_RUNS:-100}; else runs=${MF_CRASH_RUNS:-300}; fi
seed=${MF_SEED:-$(date +%s)}
echo "# seed $seed (MF_SEED=$seed replays this schedule)"

# Busy-wait about $1 loop turns: no fork, so delays below 1 ms happen too
# (sleep(1) costs a few ms just to start on a slow machine).
spin() { _n=$1; while [ "$_n" -gt 0 ]; do _n=$((_n - 1)); done; }
now_us() { echo $(($(date +%s%N) / 1000)); }

# Succeeds when the command fails (a "! cmd" line is no assertion under set -e).
not() { if "$@"; then return 1; fi; }

# QUEUE/new, tmp and cur are empty; lists what is there when not.
queue_empty() {
	for _s in new tmp cur; do
		if [ -n "$(ls -A "$1/$_s")" ]; then echo "$1/$_s is not empty:"; ls -A "$1/$_s"; return 1; fi
	done
}

# Check one entry directory: exactly envelope + message, the envelope has a
# Sender, the Recipient naming its source, a Size equal to the message file's,
# and the message is the source byte for byte.  Prints why not.
verify_entry() {
	_d=$1
	_f=$(cd "$_d" && ls -A | tr '\n' ' ')
	[ "$_f" = "envelope message " ] || { echo "$_d: holds '$_f'"; return 1; }
	grep -q '^Sender: <sender@example\.org>$' "$_d/envelope" ||
		{ echo "$_d: no Sender"; return 1; }
	_src=$(sed -n 's/^Recipient: <src\([0-3]\)@example\.org>$/\1/p' "$_d/envelope")
	[ -n "$_src" ] || { echo "$_d: no Recipient"; return 1; }
	_size=$(sed -n 's/^Size: \([0-9][0-9]*\)$/\1/p' "$_d/envelope")
	_real=$(wc -c <"$_d/message")
	[ -n "$_size" ] && [ "$_size" -eq "$_real" ] ||
		{ echo "$_d: Size '$_size' but message has $_real bytes"; return 1; }
	cmp "$_d/message" "src.$_src" || { echo "$_d: message differs from src.$_src"; return 1; }
}

test_expect_success 'make four sources (1 KiB, 64 KiB, 1 MiB, 10 MiB, LF only)' '
	perl -e '\''
		my @size = (1024, 65536, 1048576, 10485760);
		for my $i (0 .. 3) {
			srand(1100 + $i);
			my $pool = join "", map { chr(32 + int(rand(95))) } 1 .. 65536;
			my $s = "Received: from gen by test; source $i\nSubject: source $i of the crash test\n"
			      . "Message-ID: <src$i.1100\@test.example>\n\n";
			my $n = 0;
			while (length($s) < $size[$i]) {
				$s .= sprintf("%07d %s\n", $n++, substr($pool, int(rand(65000)), int(rand(150))));
			}
			open(my $f, ">", "src.$i") or die;
			print $f substr($s, 0, $size[$i] - 1), "\n";
			close($f) or die;
		}'\''
	test "$(wc -c <src.0)" -eq 1024
	test "$(wc -c <src.1)" -eq 65536
	test "$(wc -c <src.2)" -eq 1048576
	test "$(wc -c <src.3)" -eq 10485760
	not grep -q "$(printf "\r")" src.3
	not cmp -s src.1 src.2
	mkspool
'

# Unkilled runs: each source is stored as it is, and they time the tool so
# that the kill delays cover its whole run, the commit and a little after.
test_expect_success 'unkilled runs store each source unchanged; calibrate' '
	: >durations
	for i in 0 1 2 3; do
		max=0
		for k in 1 2; do
			t0=$(now_us)
			p=$(mf-receive -S spool -f sender@example.org -- src$i@example.org <src.$i)
			t=$(($(now_us) - t0))
			if [ $t -gt $max ]; then max=$t; fi
			verify_entry "$p"
			rm -rf "$p"
		done
		echo $max >>durations
	done
	t0=$(now_us)
	spin 20000
	t=$(($(now_us) - t0))
	echo $((20000 * 1000 / (t > 0 ? t : 1))) >spins_per_ms
	queue_empty spool/in
'
echo "# unkilled mf-receive took $(tr '\n' ' ' <"$TRASH/durations")us; $(cat "$TRASH/spins_per_ms") spins/ms"

# The schedule: source and kill delay per run, uniform over 0 .. 1.5 times
# the source's unkilled run time (at least 1 ms, at most 300 ms: an ASan
# build takes over 100 ms, much of it after the commit, in its exit checks).
test_expect_success 'make the schedule' '
	awk -v seed="$seed" -v n="$runs" -v spm="$(cat spins_per_ms)" "
		NR <= 4 { d[NR - 1] = \$1 * 3 / 2; if (d[NR - 1] < 1000) d[NR - 1] = 1000;
			  if (d[NR - 1] > 300000) d[NR - 1] = 300000 }
		END { srand(seed); for (r = 1; r <= n; r++) { i = int(rand() * 4);
			us = int(rand() * d[i]); print i, us, int(us * spm / 1000) } }
	" durations >schedule &&
	test $(wc -l <schedule) -eq "$runs"
'

# One run: start, wait the scheduled time, SIGKILL, reap; then look at the
# spool and log "run src delay rc new tmp printed verdict" to runs.log.
one_run() { # run src delay_us spins
	: >out
	mf-receive -S spool -f sender@example.org -- "src$2@example.org" <"src.$2" >out 2>err &
	pid=$!
	spin "$4"
	kill -9 "$pid" 2>/dev/null || :
	rc=0; wait "$pid" || rc=$?
	printed= nlines=0
	while IFS= read -r line; do printed=$line; nlines=$((nlines + 1)); done <out
	set -- spool/in/new/*; [ -e "$1" ] || shift $#
	nnew=$# entry=${1:-}
	set -- spool/in/tmp/*; [ -e "$1" ] || shift $#
	ntmp=$#
	set -- spool/in/cur/*; [ -e "$1" ] || shift $#
	ncur=$#
	verdict=ok
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 137 ]; then
		verdict="exit-$rc:$(tail -n 1 err)"
	elif [ "$ncur" -ne 0 ]; then
		verdict=left-in-cur
	elif [ "$nnew" -gt 1 ]; then
		verdict=several-entries
	elif [ "$rc" -eq 0 ] && { [ "$nlines" -ne 1 ] || [ "$nnew" -ne 1 ] || [ "$printed" != "$entry" ]; }; then
		verdict="exit-0-but-printed-'$printed'-entry-'$entry'"
	elif [ "$nnew" -eq 1 ] && [ -n "$printed" ] && [ "$printed" != "$entry" ]; then
		verdict="printed-'$printed'-entry-'$entry'"
	elif [ "$nnew" -eq 1 ] && ! verify_entry "$entry" >why 2>&1; then
		verdict="partial:$(tr "\n " "| " <why)"
	fi
	[ "$verdict" = ok ] || cp -r spool/in "failed-run-$run" 2>/dev/null || :
	echo "$run $src $delay $rc $nnew $ntmp ${printed:--} $verdict" >>runs.log
	# Keep the disk use small: everything seen is checked and counted.
	if [ "$nnew" -ne 0 ] || [ "$ntmp" -ne 0 ]; then rm -rf spool/in/new/* spool/in/tmp/*; fi
}

test_expect_success "$runs runs of mf-receive killed with SIGKILL at random moments" '
	: >runs.log
	run=0
	while read -r src delay spins; do
		run=$((run + 1))
		one_run "$run" "$src" "$delay" "$spins"
	done <schedule
	test $(wc -l <runs.log) -eq "$runs"
'

ok_runs=$(awk '$4 == 0' "$TRASH/runs.log" | wc -l)
entries=$(awk '$5 == 1' "$TRASH/runs.log" | wc -l)
leftovers=$(awk '{ n += $6 } END { print n + 0 }' "$TRASH/runs.log")
late=$(awk '$4 == 137 && $5 == 1' "$TRASH/runs.log" | wc -l)
echo "# $runs runs, $ok_runs exited 0, $entries entries ($late of them from runs killed after the commit), $leftovers tmp leftovers"

test_expect_success 'every run exited 0 or died of the SIGKILL' '
	not grep " exit-" runs.log
	test -z "$(awk '\''$4 != 0 && $4 != 137'\'' runs.log)"
'
test_expect_success 'every exit 0 printed one path, and that entry was in in/new/' '
	not grep -e "exit-0-but" -e " printed-" runs.log
'
test_expect_success 'no entry in in/new/ was ever partial or corrupt' '
	not grep " partial:" runs.log
'
test_expect_success 'never more than one entry per run, never anything in in/cur/' '
	not grep -e several-entries -e left-in-cur runs.log
'
test_expect_success 'entries in in/new/ >= runs that exited 0' '
	test "$entries" -ge "$ok_runs"
'
test_expect_success 'the schedule hit both outcomes (some runs finished, some were killed)' '
	test "$ok_runs" -gt 0
	test "$(awk '\''$4 == 137'\'' runs.log | wc -l)" -gt 0
'
test_done
