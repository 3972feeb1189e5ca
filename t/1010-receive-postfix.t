#!/bin/sh
# SPDX-License-Identifier: MIT
# A real Postfix hands mail to mf-receive through its pipe(8) transport.
MF_TEST_ROOT=1 # a private Postfix instance is started as root
. "${0%/*}/lib.sh"

command -v postfix >/dev/null && [ -x /usr/lib/postfix/sbin/pipe ] ||
	skip_all "postfix not installed (contrib/deps installs it)"
[ "$(id -u)" = 0 ] || skip_all "a private Postfix instance must be started as root"
id nobody >/dev/null 2>&1 || skip_all "no user nobody"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
pf=$TRASH/pf
spool=$TRASH/spool
# The pipe runs as nobody: it must own the spool and reach mf-receive, so it
# runs a copy in $TRASH (the checkout may be under /root, mode 0700).
chmod 755 "$TRASH"
mkdir -p "$pf/conf" "$pf/queue" "$pf/data" "$spool" bin
chown nobody "$spool"
chown postfix "$pf/data"
cp -p "$MF_BUILD/mf-receive" bin/
as_nobody test -x "$TRASH/bin/mf-receive" ||
	{ echo "Bail out! user nobody cannot reach $TRASH (set TMPDIR)"; exit 1; }

cat >"$pf/conf/main.cf" <<CF
compatibility_level = 3.6
queue_directory = $pf/queue
data_directory = $pf/data
myhostname = mf-test.localdomain
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relay_domains = example.net
transport_maps = inline:{ example.net=mfpipe: }
smtpd_relay_restrictions = permit_mynetworks, reject
alias_maps =
alias_database =
local_recipient_maps =
maillog_file_prefixes = $pf
maillog_file = $pf/maillog
mfpipe_destination_recipient_limit = 10
queue_run_delay = 1s
minimal_backoff_time = 1s
maximum_backoff_time = 2s
CF
cat >"$pf/conf/master.cf" <<CF
127.0.0.1:$port inet n - n - - smtpd
pickup    unix n - n 60 1 pickup
cleanup   unix n - n - 0 cleanup
qmgr      unix n - n 300 1 qmgr
rewrite   unix - - n - - trivial-rewrite
bounce    unix - - n - 0 bounce
defer     unix - - n - 0 bounce
trace     unix - - n - 0 bounce
verify    unix - - n - 1 verify
flush     unix n - n 1000? 0 flush
proxymap  unix - - n - - proxymap
showq     unix n - n - - showq
error     unix - - n - - error
retry     unix - - n - - error
discard   unix - - n - - discard
anvil     unix - - n - 1 anvil
scache    unix - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
mfpipe    unix - n n - - pipe flags=Rq user=nobody null_sender=
  argv=$TRASH/bin/mf-receive -S $spool -c /dev/null -a \${client_address} -H \${client_helo} -f \${sender} -- \${recipient}
CF

postfix -c "$pf/conf" start >"$pf/start.log" 2>&1 || { cat "$pf/start.log"; sed "s/^/# /" "$pf/start.log" "$pf/maillog" 2>/dev/null; skip_all "postfix did not start"; }
test_when_finished "postfix -c '$pf/conf' stop >/dev/null 2>&1"

# send FILE FROM RCPT... (CRLF on the wire, as SMTP wants)
send() {
	python3 - "$port" "$@" <<'PY'
import smtplib, sys
port, msgfile, sender, rcpts = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4:]
msg = open(msgfile, "rb").read()
with smtplib.SMTP("127.0.0.1", port, local_hostname="client.example") as s:
    s.sendmail(sender, rcpts, msg)
PY
}

# wait_entries N: until in/new holds N entries (20 s at most)
wait_entries() {
	i=0
	while [ "$(count_entries "$spool/in")" -lt "$1" ] && [ $i -lt 600 ]; do
		sleep 0.1; i=$((i + 1))
	done
	[ "$(count_entries "$spool/in")" -ge "$1" ]
}

printf 'Subject: via postfix\r\nX-Test: 1\r\n\r\nline one\r\n.leading dot\r\n' >msg1

test_expect_success 'postfix pipe delivers one message with two recipients' '
	send msg1 alice@example.org bob@example.net carol@example.net &&
	wait_entries 1 &&
	e=$(ls -d "$spool"/in/new/*) &&
	grep -qx "Sender: <alice@example.org>" "$e/envelope" &&
	grep -qx "Recipient: <bob@example.net>" "$e/envelope" &&
	grep -qx "Recipient: <carol@example.net>" "$e/envelope" &&
	grep -qx "Client-Address: 127.0.0.1" "$e/envelope" &&
	grep -qx "Client-Helo: client.example" "$e/envelope"
'

test_expect_success 'the stored message has LF line ends, its body intact' '
	e=$(ls -d "$spool"/in/new/*) &&
	! tr -d "\n" <"$e/message" | grep -q "$(printf "\r")" &&
	grep -qx "Subject: via postfix" "$e/message" &&
	grep -qx "line one" "$e/message" &&
	grep -qx "\.leading dot" "$e/message" &&
	size=$(wc -c <"$e/message") &&
	grep -qx "Size: $size" "$e/envelope"
'

test_expect_success 'spool files belong to the pipe user, 0600/0700' '
	e=$(ls -d "$spool"/in/new/*) &&
	[ "$(stat -c %U:%a "$e")" = nobody:700 ] &&
	[ "$(stat -c %U:%a "$e/message")" = nobody:600 ] &&
	[ "$(stat -c %U:%a "$e/envelope")" = nobody:600 ]
'

test_expect_success 'the null sender arrives as Sender: <>' '
	printf "Subject: bounce\r\n\r\nx\r\n" >msg2 &&
	send msg2 "" bob@example.net &&
	wait_entries 2 &&
	grep -lx "Sender: <>" "$spool"/in/new/*/envelope >found &&
	[ "$(wc -l <found)" = 1 ]
'

test_expect_success 'a spool mf-receive cannot write defers in postfix (exit 75), nothing lost' '
	chmod 000 "$spool/in/tmp" &&
	printf "Subject: deferred\r\n\r\nx\r\n" >msg3 &&
	send msg3 dave@example.org bob@example.net &&
	i=0; until grep -q "status=deferred" "$pf/maillog" || [ $i -ge 600 ]; do sleep 0.1; i=$((i+1)); done &&
	grep "status=deferred" "$pf/maillog" | grep -q "mf-receive: mkdir .*Permission denied (#4.3.0)" &&
	[ "$(count_entries "$spool/in")" = 2 ] &&
	chmod 700 "$spool/in/tmp" &&
	postqueue -c "$pf/conf" -f &&
	wait_entries 3 &&
	grep -lx "Sender: <dave@example.org>" "$spool"/in/new/*/envelope
'

test_expect_success 'no message was bounced' '
	! grep -q "status=bounced" "$pf/maillog"
'

test_done
