#!/bin/sh
# SPDX-License-Identifier: MIT
# mf-send's MX rules against real peers (dnsmasq, t/sink.py): an MX that is
# this host is a loop (4.4.6), an MX name that is an IP address is skipped,
# at most MaxMXHosts MX hosts are looked up and tried.
. "${0%/*}/lib.sh"

. "$T_DIR/peers.sh"
need_sink
need_dnsmasq
start_sink mx

# A global address of this host, if it has one (for the "interface" case).
SELF=$(ip -4 -o addr show scope global 2>/dev/null | awk '{ print $4 }' | cut -d/ -f1 | head -n 1)
MANY=
i=0
while [ $i -lt 20 ]; do i=$((i + 1)); MANY="$MANY --mx-host=many.test,h$i.many.test,$i --host-record=h$i.many.test,127.0.0.3"; done
DNSPORT=$(free_port udp)
# loop.test: its MX is 127.0.0.1 (where the sink listens);
# iface.test: its MX is an address of one of our interfaces;
# backup.test: we are the MX of preference 20, the sink (exempt) of 10;
# selfbest.test: we are the MX of preference 10, the sink (exempt) of 20;
# iplit.test: the MX "name" is 127.0.0.1; many.test: 20 dead MX hosts;
# example.test only for dns_wait.
"$DNSMASQ" --no-daemon --port="$DNSPORT" --listen-address=127.0.0.1 --bind-interfaces \
	--no-resolv --no-hosts --conf-file=/dev/null --pid-file= --user=root \
	--log-facility=- --log-queries --local=/test/ \
	--mx-host=example.test,mx.loop.test,10 \
	--mx-host=loop.test,mx.loop.test,10 --host-record=mx.loop.test,127.0.0.1 \
	--mx-host=iface.test,mx.iface.test,10 --host-record=mx.iface.test,${SELF:-192.0.2.1} \
	--mx-host=backup.test,prim.backup.test,10 --mx-host=backup.test,me.backup.test,20 \
	--host-record=prim.backup.test,127.0.0.1 --host-record=me.backup.test,127.0.0.2 \
	--mx-host=selfbest.test,me.selfbest.test,10 --mx-host=selfbest.test,other.selfbest.test,20 \
	--host-record=me.selfbest.test,127.0.0.2 --host-record=other.selfbest.test,127.0.0.1 \
	--mx-host=iplit.test,127.0.0.1,10 $MANY \
	>dnsmasq.log 2>&1 &
test_pid $!
dns_wait "$DNSPORT"

printf 'Subject: mx\n\nbody\n' >msg
# conf [lines]: mx: delivery through dnsmasq
conf() {
	printf '[General]\nSyslog = no\n[Sender]\nAddress = mx:%s@\nResolver = 127.0.0.1:%s\nSendingIntervals = 0s, 1m\nConnectTimeout = 2s\n' \
		"$SINK_PORT_mx" "$DNSPORT" >mf.conf
	for l in "$@"; do echo "$l" >>mf.conf; done
}
EXEMPT="MXLoopExempt = 127.0.0.1:$SINK_PORT_mx, 127.0.0.3"
inj() { mkspool; mf-inject -S spool -c mf.conf -Q out -f a@example.org -m msg -- "$@"; }
state() { sed -n "/^Recipient: <$2>\$/,/^Recipient:/s/^State: //p" "$1/envelope"; }
reply() { sed -n "/^Recipient: <$2>\$/,/^Recipient:/s/^Last-Reply: //p" "$1/envelope"; }
rcpts() { cat mx/*.env 2>/dev/null | grep -cx "RCPT TO:<$1>" || true; }

test_expect_success 'MX at 127.0.0.1: deferred as a loop (4.4.6), nothing sent' '
	conf && p=$(inj u@loop.test) &&
	q=$(mf-send -S spool -c mf.conf "$p") && cat "$q/envelope" &&
	[ "$(state "$q" u@loop.test)" = deferred ] &&
	reply "$q" u@loop.test | grep -q "4\.4\.6 .*mail for loop.test loops back to myself" &&
	[ $(rcpts u@loop.test) = 0 ]
'
test_expect_success 'the same MX named in MXLoopExempt (address:port) is delivered to' '
	conf "$EXEMPT" && p=$(inj u2@loop.test) &&
	out=$(mf-send -S spool -c mf.conf "$p") && [ -z "$out" ] && [ $(rcpts u2@loop.test) = 1 ]
'
test_expect_success 'an exemption for another port does not count' '
	conf "MXLoopExempt = 127.0.0.1:1" && p=$(inj u3@loop.test) &&
	q=$(mf-send -S spool -c mf.conf "$p") && [ "$(state "$q" u3@loop.test)" = deferred ] &&
	[ $(rcpts u3@loop.test) = 0 ]
'
if [ -n "$SELF" ]; then
	test_expect_success "MX at this host's address $SELF: a loop too" '
		conf && p=$(inj u@iface.test) &&
		q=$(mf-send -S spool -c mf.conf "$p") &&
		reply "$q" u@iface.test | grep -q "4\.4\.6 .*loops back to myself"
	'
else
	test_skip "MX at this host's address: a loop too" "no global IPv4 address"
fi
test_expect_success 'we are the backup MX (20): the primary (10) gets the mail' '
	conf "$EXEMPT" && p=$(inj u@backup.test) &&
	out=$(mf-send -S spool -c mf.conf "$p") && [ -z "$out" ] && [ $(rcpts u@backup.test) = 1 ]
'
test_expect_success 'we are the best MX (10): the worse one (20) is not tried, 4.4.6' '
	conf "$EXEMPT" && p=$(inj u@selfbest.test) &&
	q=$(mf-send -S spool -c mf.conf -v "$p" 2>err) && cat err &&
	reply "$q" u@selfbest.test | grep -q "4\.4\.6 .*selfbest.test loops back to myself" &&
	grep -q "MX me.selfbest.test (preference 10) is this host" err &&
	[ $(rcpts u@selfbest.test) = 0 ]
'
test_expect_success 'an MX named by an IP address is skipped with a log line' '
	conf "$EXEMPT" && p=$(inj u@iplit.test) &&
	q=$(mf-send -S spool -c mf.conf -v "$p" 2>err) && cat err &&
	[ "$(state "$q" u@iplit.test)" = deferred ] &&
	reply "$q" u@iplit.test | grep -q "no usable MX host name" &&
	grep -q "MX 127.0.0.1 is not a host name" err &&
	[ $(rcpts u@iplit.test) = 0 ]
'
# lookups: how many h*.many.test A queries dnsmasq saw
lookups() { grep -c "query\[A\] h[0-9]*\.many\.test" dnsmasq.log || true; }
test_expect_success '20 MX hosts: 5 looked up and tried (MaxMXHosts default)' '
	conf "$EXEMPT" && before=$(lookups) && p=$(inj u@many.test) &&
	q=$(mf-send -S spool -c mf.conf "$p") && sleep 0.2 &&
	echo "lookups: $before -> $(lookups)" &&
	[ $(( $(lookups) - before )) = 5 ] && [ "$(state "$q" u@many.test)" = deferred ]
'
test_expect_success 'MaxMXHosts = 2: two' '
	conf "$EXEMPT" "MaxMXHosts = 2" && before=$(lookups) && p=$(inj u2@many.test) &&
	mf-send -S spool -c mf.conf "$p" >/dev/null && sleep 0.2 &&
	[ $(( $(lookups) - before )) = 2 ]
'
test_expect_code 78 'MaxMXHosts = 0 is a config error' '
	conf "MaxMXHosts = 0" && mkspool && mf-send -S spool -c mf.conf --check-config
'
test_expect_code 78 'an MXLoopExempt item that is no address is a config error' '
	conf "MXLoopExempt = 127.0.0.1, localhost" && mkspool && mf-send -S spool -c mf.conf --check-config 2>err
'
test_expect_success '... named in the diagnostic' '
	grep -q "MXLoopExempt: localhost: want ADDR or ADDR:PORT" err
'
test_done
