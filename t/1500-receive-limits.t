#!/bin/sh
# SPDX-License-Identifier: MIT
# mf-receive's limits at the door: an option whose value was left out ("-f --"),
# a looping message (100 Received: lines, RFC 5321 6.3), a spool whose file
# system has less than [General] MinFreeSpace free.
. "${0%/*}/lib.sh"

mkspool
printf '[General]\nSyslog = no\n' >mf.conf
MF_CONFIG=$TRASH/mf.conf; export MF_CONFIG
printf 'Subject: x\n\nbody\n' >small
# hops N FILE: a message with N Received: lines (one folded), then a body
hops() {
	{ echo "From: a@example.org"; i=0
	  while [ $i -lt "$1" ]; do
		i=$((i + 1))
		[ $i = 2 ] && printf 'RECEIVED: from x.example by y.example;\n\tSat, 1 Jan 2000 00:00:00 +0000\n' ||
			echo "Received: from h$i.example by mx.example; Sat, 1 Jan 2000 00:00:00 +0000"
	  done
	  printf 'Subject: hops\n\nReceived: in the body does not count\n'; } >"$2"
}

test_expect_code 75 'mf-receive -f -- rcpt (the empty sender was dropped): 75, a usage error' '
	mf-receive -S spool -f -- b@example.org <small >out 2>err
'
test_expect_success '... the diagnostic names the option, nothing was spooled' '
	test_last_line err "^mf-receive: --from: missing argument .* \(#4\.3\.5\)$" &&
	[ ! -s out ] && [ $(count_entries spool/in) = 0 ]
'
test_expect_code 75 'mf-receive -a -- (the client address left out): 75' '
	mf-receive -S spool -f a@example.org -a -- b@example.org <small 2>err
'
test_expect_code 75 'mf-receive -f at the end: 75' '
	mf-receive -S spool -f 2>err
'
test_expect_code 64 'mf-inject -f -- rcpt (interactive): 64' '
	mf-inject -S spool -f -- b@example.org <small 2>err &&
	test_last_line err "^mf-inject: --from: missing argument"
'
test_expect_code 64 'mf-send -S -- (the spool left out): 64 in --check-config' '
	mf-send --check-config -S -- 2>err
'
test_expect_success 'the null sender as -f "" is still taken' '
	p=$(mf-receive -S spool -f "" -- b@example.org <small) && [ -d "$p" ] &&
	grep -qx "Sender: <>" "$p/envelope" && rm -rf "$p"
'

test_expect_success '99 Received: lines are taken' '
	hops 99 h99 &&
	p=$(mf-receive -S spool -f a@example.org -- b@example.org <h99) && cmp h99 "$p/message" &&
	rm -rf "$p"
'
test_expect_code 65 '100 Received: lines (any case, one folded): 65' '
	hops 100 h100 &&
	mf-receive -S spool -f a@example.org -- b@example.org <h100 >out 2>err
'
test_expect_success '... "too many hops (#5.4.6)", nothing left in the spool' '
	test_last_line err "^mf-receive: too many hops: .* \(#5\.4\.6\)$" &&
	[ ! -s out ] && [ $(count_entries spool/in) = 0 ] && [ -z "$(ls spool/in/tmp)" ]
'
test_expect_code 65 'mf-inject refuses it too (65)' '
	mf-inject -S spool -Q out -f a@example.org -- b@example.org <h100 2>err
'

# the free space of the spool's file system, in KiB
free_kib() { df -Pk "$TRASH/spool" | awk 'NR == 2 { print $4 }'; }
test_expect_code 75 'less free space than MinFreeSpace: 75 before reading' '
	printf "[General]\nSyslog = no\nMinFreeSpace = %sK\n" $(( $(free_kib) + 1048576 )) >mf.conf &&
	mf-receive -S spool -f a@example.org -- b@example.org <small >out 2>err
'
test_expect_success '... "not enough free space" (#4.3.1), nothing spooled' '
	test_last_line err "^mf-receive: not enough free space in the spool: .* \(#4\.3\.1\)$" &&
	[ ! -s out ] && [ $(count_entries spool/in) = 0 ] && [ -z "$(ls spool/in/tmp)" ]
'
test_expect_success 'with room for MinFreeSpace it is taken' '
	printf "[General]\nSyslog = no\nMinFreeSpace = 1M\n" >mf.conf &&
	p=$(mf-receive -S spool -f a@example.org -- b@example.org <small) && cmp small "$p/message"
'
test_done
