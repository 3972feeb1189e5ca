/* SPDX-License-Identifier: MIT */
/* Delivery status notifications (RFC 3464) for mf-notify. */
#ifndef MF_DSN_H
#define MF_DSN_H

#include "mf_envelope.h"
#include "mf_spool.h"

/*
 * mf_dsn_make() reports on the recipients of one entry: those in state failed
 * (Action: failed) not yet notified of it, and, with o->delayed, those in
 * state deferred (Action: delayed) not yet warned.  It writes a new entry in
 * out/ -- envelope sender <> (null), one recipient: the original sender --
 * holding a multipart/report; report-type=delivery-status message: a
 * human-readable part (from a template), a message/delivery-status part
 * (Reporting-MTA, Arrival-Date, and per recipient Final-Recipient, Action,
 * Status, Remote-MTA, Diagnostic-Code, Last-Attempt-Date), and the original
 * headers (text/rfc822-headers) or, with o->full, the whole message
 * (message/rfc822).  Auto-Submitted: auto-replied (RFC 3834).  It then sets
 * the reported recipients' notified bits in env; the caller writes env back.
 *
 * No DSN (MF_ENOENT, "nothing to report: why") for a null-sender message,
 * for a message that is itself a DSN or auto-submitted, or when no recipient
 * qualifies.  The new entry is committed (durable) before MF_OK is returned,
 * and dsn->path names it.
 */
/* The longest template_dir: DIR/dsn-delayed.txt must fit in PATH_MAX. */
#define MF_DSN_TEMPLATE_DIR_MAX (PATH_MAX - 32)

struct mf_dsn_opts {
	const char *reporting_mta;  /* our host name, for Reporting-MTA and From */
	const char *from;           /* From: address; NULL: MAILER-DAEMON@reporting_mta */
	int delayed;                /* also warn about deferred recipients */
	int full;                   /* return the whole message, not only headers */
	const char *template_dir;   /* dsn-failed.txt / dsn-delayed.txt; NULL: built in */
	const char *sender_id;      /* Receiver-Id for the DSN entry, so that the
				     * sender with that id delivers it; NULL: the
				     * default sender ([Notifier] MsgIdMap) */
};

enum mf_status mf_dsn_make(struct mf_spool *sp, struct mf_entry *orig,
			   struct mf_envelope *env, const struct mf_dsn_opts *o,
			   struct mf_entry *dsn, struct mf_err *err);

#endif
