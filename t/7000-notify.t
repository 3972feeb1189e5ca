#!/bin/sh
# SPDX-License-Identifier: MIT
# mf-notify: delivery status notifications for failed and delayed mail.
. "${0%/*}/lib.sh"

mkspool
export MF_SPOOL=$TRASH/spool MF_CONFIG=/dev/null
printf 'From: A <a@example.org>\nSubject: figures\nMessage-ID: <m1@example.org>\n\nthe body 4711\n' >msg
mkdir -p spool/failed/tmp spool/failed/new spool/failed/cur

# An entry in failed/new as mf-send leaves it: one recipient delivered, one
# failed, one deferred.  $1: sender.  Prints its id.
make_failed() {
	p=$(mf-inject -Q out -f "$1" -m msg -- ok@example.net bad@example.net later@example.net) &&
	mv "$p" spool/failed/new/ &&
	set_states "spool/failed/new/${p##*/}/envelope" &&
	echo "${p##*/}"
}
set_states() {
	python3 - "$1" "${2:-}" <<'PY'
import sys
p = sys.argv[1]
s = open(p).read()
def st(addr, state, extra):
    global s
    s = s.replace("Recipient: <%s>\nState: pending\nAttempts: 0\n" % addr,
                  "Recipient: <%s>\nState: %s\n%s" % (addr, state, extra))
st("ok@example.net", "delivered", "Attempts: 1\nLast-Reply: 250 2.0.0 Ok\n")
st("bad@example.net", "failed", "Attempts: 1\nLast-Attempt: 2026-11-23T10:00:00Z\nLast-Reply: 550 5.1.1 no such user\nRemote-MTA: mx.example.net\n")
st("later@example.net", "deferred", "Attempts: 9\nNext-Attempt: 2030-01-01T00:00:00Z\nLast-Reply: 451 4.7.1 try later\n")
if sys.argv[2] == "old":
    import re
    s = re.sub(r"(?m)^Arrival: .*$", "Arrival: 2020-01-01T00:00:00Z", s)
open(p, "w").write(s)
PY
}

id=$(make_failed a@example.org)

test_expect_success 'makes a DSN for a failed entry named by id' '
	mf-notify "$id" >out &&
	[ "$(wc -l <out)" = 1 ] && d=$(cat out) &&
	case "$d" in "$TRASH"/spool/out/new/*) ;; *) false ;; esac &&
	grep -qx "Sender: <>" "$d/envelope" &&
	grep -qx "Recipient: <a@example.org>" "$d/envelope" &&
	[ "$(grep -c "^Recipient:" "$d/envelope")" = 1 ] &&
	grep -q "^Content-Type: multipart/report" "$d/message" &&
	grep -q "report-type=delivery-status" "$d/message" &&
	grep -qx "Auto-Submitted: auto-replied" "$d/message" &&
	grep -qx "To: a@example.org" "$d/message" &&
	grep -qx "Subject: Undelivered Mail Returned to Sender" "$d/message" &&
	grep -qx "Final-Recipient: rfc822; bad@example.net" "$d/message" &&
	grep -qx "Action: failed" "$d/message" &&
	grep -qx "Status: 5.1.1" "$d/message" &&
	grep -qx "Remote-MTA: dns; mx.example.net" "$d/message" &&
	grep -qx "Diagnostic-Code: smtp; 550 5.1.1 no such user" "$d/message" &&
	! grep -q "later@example.net\|ok@example.net" "$d/message" &&
	grep -q "^Content-Type: text/rfc822-headers" "$d/message" &&
	grep -qx "Subject: figures" "$d/message" &&
	! grep -q 4711 "$d/message" &&
	! grep -q "$(printf "\r")" "$d/message"
'

test_expect_success 'the original is back in failed/new with Notified: failed' '
	e=spool/failed/new/$id/envelope &&
	[ -f "$e" ] && [ -z "$(ls spool/failed/cur)" ] &&
	sed -n "/^Recipient: <bad@/,/^Recipient:/p" "$e" | grep -qx "Notified: failed" &&
	[ "$(grep -c "^Notified:" "$e")" = 1 ]
'

test_expect_success 'a second run reports nothing: no double DSN' '
	n=$(ls spool/out/new | wc -l) &&
	mf-notify "$id" >out && [ ! -s out ] &&
	[ "$(ls spool/out/new | wc -l)" = "$n" ]
'

test_expect_success 'entry paths one per line on stdin' '
	a=$(make_failed b@example.org) && b=$(make_failed c@example.org) &&
	printf "%s\n\n%s\n" "$TRASH/spool/failed/new/$a" "$b" >names &&
	mf-notify <names >out &&
	[ "$(wc -l <out)" = 2 ] &&
	grep -qx "Recipient: <b@example.org>" "$(sed -n 1p out)/envelope" &&
	grep -qx "Recipient: <c@example.org>" "$(sed -n 2p out)/envelope" &&
	grep -qx "Notified: failed" "spool/failed/new/$b/envelope"
'

test_expect_success 'a null-sender entry gets no DSN' '
	z=$(make_failed "<>") &&
	mf-notify -v "$z" >out 2>err && [ ! -s out ] &&
	grep -q "nothing to report: null sender" err &&
	! grep -q "^Notified:" "spool/failed/new/$z/envelope"
'

test_expect_success '-q reports every entry in failed/ that needs it, once' '
	q1=$(make_failed d@example.org) && q2=$(make_failed e@example.org) &&
	mf-notify -q >out &&
	[ "$(wc -l <out)" = 2 ] &&
	grep -qx "Notified: failed" "spool/failed/new/$q1/envelope" &&
	grep -qx "Notified: failed" "spool/failed/new/$q2/envelope" &&
	mf-notify -q >out && [ ! -s out ]
'

test_expect_success '-q --delayed warns about old deferred recipients in out/' '
	o=$(mf-inject -Q out -f f@example.org -m msg -- ok@example.net bad@example.net later@example.net) &&
	set_states "$o/envelope" old &&
	young=$(mf-inject -Q out -f g@example.org -m msg -- ok@example.net bad@example.net later@example.net) &&
	set_states "$young/envelope" &&
	sed -i "/^Recipient: <bad@/,/^Recipient:/s/^State: failed/State: deferred/" "$young/envelope" &&
	mf-notify -q --delayed >out &&
	[ "$(wc -l <out)" = 1 ] && d=$(cat out) &&
	grep -qx "Recipient: <f@example.org>" "$d/envelope" &&
	grep -qx "Subject: Undelivered Mail Returned to Sender" "$d/message" &&
	grep -qx "Action: delayed" "$d/message" &&
	grep -qx "Status: 4.7.1" "$d/message" &&
	grep -qx "Notified: delayed" "$o/envelope" &&
	grep -qx "Notified: failed" "$o/envelope" &&
	! grep -q "^Notified:" "$young/envelope" &&
	mf-notify -q --delayed >out && [ ! -s out ]
'

test_expect_success '--delayed on a named entry warns regardless of age' '
	s=$(make_failed h@example.org) &&
	mf-notify "$s" >/dev/null &&
	mf-notify --delayed "$s" >out && d=$(cat out) &&
	grep -qx "Subject: Delayed Mail (still being retried)" "$d/message" &&
	grep -qx "Final-Recipient: rfc822; later@example.net" "$d/message" &&
	sed -n "/^Recipient: <later@/,/^Recipient:/p" "spool/failed/new/$s/envelope" |
		grep -qx "Notified: delayed"
'

test_expect_success '--full returns the whole message; config and templates apply' '
	mkdir tpl && printf "Dear %%{sender}, see %%{reporting_mta}.\n%%{recipients}" >tpl/dsn-failed.txt &&
	printf "[Notifier]\nReportingMTA = mx.test\nFrom = postmaster@mx.test\nTemplates = %s/tpl\n" \
		"$TRASH" >conf &&
	f=$(make_failed i@example.org) &&
	d=$(mf-notify -c conf --full "$f") &&
	grep -q "^Content-Type: message/rfc822" "$d/message" &&
	grep -qx "the body 4711" "$d/message" &&
	grep -qx "Reporting-MTA: dns; mx.test" "$d/message" &&
	grep -qx "From: postmaster@mx.test" "$d/message" &&
	grep -q "^Message-I[dD]: <.*@mx.test>$" "$d/message" &&
	grep -qx "Dear i@example.org, see mx.test." "$d/message" &&
	grep -qx "<bad@example.net>: host mx.example.net said: 550 5.1.1 no such user" "$d/message"
'

test_expect_success 'a claimed entry is skipped with a note' '
	c=$(make_failed j@example.org) &&
	flock "spool/failed/new/$c" sh -c "mf-notify -v \"$c\" >out 2>err" &&
	[ ! -s out ] && grep -q "claimed by another process" err &&
	! grep -q "^Notified:" "spool/failed/new/$c/envelope"
'

test_expect_code 75 'an unknown entry is a temporary failure (transport)' '
	mf-notify no.such.entry 2>err; rc=$?; test_last_line err "^mf-notify: .*\(#4\.[0-9.]+\)$" || exit 1; exit $rc
'

test_expect_code 75 'an entry in in/ is refused' '
	i=$(mf-inject -f a@example.org -m msg -- x@example.net) && mf-notify "$i"
'

test_expect_code 75 '-q with operands is refused' '
	mf-notify -q "$id"
'

test_expect_code 0 '--check-config with a good config' '
	mf-notify -c conf --check-config
'

test_expect_code 78 '--check-config with a bad [Notifier] value' '
	printf "[Notifier]\nDelayWarning = soon\n" >bad.conf && mf-notify -c bad.conf --check-config
'

test_expect_code 78 '--check-config: Templates must be absolute' '
	printf "[Notifier]\nTemplates = share\n" >bad2.conf && mf-notify -c bad2.conf --check-config
'

long=$(printf "%0300d" 0)
test_expect_code 78 '--check-config: a [General] Hostname of 300 bytes is refused, not cut' '
	printf "[General]\nHostname = h%s.example\n" "$long" >long.conf &&
	mf-notify -c long.conf --check-config 2>err; rc=$?;
	test_last_line err "long.conf:2: Hostname is longer than 255 bytes \(#4\.3\.5\)$" && exit $rc
'

test_expect_code 78 '--check-config: Templates too long for DIR/dsn-failed.txt is refused, not ignored' '
	printf "[Notifier]\nTemplates = /%04090d\n" 0 >long.conf &&
	mf-notify -c long.conf --check-config 2>err; rc=$?;
	test_last_line err "long.conf:2: Templates is longer than [0-9]+ bytes \(#4\.3\.5\)$" && exit $rc
'

test_expect_code 75 'a ReportingMTA of 300 bytes: no DSN cut short, the run defers (75)' '
	printf "[Notifier]\n\nReportingMTA = m%s.example\n" "$long" >long.conf &&
	mf-notify -c long.conf "$id" 2>err; rc=$?;
	test_last_line err "long.conf:3: ReportingMTA is longer than 255 bytes" && exit $rc
'

test_expect_code 75 'a bad config defers in transport use' '
	mf-notify -c bad.conf "$id"
'

test_expect_success '[Notifier] MsgIdMap: the DSN goes to the sender mapped from the receiver id' '
	printf "[Notifier]\nMsgIdMap = relay2:out2, -:main\n" >map.conf &&
	p=$(mf-inject -c map.conf --unique-id relay2 -Q out -f m@example.org -m msg -- bad@example.net) &&
	mv "$p" spool/failed/new/ && set_states "spool/failed/new/${p##*/}/envelope" &&
	d=$(mf-notify -c map.conf "${p##*/}") &&
	grep -qx "Receiver-Id: out2" "$d/envelope" &&
	p=$(mf-inject -c map.conf -Q out -f n@example.org -m msg -- bad@example.net) &&
	mv "$p" spool/failed/new/ && set_states "spool/failed/new/${p##*/}/envelope" &&
	d=$(mf-notify -c map.conf "${p##*/}") &&
	grep -qx "Receiver-Id: main" "$d/envelope" &&
	printf "[Notifier]\nMsgIdMap = other:x\n" >map2.conf &&
	p=$(mf-inject -c map2.conf --unique-id relay2 -Q out -f o@example.org -m msg -- bad@example.net) &&
	mv "$p" spool/failed/new/ && set_states "spool/failed/new/${p##*/}/envelope" &&
	d=$(mf-notify -c map2.conf "${p##*/}") &&
	! grep -q "^Receiver-Id:" "$d/envelope"
'

test_expect_code 78 'a malformed MsgIdMap is a config error with its line' '
	printf "[Notifier]\nMsgIdMap = relay2\n" >bad.conf &&
	mf-notify --check-config -c bad.conf 2>err; rc=$?;
	grep -q "bad.conf:2: MsgIdMap" err && exit $rc
'

test_done
