#!/bin/sh
# SPDX-License-Identifier: MIT
# mf-receive: the normal path, the printed entry, --unique-id, --check-config.
. "${0%/*}/lib.sh"

mkspool
printf 'Subject: one\n\nbody\n' >msg

test_expect_success 'prints exactly the path of the one new entry' '
	mf-receive -S spool -c /dev/null -f a@example.org -- b@example.net <msg >out &&
	[ "$(wc -l <out)" = 1 ] &&
	p=$(cat out) &&
	[ -d "$p" ] && [ -f "$p/message" ] && [ -f "$p/envelope" ] &&
	case "$p" in spool/in/new/*) ;; *) false ;; esac &&
	[ "$(count_entries spool/in)" = 1 ] &&
	test_cmp msg "$p/message"
'

test_expect_success 'the envelope records id, sender, size, recipients' '
	p=$(cat out) && id=${p##*/} &&
	grep -qx "Version: 2" "$p/envelope" &&
	tail -n 1 "$p/envelope" | grep -qx "End: 1" &&
	grep -qx "Id: $id" "$p/envelope" &&
	grep -qx "Sender: <a@example.org>" "$p/envelope" &&
	grep -qx "Size: $(wc -c <msg)" "$p/envelope" &&
	grep -qx "Recipient: <b@example.net>" "$p/envelope" &&
	grep -qx "State: pending" "$p/envelope" &&
	grep -Eqx "Arrival: [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z" "$p/envelope"
'

test_expect_success 'nothing is left in tmp/ or cur/, nothing on stderr' '
	mf-receive -S spool -c /dev/null -f a@example.org -- b@example.net <msg >/dev/null 2>err &&
	[ ! -s err ] &&
	[ -z "$(ls spool/in/tmp)" ] && [ -z "$(ls spool/in/cur)" ]
'

test_expect_success 'entries get distinct names' '
	for i in 1 2 3 4 5; do mf-receive -S spool -c /dev/null -f "" -- b@example.net <msg; done >names &&
	[ "$(sort -u names | wc -l)" = 5 ]
'

cat >mf.conf <<EOF
[General]
Syslog = no
[Receiver]
MaxSize = 1M
[Receiver small]
MaxSize = 10
EOF

test_expect_success '--unique-id records Receiver-Id and applies [Receiver ID]' '
	p=$(mf-receive -S spool -c mf.conf --unique-id big -f a@example.org -- b@example.net <msg) &&
	grep -qx "Receiver-Id: big" "$p/envelope"
'

test_expect_code 65 '[Receiver small] MaxSize refuses what [Receiver] allows' '
	mf-receive -S spool -c mf.conf --unique-id small -f a@example.org -- b@example.net <msg 2>err;
	rc=$?; test_last_line err "larger than the limit of 10 bytes \(#5\.3\.4\)$" && exit $rc
'

test_expect_success '--check-config accepts a good file' '
	mf-receive --check-config -c mf.conf -S spool >out &&
	grep -q "mf.conf: configuration OK" out
'

test_expect_code 78 '--check-config names file:line of a bad value' '
	printf "[Receiver]\nMaxSize = lots\n" >bad.conf &&
	mf-receive --check-config -c bad.conf -S spool 2>err;
	rc=$?; test_last_line err "^mf-receive: bad.conf:2: MaxSize wants a size" && exit $rc
'

test_expect_success '--version and --help' '
	mf-receive --version | grep -Eq "^mf-receive \(mf\) [0-9]+\.[0-9]+" &&
	mf-receive --help | grep -q -- "--from=SENDER"
'

test_expect_success 'MF_SPOOL and MF_CONFIG are used when no option is given' '
	mkdir spool2 &&
	p=$(MF_SPOOL=$TRASH/spool2 MF_CONFIG=$TRASH/mf.conf mf-receive -f a@example.org -- b@example.net <msg) &&
	case "$p" in "$TRASH"/spool2/in/new/*) ;; *) false ;; esac
'

# A spool root so long that entry paths would not fit in PATH_MAX: refused
# up front (78 in --check-config, 75 in transport use), not cut later.
test_expect_success 'a Spool of 3,900 bytes is refused by --check-config and defers mail' '
	c=$(printf "%0100d" 0) && d=$TRASH &&
	while [ ${#d} -lt 3900 ]; do d=$d/$c; done && mkdir -p "$d" &&
	printf "[General]\nSyslog = no\nSpool = %s\n" "$d" >long.conf &&
	{ mf-receive --check-config -c long.conf 2>err; rc=$?; [ $rc = 78 ]; } &&
	test_last_line err "^mf-receive: config is valid, but: spool .*: [0-9]+ bytes, longer than the [0-9]+ that leave room for entry paths \(#4\.3\.5\)$" &&
	{ mf-receive -c long.conf -f a@example.org -- b@example.net <msg 2>err; rc=$?; [ $rc = 75 ]; } &&
	[ $(wc -l <err) = 1 ] && grep -q "leave room for entry paths" err
'

test_done
