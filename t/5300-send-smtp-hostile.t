#!/bin/sh
# SPDX-License-Identifier: MIT
# mf-send against servers that lie or flood (issue 6, items 7 and 12): a 250
# reply to DATA, replies out of step with PIPELINING, data sent ahead of the
# 354, a 200,000-line greeting, a 1 MB reply line.  aiosmtpd (t/sink.py)
# cannot be made to do any of this, so t/fake-smtp.py, a scripted server,
# plays the hostile peer; the real sink shows the same entry going through.
. "${0%/*}/lib.sh"

. "$T_DIR/peers.sh"
need_sink

start_sink plain

# start_fake NAME ARGS...: t/fake-smtp.py on a free port, log in NAME.log
start_fake() {
	name=$1; shift
	port=$(free_port)
	"$PY" "$T_DIR/fake-smtp.py" --port "$port" --log "$TRASH/$name.log" "$@" \
		>"$TRASH/$name.out" 2>"$TRASH/$name.err" &
	test_pid $!
	i=0
	until grep -q ready "$TRASH/$name.out" 2>/dev/null; do
		i=$((i + 1))
		[ $i -lt 100 ] || { echo "Bail out! fake $name did not start"; cat "$TRASH/$name.err"; exit 1; }
		sleep 0.1
	done
	eval "FAKE_PORT_$name=$port"
}

printf 'From: a@example.org\nSubject: hostile\n\nbody\n' >msg
conf() {
	sink_conf "$1" 'SendingIntervals = 0s, 1m, 1h\nHeloCmdTimeout = 20s'
}
inj() { sp=$1; shift; mkdir -p "$TRASH/$sp"; mf-inject -S "$TRASH/$sp" -c mf.conf -Q out -f a@example.org -- "$@" <msg; }
send() { sp=$1; shift; mf-send -S "$TRASH/$sp" -c mf.conf "$@"; }
state() { sed -n "/^Recipient: <$2>\$/,/^Recipient:/s/^State: //p" "$1/envelope"; }
reply() { sed -n "/^Recipient: <$2>\$/,/^Recipient:/s/^Last-Reply: //p" "$1/envelope"; }

# deferred SPOOL FAKE WORDS: one entry to FAKE stays deferred, its reply holding WORDS
deferred() {
	conf "$2" &&
	p=$(inj "$1" x@example.net) &&
	q=$(send "$1" "$p" 2>"$1.err") && [ -n "$q" ] && [ -d "$q" ] &&
	cat "$q/envelope" "$1.err" &&
	[ "$(state "$q" x@example.net)" = deferred ] &&
	reply "$q" x@example.net | grep -F "$3"
}

start_fake data250 --data-reply '250 2.0.0 fake: queued (no data)\r\n'
start_fake data250p --pipelining --data-reply '250 2.0.0 fake: queued (no data)\r\n'
start_fake shifted --pipelining --after-ehlo '250 2.0.0 stray\r\n'
start_fake early --pipelining --data-reply '354 go\r\n250 2.0.0 queued before the data\r\n'
start_fake flood --greeting-lines 200000
start_fake longline --eod-len 1000000
start_fake longgreet --greeting-len 1000000

test_expect_success 'the real sink takes the same entry (control)' '
	conf "$SINK_PORT_plain" && p=$(inj s0 x@example.net) &&
	q=$(send s0 "$p") && [ -z "$q" ] && [ ! -e "$p" ] && [ -e plain/1.eml ]
'

test_expect_success '250 to DATA: deferred, not delivered, no body sent' '
	deferred s1 "$FAKE_PORT_data250" "reply to DATA out of step" &&
	! grep -q "^BODY" data250.log
'

test_expect_success '250 to DATA with PIPELINING: deferred, no body sent' '
	deferred s2 "$FAKE_PORT_data250p" "reply to DATA out of step" &&
	! grep -q "^BODY" data250p.log
'

test_expect_success 'PIPELINING, a stray reply shifts the rest: deferred, no body sent' '
	deferred s3 "$FAKE_PORT_shifted" "protocol error" &&
	! grep -q "^BODY" shifted.log
'

test_expect_success 'a reply sent ahead of the data: deferred' '
	deferred s4 "$FAKE_PORT_early" "data after the 354 reply"
'

test_expect_success 'a 200,000-line greeting: deferred after 100 lines, clear reason' '
	deferred s5 "$FAKE_PORT_flood" "reply with too many lines after greeting" &&
	! grep -q "^MAIL" flood.log
'

test_expect_success 'a 1 MB reply after the data: an error, not a truncated 250' '
	deferred s6 "$FAKE_PORT_longline" "reply line longer than 2048 bytes after end of data"
'

test_expect_success 'a 1 MB greeting line: deferred, nothing sent' '
	deferred s7 "$FAKE_PORT_longgreet" "reply line longer than 2048 bytes after greeting" &&
	! grep -q "^EHLO" longgreet.log
'

test_done
