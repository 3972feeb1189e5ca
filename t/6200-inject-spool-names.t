#!/bin/sh
# SPDX-License-Identifier: MIT
# Names in queue directories are checked like operands: an entry name with a
# newline and an escape sequence is listed escaped by mf-inject -l, never
# delivered or requeued, and set aside under a fresh name with one escaped
# log line.  A world-writable spool root or queue directory is refused by
# name with 75.
. "${0%/*}/lib.sh"

. "$T_DIR/peers.sh"
need_sink
start_sink plain

sink_conf "$SINK_PORT_plain"
MF_SPOOL=$TRASH/spool MF_CONFIG=$TRASH/mf.conf
export MF_SPOOL MF_CONFIG
mkspool
printf 'From: a@example.org\nSubject: hello\n\nbody\n' >msg

not() { if "$@"; then return 1; fi; }
ESC=$(printf '\033')
NL='
'
BAD="1.M1P1Q1.x${NL}${ESC}[31mevil"
# no_raw FILE: FILE holds no ESC byte
no_raw() { not grep -q "$ESC" "$1"; }

test_expect_success 'setup: an entry in out/new/ under a name with a newline and ESC' '
	p=$(mf-inject -Q out -f a@example.org -- b@example.org <msg) &&
	mv "$p" "spool/out/new/$BAD" && test -d "spool/out/new/$BAD"
'

test_expect_success 'mf-inject -l lists it escaped, on one line' '
	mf-inject -l >list 2>err && cat list &&
	no_raw list &&
	grep -q "^out  *1\\.M1P1Q1\\.x\\\\n\\\\x1b\\[31mevil  (invalid entry name" list &&
	test "$(wc -l <list)" -eq 2
'

test_expect_success 'mf-inject -r with that name is refused (64), nothing raw on stderr' '
	rc=0 && mf-inject -r "$BAD" >out 2>err || rc=$?
	cat err; test "$rc" -eq 64 && no_raw err && test "$(wc -l <err)" -eq 1 &&
	test -d "spool/out/new/$BAD"
'

test_expect_success 'mf-send -q does not deliver it: set aside under a fresh name, logged escaped' '
	rc=0 && timeout 20 mf-send -v -q >out 2>err || rc=$?
	cat err; test "$rc" -eq 0 &&
	test "$(ls plain | wc -l)" -eq 0 &&
	not test -e "spool/out/new/$BAD" &&
	test "$(ls spool/corrupt/new | wc -l)" -eq 1 &&
	no_raw err && test "$(grep -c "invalid entry name" err)" -eq 1 &&
	grep -q "out/new/1\\.M1P1Q1\\.x\\\\n\\\\x1b\\[31mevil: invalid entry name; set aside as corrupt/new/[0-9]" err &&
	id=$(ls spool/corrupt/new) && test -f "spool/corrupt/new/$id/message"
'

test_expect_success 'mf-inject -r --all skips and sets aside a bad name in failed/new/' '
	mkdir -p spool/failed/tmp spool/failed/new spool/failed/cur &&
	p=$(mf-inject -Q out -f a@example.org -- b@example.org <msg) &&
	mv "$p" "spool/failed/new/$BAD" &&
	rc=0 && mf-inject -v -r --all >out 2>err || rc=$?
	cat out err; test "$rc" -eq 0 && test ! -s out &&
	no_raw err && test "$(ls spool/out/new | wc -l)" -eq 0 &&
	not test -e "spool/failed/new/$BAD" &&
	test "$(ls spool/corrupt/new | wc -l)" -eq 2
'

test_expect_success 'a world-writable queue directory is refused by name (75)' '
	chmod 777 spool/out &&
	rc=0 && mf-send -q >out 2>err || rc=$?
	cat err; test "$rc" -eq 75 &&
	test_last_line err "spool/out is world-writable; refusing it \\(chmod 700\\) \\(#4\\.3\\.0\\)$" &&
	rc=0 && mf-inject -Q out -f a@example.org -- b@example.org <msg >out 2>err || rc=$?
	cat err; test "$rc" -eq 75 && test ! -s out &&
	test_last_line err "spool/out is world-writable" &&
	chmod 700 spool/out
'

test_expect_success 'a world-writable new/ is refused too' '
	chmod 777 spool/out/new &&
	rc=0 && mf-send -q >out 2>err || rc=$?
	cat err; test "$rc" -eq 75 &&
	test_last_line err "spool/out/new is world-writable" &&
	chmod 700 spool/out/new
'

test_expect_success 'a world-writable spool root is refused by name (75)' '
	chmod 777 spool &&
	rc=0 && mf-inject -l >out 2>err || rc=$?
	cat err; test "$rc" -eq 75 &&
	test_last_line err "spool $TRASH/spool is world-writable \\(chmod 700\\); refusing it" &&
	chmod 700 spool
'

test_done
