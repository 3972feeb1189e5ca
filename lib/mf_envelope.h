/* SPDX-License-Identifier: MIT */
/* The envelope of a spool entry: text <-> struct (see mf-spool(5)). */
#ifndef MF_ENVELOPE_H
#define MF_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "mf_buf.h"
#include "mf_status.h"

/*
 * The envelope file is "Key: value" lines in one fixed order (mf-spool(5)):
 * the entry keys, then one block per recipient opened by "Recipient:", then
 * "End: N" with N the number of recipients, as the last line.  The reader
 * takes only what the writer makes: keys exact and in their order, each at
 * most once, required keys present, values checked (addresses as at intake,
 * numbers and times in their one spelling, no control characters), bounded
 * lines, at least one recipient and a matching End line -- a file cut short
 * or edited out of shape is MF_ECORRUPT, never half read.  Unknown keys are
 * allowed at the end of a block and kept verbatim, so for any text that
 * parses, formatting the result gives the same bytes back.  The writer turns
 * control characters in free text (a peer's reply) into spaces and shortens
 * it to the line bound; it refuses (MF_EINTERNAL) to write an envelope the
 * reader would refuse.  Addresses are stored without angle brackets in the
 * struct and with them in the file; "" is the null sender.
 *
 * Ownership: every string is owned by the struct and freed by
 * mf_envelope_free(); setters copy.
 */

enum mf_rcpt_state {
	MF_RCPT_PENDING,   /* not tried yet */
	MF_RCPT_DEFERRED,  /* tried, will be tried again at next_attempt */
	MF_RCPT_DELIVERED, /* accepted by the next hop: final */
	MF_RCPT_FAILED,    /* refused or given up: final */
};

enum {
	MF_NOTIFIED_DELAYED = 1, /* a delay warning was sent */
	MF_NOTIFIED_FAILED = 2,  /* a failure DSN was sent */
};

struct mf_rcpt {
	char *addr;
	enum mf_rcpt_state state;
	unsigned attempts;
	time_t last_attempt;  /* 0 = never */
	time_t next_attempt;  /* 0 = as soon as possible */
	char *reply;          /* last reply or error, NULL when none */
	char *route;          /* next hop chosen for it, NULL when none */
	char *remote;         /* the host that gave the last reply, NULL when none */
	unsigned notified;    /* MF_NOTIFIED_* bits: DSNs already made for it */
	struct mf_buf extra;  /* unknown lines of this block, "Key: value\n" */
};

struct mf_envelope {
	char *id;
	char *sender;         /* "" = null sender */
	time_t arrival;
	uint64_t size;        /* bytes of the message file */
	char *client_addr;    /* NULL when unknown */
	char *client_helo;
	char *receiver_id;    /* --unique-id of the receiving tool */
	struct mf_rcpt *rcpts;
	size_t nrcpts;
	struct mf_buf extra;  /* unknown entry-level lines */
};

#define MF_ENVELOPE_VERSION 2
#define MF_ENVELOPE_MAX (4u << 20)     /* a larger envelope file is corrupt */
#define MF_ENVELOPE_LINE_MAX 1024      /* bytes of one line, LF included */
#define MF_ENVELOPE_LINES_MAX 262144   /* lines of one file */
#define MF_ENVELOPE_ATTEMPTS_MAX 1000000

void mf_envelope_init(struct mf_envelope *env);
void mf_envelope_free(struct mf_envelope *env);
/* Copy s into *field (NULL clears); -1 on allocation failure. */
int mf_envelope_set(char **field, const char *s);
/* Append a pending recipient; -1 on allocation failure. */
int mf_envelope_add_rcpt(struct mf_envelope *env, const char *addr);

const char *mf_rcpt_state_name(enum mf_rcpt_state st);
int mf_rcpt_state_parse(const char *s, enum mf_rcpt_state *st);

enum mf_status mf_envelope_format(const struct mf_envelope *env,
				  struct mf_buf *out, struct mf_err *err);
/* Parse text (len bytes); env must be freshly initialised.  Text that is not
 * a complete, well-formed envelope is MF_ECORRUPT with the line and reason;
 * env then holds a partial result only for mf_envelope_free(). */
enum mf_status mf_envelope_parse(const char *text, size_t len,
				 struct mf_envelope *env, struct mf_err *err);

#endif
