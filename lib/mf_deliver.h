/* SPDX-License-Identifier: MIT */
/* Local delivery methods of mf-send: maildir and pipe. */
#ifndef MF_DELIVER_H
#define MF_DELIVER_H

#include <stdint.h>

#include "mf_envelope.h"
#include "mf_smtp.h"

/*
 * Both methods answer like an SMTP server would, in a struct mf_smtp_reply
 * per recipient: 250 when the mail was taken, 4xx when it may be taken
 * later, 5xx when never -- so mf-send treats every method alike.
 *
 * mf_deliver_maildir(): one copy for one recipient into the maildir named by
 * dir (its %u, %d and %a replaced by the recipient's local part, domain and
 * address), with Return-Path and Delivered-To lines prepended.  The
 * directories before the component that holds the first '%' (before the last
 * component when there is none) are the admin's and opened as they are; the
 * others, and tmp/, new/ and cur/, are opened one at a time relative to their
 * parent without following links, and made (0700) when missing.  A link or a
 * non-directory there is 451 4.3.0; a macro value with a '/', a control
 * character or a leading dot, or one that makes its component longer than
 * NAME_MAX, is 550 5.1.3 (an address never names a path); a component that
 * comes out empty (%d of <postmaster>) is left out, unless all of them do.  The file is
 * made in tmp/ with O_EXCL|O_NOFOLLOW, fsynced, renamed into new/ and new/ is
 * fsynced: 250 means the copy is on disk.  I/O failures are 451 (4.3.0;
 * 4.3.1 for a full disk).
 *
 * mf_deliver_pipe(): runs prog with args split at blanks, after macro
 * expansion (%s sender, %r every recipient as its own argument, %i the entry
 * id, %% a percent sign) -- exec'd with an argv, never a shell -- with the
 * message on stdin, for at most timeout seconds.  The program is a session
 * leader with only fds 0-2 and the environment PATH=/usr/bin:/bin, SENDER,
 * and RECIPIENT when it runs for one recipient; its whole process group is
 * killed when it exits or at the timeout, and the run ends then.  A word
 * before "--" that starts with %s, %i or %r must not expand to one starting
 * with '-': such a sender (or ID) fails every recipient with 550 5.1.7, such
 * a recipient fails alone with 550 5.1.3 and the program runs for the others.
 * Its exit status is read as
 * sysexits: 0 -> 250; 64, 65, 66, 67, 68, 69, 70, 76, 77, 78 and qmail's 100
 * -> 5xx; 75 and
 * anything else (other codes, a signal, the timeout) -> 4xx, because a
 * message must never be lost to an unknown code.  The last line the program
 * wrote on stdout/stderr is kept in the reply text.  replies[] has one reply
 * per recipient.
 */
void mf_reply_set(struct mf_smtp_reply *r, int code, const char *dsn,
		  const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* prefix: header lines to put before the message (the scanned mark), or NULL. */
void mf_deliver_maildir(const char *dir, const struct mf_envelope *env,
			const char *rcpt, int msgfd, const char *host,
			const char *prefix, struct mf_smtp_reply *reply);
void mf_deliver_pipe(const char *prog, const char *args,
		     const struct mf_envelope *env, const char *const *rcpts,
		     size_t n, int msgfd, int64_t timeout, const char *prefix,
		     struct mf_smtp_reply *replies);

#endif
