#!/bin/sh
# SPDX-License-Identifier: MIT
# mf-send over the network against real peers: t/sink.py (SMTP, LMTP, STARTTLS,
# AUTH) and dnsmasq (MX): per-recipient results, failover, retries, DSN,
# timeouts, and a sender killed in the middle of a delivery.
. "${0%/*}/lib.sh"

. "$T_DIR/peers.sh"
need_sink
need_dnsmasq
make_cert

start_sink plain
start_sink lmtp --lmtp
start_sink tls --tls-cert "$TRASH/cert.pem" --tls-key "$TRASH/key.pem"
start_sink auth --tls-cert "$TRASH/cert.pem" --tls-key "$TRASH/key.pem" \
	--require-tls --auth user:secret
start_sink mx
CLOSED=$(free_port)

# dnsmasq: mx1.example.test is an address where nothing listens, mx2 is the
# sink "mx"; other.test's only MX is dead too; nullmx.test is "0 ."; other
# names under .test do not exist (NXDOMAIN).
DNSPORT=$(free_port udp)
"$DNSMASQ" --no-daemon --port="$DNSPORT" --listen-address=127.0.0.1 --bind-interfaces \
	--no-resolv --no-hosts --conf-file=/dev/null --pid-file= --user=root \
	--log-facility=- --local=/test/ \
	--mx-host=example.test,mx1.example.test,10 --mx-host=example.test,mx2.example.test,20 \
	--mx-host=other.test,mx.other.test,10 --mx-host=nullmx.test,.,0 \
	--host-record=mx1.example.test,127.0.0.3 --host-record=mx2.example.test,127.0.0.1 \
	--host-record=mx.other.test,127.0.0.4 \
	>dnsmasq.log 2>&1 &
test_pid $!
dns_wait "$DNSPORT"
# the MX hosts here are loopback addresses, which mf-send takes for itself
# (a loop) unless they are exempt
MXOK="MXLoopExempt = 127.0.0.1:$SINK_PORT_mx, 127.0.0.3, 127.0.0.4"

# A message with dot lines (stuffed on the wire, un-stuffed by the sink).
printf 'From: a@example.org\nSubject: hello\n\nbody\n.dot line\n.\n..two\nend\n' >msg

# conf ADDRESS [more lines]: a config delivering to ADDRESS
conf() {
	printf '[General]\nSyslog = no\n[Sender]\nAddress = %s\nConnectTimeout = 2s\n' "$1" >mf.conf
	shift
	for l in "$@"; do echo "$l" >>mf.conf; done
}
# inj SPOOL SENDER RCPT...: an entry in SPOOL/out/new, its path on stdout
inj() { sp=$1; shift; mkspool "$TRASH/$sp"; mf-inject -S "$TRASH/$sp" -c mf.conf -Q out -f "$@" <msg; }
send() { sp=$1; shift; mf-send -S "$TRASH/$sp" -c mf.conf "$@"; }
# state ENTRY RCPT: the State of RCPT in ENTRY's envelope
state() { sed -n "/^Recipient: <$2>\$/,/^Recipient:/s/^State: //p" "$1/envelope"; }
reply() { sed -n "/^Recipient: <$2>\$/,/^Recipient:/s/^Last-Reply: //p" "$1/envelope"; }
# rcpts DIR ADDR: how many RCPT TO:<ADDR> lines the sink in DIR recorded
rcpts() { cat "$1"/*.env 2>/dev/null | grep -cx "RCPT TO:<$2>" || true; }
# the newest N.env / N.eml of a sink
last_env() { ls "$1"/*.env | sort -V | tail -n 1; }

export TRASH

# --- 1. plain SMTP ---
test_expect_success 'SMTP: envelope as sent, message byte for byte, entry removed, nothing printed' '
	conf "inet:$SINK_PORT_plain@127.0.0.1" &&
	p=$(inj s1 a@example.org -- b@example.net c@example.org) &&
	out=$(send s1 "$p") && [ -z "$out" ] && [ ! -e "$p" ] &&
	[ $(ls plain/*.env | wc -l) = 1 ] &&
	printf "MAIL FROM:<a@example.org>\nRCPT TO:<b@example.net>\nRCPT TO:<c@example.org>\n" >want &&
	grep -v "^TLS:\|^HELO:" plain/1.env | sed "s/^\(MAIL FROM:<[^>]*>\).*/\1/" >got &&
	test_cmp want got &&
	tr -d "\r" <plain/1.eml >got.eml && test_cmp msg got.eml &&
	if grep -q "$(printf "\r")" plain/1.eml; then
		sed "s/\$/$(printf "\r")/" msg >want.crlf && cmp want.crlf plain/1.eml
	fi
'

test_expect_success 'SMTP with UseSecureHash: the mark goes first, the message follows unchanged' '
	printf "sixteen-bytes-or-more\n" >secret && chmod 600 secret &&
	conf "inet:$SINK_PORT_plain@127.0.0.1" "UseSecureHash = yes" "SecureHashFile = $TRASH/secret" &&
	p=$(inj s1m a@example.org -- b@example.net) &&
	send s1m "$p" &&
	e=$(last_env plain) && m=${e%.env}.eml &&
	tr -d "\r" <"$m" >got.eml &&
	head -n 1 got.eml | grep -Eq "^X-MF-Scanned: mf1; t=[0-9]+; h=[0-9a-f]{64}$" &&
	sed 1d got.eml >rest && test_cmp msg rest
'

# --- 2. failover ---
test_expect_success 'failover: a closed port, then the sink; relay is the second hop' '
	conf "inet:$CLOSED@127.0.0.1, inet:$SINK_PORT_plain@127.0.0.1" "SendingIntervals = 0s, 1m" &&
	before=$(rcpts plain f@example.net) &&
	p=$(inj s2 a@example.org -- f@example.net) &&
	out=$(send s2 -v "$p" 2>err) && [ -z "$out" ] && [ ! -e "$p" ] &&
	[ $(rcpts plain f@example.net) = $((before + 1)) ] &&
	grep "to=<f@example.net>" err | grep "status=sent" >sent &&
	grep -q "relay=[^ ]*127\.0\.0\.1[^ ]*:$SINK_PORT_plain " sent &&
	! grep -q ":$CLOSED" sent
'

test_expect_success 'failover: the envelope records the second hop as the relay' '
	conf "inet:$CLOSED@127.0.0.1, inet:$SINK_PORT_plain@127.0.0.1" "SendingIntervals = 0s, 1m" &&
	echo "rcpt g2@example.net 451 4.3.0 try later" >plain.rules &&
	p=$(inj s2 a@example.org -- g1@example.net g2@example.net) &&
	q=$(send s2 "$p") && : >plain.rules &&
	cat "$q/envelope" &&
	[ "$(state "$q" g1@example.net)" = delivered ] &&
	sed -n "/^Recipient: <g1@example.net>/,/^Recipient: <g2/p" "$q/envelope" |
		grep -Eq "^Remote-MTA: .*127\.0\.0\.1.*:$SINK_PORT_plain\$" &&
	! grep -q ":$CLOSED" "$q/envelope"
'

# --- 3. per-recipient results and the retry ---
test_expect_success 'per recipient: 250, 550 and 451 in one transaction' '
	conf "inet:$SINK_PORT_plain@127.0.0.1" "SendingIntervals = 0s, 1m, 1h" &&
	printf "rcpt bad@example.net 550 5.1.1 no such user\nrcpt later@example.net 451 4.3.0 try later\n" >plain.rules &&
	p=$(inj s3 a@example.org -- ok@example.net bad@example.net later@example.net) &&
	q=$(send s3 "$p") && echo "$q" >s3.entry &&
	case "$q" in "$TRASH"/s3/out/new/*) ;; *) false ;; esac &&
	[ "$(state "$q" ok@example.net)" = delivered ] &&
	[ "$(state "$q" bad@example.net)" = failed ] &&
	[ "$(state "$q" later@example.net)" = deferred ] &&
	reply "$q" bad@example.net | grep -q "^550 5\.1\.1" &&
	reply "$q" later@example.net | grep -q "^451" &&
	[ $(rcpts plain ok@example.net) = 1 ]
'

test_expect_success 'per recipient: the retry sends only the deferred one, then failed/' '
	printf "rcpt bad@example.net 550 5.1.1 no such user\n" >plain.rules &&
	q=$(faketime -f +2m mf-send -S "$TRASH/s3" -c mf.conf -q) &&
	: >plain.rules &&
	case "$q" in "$TRASH"/s3/failed/new/*) ;; *) false ;; esac &&
	[ ! -e "$(cat s3.entry)" ] &&
	[ "$(state "$q" ok@example.net)" = delivered ] &&
	[ "$(state "$q" bad@example.net)" = failed ] &&
	[ "$(state "$q" later@example.net)" = delivered ] &&
	[ $(rcpts plain later@example.net) = 1 ] &&
	[ $(rcpts plain ok@example.net) = 1 ]
'

# --- 4. DSN ---
test_expect_success 'SendDSN: a 5xx makes a DSN in out/new, to the sender, from <>' '
	conf "inet:$SINK_PORT_plain@127.0.0.1" "SendDSN = yes" "NotifyProgram = $MF_BUILD/mf-notify" &&
	echo "rcpt gone@example.net 550 5.1.1 gone away" >plain.rules &&
	p=$(inj s4 dsnsender@example.org -- gone@example.net) &&
	send s4 "$p" >s4.printed && : >plain.rules &&
	q=$(grep "/s4/failed/new/" s4.printed) && [ -d "$q" ] &&
	[ $(count_entries s4/out) = 1 ] &&
	d=$(ls -d s4/out/new/*) &&
	grep -qx "Sender: <>" "$d/envelope" &&
	grep -qx "Recipient: <dsnsender@example.org>" "$d/envelope" &&
	[ $(grep -c "^Recipient:" "$d/envelope") = 1 ]
'

test_expect_success 'SendDSN: mf-send prints only the entry'"'"'s own path, not the DSN'"'"'s' '
	cat s4.printed && [ $(wc -l <s4.printed) = 1 ] && grep -q "/s4/failed/new/" s4.printed
'

test_expect_success 'SendDSN: the DSN is delivered as a multipart/report naming the recipient' '
	conf "inet:$SINK_PORT_plain@127.0.0.1" "SendDSN = yes" "NotifyProgram = $MF_BUILD/mf-notify" &&
	before=$(rcpts plain dsnsender@example.org) &&
	out=$(send s4 -q) && [ -z "$out" ] && [ $(count_entries s4/out) = 0 ] &&
	[ $(rcpts plain dsnsender@example.org) = $((before + 1)) ] &&
	env=$(grep -lx "RCPT TO:<dsnsender@example.org>" plain/*.env) &&
	# aiosmtpd records the null sender as "<>", so the sink writes <<>>
	grep -Eqx "MAIL FROM:<(<>)?>( .*)?" "$env" && eml=${env%.env}.eml &&
	grep -qi "^Content-Type: multipart/report" "$eml" &&
	grep -qi "report-type=.\{0,1\}delivery-status" "$eml" &&
	grep -qi "^Final-Recipient: rfc822; *gone@example.net" "$eml" &&
	grep -qi "^Action: failed" "$eml"
'

test_expect_success 'SendDSN: no DSN for a message from the null sender' '
	conf "inet:$SINK_PORT_plain@127.0.0.1" "SendDSN = yes" "NotifyProgram = $MF_BUILD/mf-notify" &&
	echo "rcpt gone@example.net 550 5.1.1 gone away" >plain.rules &&
	p=$(inj s4 "" -- gone@example.net) &&
	q=$(send s4 "$p") && : >plain.rules &&
	case "$q" in "$TRASH"/s4/failed/new/*) ;; *) false ;; esac &&
	[ $(count_entries s4/out) = 0 ]
'

# --- 5. LMTP ---
test_expect_success 'LMTP (lmtp: hop): per-recipient replies after DATA' '
	conf "lmtp:$SINK_PORT_lmtp@127.0.0.1" "SendingIntervals = 0s, 1m" &&
	echo "lmtp x@example.net 452 4.2.2 mailbox full" >lmtp.rules &&
	p=$(inj s5 a@example.org -- x@example.net y@example.net) &&
	q=$(send s5 "$p") && : >lmtp.rules &&
	case "$q" in "$TRASH"/s5/out/new/*) ;; *) false ;; esac &&
	[ "$(state "$q" x@example.net)" = deferred ] &&
	reply "$q" x@example.net | grep -q "^452 4\.2\.2" &&
	[ "$(state "$q" y@example.net)" = delivered ] &&
	tr -d "\r" <"$(last_env lmtp | sed "s/env\$/eml/")" >got.eml && test_cmp msg got.eml
'

test_expect_success 'LMTP (Method = LMTP, inet: hop): the deferred one goes on retry' '
	conf "inet:$SINK_PORT_lmtp@127.0.0.1" "Method = LMTP" "SendingIntervals = 0s, 1m" &&
	out=$(faketime -f +2m mf-send -S "$TRASH/s5" -c mf.conf -q) && [ -z "$out" ] &&
	[ $(count_entries s5/out) = 0 ] &&
	# x was accepted at RCPT both times (LMTP answers after DATA), y only once
	[ $(rcpts lmtp x@example.net) = 2 ] && [ $(rcpts lmtp y@example.net) = 1 ] &&
	env=$(last_env lmtp) && grep -x "RCPT TO:<.*>" "$env" >got &&
	echo "RCPT TO:<x@example.net>" >want && test_cmp want got
'

# --- 6. STARTTLS and AUTH ---
test_expect_success 'TLS = encrypt: delivered over TLS' '
	conf "inet:$SINK_PORT_tls@127.0.0.1" "TLS = encrypt" &&
	p=$(inj s6 a@example.org -- t1@example.net) &&
	out=$(send s6 "$p") && [ -z "$out" ] && [ ! -e "$p" ] &&
	env=$(grep -lx "RCPT TO:<t1@example.net>" tls/*.env) &&
	grep -qx "TLS: yes" "$env"
'

test_expect_success 'TLS = verify: the cert names the host of the hop (localhost)' '
	conf "inet:$SINK_PORT_tls@localhost" "TLS = verify" "TLSCAFile = $TRASH/cert.pem" "HeloName = other.invalid" &&
	p=$(inj s6 a@example.org -- t2@example.net) &&
	out=$(send s6 "$p") && [ -z "$out" ] && [ ! -e "$p" ] &&
	env=$(grep -lx "RCPT TO:<t2@example.net>" tls/*.env) &&
	grep -qx "TLS: yes" "$env"
'

test_expect_success 'TLS = verify: a name the cert does not hold defers' '
	conf "inet:$SINK_PORT_tls@127.0.0.1" "TLS = verify" "TLSCAFile = $TRASH/cert.pem" "SendingIntervals = 0s, 1m" &&
	p=$(inj s6 a@example.org -- t3@example.net) &&
	q=$(send s6 "$p") && [ "$(state "$q" t3@example.net)" = deferred ] &&
	[ $(rcpts tls t3@example.net) = 0 ]
'

test_expect_success 'TLS = encrypt against a server without STARTTLS: deferred, TLS named' '
	conf "inet:$SINK_PORT_plain@127.0.0.1" "TLS = encrypt" "SendingIntervals = 0s, 1m" &&
	p=$(inj s6 a@example.org -- t4@example.net) &&
	q=$(send s6 "$p") && [ "$(state "$q" t4@example.net)" = deferred ] &&
	reply "$q" t4@example.net | grep -Eq "4\.7\.4|TLS|STARTTLS" &&
	[ $(rcpts plain t4@example.net) = 0 ]
'

test_expect_success 'AUTH over required STARTTLS: delivered, the sink saw the user' '
	printf "secret\n" >pw && chmod 600 pw &&
	conf "inet:$SINK_PORT_auth@127.0.0.1" "TLS = encrypt" "AuthUser = user" "AuthPasswordFile = $TRASH/pw" &&
	p=$(inj s6 a@example.org -- t5@example.net) &&
	out=$(send s6 "$p") && [ -z "$out" ] && [ ! -e "$p" ] &&
	env=$(grep -lx "RCPT TO:<t5@example.net>" auth/*.env) &&
	grep -qx "TLS: yes" "$env" && grep -qx "AUTH: user" "$env"
'

test_expect_success 'AUTH with a wrong password: deferred, nothing delivered' '
	printf "wrong\n" >pw2 && chmod 600 pw2 &&
	conf "inet:$SINK_PORT_auth@127.0.0.1" "TLS = encrypt" "AuthUser = user" "AuthPasswordFile = $TRASH/pw2" \
		"SendingIntervals = 0s, 1m" &&
	p=$(inj s6 a@example.org -- t6@example.net) &&
	q=$(send s6 "$p") && [ "$(state "$q" t6@example.net)" = deferred ] &&
	[ $(rcpts auth t6@example.net) = 0 ]
'

# --- 7. MX through dnsmasq ---
test_expect_success 'MX: the first MX is dead, the second takes the mail' '
	conf "mx:$SINK_PORT_mx@" "Resolver = 127.0.0.1:$DNSPORT" "$MXOK" "SendingIntervals = 0s, 1m" &&
	p=$(inj s7 a@example.org -- m1@example.test) &&
	out=$(send s7 -v "$p" 2>err) && [ -z "$out" ] && [ ! -e "$p" ] &&
	[ $(rcpts mx m1@example.test) = 1 ] &&
	grep "to=<m1@example.test>.*status=sent" err | grep -q "relay=mx2\.example\.test\[127\.0\.0\.1\]:$SINK_PORT_mx "
'

test_expect_success 'MX: a null MX fails the recipient at once with 5.1.10' '
	conf "mx:$SINK_PORT_mx@" "Resolver = 127.0.0.1:$DNSPORT" "$MXOK" "SendingIntervals = 0s, 1m" &&
	p=$(inj s7 a@example.org -- n@nullmx.test) &&
	q=$(send s7 "$p") &&
	case "$q" in "$TRASH"/s7/failed/new/*) ;; *) false ;; esac &&
	[ "$(state "$q" n@nullmx.test)" = failed ] &&
	reply "$q" n@nullmx.test | grep -q "5\.1\.10"
'

test_expect_success 'MX: a domain that does not exist fails at once with 5.1.2' '
	conf "mx:$SINK_PORT_mx@" "Resolver = 127.0.0.1:$DNSPORT" "$MXOK" "SendingIntervals = 0s, 1m" &&
	p=$(inj s7 a@example.org -- n@nosuch.test) &&
	q=$(send s7 "$p") &&
	case "$q" in "$TRASH"/s7/failed/new/*) ;; *) false ;; esac &&
	[ "$(state "$q" n@nosuch.test)" = failed ] &&
	reply "$q" n@nosuch.test | grep -q "5\.1\.2"
'

test_expect_success 'MX: recipients of two domains each go to their own MX' '
	conf "mx:$SINK_PORT_mx@" "Resolver = 127.0.0.1:$DNSPORT" "$MXOK" "SendingIntervals = 0s, 1m" &&
	p=$(inj s7 a@example.org -- o1@other.test e1@example.test) &&
	q=$(send s7 "$p") && cat "$q/envelope" &&
	[ "$(state "$q" o1@other.test)" = deferred ] &&
	reply "$q" o1@other.test | grep -q "127\.0\.0\.4" &&
	[ "$(state "$q" e1@example.test)" = delivered ] &&
	[ $(rcpts mx o1@other.test) = 0 ] && [ $(rcpts mx e1@example.test) = 1 ] &&
	p=$(inj s7 a@example.org -- e2@example.test o2@other.test) &&
	q=$(send s7 "$p") &&
	[ "$(state "$q" o2@other.test)" = deferred ] &&
	[ "$(state "$q" e2@example.test)" = delivered ] &&
	[ $(rcpts mx o2@other.test) = 0 ] && [ $(rcpts mx e2@example.test) = 1 ]
'

# --- 8. kill -9 in the middle of a delivery ---
test_expect_success 'kill -9 during RCPT: the entry stays in out/cur' '
	conf "inet:$SINK_PORT_plain@127.0.0.1" &&
	echo "delay rcpt 5" >plain.rules &&
	p=$(inj s8 a@example.org -- k@example.net) && echo "${p##*/}" >s8.id &&
	mf-send -S "$TRASH/s8" -c mf.conf "$p" >/dev/null 2>&1 &
	pid=$! &&
	sleep 1 && kill -9 $pid && { wait $pid || :; } &&
	: >plain.rules &&
	[ -d "s8/out/cur/$(cat s8.id)" ] && [ $(count_entries s8/out) = 0 ] &&
	[ $(rcpts plain k@example.net) = 0 ]
'

test_expect_success 'kill -9: the next queue run puts it back and delivers it once' '
	conf "inet:$SINK_PORT_plain@127.0.0.1" "StalledProcessingInterval = 0s" &&
	out=$(send s8 -q) && [ -z "$out" ] &&
	[ ! -e "s8/out/cur/$(cat s8.id)" ] && [ $(count_entries s8/out) = 0 ] &&
	[ $(rcpts plain k@example.net) = 1 ]
'

# --- 9. timeouts ---
test_expect_success 'RcptToCmdTimeout: a slow RCPT defers with a timeout, exit 0' '
	conf "inet:$SINK_PORT_plain@127.0.0.1" "RcptToCmdTimeout = 1s" "SendingIntervals = 0s, 1m" &&
	echo "delay rcpt 3" >plain.rules &&
	p=$(inj s9 a@example.org -- slow@example.net) &&
	start=$(date +%s) &&
	q=$(send s9 "$p"); rc=$?; : >plain.rules; [ $rc = 0 ] &&
	[ $(( $(date +%s) - start )) -lt 3 ] &&
	case "$q" in "$TRASH"/s9/out/new/*) ;; *) false ;; esac &&
	[ "$(state "$q" slow@example.net)" = deferred ] &&
	reply "$q" slow@example.net | grep -qi "timeout\|timed out"
'

# --- 10. names from the config ---
test_expect_success 'EHLO gives [General] Hostname whole, not the 63 bytes of entry names' '
	h=a-host-name-of-more-than-sixty-three-bytes.mail-relays.example.org &&
	conf "inet:$SINK_PORT_plain@127.0.0.1" "[General]" "Hostname = $h" &&
	p=$(inj s10 a@example.org -- helo@example.net) &&
	out=$(send s10 "$p") && [ -z "$out" ] &&
	env=$(grep -lx "RCPT TO:<helo@example.net>" plain/*.env) &&
	grep -qx "HELO: $h" "$env"
'

test_done
