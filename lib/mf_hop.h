/* SPDX-License-Identifier: MIT */
/* Next hops in Dr.Web MailD's address syntax, and failover lists of them. */
#ifndef MF_HOP_H
#define MF_HOP_H

#include <limits.h>
#include <stddef.h>

#include "mf_status.h"

/*
 * Syntax (mf-send(1)):
 *   inet:PORT@HOST     SMTP (or LMTP with Method = LMTP) to HOST (name, IPv4
 *                      or [IPv6]) on PORT
 *   unix:/path         SMTP (or LMTP) over a unix socket
 *   lmtp:PORT@HOST, lmtp:/path   LMTP whatever Method says
 *   mx:HOST, mx:       SMTP to HOST's MX hosts; bare mx: uses the recipient's
 *                      domain; mx:PORT@HOST or mx:PORT@ picks a port other than 25
 *   pipe:/path ARGS    run /path with ARGS (macros %s sender, %r recipients --
 *                      one argument each --, %i entry id, %%), message on stdin
 *   maildir:/path      deliver into a maildir; %u, %d and %a in the path become
 *                      the recipient's local part, domain and address
 * A list "A, B, C" (or "A | B") is tried in order until one takes the mail.
 * A pipe: element takes the rest of the text, so it stands last.  A bare
 * "/path" is a unix socket, or a program when Method = pipe (with Options as
 * its arguments).
 */
enum mf_hop_kind { MF_HOP_INET, MF_HOP_UNIX, MF_HOP_MX, MF_HOP_PIPE, MF_HOP_MAILDIR };

struct mf_hop {
	enum mf_hop_kind kind;
	int lmtp;
	unsigned port;          /* inet, mx */
	char host[256];         /* inet, mx ("" = the recipient's domain) */
	char path[PATH_MAX];    /* unix socket, program, maildir */
	char args[1024];        /* pipe arguments, unexpanded */
};

/* method: "SMTP", "LMTP" or "pipe"; options: arguments for a Method=pipe path. */
enum mf_status mf_hop_parse_list(const char *text, const char *method,
				 const char *options, struct mf_hop **hops,
				 size_t *n, struct mf_err *err);
/* One line naming the hop, for logs and the envelope ("inet:25@mx.example"). */
void mf_hop_name(const struct mf_hop *h, char *out, size_t outsz);

#endif
