/* SPDX-License-Identifier: MIT */
/* The "already scanned" mark: an HMAC over a message's identity. */
#ifndef MF_MARK_H
#define MF_MARK_H

#include <stddef.h>
#include <time.h>

#include "mf_status.h"

/*
 * Dr.Web MailD's UseSecureHash put a fixed string in a header to say "this
 * message was scanned, deliver it without a second scan"; anybody could
 * forge it.  mf's mark is an HMAC-SHA256 keyed by a secret only the filter
 * host knows (architecture.md 6), over the message's identity:
 *
 *     "mf1|" TIME "|" LEN ":" SENDER "|" MESSAGE-ID
 *
 * TIME is when the mark was made (decimal Unix seconds), SENDER the envelope
 * sender ("" for the null sender) and LEN its length in bytes (decimal), so
 * that a '|' in a local part cannot shift the fields; MESSAGE-ID the value of the Message-ID
 * header with surrounding blanks removed ("" when the message has none).  The
 * header value is
 *
 *     mf1; t=TIME; h=HEX
 *
 * with HEX the 64 lowercase hex digits of the HMAC.  A mark is valid when
 * its HMAC matches (compared in constant time) and it is at most max_age
 * seconds old (and not from more than 5 minutes in the future).
 *
 * The secret is read from a file that must be a regular file, not readable
 * or writable by group or others (0600 or 0400), 16 to 4096 bytes, a
 * trailing newline ignored; mf_mark_key_free() wipes it.
 */
struct mf_mark_key {
	unsigned char *data;
	size_t len;
};

enum mf_status mf_mark_key_load(const char *path, struct mf_mark_key *key,
				struct mf_err *err);
void mf_mark_key_free(struct mf_mark_key *key);

#define MF_MARK_MAX 100 /* "mf1; t=...; h=<64 hex>" and the NUL */

/* The header value for this identity at time t. */
enum mf_status mf_mark_make(const struct mf_mark_key *key, time_t t,
			    const char *sender, const char *msgid,
			    char out[MF_MARK_MAX], struct mf_err *err);
/* MF_OK when value is a valid mark for this identity at time now;
 * MF_EPOLICY (with why in err) when it is not. */
enum mf_status mf_mark_verify(const struct mf_mark_key *key, const char *value,
			      const char *sender, const char *msgid, time_t now,
			      long max_age, struct mf_err *err);

/* The Message-ID of the message in fd (read from offset 0, headers only,
 * unfolded, at most outsz - 1 bytes); "" when there is none. */
enum mf_status mf_mark_message_id(int fd, char *out, size_t outsz,
				  struct mf_err *err);

#endif
