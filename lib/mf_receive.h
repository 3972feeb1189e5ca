/* SPDX-License-Identifier: MIT */
/* Build the envelope of a message handed over by an MTA, and spool it. */
#ifndef MF_RECEIVE_H
#define MF_RECEIVE_H

#include "mf_conf.h"
#include "mf_envelope.h"
#include "mf_intake.h"
#include "mf_spool.h"

/*
 * What an MTA tells mf-receive or mf-inject about one message.  Absent
 * values may be taken from the environment the MTA sets (mf_receive_from_env):
 * qmail-local and Courier set SENDER and RECIPIENT; the client address comes
 * from TCPREMOTEIP (ucspi-tcp, Courier) or REMOTE_ADDR (systemd, inetd).
 */
struct mf_receive_args {
	const char *sender;       /* NULL: not given */
	const char *const *rcpts; /* NULL-terminated */
	const char *client_addr;  /* NULL: unknown */
	const char *client_helo;
	const char *receiver_id;
};

/* Fill what args lacks from the environment; env_rcpt receives the single
 * $RECIPIENT when there are no recipient operands. */
void mf_receive_from_env(struct mf_receive_args *a, const char *env_rcpt[2]);

/* Check every address (CR/LF/NUL, syntax, length) and build env.  A bad sender
 * is reported with 5.1.7, a bad recipient with 5.1.3, none at all as usage. */
enum mf_status mf_receive_envelope(const struct mf_receive_args *a,
				   struct mf_envelope *env, struct mf_err *err);

/* RFC 5321 6.3: a message with this many Received: lines is looping. */
#define MF_MAX_HOPS 100

/* The intake options for this receiver from [Receiver] / [Receiver ID] and
 * [General] MinFreeSpace; at most MF_MAX_HOPS - 1 Received: lines. */
void mf_receive_opts(const struct mf_conf *c, const char *id,
		     struct mf_intake_opts *o);

#endif
