# SPDX-License-Identifier: MIT
# t/peers.sh -- starting the real peers of the tests: the t/sink.py SMTP/LMTP
# sink and dnsmasq.  Source it after t/lib.sh.  Every server listens on
# 127.0.0.1 on a free high port, lives in $TRASH and is killed by PID.

# PY: a python3 that has aiosmtpd (python3 on PATH may be a pyenv shim).
PY=
for p in /usr/bin/python3 python3; do
	"$p" -c 'import aiosmtpd' 2>/dev/null && { PY=$p; break; }
done
DNSMASQ=$(command -v dnsmasq || echo /usr/sbin/dnsmasq)

need_sink() {
	[ -n "$PY" ] || skip_all "python3-aiosmtpd not installed"
	command -v openssl >/dev/null || skip_all "openssl not installed"
}
need_dnsmasq() {
	[ -x "$DNSMASQ" ] || skip_all "dnsmasq not installed (dnsmasq-base)"
}

# free_port [tcp|udp]: a port nothing listens on now
free_port() {
	"${PY:-python3}" -c 'import socket, sys
s = socket.socket(type=socket.SOCK_DGRAM if sys.argv[1] == "udp" else socket.SOCK_STREAM)
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])' "${1:-tcp}"
}

# start_sink NAME ARGS...: a sink storing into $TRASH/NAME, rules in
# $TRASH/NAME.rules; its port goes into $SINK_PORT_NAME.
start_sink() {
	name=$1; shift
	port=$(free_port)
	mkdir -p "$TRASH/$name"
	: >"$TRASH/$name.rules"
	"$PY" "$T_DIR/sink.py" --dir "$TRASH/$name" --port "$port" \
		--rules "$TRASH/$name.rules" "$@" >"$TRASH/$name.out" 2>"$TRASH/$name.log" &
	test_pid $!
	i=0
	until grep -q ready "$TRASH/$name.out" 2>/dev/null; do
		i=$((i + 1))
		[ $i -lt 100 ] || { echo "Bail out! sink $name did not start"; cat "$TRASH/$name.log"; exit 1; }
		sleep 0.1
	done
	eval "SINK_PORT_$name=$port"
}

# make_cert: a self-signed certificate for "localhost" in $TRASH/{cert,key}.pem
make_cert() {
	openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost \
		-addext subjectAltName=DNS:localhost -days 1 \
		-keyout "$TRASH/key.pem" -out "$TRASH/cert.pem" >/dev/null 2>&1 ||
		{ echo "Bail out! openssl req failed"; exit 1; }
}

# dns_wait PORT: until a DNS server on 127.0.0.1:PORT answers an MX query
dns_wait() {
	i=0
	until "${PY:-python3}" - "$1" <<'PYEOF'
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
PYEOF
	do
		i=$((i + 1))
		[ $i -lt 50 ] || { echo "Bail out! dnsmasq did not answer on port $1"; cat dnsmasq.log 2>/dev/null; exit 1; }
		sleep 0.1
	done
}

# sink_conf PORT [LINES]: mf.conf for mf-send relaying to a sink on PORT,
# with LINES (backslash escapes such as \n honoured) added to [Sender].
sink_conf() {
	printf '[General]\nSyslog = no\n[Sender]\nAddress = inet:%s@127.0.0.1\nConnectTimeout = 2s\n%b' \
		"$1" "${2:+$2\n}" >mf.conf
}

# need_fault_shim: $FAULT is the LD_PRELOAD fault shim, and mf-send is linked
# so that it reaches it; otherwise skip the script.
need_fault_shim() {
	FAULT=$T_DIR/fault.so
	[ -f "$FAULT" ] || skip_all "t/fault.so is not built (make units)"
	ldd "$MF_BUILD/mf-send" >/dev/null 2>&1 || skip_all "mf-send is static: the shim cannot reach it"
}
