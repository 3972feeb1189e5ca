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
 * and does STARTTLS and AUTH as the options ask.  mf_smtp_send() runs
 * transactions of at most rcpt_limit recipients: MAIL, the RCPTs (pipelined
 * when the server offers PIPELINING), DATA streaming the message file
 * through the encoder below (exact SIZE=, BODY=8BITMIME / SMTPUTF8 when
 * needed and offered).  Recipients refused as too many (452, 4.5.3) while
 * others were not go into the next transaction at once.
 *
 * Outcome: mf_smtp_send() returns MF_OK when the transaction ended with
 * replies -- whatever they say -- and then every rcpts[i].reply holds that
 * recipient's final reply: for SMTP the RCPT reply, or, when RCPT was accepted,
 * the reply to the end of data; for LMTP the per-recipient reply after data.
 * A reply to MAIL or DATA that refuses the whole transaction is copied to every
 * recipient.  It returns an error (MF_ETEMP, MF_EIO, with err saying what:
 * "connect 127.0.0.1:25: Connection refused", "timeout after RCPT", "TLS
 * handshake: ...") when the session broke; then no recipient has a final
 * reply and the session must be closed.  When the session breaks after a
 * first transaction ended, mf_smtp_send returns MF_OK: the replies that came
 * stand, the recipients of the broken transaction get 451 4.4.2, those never
 * offered MF_SMTP_NOT_TRIED, and the session is no longer usable.  A reply
 * that cannot answer its command (250 to DATA, 3xx to RCPT, data before our
 * body after 354) breaks the session (4.5.0).  After MF_OK the session may
 * be used again when mf_smtp_usable() says so (RSET is sent first).
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
	unsigned rcpt_limit;     /* recipients per transaction; 0 = 100 */
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

/* reply.code of a recipient mf_smtp_send never offered to the server: an
 * earlier transaction of the same call broke the session.  Not an attempt. */
#define MF_SMTP_NOT_TRIED 1

/*
 * The reply grammar (RFC 5321 4.2), usable on any buffer (tests, fuzzing):
 * every line is "xyz" then end, " " or "-" and text, x in 2-5, y in 0-5, the
 * same code on every line, "-" on all but the last; a line has at most
 * MF_SMTP_LINE_MAX bytes before its CRLF (or bare LF) and no NUL; a reply
 * at most MF_SMTP_REPLY_LINES lines.  Anything else is an error, never a
 * truncation.
 */
#define MF_SMTP_LINE_MAX 2048
#define MF_SMTP_REPLY_LINES 100

struct mf_smtp_parser {
	struct mf_smtp_reply r;
	unsigned lines;
	int ehlo;                     /* parse lines after the first as extensions */
	unsigned ext;                 /* MF_SMTP_EXT_* seen (ehlo) */
	uint64_t max_size;            /* SIZE argument (ehlo) */
};

#define MF_SMTP_EXT_PIPELINING 0x01
#define MF_SMTP_EXT_SIZE       0x02
#define MF_SMTP_EXT_8BITMIME   0x04
#define MF_SMTP_EXT_SMTPUTF8   0x08
#define MF_SMTP_EXT_STARTTLS   0x10
#define MF_SMTP_EXT_AUTH_PLAIN 0x20
#define MF_SMTP_EXT_AUTH_LOGIN 0x40
#define MF_SMTP_EXT_AUTH       0x80

void mf_smtp_parser_init(struct mf_smtp_parser *p, int ehlo);
/* One line, CR/LF removed, NUL-terminated at len: 1 the reply is complete (p->r), 0 more lines
 * follow, -1 the reply is bad (*why says how, a constant string). */
int mf_smtp_parser_line(struct mf_smtp_parser *p, const char *line, size_t len,
			const char **why);
/* One whole reply at the start of buf[0..len): the bytes it took (> 0), 0
 * when buf ends before the reply does, -1 when bad (*why). */
long mf_smtp_parse_reply(struct mf_smtp_parser *p, const char *buf, size_t len,
			 const char **why);

/*
 * The DATA encoder (one pass per block, memchr scanning, state carried
 * across blocks): every line end on disk -- LF, CRLF, and a bare CR --
 * becomes CRLF; NUL bytes are dropped; a line longer than MF_SMTP_WIRE_LINE
 * bytes is folded, in the header with CRLF SPACE, in the body with CRLF;
 * a "." starting a line is doubled.  With out == NULL it only counts:
 * e->size is then the SIZE of RFC 1870 (CRLFs included, stuffing dots not).
 */
#define MF_SMTP_WIRE_LINE 998

struct mf_smtp_enc {
	int bol, after_cr, in_header, eight_bit;
	size_t linelen;               /* bytes on the wire of the current line */
	uint64_t size, nuls, bare_crs, folds;
};

/* Room out needs for n bytes of input. */
#define MF_SMTP_ENC_OUT(n) (2 * (size_t)(n) + 3 * ((size_t)(n) / 997 + 2) + 8)

void mf_smtp_enc_init(struct mf_smtp_enc *e);
size_t mf_smtp_enc_block(struct mf_smtp_enc *e, const char *in, size_t n, char *out);
/* The end: CRLF when the last line had none, then ".\r\n" (not counted). */
size_t mf_smtp_enc_end(struct mf_smtp_enc *e, char *out);

struct mf_smtp;

/* peer_name: the host name (for TLS and messages), e.g. "mx1.example.org". */
enum mf_status mf_smtp_open(struct mf_smtp **s, const struct sockaddr *sa,
			    socklen_t salen, const char *peer_name,
			    const struct mf_smtp_opts *o, struct mf_err *err);
/* The message is read from msgfd (from offset 0, with pread, twice: once to
 * count SIZE=, once to send); size, its size on disk, is not needed. */
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
