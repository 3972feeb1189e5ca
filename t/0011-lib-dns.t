#!/bin/sh
# SPDX-License-Identifier: MIT
# mf_dns against a real dnsmasq on a high loopback port (t/unit/dns.c holds the cases).
. "${0%/*}/lib.sh"

DNSMASQ=$(command -v dnsmasq || echo /usr/sbin/dnsmasq)
[ -x "$DNSMASQ" ] || skip_all "dnsmasq not installed (dnsmasq-base)"
command -v python3 >/dev/null || skip_all "python3 not installed"

# A free UDP port on 127.0.0.1 (dnsmasq also takes TCP and ::1 on it).
free_port() {
	python3 -c 'import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# Whether a DNS server on 127.0.0.1:$1 answers an MX query for example.test.
dns_answers() {
	python3 - "$1" <<'EOF'
import socket, struct, sys
q = struct.pack(">HHHHHH", 0x4d46, 0x0100, 1, 0, 0, 0)
q += b"\x07example\x04test\x00" + struct.pack(">HH", 15, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(0.2)
s.sendto(q, ("127.0.0.1", int(sys.argv[1])))
try:
    r = s.recv(512)
except OSError:
    sys.exit(1)
sys.exit(0 if r[:2] == q[:2] and r[3] & 15 == 0 else 1)
EOF
}

PORT=$(free_port)
DEAD=$(free_port)
# ::1 too when the host has it, to test an IPv6 resolver address.
LISTEN=127.0.0.1
ip -6 addr show dev lo 2>/dev/null | grep -q '::1/128' && LISTEN=127.0.0.1,::1
# --local=/test/: unknown names under .test are NXDOMAIN; other names are REFUSED;
# fail.test is forwarded to a closed port (SERVFAIL).
# nullmx.test is "0 ." (RFC 7505), which dnsmasq serves as written.
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
	>dnsmasq.log 2>&1 &
test_pid $!

i=0
until dns_answers "$PORT"; do
	i=$((i + 1))
	[ $i -lt 50 ] || { echo "Bail out! dnsmasq did not answer on port $PORT"; cat dnsmasq.log; exit 1; }
	sleep 0.1
done

MF_DNS_SERVER=127.0.0.1:$PORT
MF_DNS_SERVER6=
[ "$LISTEN" = 127.0.0.1 ] || MF_DNS_SERVER6="[::1]:$PORT"
MF_DNS_DEAD=127.0.0.1:$DEAD
export MF_DNS_SERVER MF_DNS_SERVER6 MF_DNS_DEAD
"$MF_BUILD/t/dns"
exit $?   # the EXIT trap kills dnsmasq
