#!/bin/sh
# SPDX-License-Identifier: MIT
# mf-send --loop: a queue runner service; SIGHUP reloads, SIGTERM stops.
. "${0%/*}/lib.sh"

mkspool
printf 'Subject: loop\n\nx\n' >msg
conf() {
	printf '[General]\nSyslog = no\n[Sender]\nQueueRunInterval = 1s\nAddress = %s\n' "$1" >mf.conf
}
# wait_for GLOB: until a file matches (10 s at most)
wait_for() {
	i=0
	while ! ls $1 >/dev/null 2>&1 && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	ls $1 >/dev/null 2>&1
}
conf "maildir:$TRASH/one/%u"
mf-send -S spool -c mf.conf --loop -v 2>loop.log &
loop=$!
test_pid $loop

test_expect_success 'the running loop delivers what lands in out/' '
	mf-inject -S spool -c mf.conf -Q out -f a@example.org -m msg -- u1@example.net >/dev/null &&
	wait_for "one/u1/new/*"
'

test_expect_success 'SIGHUP reloads the configuration' '
	conf "maildir:$TRASH/two/%u" &&
	kill -HUP $loop &&
	i=0; until grep -q "configuration reloaded" loop.log || [ $i -ge 50 ]; do sleep 0.1; i=$((i+1)); done &&
	mf-inject -S spool -c mf.conf -Q out -f a@example.org -m msg -- u2@example.net >/dev/null &&
	wait_for "two/u2/new/*" && [ ! -e one/u2 ]
'

test_expect_success 'a bad configuration on SIGHUP is refused, the old one kept' '
	printf "[Sender]\nAddress = nonsense\n" >mf.conf &&
	kill -HUP $loop &&
	i=0; until grep -q "keeping the old configuration" loop.log || [ $i -ge 50 ]; do sleep 0.1; i=$((i+1)); done &&
	grep -q "reload: .*bad next hop .nonsense.*keeping the old configuration" loop.log &&
	mf-inject -S spool -c /dev/null -Q out -f a@example.org -m msg -- u3@example.net >/dev/null &&
	wait_for "two/u3/new/*"
'

# wait works only here, in the shell that started it
kill -TERM $loop
wait $loop
rc=$?
test_expect_success 'SIGTERM stops it with exit 0' '
	[ $rc = 0 ] && grep -q "stopping" loop.log
'

test_done
