#!/bin/sh
# SPDX-License-Identifier: MIT
# The SMTP/LMTP client (lib/mf_smtp.c) against t/sink.py peers: plain SMTP,
# LMTP, STARTTLS, STARTTLS required with AUTH; the unit binary does the rest.
. "${0%/*}/lib.sh"

. "$T_DIR/peers.sh"
need_sink
make_cert

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
