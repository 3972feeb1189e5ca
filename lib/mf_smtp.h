/* SPDX-License-Identifier: MIT */
/* SMTP and LMTP client: one session, many transactions (mf-send). */
#ifndef MF_SMTP_H
#define MF_SMTP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "mf_status.h"

/*
 * Contract: mf_smtp_open() connects to one address (TCP or a unix socket),
 * reads the greeting, says EHLO (LHLO for LMTP; HELO when EHLO is refused),
 * and does STARTTLS and AUTH as the options ask.  mf_smtp_send() runs one
 * transaction: MAIL, every RCPT (pipelined when the server offers PIPELINING),
 * DATA streaming the message file (LF on disk -> CRLF on the wire, dot
 * stuffing, SIZE=, BODY=8BITMIME / SMTPUTF8 when needed and offered).
 *
 * Outcome: mf_smtp_send() returns MF_OK when the transaction ended with
 * replies -- whatever they say -- and then every rcpts[i].reply holds that
 * recipient's final reply: for SMTP the RCPT reply, or, when RCPT was accepted,
 * the reply to the end of data; for LMTP the per-recipient reply after data.
 * A reply to MAIL or DATA that refuses the whole transaction is copied to every
 * recipient.  It returns an error (MF_ETEMP, MF_EIO, with err saying what:
 * "connect 127.0.0.1:25: Connection refused", "timeout after RCPT", "TLS
 * handshake: ...") when the session broke; then no recipient has a final
 * reply and the session must be closed.  After MF_OK the session may be used
 * for another transaction (mf_smtp_send sends RSET first when needed).
 *
 * Writes are whole buffers and TCP_NODELAY is set (no Nagle stalls).  Every
 * read and write has the timeout of its command (RFC 5321 4.5.3.2 values by
 * default).  Reply text is flattened to one line (multi-line replies joined
 * with spaces) and bounded.
 */

enum mf_tls_policy {
	MF_TLS_NONE,     /* never STARTTLS */
	MF_TLS_MAY,      /* STARTTLS when offered; a failed handshake is a temporary error */
	MF_TLS_ENCRYPT,  /* STARTTLS required, certificate not checked */
	MF_TLS_VERIFY,   /* STARTTLS required, certificate chain and host name checked */
};

struct mf_smtp_opts {
	const char *helo_name;   /* our name for EHLO/LHLO */
	int lmtp;
	enum mf_tls_policy tls;
	const char *ca_file;     /* trust anchors for MF_TLS_VERIFY (NULL: system) */
	const char *tls_name;    /* name to verify and send as SNI (NULL: peer_name) */
	const char *auth_user;   /* AUTH PLAIN (or LOGIN) after TLS; NULL = none */
	const char *auth_pass;
	/* seconds; 0 picks the RFC 5321 default */
	int t_connect, t_helo, t_mail, t_rcpt, t_data, t_block, t_eod, t_other;
};

#define MF_SMTP_TEXT_MAX 512

struct mf_smtp_reply {
	int code;                     /* 250, 451, 550...; 0 = none yet */
	char dsn[12];                 /* enhanced status from the reply, "" if none */
	char text[MF_SMTP_TEXT_MAX];  /* the whole reply on one line, code included */
};

struct mf_smtp_rcpt {
	const char *addr;             /* without angle brackets */
	struct mf_smtp_reply reply;
};

struct mf_smtp;

/* peer_name: the host name (for TLS and messages), e.g. "mx1.example.org". */
enum mf_status mf_smtp_open(struct mf_smtp **s, const struct sockaddr *sa,
			    socklen_t salen, const char *peer_name,
			    const struct mf_smtp_opts *o, struct mf_err *err);
/* The message is read from msgfd (at offset 0) and is size bytes on disk. */
enum mf_status mf_smtp_send(struct mf_smtp *s, const char *sender,
			    struct mf_smtp_rcpt *rcpts, size_t n, int msgfd,
			    uint64_t size, struct mf_err *err);
/* Header lines ("Name: value\n"...) to send before the message in the next
 * transactions, e.g. the scanned mark; NULL for none.  Borrowed: it must
 * live until the transaction ends. */
void mf_smtp_set_prefix(struct mf_smtp *s, const char *prefix);
/* QUIT (best effort) and free. */
void mf_smtp_close(struct mf_smtp *s);
/* "mx1.example.org[192.0.2.1]:25" -- for logs and Remote-MTA. */
const char *mf_smtp_peer(const struct mf_smtp *s);
/* Whether another transaction may use the session.  (After an LMTP session
 * broke part-way through the per-recipient replies, mf_smtp_send returns MF_OK
 * with the replies that came and 451 4.4.2 for the rest, and the session is
 * no longer usable.) */
int mf_smtp_usable(const struct mf_smtp *s);
/* Whether the session is encrypted (after STARTTLS). */
int mf_smtp_tls_active(const struct mf_smtp *s);

#endif
