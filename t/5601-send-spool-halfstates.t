#!/bin/sh
# SPDX-License-Identifier: MIT
# Every half-state a crash (or an older mf) can leave in the spool is
# recovered or set aside by the next queue run, never skipped for ever: an
# entry with neither file is removed (a removal cut short), one missing its
# message or envelope, or with a corrupt envelope, is set aside in corrupt/;
# stale tmp/ entries of every queue are removed; mf-inject out of file
# descriptors leaves no tmp/ entry.
. "${0%/*}/lib.sh"

printf '[General]\nSyslog = no\n[Sender]\nAddress = inet:%s@127.0.0.1\n' 9 >mf.conf
MF_SPOOL=$TRASH/spool MF_CONFIG=$TRASH/mf.conf
export MF_SPOOL MF_CONFIG
mkspool
printf 'From: a@example.org\nSubject: hello\n\nbody\n' >msg

not() { if "$@"; then return 1; fi; }
inj() { mf-inject -Q "${1:-out}" -f a@example.org -- b@example.org <msg; }
run() { rc=0; timeout 20 mf-send -v -q >out 2>err || rc=$?; echo "mf-send -q: exit $rc"; cat err; }

test_expect_success 'an entry with neither message nor envelope is removed' '
	p=$(inj) && id=${p##*/} && rm "$p/message" "$p/envelope" &&
	run && test "$rc" -eq 0 &&
	not test -e "$p" && not test -e "spool/corrupt/new/$id" &&
	not test -e "spool/out/tmp/$id" &&
	grep -q "out/cur/$id: empty entry (a removal cut short); removed" err
'

test_expect_success 'an entry without message is set aside in corrupt/' '
	p=$(inj) && id=${p##*/} && rm "$p/message" &&
	run && test "$rc" -eq 0 &&
	not test -e "$p" && test -f "spool/corrupt/new/$id/envelope" &&
	grep -q "out/cur/$id/message: missing (#4.3.0); set aside in corrupt/" err
'

test_expect_success 'an entry without envelope is set aside in corrupt/' '
	p=$(inj) && id=${p##*/} && rm "$p/envelope" &&
	run && test "$rc" -eq 0 &&
	not test -e "$p" && test -f "spool/corrupt/new/$id/message" &&
	grep -q "out/cur/$id/envelope: missing (#4.3.0); set aside in corrupt/" err
'

test_expect_success 'an entry with an unparsable envelope is set aside, not delivered' '
	p=$(inj) && id=${p##*/} && printf "garbage\n" >"$p/envelope" &&
	run && test "$rc" -eq 0 &&
	not test -e "$p" && test -d "spool/corrupt/new/$id" &&
	grep -q "set aside in corrupt/" err
'

test_expect_success 'the entries set aside are listed by mf-inject -l' '
	mf-inject -l >list 2>err && cat list &&
	test "$(grep -c "^corrupt " list)" -eq 3
'

test_expect_success 'stale tmp/ entries of every queue are removed by the queue run, fresh ones kept' '
	for q in in out quarantine failed; do
		mkdir -p spool/$q/tmp spool/$q/new spool/$q/cur &&
		mkdir spool/$q/tmp/1000000000.M1P1Q1.old spool/$q/tmp/1000000000.M1P1Q2.new &&
		echo x >spool/$q/tmp/1000000000.M1P1Q1.old/message &&
		touch -d "3 days ago" spool/$q/tmp/1000000000.M1P1Q1.old || return 1
	done
	run && test "$rc" -eq 0 &&
	for q in in out quarantine failed; do
		not test -e spool/$q/tmp/1000000000.M1P1Q1.old &&
		test -d spool/$q/tmp/1000000000.M1P1Q2.new || return 1
	done
'

test_expect_success 'mf-inject out of file descriptors leaves no tmp/ entry' '
	rm -rf spool/out/tmp/* spool/out/new/* &&
	for n in 4 5 6 7 8 9; do
		rc=0
		sh -c "exec 3>&-; ulimit -n $n && exec mf-inject -Q out -f a@example.org -- b@example.org" \
			<msg >o 2>e || rc=$?
		echo "ulimit -n $n: exit $rc: $(tail -n 1 e)"
		test "$rc" -eq 0 || test "$rc" -eq 75 || return 1
		test -z "$(ls spool/out/tmp)" || { ls spool/out/tmp; return 1; }
		rm -rf spool/out/new/*
	done
'

test_done
