#!/bin/sh
# SPDX-License-Identifier: MIT
# The SMTP/LMTP client (lib/mf_smtp.c) against t/sink.py peers: plain SMTP,
# LMTP, STARTTLS, STARTTLS required with AUTH; the unit binary does the rest.
. "${0%/*}/lib.sh"

PY=
for p in /usr/bin/python3 python3; do
	"$p" -c 'import aiosmtpd' 2>/dev/null && { PY=$p; break; }
done
[ -n "$PY" ] || skip_all "python3-aiosmtpd not installed"
command -v openssl >/dev/null || skip_all "openssl not installed"

free_port() {
	"$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_sink NAME ARGS...: a sink in $TRASH/NAME with rules $TRASH/NAME.rules
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

openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost \
	-addext subjectAltName=DNS:localhost -days 1 \
	-keyout "$TRASH/key.pem" -out "$TRASH/cert.pem" >/dev/null 2>&1 ||
	{ echo "Bail out! openssl req failed"; exit 1; }

start_sink plain
start_sink lmtp --lmtp
start_sink tls --tls-cert "$TRASH/cert.pem" --tls-key "$TRASH/key.pem"
start_sink auth --tls-cert "$TRASH/cert.pem" --tls-key "$TRASH/key.pem" \
	--require-tls --auth user:secret

MF_SINK_PORT=$SINK_PORT_plain MF_SINK_DIR=$TRASH/plain MF_SINK_RULES=$TRASH/plain.rules
MF_LMTP_PORT=$SINK_PORT_lmtp MF_LMTP_DIR=$TRASH/lmtp MF_LMTP_RULES=$TRASH/lmtp.rules
MF_TLS_PORT=$SINK_PORT_tls MF_TLS_DIR=$TRASH/tls MF_TLS_RULES=$TRASH/tls.rules
MF_AUTH_PORT=$SINK_PORT_auth MF_AUTH_DIR=$TRASH/auth MF_AUTH_RULES=$TRASH/auth.rules
MF_TLS_CERT=$TRASH/cert.pem MF_CLOSED_PORT=$(free_port)
export MF_SINK_PORT MF_SINK_DIR MF_SINK_RULES MF_LMTP_PORT MF_LMTP_DIR MF_LMTP_RULES \
	MF_TLS_PORT MF_TLS_DIR MF_TLS_RULES MF_AUTH_PORT MF_AUTH_DIR MF_AUTH_RULES \
	MF_TLS_CERT MF_CLOSED_PORT

# Not exec: the sinks must be killed by the EXIT trap afterwards.
${MF_VALGRIND:-} "$MF_BUILD/t/smtp"
