#!/bin/sh
# SPDX-License-Identifier: MIT
# mf-send with local methods: maildir, pipe; the retry schedule; failover; failed/.
. "${0%/*}/lib.sh"

mkspool
printf 'Subject: hello\n\nbody\n.dot line\n' >msg

# conf ADDRESS [more lines]: a config delivering to ADDRESS
conf() {
	printf '[General]\nSyslog = no\n[Sender]\nAddress = %s\n' "$1" >mf.conf
	shift
	for l in "$@"; do echo "$l" >>mf.conf; done
}
recv() { mf-receive -S spool -c mf.conf -f "$@" <msg; }
send() { mf-send -S spool -c mf.conf "$@"; }

# a pipe program: records its argv and stdin, exits as told by $TRASH/code
# (the trash path is written in: the program gets a minimal environment)
cat >prog <<EOF
#!/bin/sh
T='$TRASH'
EOF
cat >>prog <<'EOF'
printf '%s\n' "$@" >"$T/prog.args"
cat >"$T/prog.in"
echo "prog says: $(cat "$T/code" 2>/dev/null || echo 0)"
exit "$(cat "$T/code" 2>/dev/null || echo 0)"
EOF
chmod +x prog

test_expect_success 'maildir: one copy per recipient, Return-Path and Delivered-To, entry removed' '
	conf "maildir:$TRASH/md/%d/%u" &&
	p=$(recv a@example.org -- b@example.net c@example.org) &&
	out=$(send "$p") && [ -z "$out" ] && [ ! -e "$p" ] &&
	f=$(ls md/example.net/b/new/*) &&
	printf "Return-Path: <a@example.org>\nDelivered-To: b@example.net\n" >want && cat msg >>want &&
	test_cmp want "$f" &&
	ls md/example.org/c/new/* >/dev/null
'

test_expect_success 'entry paths are read from stdin, as in a pipeline' '
	recv a@example.org -- d@example.net | send >out &&
	[ ! -s out ] && ls md/example.net/d/new/* >/dev/null
'

test_expect_success 'pipe: argv with macros (no shell), message on stdin' '
	conf "pipe:$TRASH/prog -f %s -i %i -- %r" &&
	p=$(recv "" -- x@example.net y+tag@example.net) && id=${p##*/} &&
	send "$p" &&
	printf "%s\n" -f "" -i "$id" -- x@example.net y+tag@example.net >want &&
	test_cmp want prog.args && test_cmp msg prog.in
'

test_expect_success 'pipe exit 75: deferred, next attempt from SendingIntervals, back in out/' '
	conf "pipe:$TRASH/prog %r" "SendingIntervals = 0s, 10m, 1h" &&
	echo 75 >code &&
	p=$(recv a@example.org -- r@example.net) &&
	q=$(send "$p") && case "$q" in *spool/out/new/*) ;; *) false ;; esac &&
	grep -qx "State: deferred" "$q/envelope" &&
	grep -qx "Attempts: 1" "$q/envelope" &&
	grep -q "^Last-Reply: 451 4.3.0 pipe .*prog: exit 75 prog says: 75" "$q/envelope" &&
	last=$(sed -n "s/^Last-Attempt: //p" "$q/envelope") &&
	next=$(sed -n "s/^Next-Attempt: //p" "$q/envelope") &&
	[ $(( $(date -d "$next" +%s) - $(date -d "$last" +%s) )) = 600 ] &&
	echo "$q" >deferred
'

test_expect_success 'a queue run before the next attempt leaves it alone' '
	send -q >out && [ ! -s out ] &&
	grep -qx "Attempts: 1" "$(cat deferred)/envelope"
'

test_expect_success 'after the interval (faketime) the queue run delivers it' '
	command -v faketime >/dev/null || { echo "faketime missing"; false; } &&
	echo 0 >code &&
	faketime -f "+11m" mf-send -S spool -c mf.conf -q >out &&
	[ ! -s out ] && [ ! -e "$(cat deferred)" ]
'

test_expect_success 'the schedule used up: failed/, with the history' '
	conf "pipe:$TRASH/prog %r" "SendingIntervals = 0s, 1m" &&
	echo 75 >code &&
	p=$(recv a@example.org -- r@example.net) &&
	q=$(send "$p") &&
	q=$(faketime -f "+2m" mf-send -S spool -c mf.conf -q) &&
	case "$q" in *spool/failed/new/*) ;; *) false ;; esac &&
	grep -qx "State: failed" "$q/envelope" && grep -qx "Attempts: 2" "$q/envelope"
'

test_expect_success 'SendingIntervals = 0s: no retries at all' '
	conf "pipe:$TRASH/prog %r" "SendingIntervals = 0s" &&
	p=$(recv a@example.org -- r@example.net) &&
	q=$(send "$p") && case "$q" in *spool/failed/new/*) ;; *) false ;; esac
'

test_expect_success 'pipe exit 67: failed at once (5.1.1)' '
	conf "pipe:$TRASH/prog %r" &&
	echo 67 >code &&
	p=$(recv a@example.org -- r@example.net) &&
	q=$(send "$p") && case "$q" in *spool/failed/new/*) ;; *) false ;; esac &&
	grep -q "^Last-Reply: 550 5.1.1 " "$q/envelope"
'

test_expect_success 'an unknown exit code defers, it never bounces' '
	echo 3 >code &&
	p=$(recv a@example.org -- r@example.net) &&
	q=$(send "$p") && grep -qx "State: deferred" "$q/envelope"
'

test_expect_success 'failover: a hop that only defers hands over to the next' '
	echo 75 >code &&
	conf "maildir:$TRASH/nonexistent/\0, maildir:$TRASH/fo/%u" &&
	conf "pipe:$TRASH/prog %r" &&
	conf "inet:1@127.0.0.1, maildir:$TRASH/fo/%u" "ConnectTimeout = 2s" &&
	p=$(recv a@example.org -- f@example.net) &&
	send "$p" && ls fo/f/new/* >/dev/null
'

test_expect_success 'partial success: the delivered recipient is not sent again' '
	conf "pipe:$TRASH/prog %r" "SendingIntervals = 0s, 1m" &&
	echo 0 >code &&
	p=$(recv a@example.org -- one@example.net) &&
	id=${p##*/} &&
	python3 - "$p/envelope" <<-EOF &&
	import sys
	p = sys.argv[1]
	s = open(p).read()
	s = s.replace("End: 1\n", "Recipient: <two@example.net>\nState: delivered\nAttempts: 1\nEnd: 2\n")
	open(p, "w").write(s)
	EOF
	send "$p" &&
	printf "one@example.net\n" >want && test_cmp want prog.args
'

test_expect_code 75 'a bad Address defers (config error in transport use) and keeps the entry' '
	conf "smoke:signals" &&
	p=$(recv a@example.org -- r@example.net) &&
	echo "$p" >bad && send "$p" 2>err; rc=$?;
	test_last_line err "bad next hop .smoke:signals." && [ -d "$(cat bad)" ] &&
	grep -qx "State: pending" "$(cat bad)/envelope" && exit $rc
'

test_expect_success '--unique-id: each sender takes only its own receiver'"'"'s mail' '
	conf "maildir:$TRASH/def/%u" "[Sender relay2]" "Address = maildir:$TRASH/r2/%u" &&
	p1=$(mf-receive -S spool -c mf.conf --unique-id relay2 -f a@example.org -- u1@example.net <msg) &&
	p2=$(mf-receive -S spool -c mf.conf -f a@example.org -- u2@example.net <msg) &&
	send "$p1" "$p2" >left &&
	[ "$(cat left)" = "$p1" ] && ls def/u2/new/* >/dev/null && [ ! -e r2 ] &&
	mf-send -S spool -c mf.conf --unique-id relay2 "$p1" && ls r2/u1/new/* >/dev/null
'

test_expect_code 78 '--check-config refuses a bad Address with file context' '
	conf "smoke:signals" &&
	mf-send --check-config -S spool -c mf.conf 2>err; rc=$?;
	test_last_line err "^mf-send: \[Sender\]: bad next hop .smoke:signals." && exit $rc
'

test_expect_code 78 '--check-config refuses an AuthPasswordFile readable by others' '
	printf "pw\n" >pw644 && chmod 644 pw644 &&
	conf "inet:25@127.0.0.1" "AuthUser = u" "AuthPasswordFile = $TRASH/pw644" &&
	mf-send --check-config -S spool -c mf.conf 2>err; rc=$?;
	test_last_line err "AuthPasswordFile is unusable: secret file .*/pw644 must not be readable by group or others \(chmod 600\)" &&
	exit $rc
'

test_expect_code 78 '--check-config refuses an unreadable AuthPasswordFile' '
	conf "inet:25@127.0.0.1" "AuthUser = u" "AuthPasswordFile = $TRASH/nope" &&
	mf-send --check-config -S spool -c mf.conf 2>err; rc=$?;
	test_last_line err "AuthPasswordFile .*/nope: No such file" && exit $rc
'

test_expect_success 'Workers = 4: a queue of 40 entries, each delivered exactly once' '
	conf "maildir:$TRASH/wk/%u" "Workers = 4" &&
	mkdir wspool &&
	i=0; while [ $i -lt 40 ]; do
		mf-inject -S wspool -c mf.conf -Q out -f a@example.org -m msg -- "w$i@example.net" >/dev/null || exit 1
		i=$((i + 1))
	done &&
	mf-send -S wspool -c mf.conf -q >out &&
	[ ! -s out ] &&
	[ "$(ls wk | wc -l)" = 40 ] &&
	[ "$(find wk -type f | wc -l)" = 40 ] &&
	[ "$(count_entries wspool/out)" = 0 ] && [ -z "$(ls wspool/out/cur)" ]
'

test_expect_success 'a failed entry requeued by mf-inject is delivered by the next queue run' '
	conf "pipe:$TRASH/prog %r" "SendingIntervals = 0s" &&
	echo 75 >code &&
	p=$(recv a@example.org -- rq@example.net) &&
	q=$(send "$p") && case "$q" in *spool/failed/new/*) ;; *) false ;; esac &&
	echo 0 >code &&
	r=$(mf-inject -S spool -c mf.conf -r "$q") &&
	case "$r" in *spool/out/new/*) ;; *) false ;; esac &&
	grep -qx "State: pending" "$r/envelope" &&
	send -q >out && [ ! -e "$r" ] &&
	printf "rq@example.net\n" >want && test_cmp want prog.args
'

printf 'a-long-enough-secret-key\n' >secret && chmod 600 secret
printf 'Message-ID: <m42@example.org>\nSubject: marked\n\nbody\n' >mmsg

# expected_mark T SENDER MSGID: the HMAC as openssl computes it, independently
expected_mark() {
	printf 'mf1|%s|%s:%s|%s' "$1" "${#2}" "$2" "$3" |
		openssl dgst -sha256 -hmac a-long-enough-secret-key | sed 's/^.*= //'
}

test_expect_success 'UseSecureHash: the maildir copy carries an HMAC mark openssl agrees with' '
	conf "maildir:$TRASH/mk/%u" "UseSecureHash = yes" "SecureHashFile = $TRASH/secret" &&
	p=$(mf-receive -S spool -c mf.conf -f s@example.org -- m@example.net <mmsg) &&
	send "$p" &&
	f=$(ls mk/m/new/*) &&
	sed -n 3p "$f" >line &&
	grep -Eq "^X-MF-Scanned: mf1; t=[0-9]+; h=[0-9a-f]{64}$" line &&
	t=$(sed "s/.*t=\([0-9]*\);.*/\1/" line) && h=$(sed "s/.*h=//" line) &&
	[ "$h" = "$(expected_mark "$t" s@example.org "<m42@example.org>")" ] &&
	sed 1,3d "$f" >rest && test_cmp mmsg rest
'

test_expect_success 'UseSecureHash: a pipe program gets the mark first on stdin' '
	conf "pipe:$TRASH/prog %r" "UseSecureHash = yes" "SecureHashFile = $TRASH/secret" \
		"SecureHashHeader = X-Checked" &&
	echo 0 >code &&
	p=$(mf-receive -S spool -c mf.conf -f "" -- m@example.net <mmsg) &&
	send "$p" &&
	head -n 1 prog.in | grep -Eq "^X-Checked: mf1; t=[0-9]+; h=[0-9a-f]{64}$" &&
	t=$(head -n 1 prog.in | sed "s/.*t=\([0-9]*\);.*/\1/") &&
	[ "$(head -n 1 prog.in | sed "s/.*h=//")" = "$(expected_mark "$t" "" "<m42@example.org>")" ] &&
	sed 1d prog.in >rest && test_cmp mmsg rest
'

test_expect_code 78 'UseSecureHash with a secret readable by others is refused' '
	cp secret open && chmod 644 open &&
	conf "maildir:$TRASH/mk/%u" "UseSecureHash = yes" "SecureHashFile = $TRASH/open" &&
	mf-send --check-config -S spool -c mf.conf 2>err; rc=$?;
	grep -q "chmod 600" err && exit $rc
'

test_expect_code 78 'UseSecureHash without SecureHashFile is refused' '
	conf "maildir:$TRASH/mk/%u" "UseSecureHash = yes" &&
	mf-send --check-config -S spool -c mf.conf 2>err; rc=$?;
	grep -q "needs SecureHashFile" err && exit $rc
'

# Config values kept in fixed buffers: one that does not fit is refused
# with FILE:LINE and its key, never cut.
long=$(printf "%0300d" 0)
test_expect_code 78 '--check-config refuses a HeloName of 300 bytes (not cut to 255)' '
	conf "maildir:$TRASH/md/%u" "HeloName = h$long.example" &&
	mf-send --check-config -S spool -c mf.conf 2>err; rc=$?;
	test_last_line err "^mf-send: \[Sender\]: mf.conf:5: HeloName is longer than 255 bytes \(#4\.3\.5\)$" &&
	[ $(wc -l <err) = 1 ] && exit $rc
'

test_expect_code 78 'and an AuthUser of 300 bytes (AUTH PLAIN must fit one command line)' '
	conf "inet:25@127.0.0.1" "AuthUser = u$long" "AuthPasswordFile = $TRASH/secret" &&
	mf-send --check-config -S spool -c mf.conf 2>err; rc=$?;
	test_last_line err "mf.conf:5: AuthUser is longer than 255 bytes \(#4\.3\.5\)$" && exit $rc
'

test_expect_code 78 'and a SecureHashHeader of 300 bytes (not cut to 200)' '
	conf "maildir:$TRASH/mk/%u" "UseSecureHash = yes" "SecureHashFile = $TRASH/secret" \
		"SecureHashHeader = X-$long" &&
	mf-send --check-config -S spool -c mf.conf 2>err; rc=$?;
	test_last_line err "mf.conf:7: SecureHashHeader is longer than 200 bytes" && exit $rc
'

test_done
