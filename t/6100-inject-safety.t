#!/bin/sh
# SPDX-License-Identifier: MIT
# mf-inject with ids, paths and queues typed by hand touches nothing outside
# the spool: what is not an entry of failed/ is refused with 64 and one
# "(#x.y.z)" diagnostic, and neither the spool nor the files outside change.
. "${0%/*}/lib.sh"

DIAG='^mf-inject: .* \(#[245]\.[0-9]+\.[0-9]+\)$'
printf '[General]\nSyslog = no\n' >mf.conf
MF_SPOOL=$TRASH/spool MF_CONFIG=$TRASH/mf.conf
export MF_SPOOL MF_CONFIG
mkspool
printf 'Subject: safety\n\nbody\n' >msg

# Succeeds when the command fails (a "! cmd" line is no assertion under set -e).
not() { if "$@"; then return 1; fi; }

# Names, inodes, sizes, modes and contents under the spool and outside/, and
# /etc/passwd: what no refused command may change.
snapshot() {
	find spool outside -exec stat -c '%n %i %s %a %F' {} + | sort
	find spool outside -type f -exec md5sum {} + | sort
	md5sum /etc/passwd
}

# refused ARGS...: mf-inject ARGS exits 64 with the diagnostic as the last
# stderr line, prints nothing, and nothing changed.
refused() {
	snapshot >before
	rc=0
	mf-inject "$@" <msg >out 2>err || rc=$?
	snapshot >after
	echo "mf-inject $*: exit $rc, want ${WANT:-64}; stdout: $(cat out)"
	diff -u before after || :
	test "$rc" -eq "${WANT:-64}"
	test_last_line err "$DIAG"
	test ! -s out
	test_cmp before after
}

# An entry in failed/ as mf-send leaves it, one in out/, and outside the spool
# a directory that looks like a failed entry (a recipient in state failed,
# which a requeue would rewrite to pending).
test_expect_success 'setup: entries in failed/ and out/, a look-alike outside' '
	p=$(mf-inject -Q quarantine -f a@example.org -- b@example.org <msg)
	mkdir -p spool/failed/tmp spool/failed/new spool/failed/cur
	sed "s/^State: pending$/State: failed/" "$p/envelope" >"$p/envelope.tmp"
	mv "$p/envelope.tmp" "$p/envelope"
	mv "$p" spool/failed/new/
	echo "${p##*/}" >failed_id
	p=$(mf-inject -Q out -f a@example.org -- c@example.org <msg)
	echo "${p##*/}" >out_id
	mkdir -p outside/victim outside/fnew/1700000001.M2P2Q2.evil
	cp "spool/failed/new/$(cat failed_id)/message" "spool/failed/new/$(cat failed_id)/envelope" outside/victim/
	cp outside/victim/* outside/fnew/1700000001.M2P2Q2.evil/
	grep -qx "State: failed" outside/victim/envelope
'
F=$(cat "$TRASH/failed_id") O=$(cat "$TRASH/out_id")

test_expect_success '-r ../../etc/passwd is refused' '
	refused -r ../../etc/passwd
'
test_expect_success '-r ../ as deep as it takes to reach /etc/passwd: not inside the spool' '
	up=$(echo "$TRASH" | sed "s|[^/][^/]*|..|g; s|^/||")
	test -f "$up/etc/passwd"
	refused -r "$up/etc/passwd"
	test_last_line err "not inside the spool"
'
test_expect_success '-r /etc is refused' '
	refused -r /etc
'
test_expect_success '-r with an entry-like directory outside the spool is refused' '
	refused -r "$TRASH/outside/victim"
'
test_expect_success '-r with a path that leaves the spool by .. is refused' '
	refused -r "spool/failed/new/../../../outside/victim"
'

# A symlink in failed/new/ that looks like an entry, to the look-alike
# outside; made afresh for each test (a test that fails may have moved it).
evil_link() {
	find "$TRASH/spool" -name "*.evil" -type l -exec rm -f {} +
	ln -s "$TRASH/outside/victim" "$TRASH/spool/failed/new/1700000000.M1P1Q1.evil"
}

# set_aside ARGS...: mf-inject ARGS exits 64 with the diagnostic, nothing
# outside the spool changed, and the symlink (no entry mf made) was moved,
# as a link, into corrupt/new/ under a fresh name.
set_aside() {
	snapshot | grep -v -e "^spool" -e "  spool/" >before
	rc=0
	mf-inject "$@" <msg >out 2>err || rc=$?
	snapshot | grep -v -e "^spool" -e "  spool/" >after
	echo "mf-inject $*: exit $rc, want 64"
	cat err
	test "$rc" -eq 64
	test_last_line err "$DIAG"
	test ! -s out
	test_cmp before after
	not test -e spool/failed/new/1700000000.M1P1Q1.evil
	test "$(find spool/corrupt/new -type l -lname "$TRASH/outside/victim" | wc -l)" -eq 1
	grep -q "failed/new/1700000000.M1P1Q1.evil: not a directory; set aside as corrupt/new/" err
	find spool/corrupt/new -type l -exec rm -f {} +
}

evil_link
test_expect_success '-r with the path of a symlink in failed/new/ to outside: set aside' '
	set_aside -r spool/failed/new/1700000000.M1P1Q1.evil
'
evil_link
test_expect_success '-r with the id of a symlink in failed/new/ to outside: set aside' '
	set_aside -r 1700000000.M1P1Q1.evil
'
evil_link
test_expect_success '-r --all sets a symlink in failed/new/ aside, leaves its target alone' '
	snapshot >before
	rc=0
	mf-inject -r --all >out 2>err || rc=$?
	echo "exit $rc"
	cat err
	grep -v -e "^spool" -e "  spool/" before >before.outside
	snapshot | grep -v -e "^spool" -e "  spool/" >after.outside
	test_cmp before.outside after.outside
	not test -e spool/failed/new/1700000000.M1P1Q1.evil
	test "$(find spool/corrupt/new -type l | wc -l)" -eq 1
	not test -e spool/out/new/1700000000.M1P1Q1.evil
	# the real entry was requeued, and only it
	test "$(cat out)" = "$TRASH/spool/out/new/$F"
	test -d "spool/out/new/$F"
	grep -qx "State: pending" "spool/out/new/$F/envelope"
'
# Put the real entry back into failed/ for the tests below.
find "$TRASH/spool" -name "*.evil" -type l -exec rm -f {} +
if [ -d "$TRASH/spool/out/new/$F" ]; then
	mv "$TRASH/spool/out/new/$F" "$TRASH/spool/failed/new/"
	sed "s/^State: pending$/State: failed/" "$TRASH/spool/failed/new/$F/envelope" >"$TRASH/env.tmp"
	cp "$TRASH/env.tmp" "$TRASH/spool/failed/new/$F/envelope"
fi

# A queue directory that is a link is refused by name (75: the spool is
# damaged, not the command line), before anything in it is looked at.
test_expect_success '-r with the id of an entry in a failed/new/ that is a symlink to outside is refused' '
	mv spool/failed/new spool/failed/new.real
	ln -s "$TRASH/outside/fnew" spool/failed/new
	WANT=75 refused -r 1700000001.M2P2Q2.evil
	test_last_line err "failed/new: not a directory \(a symlink\?\); refusing it"
'
if [ -d "$TRASH/spool/failed/new.real" ]; then
	rm -f "$TRASH/spool/failed/new"
	mv "$TRASH/spool/failed/new.real" "$TRASH/spool/failed/new"
fi

test_expect_success 'ids with a slash, or that are no names, are refused' '
	refused -r "a/b"
	refused -r "$F/"
	refused -r "../failed/new/$F"
	refused -r ..
	refused -r .
	refused -r ""
	refused -r ".$F"
'
test_expect_success '-r with the id of an entry in out/ is refused: not in failed/' '
	refused -r "$O"
	test_last_line err "in out/, not in failed/"
'
test_expect_success '-r with the path of an entry in out/ is refused, also via failed/..' '
	refused -r "spool/out/new/$O"
	refused -r "spool/failed/new/../../out/new/$O"
'
test_expect_success '-r with a path that is not an entry directory is refused' '
	refused -r "spool/failed/new/$F/envelope"
	refused -r spool/failed/new
	refused -r spool/failed
	refused -r spool
'
test_expect_success 'injection into failed/ (-Q failed) is refused' '
	refused -Q failed -f a@example.org -- b@example.org
	test_last_line err "failed"
'
test_expect_success 'injection into a queue named by a path is refused' '
	refused -Q ../failed -f a@example.org -- b@example.org
	refused -Q out/../failed -f a@example.org -- b@example.org
	refused -Q "$TRASH/outside" -f a@example.org -- b@example.org
	refused -Q "" -f a@example.org -- b@example.org
'
test_expect_success 'listing a queue named by a path is refused' '
	refused -l ../outside
	refused -l /etc
'
test_expect_success 'the failed entry can still be requeued by its id (the refusals were not vacuous)' '
	p=$(mf-inject -r "$F")
	test "$p" = "$TRASH/spool/out/new/$F"
	grep -qx "State: pending" "$p/envelope"
'
test_done
