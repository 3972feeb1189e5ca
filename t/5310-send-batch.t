#!/bin/sh
# SPDX-License-Identifier: MIT
# Recipient batching (issue 6, item 9) against the real sink: at most
# RecipientLimit recipients per transaction, a 452 4.5.3 ("too many
# recipients") opens the next transaction at once, and recipients a broken
# session never offered are not charged an attempt.
. "${0%/*}/lib.sh"

. "$T_DIR/peers.sh"
need_sink

start_sink plain

printf 'From: a@example.org\nSubject: many\n\nbody\n' >msg
conf() {
	sink_conf "$SINK_PORT_plain" 'SendingIntervals = 0s, 1m, 1h'
	for l in "$@"; do echo "$l" >>mf.conf; done
}
# inj SPOOL N: an entry for r1..rN@example.net
inj() {
	mkdir -p "$TRASH/$1"
	mf-inject -S "$TRASH/$1" -c mf.conf -Q out -f a@example.org -- \
		$(seq -f "r%g@example.net" 1 "$2") <msg
}
send() { sp=$1; shift; mf-send -S "$TRASH/$sp" -c mf.conf "$@"; }
field() { sed -n "/^Recipient: <$2>\$/,/^Recipient:/s/^$3: //p" "$1/envelope"; }
# per_msg: the number of recipients of each stored message, in order
per_msg() { for e in $(ls plain/*.env | sort -V); do grep -c "^RCPT TO:" "$e"; done | tr "\n" " "; }
# all_once N: r1..rN each stored exactly once
all_once() {
	cat plain/*.env | sed -n "s/^RCPT TO:<\(.*\)>\$/\1/p" | sort >got &&
	seq -f "r%g@example.net" 1 "$1" | sort >want && test_cmp want got
}
reset_sink() { rm -f plain/* plain/.[0-9]*; : >plain.rules; }

test_expect_success 'the default RecipientLimit (100): 250 recipients in 3 transactions' '
	conf && p=$(inj s1 250) &&
	q=$(send s1 "$p") && [ -z "$q" ] && [ ! -e "$p" ] &&
	[ "$(per_msg)" = "100 100 50 " ] && all_once 250
'

test_expect_success 'RecipientLimit = 7: 20 recipients in 7, 7, 6' '
	reset_sink && conf "RecipientLimit = 7" && p=$(inj s2 20) &&
	q=$(send s2 "$p") && [ -z "$q" ] &&
	[ "$(per_msg)" = "7 7 6 " ] && all_once 20
'

test_expect_success '452 4.5.3 after 40: the rest go at once, in the same run' '
	reset_sink && echo "rcptlimit 40" >plain.rules &&
	conf && p=$(inj s3 250) &&
	q=$(send s3 "$p") && [ -z "$q" ] && [ ! -e "$p" ] &&
	[ "$(per_msg)" = "40 40 40 40 40 40 10 " ] && all_once 250
'

test_expect_success 'RecipientLimit = 0 (none) and 452 after 100: 100, 100, 50' '
	reset_sink && echo "rcptlimit 100" >plain.rules &&
	conf "RecipientLimit = 0" && p=$(inj s3b 250) &&
	q=$(send s3b "$p") && [ -z "$q" ] &&
	[ "$(per_msg)" = "100 100 50 " ] && all_once 250
'

test_expect_success '452 to the only recipient offered: deferred as usual, charged' '
	reset_sink && echo "rcptlimit 0" >plain.rules &&
	conf && p=$(inj s4 3) &&
	q=$(send s4 "$p") && [ -n "$q" ] &&
	[ "$(field "$q" r1@example.net State)" = deferred ] &&
	[ "$(field "$q" r3@example.net Attempts)" = 1 ] &&
	field "$q" r2@example.net Last-Reply | grep -q "^452 4\.5\.3"
'

test_expect_success '452 to the data, some refused at RCPT: deferred, no second transaction' '
	reset_sink && rm -f plain/data.log &&
	printf "rcpt r1@example.net 550 5.1.1 no\ndata * 452 4.3.1 no room\n" >plain.rules &&
	conf && p=$(inj s4b 3) &&
	q=$(send s4b "$p") && [ -n "$q" ] &&
	[ "$(cat plain/data.log)" = "2 452" ] &&
	[ "$(field "$q" r1@example.net State)" = failed ] &&
	[ "$(field "$q" r2@example.net State)" = deferred ] &&
	[ "$(field "$q" r3@example.net Attempts)" = 1 ]
'

test_expect_success 'a session lost after the first transaction: the untried are not charged' '
	reset_sink && echo "dropafter 1" >plain.rules &&
	conf "RecipientLimit = 2" && p=$(inj s5 5) &&
	q=$(send s5 "$p") && [ -n "$q" ] && cat "$q/envelope" &&
	[ "$(field "$q" r1@example.net State)" = delivered ] &&
	[ "$(field "$q" r2@example.net State)" = delivered ] &&
	[ "$(field "$q" r3@example.net State)" = deferred ] &&
	[ "$(field "$q" r3@example.net Attempts)" = 1 ] &&
	[ "$(field "$q" r4@example.net Attempts)" = 1 ] &&
	[ "$(field "$q" r5@example.net State)" = pending ] &&
	[ "$(field "$q" r5@example.net Attempts)" = 0 ] &&
	echo "$q" >s5.entry
'

test_expect_success 'the untried one goes at the next run, its first attempt' '
	q=$(cat s5.entry) && : >plain.rules &&
	q2=$(send s5 -q) && cat "$q2/envelope" &&
	[ "$(field "$q2" r5@example.net State)" = delivered ] &&
	[ "$(field "$q2" r5@example.net Attempts)" = 1 ] &&
	[ "$(field "$q2" r3@example.net State)" = deferred ]
'

test_done
