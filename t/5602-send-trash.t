#!/bin/sh
# SPDX-License-Identifier: MIT
# Trash: a delivered entry leaves out/cur/ by one rename into out/tmp/trash.ID
# and a thread of mf-send frees it.  mf-send killed (-9) while trash waits
# leaves every message in exactly one place -- out/new, out/cur or trash --
# and the next queue run removes the trash at once and delivers nothing twice.
# The fault shim t/fault.so makes the thread's unlinks fail, so that trash is
# there when the kill comes; the peer is the real t/sink.py.
. "${0%/*}/lib.sh"

. "$T_DIR/peers.sh"
need_sink
need_fault_shim
start_sink plain

N=30
conf() {
	printf '[General]\nSyslog = no\n[Sender]\nAddress = inet:%s@127.0.0.1\n%s\n' \
		"$SINK_PORT_plain" "$1" >mf.conf
}
ntrash() { ls spool/out/tmp | grep -c '^trash\.' || true; }
# the Subject lines of the messages in files "$@", sorted (the sink's copies end in CRLF)
subjects() { cat "$@" 2>/dev/null | tr -d '\r' | grep -h '^Subject:' | sort || true; }

test_expect_success "$N entries in out/" '
	mkspool && conf "" &&
	i=0 && while [ $i -lt $N ]; do
		printf "Subject: m%d\n\nbody %d\n" $i $i >msg &&
		mf-inject -S spool -c mf.conf -Q out -f a@example.org -m msg -- b@example.net >/dev/null &&
		i=$((i + 1)) || return 1
	done &&
	[ $(count_entries spool/out) = $N ]
'

test_expect_success 'kill -9 while trash waits to be freed' '
	echo "delay data 0.2" >plain.rules &&
	LD_PRELOAD=$FAULT MF_FAULT="unlinkat:EIO:1+:out/tmp/trash.*/*" \
	ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0 \
		mf-send -S spool -c mf.conf -q >/dev/null 2>run1.err &
	pid=$! && i=0 &&
	while [ $i -lt 300 ] && [ $(ntrash) -lt 3 ]; do sleep 0.05; i=$((i + 1)); done &&
	kill -9 $pid && { wait $pid || :; } && : >plain.rules &&
	echo "trash: $(ntrash), delivered: $(ls plain/*.eml | wc -l)" &&
	[ $(ntrash) -ge 3 ] && ls spool/out/tmp/trash.*/message >/dev/null
'

test_expect_success '... each message is in exactly one place; trash holds only delivered ones' '
	echo "trash $(ntrash) new $(count_entries spool/out) cur $(ls spool/out/cur | wc -l)" &&
	all=$(subjects spool/out/new/*/message spool/out/cur/*/message spool/out/tmp/trash.*/message) &&
	[ $(echo "$all" | wc -l) = $N ] && [ -z "$(echo "$all" | uniq -d)" ] &&
	subjects spool/out/tmp/trash.*/message >trashed &&
	subjects plain/*.eml >sent1 &&
	[ -z "$(comm -23 trashed sent1)" ] &&
	subjects spool/out/cur/*/message >inflight
'

test_expect_success 'mf-inject -l lists no trash' '
	mf-inject -S spool -c mf.conf -l >list &&
	! grep -q trash list && ! grep -q invalid list &&
	grep -q "^-- $(($N - $(ntrash))) entries" list
'

test_expect_success 'the next queue run removes the trash and delivers the rest' '
	conf "StalledProcessingInterval = 0s" &&
	mf-send -S spool -c mf.conf -q -v >/dev/null 2>run2.err &&
	[ $(ntrash) = 0 ] && [ -z "$(ls spool/out/tmp)" ] &&
	[ $(count_entries spool/out) = 0 ] && [ -z "$(ls spool/out/cur)" ] &&
	[ -z "$(ls spool/corrupt/new 2>/dev/null)" ]
'

test_expect_success '... every message reached the sink, none twice (but one caught in flight)' '
	subjects plain/*.eml >sent &&
	[ $(uniq sent | wc -l) = $N ] &&
	uniq -d sent >twice && cat twice &&
	[ -z "$(comm -23 twice inflight)" ]
'

test_expect_success 'without faults a queue run leaves no trash behind' '
	printf "Subject: last\n\nbody\n" >msg &&
	mf-inject -S spool -c mf.conf -Q out -f a@example.org -m msg -- b@example.net >/dev/null &&
	mf-send -S spool -c mf.conf -q >/dev/null &&
	[ -z "$(ls spool/out/tmp)" ] && [ $(count_entries spool/out) = 0 ] &&
	grep -q "^Subject: last" plain/*.eml
'

test_done
