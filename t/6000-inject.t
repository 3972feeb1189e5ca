#!/bin/sh
# SPDX-License-Identifier: MIT
# mf-inject: inject by hand, list the queues, requeue failed mail.
. "${0%/*}/lib.sh"

mkspool
export MF_SPOOL=$TRASH/spool MF_CONFIG=/dev/null
printf 'Subject: by hand\r\n\r\nbody\r\n' >msg

test_expect_success 'injects a file into in/ by default, CRLF stored as LF' '
	p=$(mf-inject -f a@example.org -m msg -- b@example.net c@example.net) &&
	case "$p" in "$TRASH"/spool/in/new/*) ;; *) false ;; esac &&
	printf "Subject: by hand\n\nbody\n" >want && test_cmp want "$p/message" &&
	[ "$(grep -c "^Recipient:" "$p/envelope")" = 2 ]
'

test_expect_success 'injects stdin into out/ with -Q out' '
	p=$(mf-inject -Q out -f "<>" -- d@example.net <msg) &&
	case "$p" in "$TRASH"/spool/out/new/*) ;; *) false ;; esac &&
	grep -qx "Sender: <>" "$p/envelope"
'

test_expect_code 64 'refuses to inject into failed/' '
	mf-inject -Q failed -f a@example.org -m msg -- b@example.net
'

test_expect_code 64 'an unknown queue to list is a usage error' '
	mf-inject -l nosuch
'

# Make a failed entry by hand, as mf-send will: in failed/new, one recipient
# delivered, one failed, one deferred.
p=$(mf-inject -Q out -f a@example.org -m msg -- ok@example.net bad@example.net later@example.net)
id=${p##*/}
mkdir -p spool/failed/tmp spool/failed/new spool/failed/cur
mv "$p" spool/failed/new/
python3 - "spool/failed/new/$id/envelope" <<'PY'
import sys
p = sys.argv[1]
s = open(p).read()
def st(addr, state, extra):
    global s
    s = s.replace("Recipient: <%s>\nState: pending\nAttempts: 0\n" % addr,
                  "Recipient: <%s>\nState: %s\n%s" % (addr, state, extra))
st("ok@example.net", "delivered", "Attempts: 1\nLast-Reply: 250 2.0.0 Ok\n")
st("bad@example.net", "failed", "Attempts: 1\nLast-Reply: 550 5.1.1 no such user\nX-Future-Key: kept\n")
st("later@example.net", "deferred", "Attempts: 9\nNext-Attempt: 2030-01-01T00:00:00Z\nLast-Reply: 451 4.7.1 try later\n")
open(p, "w").write(s)
PY

test_expect_success 'lists every queue like mailq' '
	mf-inject -l >list &&
	grep -Eq "^in +[^ ]+ +[0-9]+[smhd]" list &&
	grep -Eq "^out +[^ ]+ .* <>$" list &&
	grep -Eq "^failed +$id +[0-9]+[smhd].* [0-9]+ <a@example.org>$" list &&
	grep -q "<ok@example.net> delivered attempts=1" list &&
	grep -q "<bad@example.net> failed attempts=1" list &&
	grep -q "(550 5.1.1 no such user)" list &&
	grep -q "<later@example.net> deferred attempts=9 next=2030-01-01T00:00:00Z" list &&
	test_last_line list "^-- 3 entries, [0-9]+ bytes$"
'

test_expect_success 'lists one queue' '
	mf-inject -l failed >list &&
	! grep -q "^in " list &&
	test_last_line list "^-- 1 entry, [0-9]+ bytes$" &&
	mf-inject -l quarantine >list &&
	test_last_line list "^-- quarantine is empty$"
'

test_expect_success 'requeue by id moves failed -> out and resets the undelivered' '
	q=$(mf-inject -r "$id") &&
	[ "$q" = "$TRASH/spool/out/new/$id" ] &&
	[ ! -e "spool/failed/new/$id" ] &&
	mf-inject -l out >list &&
	grep -q "<ok@example.net> delivered attempts=1" list &&
	grep -q "<bad@example.net> pending$" list &&
	grep -q "<later@example.net> pending$" list &&
	grep -qx "X-Future-Key: kept" "$q/envelope" &&
	grep -qx "Last-Reply: 550 5.1.1 no such user" "$q/envelope" &&
	! grep -q "^Next-Attempt" "$q/envelope"
'

test_expect_code 64 'requeue of an entry that is not in failed/ is refused' '
	mf-inject -r "$id" 2>err; rc=$?; grep -q "is in out/, not in failed/" err && exit $rc
'

test_expect_success 'requeue by path, and --all' '
	mv "spool/out/new/$id" spool/failed/new/ &&
	q=$(mf-inject -r "spool/failed/new/$id") && [ -d "$q" ] &&
	p1=$(mf-inject -Q out -f a@example.org -m msg -- x@example.net) &&
	p2=$(mf-inject -Q out -f a@example.org -m msg -- y@example.net) &&
	mv "$p1" "$p2" spool/failed/new/ &&
	mf-inject -r --all >moved &&
	[ "$(wc -l <moved)" = 2 ] &&
	[ "$(count_entries spool/failed)" = 0 ]
'

test_expect_success 'requeue --all takes back a stalled claim in failed/cur' '
	p=$(mf-inject -Q out -f a@example.org -m msg -- z@example.net) &&
	mv "$p" spool/failed/cur/ &&
	mf-inject -r --all >moved &&
	[ "$(wc -l <moved)" = 1 ] &&
	[ -z "$(ls spool/failed/cur)" ]
'

test_expect_code 64 'requeue needs ids or --all, not both' '
	mf-inject -r --all somename
'

test_done
