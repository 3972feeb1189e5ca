#!/bin/sh
# SPDX-License-Identifier: MIT
# A queue directory, or a file in an entry, owned by another user than the
# spool's owner (or the user mf runs as) is not trusted: the directory is refused by name (75), the
# entry is set aside.  Needs root (chown).
MF_TEST_ROOT=1
. "${0%/*}/lib.sh"
[ "$(id -u)" = 0 ] || skip_all "needs root (chown to another user)"
id nobody >/dev/null 2>&1 || skip_all "no user nobody"

chmod 755 "$TRASH"
printf '[General]\nSyslog = no\n[Sender]\nAddress = inet:9@127.0.0.1\n' >mf.conf
chmod 644 mf.conf
MF_SPOOL=$TRASH/spool MF_CONFIG=$TRASH/mf.conf
export MF_SPOOL MF_CONFIG
mkspool
printf 'Subject: hello\n\nbody\n' >msg
not() { if "$@"; then return 1; fi; }

test_expect_success 'setup: a spool of nobody with an entry in out/' '
	mkdir -p spool/out/tmp spool/out/new spool/out/cur &&
	chown -R nobody spool && chmod -R go-w spool &&
	p=$(setpriv --reuid=nobody --regid=nogroup --clear-groups \
		mf-inject -Q out -f a@example.org -- b@example.org <msg) &&
	test -d "$p" && echo "$p" >entry
'

test_expect_success 'a queue directory owned by another user is refused by name (75)' '
	chown 4242 spool/out &&
	rc=0 && mf-send -q >out 2>err || rc=$?
	cat err; test "$rc" -eq 75 &&
	test_last_line err "spool/out is owned by uid 4242, not by the spool.s owner \\(uid [0-9]+\\); refusing it" &&
	chown nobody spool/out
'

test_expect_success 'an entry file owned by another user, readable: the entry is set aside' '
	p=$(cat entry) && chown 4242 "$p/message" && chmod 644 "$p/message" &&
	rc=0 && mf-send -v -q >out 2>err || rc=$?
	cat err; test "$rc" -eq 0 &&
	not test -e "$p" && test -d "spool/corrupt/new/${p##*/}" &&
	grep -q "message: owned by another user (#4.3.0); set aside in corrupt/" err
'

test_expect_success 'an entry file of another user the spool owner cannot read: set aside' '
	p=$(setpriv --reuid=nobody --regid=nogroup --clear-groups \
		mf-inject -Q out -f a@example.org -- b@example.org <msg) &&
	chown 4242 "$p/envelope" && chmod 600 "$p/envelope" &&
	rc=0 && mf-send -v -q >out 2>err || rc=$?
	cat err; test "$rc" -eq 0 &&
	not test -e "$p" && test -d "spool/corrupt/new/${p##*/}" &&
	grep -q "envelope: .*(#4.3.0); set aside in corrupt/" err
'

test_done
