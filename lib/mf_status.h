/* SPDX-License-Identifier: MIT */
/* Status codes shared by libmf, and the one table that maps them to exit codes. */
#ifndef MF_STATUS_H
#define MF_STATUS_H

#include <stddef.h>

/*
 * Contract: every library function that can fail returns an enum mf_status and,
 * when it fails, fills a caller-owned struct mf_err with one line of text (no
 * CR/LF, bounded).  The program decides what the status means for its exit code
 * once, at the boundary, with mf_exit_code().  Library code never exits.
 *
 * The exit codes are the ones every MTA reads alike (see mf(7)):
 *   0 done; 75 try later; 65 unusable message or address; 77 policy refusal;
 *   64 usage and 78 config errors -- but only in interactive use: a tool that
 *   runs as a transport turns those into 75 so that an admin's typo defers mail
 *   instead of bouncing it.
 */
enum mf_status {
	MF_OK = 0,
	MF_ETEMP,     /* anything else that may pass later */
	MF_EIO,       /* read/write/fsync/rename failed */
	MF_ENOSPC,    /* disk or quota full */
	MF_ENOMEM,    /* allocation failed */
	MF_EBUSY,     /* entry claimed or locked by another process */
	MF_EINTERNAL, /* a bug; still only a temporary failure */
	MF_ECONFIG,   /* configuration unusable */
	MF_EUSAGE,    /* bad command line */
	MF_ENOENT,    /* named entry or queue does not exist */
	MF_EDATA,     /* the message itself is unusable */
	MF_EADDR,     /* an envelope address is unusable */
	MF_ETOOBIG,   /* the message exceeds the size limit */
	MF_EPOLICY,   /* refused by policy */
	MF_ECORRUPT,  /* a spool file is damaged or not trustworthy: set it aside */
	MF_STATUS_MAX
};

enum mf_mode {
	MF_MODE_TRANSPORT,   /* mail-carrying use: usage/config errors defer */
	MF_MODE_INTERACTIVE  /* admin tools and --check-config */
};

#define MF_ERR_MAX 512

struct mf_err {
	enum mf_status status;
	char dsn[8];          /* RFC 3463 status, e.g. "4.3.0"; "" = default */
	char msg[MF_ERR_MAX]; /* one line, no trailing newline */
};

/* Set err (may be NULL) and return status. printf-style, truncated, CR/LF made spaces. */
enum mf_status mf_err_set(struct mf_err *err, enum mf_status status,
			  const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* As mf_err_set, appending ": strerror(errnum)", with the status chosen from errnum. */
enum mf_status mf_err_errno(struct mf_err *err, int errnum,
			    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Override the RFC 3463 code reported with err (e.g. "5.1.7" for a bad sender). */
void mf_err_dsn(struct mf_err *err, const char *dsn);
/* Prefix err->msg with "prefix: " (e.g. a file name or an address). */
void mf_err_prefix(struct mf_err *err, const char *prefix);

/* The status an errno value means: ENOSPC/EDQUOT -> MF_ENOSPC, ENOMEM, EAGAIN... */
enum mf_status mf_status_from_errno(int errnum);
/* The sysexits code for status in mode. */
int mf_exit_code(enum mf_status status, enum mf_mode mode);
/* The RFC 3463 code for err: its override, else the status's default. */
const char *mf_err_dsncode(const struct mf_err *err);
/* Whether status may pass on a later try (75). */
int mf_status_is_temporary(enum mf_status status);

#endif
