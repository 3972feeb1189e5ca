#!/bin/sh
# SPDX-License-Identifier: MIT
# mf-send on a full disk: a delivery whose outcome cannot be written is not
# made again on every queue run.  ENOSPC on the envelope rewrite comes from
# the fault shim t/fault.so; the peer is the real t/sink.py.  (t/5511: a
# real full file system.)
. "${0%/*}/lib.sh"

. "$T_DIR/peers.sh"
need_sink
need_fault_shim
start_sink plain

printf 'Subject: full\n\nbody\n' >msg
printf '[General]\nSyslog = no\n[Sender]\nAddress = inet:%s@127.0.0.1\nSendingIntervals = 0s, 0s, 0s, 0s, 0s, 0s\n' \
	"$SINK_PORT_plain" >mf.conf
# later@ is deferred every time, so every run must write the envelope
echo "rcpt later@example.net 451 4.3.0 try later" >plain.rules
rcpts() { cat plain/*.env 2>/dev/null | grep -cx "RCPT TO:<$1>" || true; }
# run_full: one queue run in which every envelope write fails with ENOSPC
run_full() {
	LD_PRELOAD=$FAULT MF_FAULT="write:ENOSPC:1+:envelope*" MF_FAULT_LOG=$TRASH/fault.log \
	ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0 \
		mf-send -S spool -c mf.conf -q -v >>runs.out 2>>runs.err
}

test_expect_success 'two entries, each for one recipient that takes it and one that defers' '
	mkspool &&
	mf-inject -S spool -c mf.conf -Q out -f a@example.org -m msg -- now1@example.net later@example.net >/dev/null &&
	mf-inject -S spool -c mf.conf -Q out -f a@example.org -m msg -- now2@example.net later@example.net >/dev/null &&
	[ $(count_entries spool/out) = 2 ]
'
test_expect_success 'four queue runs with ENOSPC on every envelope write' '
	for i in 1 2 3 4; do run_full || echo "run $i: exit $?"; done &&
	cat runs.err && test -s fault.log
'
test_expect_success '... each message reached the sink at most once' '
	echo "now1: $(rcpts now1@example.net), now2: $(rcpts now2@example.net)" &&
	[ $(rcpts now1@example.net) -le 1 ] && [ $(rcpts now2@example.net) -le 1 ] &&
	[ $(( $(rcpts now1@example.net) + $(rcpts now2@example.net) )) -ge 1 ]
'
test_expect_success '... the entry sent is held in quarantine/ with a clear log line' '
	[ $(count_entries spool/quarantine) -ge 1 ] &&
	grep -q "delivered to 1 recipient(s), but .*No space left on device.*held in quarantine/" runs.err
'
test_expect_success '... the run stopped at the first failed record (ENOSPC, 4.3.1)' '
	grep -q "queue run ended" runs.err &&
	[ $(grep -c "queue run ended" runs.err) -ge 1 ]
'
test_expect_success 'with room again, the deferred recipient of a held entry is not lost' '
	: >plain.rules &&
	[ $(count_entries spool/quarantine) -ge 1 ] &&
	grep -lx "Recipient: <later@example.net>" spool/quarantine/new/*/envelope
'

test_done
