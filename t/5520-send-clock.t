#!/bin/sh
# SPDX-License-Identifier: MIT
# mf-send and a clock set back: a next attempt more than one interval ahead
# of now is brought back to now plus the interval, so retries do not stall.
. "${0%/*}/lib.sh"

command -v faketime >/dev/null || skip_all "faketime not installed"
# faketime is an LD_PRELOAD library: an ASan build must not insist on coming first
ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0; export ASAN_OPTIONS
mkspool
printf 'Subject: clock\n\nbody\n' >msg
printf '[General]\nSyslog = no\n[Sender]\nAddress = pipe:%s/prog %%r\nSendingIntervals = 0s, 10m, 1h\n' \
	"$TRASH" >mf.conf
# the pipe program counts its runs; it defers (75) while $TRASH/fail exists
cat >prog <<EOF2
#!/bin/sh
echo run >>"$TRASH/runs"
cat >/dev/null
[ -e "$TRASH/fail" ] && exit 75
exit 0
EOF2
chmod +x prog
runs() { [ -e runs ] && wc -l <runs || echo 0; }
next() { sed -n 's/^Next-Attempt: //p' spool/out/new/*/envelope; }

test_expect_success 'a deferred recipient waits 10 minutes' '
	: >fail &&
	mf-inject -S spool -c mf.conf -Q out -f a@example.org -m msg -- b@example.net >/dev/null &&
	mf-send -S spool -c mf.conf -q && [ $(runs) = 1 ] &&
	[ $(count_entries spool/out) = 1 ] && next >next.before && cat next.before
'
test_expect_success 'the clock goes back a day: not due yet, the next attempt is brought back' '
	rm fail &&
	faketime -f -1d mf-send -S spool -c mf.conf -q && [ $(runs) = 1 ] &&
	[ $(count_entries spool/out) = 1 ] && next >next.after && cat next.after &&
	want=$(date -u -d "-1 day +10 min" +%s) && got=$(date -u -d "$(cat next.after)" +%s) &&
	echo "got $got want about $want" &&
	[ $((got - want)) -le 60 ] && [ $((want - got)) -le 60 ]
'
test_expect_success '... and 11 minutes later (still a day back) the retry is made' '
	faketime -f -1429m mf-send -S spool -c mf.conf -q && [ $(runs) = 2 ] &&
	[ $(count_entries spool/out) = 0 ]
'
test_expect_success 'a next attempt within its interval is left alone' '
	: >fail &&
	mf-inject -S spool -c mf.conf -Q out -f a@example.org -m msg -- c@example.net >/dev/null &&
	mf-send -S spool -c mf.conf -q && [ $(runs) = 3 ] && next >n1 &&
	faketime -f +5m mf-send -S spool -c mf.conf -q && [ $(runs) = 3 ] && next >n2 &&
	test_cmp n1 n2
'
test_done
