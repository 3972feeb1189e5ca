#!/bin/sh
# SPDX-License-Identifier: MIT
# mf-receive on bad input: the exact exit code, one "(#x.y.z)" diagnostic as
# the last stderr line, and nothing left in the spool; and the odd but good
# input (environment of qmail/Courier, null sender, CRLF, 8-bit, long lines,
# an mbox "From " line, client addresses) stored as it should be.
. "${0%/*}/lib.sh"

DIAG='^mf-receive: .* \(#[245]\.[0-9]+\.[0-9]+\)$'
printf '[General]\nSyslog = no\n' >mf.conf
MF_CONFIG=$TRASH/mf.conf; export MF_CONFIG
mkspool
printf 'Subject: bad input\n\nbody\n' >msg

# Succeeds when the command fails (a "! cmd" line is no assertion under set -e).
not() { if "$@"; then return 1; fi; }
# x N: N times the letter x.
x() { printf "%${1}s" "" | tr " " x; }

# The spool holds no entry: in/new, in/tmp, in/cur empty or absent.
spool_empty() {
	for _s in new tmp cur; do
		if [ -d "spool/in/$_s" ] && [ -n "$(ls -A "spool/in/$_s")" ]; then
			echo "spool/in/$_s is not empty:"; ls -A "spool/in/$_s"; return 1
		fi
	done
}

# refused CODE DSN [mf-receive args...]: exit CODE, the last stderr line is
# the diagnostic with (#DSN), nothing on stdout, nothing in the spool.
refused() {
	_code=$1 _dsn=$2
	shift 2
	rm -rf spool/in
	_rc=0
	mf-receive "$@" <msg >out 2>err || _rc=$?
	echo "exit $_rc, want $_code"
	test "$_rc" -eq "$_code"
	test_last_line err "$DIAG"
	test_last_line err " \(#$(echo "$_dsn" | sed 's/\./\\./g')\)$"
	test ! -s out
	spool_empty
}

# taken [mf-receive args...]: exit 0, one entry; $p is its path.
taken() {
	rm -rf spool/in
	mf-receive "$@" >out
	p=$(cat out)
	test -d "$p"
	test "$(count_entries spool/in)" -eq 1
}

# ---- addresses ----

test_expect_success 'CR in the sender -> 65 (#5.1.7)' '
	refused 65 5.1.7 -S spool -f "$(printf "a\rb@example.org")" -- b@example.org
	test_last_line err "CR or LF"
'
test_expect_success 'LF in a recipient -> 65 (#5.1.3)' '
	refused 65 5.1.3 -S spool -f a@example.org -- ok@example.org "$(printf "b@example.org\nX-Injected: 1")"
	test_last_line err "CR or LF"
'
test_expect_success 'TAB in a recipient -> 65 (#5.1.3)' '
	refused 65 5.1.3 -S spool -f a@example.org -- "$(printf "b@exa\tmple.org")"
'
test_skip 'NUL in an address' 'argv and the environment cannot carry a NUL byte'
test_expect_success 'local part of 65 characters -> 65 (#5.1.3); 64 is fine' '
	refused 65 5.1.3 -S spool -f a@example.org -- "$(x 65)@example.org"
	test_last_line err "local part longer than 64"
	taken -S spool -f "$(x 64)@example.org" -- "$(x 64)@example.org" <msg
	grep -qx "Recipient: <$(x 64)@example.org>" "$p/envelope"
'
test_expect_success 'address of 255 characters -> 65 (#5.1.3); 254 is fine' '
	d254="$(x 63).$(x 63).$(x 61)"
	d255="$(x 63).$(x 63).$(x 62)"
	refused 65 5.1.3 -S spool -f a@example.org -- "$(x 64)@$d255"
	test_last_line err "longer than 254"
	refused 65 5.1.7 -S spool -f "$(x 64)@$d255" -- a@example.org
	taken -S spool -f a@example.org -- "$(x 64)@$d254" <msg
	grep -qx "Recipient: <$(x 64)@$d254>" "$p/envelope"
'
test_expect_success 'no @ in the sender -> 65 (#5.1.7), in a recipient -> 65 (#5.1.3)' '
	refused 65 5.1.7 -S spool -f nobody -- b@example.org
	test_last_line err "missing @domain"
	refused 65 5.1.3 -S spool -f a@example.org -- b@example.org nobody
'
test_expect_success 'SENDER with CR from the environment -> 65 (#5.1.7)' '
	SENDER="$(printf "a@example.org\r")" refused 65 5.1.7 -S spool -- b@example.org
'
test_expect_success 'RECIPIENT with LF from the environment -> 65 (#5.1.3)' '
	RECIPIENT="$(printf "b@example.org\nc@example.org")" refused 65 5.1.3 -S spool -f a@example.org
'

# ---- size limit ----

cat >small.conf <<EOF
[General]
Syslog = no
[Receiver]
MaxSize = 1K
[Receiver relay2]
MaxSize = 2M
EOF
# mkmsg BYTES FILE: a message of exactly BYTES bytes, LF line ends.
mkmsg() {
	perl -e 'my ($n, $tag) = @ARGV; my $s = "Subject: $tag\n\n";
		$s .= "y" x 63 . "\n" while length($s) < $n;
		print substr($s, 0, $n - 1), "\n"' "$1" "$2" >"$2"
}
mkmsg 2048 msg2k
mkmsg 1024 msg1k
mkmsg 1025 msg1k1

test_expect_success 'MaxSize = 1K: a 2 KiB message -> 65 (#5.3.4), nothing in new/ or tmp/' '
	test "$(wc -c <msg2k)" -eq 2048
	cp msg2k msg
	refused 65 5.3.4 -S spool -c "$TRASH/small.conf" -f a@example.org -- b@example.org
	test -d spool/in/tmp
'
test_expect_success 'MaxSize = 1K: exactly 1024 bytes are taken, 1025 are not' '
	test "$(wc -c <msg1k)" -eq 1024
	taken -S spool -c "$TRASH/small.conf" -f a@example.org -- b@example.org <msg1k
	cmp msg1k "$p/message"
	cp msg1k1 msg
	refused 65 5.3.4 -S spool -c "$TRASH/small.conf" -f a@example.org -- b@example.org
'
test_expect_success '[Receiver relay2] MaxSize applies with --unique-id relay2 only' '
	taken -S spool -c "$TRASH/small.conf" --unique-id relay2 -f a@example.org -- b@example.org <msg2k
	cmp msg2k "$p/message"
'
printf 'Subject: bad input\n\nbody\n' >msg

# ---- configuration, usage, spool ----

printf '[General]\nSyslog = no\n[Receiver]\nMaxSise = 1K\n' >bad.conf

test_expect_success 'an unreadable config (-c /nonexistent) -> 75 in transport use' '
	refused 75 4.3.5 -S spool -c /nonexistent -f a@example.org -- b@example.org
	test_last_line err "/nonexistent"
'
test_expect_success 'a config with an unknown key -> 75, naming FILE:LINE:' '
	refused 75 4.3.5 -S spool -c "$TRASH/bad.conf" -f a@example.org -- b@example.org
	test_last_line err "^mf-receive: $TRASH/bad.conf:4: .*MaxSise"
'
test_expect_code 78 'the same config with --check-config -> 78' '
	mf-receive -S spool -c "$TRASH/bad.conf" --check-config 2>err
	rc=$?
	test_last_line err "^mf-receive: $TRASH/bad.conf:4: .* \(#[245]\.[0-9]+\.[0-9]+\)$" && exit $rc
'
test_expect_code 78 'mf-inject with the same config -> 78' '
	mf-inject -S spool -c "$TRASH/bad.conf" -f a@example.org -- b@example.org <msg 2>err
	rc=$?
	test_last_line err "^mf-inject: $TRASH/bad.conf:4: .* \(#[245]\.[0-9]+\.[0-9]+\)$" && exit $rc
'
test_expect_success 'a missing spool directory -> 75, and it is not created' '
	refused 75 4.3.0 -S "$TRASH/nospool" -f a@example.org -- b@example.org
	test ! -e nospool
'
test_expect_success 'no sender -> 75' '
	refused 75 4.3.5 -S spool -- b@example.org
'
test_expect_success 'no recipients -> 75' '
	refused 75 4.3.5 -S spool -f a@example.org
	refused 75 4.3.5 -S spool -f a@example.org --
'
test_expect_success 'an unknown option -> 75 for mf-receive' '
	refused 75 4.3.5 -S spool --no-such-option -f a@example.org -- b@example.org
'
test_expect_code 64 'an unknown option -> 64 for mf-inject' '
	mf-inject -S spool --no-such-option -f a@example.org -- b@example.org <msg 2>err
	rc=$?
	test_last_line err "^mf-inject: .* \(#[245]\.[0-9]+\.[0-9]+\)$" && exit $rc
'
test_expect_success 'a bad --unique-id -> 75' '
	refused 75 4.3.5 -S spool --unique-id "../x" -f a@example.org -- b@example.org
	refused 75 4.3.5 -S spool --unique-id "" -f a@example.org -- b@example.org
	refused 75 4.3.5 -S spool --unique-id "$(x 65)" -f a@example.org -- b@example.org
	refused 75 4.3.5 -S spool --unique-id "$(printf "a\nb")" -f a@example.org -- b@example.org
'

# ---- the environment an MTA sets ----

test_expect_success 'SENDER and RECIPIENT are used when -f and recipients are absent' '
	SENDER=env-s@example.org RECIPIENT=env-r@example.org taken -S spool <msg
	grep -qx "Sender: <env-s@example.org>" "$p/envelope"
	grep -qx "Recipient: <env-r@example.org>" "$p/envelope"
	test "$(grep -c "^Recipient:" "$p/envelope")" -eq 1
'
test_expect_success '-f and recipient operands win over SENDER and RECIPIENT' '
	SENDER=env-s@example.org RECIPIENT=env-r@example.org \
		taken -S spool -f opt-s@example.org -- opt-r@example.org <msg
	grep -qx "Sender: <opt-s@example.org>" "$p/envelope"
	grep -qx "Recipient: <opt-r@example.org>" "$p/envelope"
	not grep -q env- "$p/envelope"
'
test_expect_success "the null sender as '', as '<>' and as SENDER= is stored as <>" '
	taken -S spool -f "" -- b@example.org <msg
	grep -qx "Sender: <>" "$p/envelope"
	taken -S spool -f "<>" -- b@example.org <msg
	grep -qx "Sender: <>" "$p/envelope"
	SENDER= taken -S spool -- b@example.org <msg
	grep -qx "Sender: <>" "$p/envelope"
'
test_expect_success 'the null sender is no recipient -> 65 (#5.1.3)' '
	refused 65 5.1.3 -S spool -f a@example.org -- "<>"
'

# ---- content ----

test_expect_success '8-bit content is stored unchanged' '
	perl -e "print qq(Subject: =?utf-8?q?x?=\n\n), map(chr, 1 .. 9, 11, 12, 14 .. 255), qq(\n\xc3\xa9t\xc3\xa9\n)" >8bit
	taken -S spool -f a@example.org -- b@example.org <8bit
	cmp 8bit "$p/message"
	grep -qx "Size: $(wc -c <8bit)" "$p/envelope"
'
test_expect_success 'a 100 KB single line is stored unchanged' '
	{ printf "Subject: long\n\n"; x 100000; echo; } >long
	taken -S spool -f a@example.org -- b@example.org <long
	cmp long "$p/message"
'
test_expect_success 'CRLF input is stored with LF (also where CRLF spans two reads)' '
	# the CR of line 1 is byte 65535, its LF byte 65536: one 64 KiB read apart
	perl -e "print qq(X-Pad: ), qq(a) x 65528, qq(\r\nSubject: crlf\r\n\r\n),
		map({ qq(line \$_ \r\n) } 1 .. 20000), qq(lone\rCR stays\r\n)" >crlf
	perl -pe "s/\r\n/\n/g" crlf >want
	test "$(head -c 65537 crlf | tail -c 2 | od -An -c | tr -d " ")" = "\r\n"
	taken -S spool -f a@example.org -- b@example.org <crlf
	test_cmp want "$p/message"
	grep -qx "Size: $(wc -c <want)" "$p/envelope"
'
test_expect_success 'a message without a final newline gets one' '
	printf "Subject: x\n\nno newline" >nonl
	taken -S spool -f a@example.org -- b@example.org <nonl
	printf "Subject: x\n\nno newline\n" >want
	test_cmp want "$p/message"
'
test_expect_success 'a leading mbox "From " line is dropped, a later one kept' '
	printf "From sender@example.org Mon Jan  1 00:00:00 2024\nSubject: mbox\n\nFrom here on\n" >mbox
	taken -S spool -f a@example.org -- b@example.org <mbox
	printf "Subject: mbox\n\nFrom here on\n" >want
	test_cmp want "$p/message"
'
test_expect_success 'a leading "From " line longer than one 64 KiB read is dropped' '
	{ printf "From "; x 70000; printf "\r\nSubject: long from\r\n\r\nbody\r\n"; } >longfrom
	taken -S spool -f a@example.org -- b@example.org <longfrom
	printf "Subject: long from\n\nbody\n" >want
	test_cmp want "$p/message"
'

# ---- client address ----

test_expect_success 'TCPREMOTEIP is recorded as Client-Address' '
	TCPREMOTEIP=192.0.2.7 taken -S spool -f a@example.org -- b@example.org <msg
	grep -qx "Client-Address: 192.0.2.7" "$p/envelope"
'
test_expect_success 'REMOTE_ADDR is recorded as Client-Address' '
	REMOTE_ADDR=2001:db8::25 taken -S spool -f a@example.org -- b@example.org <msg
	grep -qx "Client-Address: 2001:db8::25" "$p/envelope"
'
test_expect_success '-a is recorded as Client-Address and wins over the environment' '
	TCPREMOTEIP=192.0.2.7 REMOTE_ADDR=192.0.2.8 \
		taken -S spool -a 198.51.100.9 -f a@example.org -- b@example.org <msg
	grep -qx "Client-Address: 198.51.100.9" "$p/envelope"
'
test_expect_success '"unknown" and garbage client addresses are ignored, still exit 0' '
	for a in unknown UNKNOWN "192.0.2.1; rm -rf /" "$(printf "192.0.2.1\nX: y")" 999.1.1.1 example.org; do
		TCPREMOTEIP=$a taken -S spool -f a@example.org -- b@example.org <msg
		not grep -q "^Client-Address" "$p/envelope"
		REMOTE_ADDR=$a taken -S spool -f a@example.org -- b@example.org <msg
		not grep -q "^Client-Address" "$p/envelope"
		taken -S spool -a "$a" -f a@example.org -- b@example.org <msg
		not grep -q "^Client-Address" "$p/envelope"
	done
'
test_done
