#!/bin/sh
# SPDX-License-Identifier: MIT
# pipe: hops: the program gets a minimal environment, no inherited fds, its
# own process group (killed whole), and no macro value in an option place.
. "${0%/*}/lib.sh"

mkspool
printf 'Subject: hello\n\nbody\n' >msg

conf() {
	printf '[General]\nSyslog = no\n[Sender]\nAddress = %s\nPipeTimeout = 2s\n' "$1" >mf.conf
	printf 'SendingIntervals = 0s, 10m\n' >>mf.conf
}
recv() { mf-receive -S spool -c mf.conf -f "$@" <msg; }
# send: mf-send, bounded so that a hang fails the test instead of the suite
send() { timeout 30 mf-send -S spool -c mf.conf "$@"; }
# dead PIDFILE: the process is gone (or a zombie), within 3 seconds
dead() {
	pid=$(cat "$1") && [ -n "$pid" ] || return 1
	for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15; do
		[ -e "/proc/$pid" ] && ! grep -q ') Z' "/proc/$pid/stat" 2>/dev/null || return 0
		sleep 0.2
	done
	echo "process $pid ($(cat /proc/$pid/cmdline | tr '\0' ' ')) still runs"
	kill -9 "$pid"
	return 1
}

cat >dumpenv <<EOF2
#!/usr/bin/perl
open(my \$f, ">", "$TRASH/env.out") or die;
print \$f "\$_=\$ENV{\$_}\\n" for sort keys %ENV;
EOF2
cat >fds <<EOF2
#!/bin/sh
ls /proc/self/fd >"$TRASH/fds.out"
EOF2
cat >argv <<EOF2
#!/bin/sh
printf '%s\n' "\$@" >"$TRASH/argv.out"
EOF2
# bg MODE: a program that leaves a sleep behind (its pid in bg.pid):
# held -- holding our stdout, then exit 0; quiet -- with its output
# elsewhere, exit 0; fg -- and waits for it; closed -- closes its output first
cat >bg <<EOF2
#!/bin/sh
case "\$1" in
held) sleep 1000 & echo \$! >"$TRASH/bg.pid"; exit 0 ;;
quiet) sleep 1000 >/dev/null 2>&1 & echo \$! >"$TRASH/bg.pid"; exit 0 ;;
fg) sleep 1000 & echo \$! >"$TRASH/bg.pid"; wait ;;
closed) exec >/dev/null 2>&1 </dev/null; echo \$\$ >"$TRASH/bg.pid"; exec sleep 1000 ;;
esac
EOF2
chmod +x dumpenv fds argv bg

test_expect_success 'the environment is exactly PATH, SENDER and RECIPIENT' '
	conf "pipe:$TRASH/dumpenv" &&
	p=$(recv a@example.org -- r@example.net) &&
	env HOME=/root MF_SECRET=leak LD_PRELOAD= IFS=x timeout 30 mf-send -S spool -c mf.conf "$p" && [ ! -e "$p" ] &&
	printf "%s\n" PATH=/usr/bin:/bin RECIPIENT=r@example.net SENDER=a@example.org >want &&
	test_cmp want env.out
'

test_expect_success 'with several recipients: no RECIPIENT; the null sender: SENDER empty' '
	p=$(recv "" -- r1@example.net r2@example.net) &&
	env FOO=bar timeout 30 mf-send -S spool -c mf.conf "$p" && [ ! -e "$p" ] &&
	printf "%s\n" PATH=/usr/bin:/bin SENDER= >want &&
	test_cmp want env.out
'

test_expect_success 'an fd mf-send inherited is not open in the program' '
	conf "pipe:$TRASH/fds" &&
	p=$(recv a@example.org -- r@example.net) &&
	exec 7>fd7 8<msg &&
	send "$p" && [ ! -e "$p" ] &&
	printf "%s\n" 0 1 2 3 >want && test_cmp want fds.out
'

test_expect_success 'a background child holding stdout: killed, no hang, deferred' '
	conf "pipe:$TRASH/bg held" &&
	p=$(recv a@example.org -- r@example.net) &&
	q=$(send "$p") && grep -qx "State: deferred" "$q/envelope" &&
	grep -q "^Last-Reply: 451 4.4.7 pipe .*/bg: " "$q/envelope" &&
	dead bg.pid
'

test_expect_success 'a program that runs past PipeTimeout: its whole group is killed' '
	conf "pipe:$TRASH/bg fg" && rm -f bg.pid &&
	p=$(recv a@example.org -- r@example.net) &&
	q=$(send "$p") && grep -qx "State: deferred" "$q/envelope" &&
	grep -q "^Last-Reply: 451 4.4.7 " "$q/envelope" && dead bg.pid
'

test_expect_success 'a program that closes its output and sleeps: killed at PipeTimeout' '
	conf "pipe:$TRASH/bg closed" && rm -f bg.pid &&
	p=$(recv a@example.org -- r@example.net) &&
	q=$(send "$p") && grep -qx "State: deferred" "$q/envelope" &&
	grep -q "^Last-Reply: 451 4.4.7 " "$q/envelope" && dead bg.pid
'

test_expect_success 'what a delivered program left behind in its group is killed' '
	conf "pipe:$TRASH/bg quiet" && rm -f bg.pid &&
	p=$(recv a@example.org -- r@example.net) &&
	send "$p" && [ ! -e "$p" ] && dead bg.pid
'

test_expect_success 'a sender starting with - in an option place fails for good (5.1.7)' '
	conf "pipe:$TRASH/argv -f %s %r" && rm -f argv.out &&
	p=$(recv -oQ/x@evil.org -- r@example.net) &&
	q=$(send "$p") && case "$q" in *spool/failed/new/*) ;; *) false ;; esac &&
	grep -q "^Last-Reply: 550 5.1.7 pipe .*argv: <-oQ/x@evil.org> would be read as an option" "$q/envelope" &&
	[ ! -e argv.out ]
'

test_expect_success 'after --, the same sender is an operand and is delivered' '
	conf "pipe:$TRASH/argv -- %s %r" &&
	p=$(recv -oQ/x@evil.org -- r@example.net) &&
	send "$p" && [ ! -e "$p" ] &&
	printf "%s\n" -- -oQ/x@evil.org r@example.net >want && test_cmp want argv.out
'

test_expect_success 'a recipient starting with - fails alone (5.1.3), the others are delivered' '
	conf "pipe:$TRASH/argv -f %s %r" &&
	p=$(recv a@example.org -- -x@example.net ok@example.net) &&
	q=$(send "$p") && case "$q" in *spool/failed/new/*) ;; *) false ;; esac &&
	grep -q "^Last-Reply: 550 5.1.3 pipe .*argv: <-x@example.net> would be read as an option" "$q/envelope" &&
	printf "%s\n" -f a@example.org ok@example.net >want && test_cmp want argv.out
'

test_done
