#!/bin/sh
# SPDX-License-Identifier: MIT
# mf_dns against a real dnsmasq on a high loopback port (t/unit/dns.c holds the cases).
. "${0%/*}/lib.sh"

. "$T_DIR/peers.sh"
need_dnsmasq

PORT=$(free_port udp)
DEAD=$(free_port udp)
# ::1 too when the host has it, to test an IPv6 resolver address.
LISTEN=127.0.0.1
ip -6 addr show dev lo 2>/dev/null | grep -q '::1/128' && LISTEN=127.0.0.1,::1
# --local=/test/: unknown names under .test are NXDOMAIN; other names are REFUSED;
# fail.test is forwarded to a closed port (SERVFAIL).
# nullmx.test is "0 ." (RFC 7505), which dnsmasq serves as written.
# ipmx.test's MX names are IP addresses (RFC 5321 5.1: never taken);
# many.test has 300 MX hosts (the answer comes over TCP).
MANY=
i=0
while [ $i -lt 300 ]; do i=$((i + 1)); MANY="$MANY --mx-host=many.test,h$i.many.test,$i"; done
"$DNSMASQ" --no-daemon --port="$PORT" --listen-address="$LISTEN" --bind-interfaces \
	--no-resolv --no-hosts --conf-file=/dev/null --pid-file= --user=root \
	--log-facility=- --local=/test/ --server=/fail.test/127.0.0.1#"$DEAD" \
	--mx-host=example.test,mx1.example.test,10 --mx-host=example.test,mx2.example.test,20 \
	--mx-host=spread.test,a.spread.test,10 --mx-host=spread.test,b.spread.test,10 \
	--mx-host=spread.test,c.spread.test,10 --mx-host=spread.test,d.spread.test,20 \
	--mx-host=nullmx.test,.,0 --mx-host=only-mx.test,mx1.example.test,10 \
	--host-record=mx1.example.test,127.0.0.11 --host-record=mx2.example.test,127.0.0.12 \
	--host-record=v6.example.test,::1 --host-record=dual.example.test,127.0.0.12,::1 \
	--host-record=only-a.test,127.0.0.13 \
	--mx-host=ipmx.test,192.0.2.1,10 --mx-host=ipmx.test,0x7f000001,20 \
	--mx-host=mixed.test,10.1.2.3,10 --mx-host=mixed.test,mx2.example.test,20 $MANY \
	>dnsmasq.log 2>&1 &
test_pid $!

dns_wait "$PORT"

# answers dnsmasq would never send: t/hostile_dns.py
HOSTILE=$(free_port udp)
"${PY:-python3}" "$T_DIR/hostile_dns.py" "$HOSTILE" >hostile.out 2>hostile.log &
test_pid $!
i=0
until grep -q ready hostile.out 2>/dev/null; do
	i=$((i + 1)); [ $i -lt 50 ] || { echo "Bail out! hostile_dns.py did not start"; exit 1; }
	sleep 0.1
done
MF_DNS_HOSTILE=127.0.0.1:$HOSTILE
export MF_DNS_HOSTILE

MF_DNS_SERVER=127.0.0.1:$PORT
MF_DNS_SERVER6=
[ "$LISTEN" = 127.0.0.1 ] || MF_DNS_SERVER6="[::1]:$PORT"
MF_DNS_DEAD=127.0.0.1:$DEAD
export MF_DNS_SERVER MF_DNS_SERVER6 MF_DNS_DEAD
"$MF_BUILD/t/dns"
exit $?   # the EXIT trap kills dnsmasq
