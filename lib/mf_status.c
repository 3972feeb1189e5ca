/* SPDX-License-Identifier: MIT */
/* The status table: library status -> exit code and RFC 3463 code. */
#include "mf_status.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

static const struct {
	int exit_transport;
	int exit_interactive;
	const char *dsn;
} table[MF_STATUS_MAX] = {
	[MF_OK]        = { EX_OK,       EX_OK,       "2.0.0" },
	[MF_ETEMP]     = { EX_TEMPFAIL, EX_TEMPFAIL, "4.3.0" },
	[MF_EIO]       = { EX_TEMPFAIL, EX_TEMPFAIL, "4.3.0" },
	[MF_ENOSPC]    = { EX_TEMPFAIL, EX_TEMPFAIL, "4.3.1" },
	[MF_ENOMEM]    = { EX_TEMPFAIL, EX_TEMPFAIL, "4.3.0" },
	[MF_EBUSY]     = { EX_TEMPFAIL, EX_TEMPFAIL, "4.3.0" },
	[MF_EINTERNAL] = { EX_TEMPFAIL, EX_TEMPFAIL, "4.3.0" },
	[MF_ECONFIG]   = { EX_TEMPFAIL, EX_CONFIG,   "4.3.5" },
	[MF_EUSAGE]    = { EX_TEMPFAIL, EX_USAGE,    "4.3.5" },
	[MF_ENOENT]    = { EX_TEMPFAIL, EX_USAGE, "4.3.0" },
	[MF_EDATA]     = { EX_DATAERR,  EX_DATAERR,  "5.6.0" },
	[MF_EADDR]     = { EX_DATAERR,  EX_DATAERR,  "5.1.3" },
	[MF_ETOOBIG]   = { EX_DATAERR,  EX_DATAERR,  "5.3.4" },
	[MF_EPOLICY]   = { EX_NOPERM,   EX_NOPERM,   "5.7.1" },
	[MF_ECORRUPT]  = { EX_TEMPFAIL, EX_TEMPFAIL, "4.3.0" },
};

static void clean_line(char *s)
{
	for (; *s; s++)
		if (*s == '\r' || *s == '\n' || *s == '\t')
			*s = ' ';
}

static enum mf_status vset(struct mf_err *err, enum mf_status status,
			   const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

static enum mf_status vset(struct mf_err *err, enum mf_status status,
			   const char *fmt, va_list ap)
{
	if (!err)
		return status;
	err->status = status;
	err->dsn[0] = '\0';
	vsnprintf(err->msg, sizeof err->msg, fmt, ap);
	clean_line(err->msg);
	return status;
}

enum mf_status mf_err_set(struct mf_err *err, enum mf_status status,
			  const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vset(err, status, fmt, ap);
	va_end(ap);
	return status;
}

enum mf_status mf_err_errno(struct mf_err *err, int errnum, const char *fmt, ...)
{
	enum mf_status status = mf_status_from_errno(errnum);
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	vset(err, status, fmt, ap);
	va_end(ap);
	if (err) {
		n = strlen(err->msg);
		snprintf(err->msg + n, sizeof err->msg - n, ": %s", strerror(errnum));
	}
	return status;
}

void mf_err_dsn(struct mf_err *err, const char *dsn)
{
	if (err)
		snprintf(err->dsn, sizeof err->dsn, "%s", dsn);
}

void mf_err_prefix(struct mf_err *err, const char *prefix)
{
	char tmp[MF_ERR_MAX];

	if (!err)
		return;
	if (snprintf(tmp, sizeof tmp, "%s: %s", prefix, err->msg) < 0)
		return;
	memcpy(err->msg, tmp, sizeof tmp);
	clean_line(err->msg);
}

enum mf_status mf_status_from_errno(int errnum)
{
	switch (errnum) {
	case ENOSPC:
	case EDQUOT:
		return MF_ENOSPC;
	case ENOMEM:
		return MF_ENOMEM;
	case EWOULDBLOCK:
		return MF_EBUSY;
	default:
		return MF_EIO;
	}
}

int mf_exit_code(enum mf_status status, enum mf_mode mode)
{
	if ((unsigned)status >= MF_STATUS_MAX)
		return EX_TEMPFAIL;
	return mode == MF_MODE_TRANSPORT ? table[status].exit_transport
					 : table[status].exit_interactive;
}

const char *mf_err_dsncode(const struct mf_err *err)
{
	if (err->dsn[0])
		return err->dsn;
	if ((unsigned)err->status >= MF_STATUS_MAX)
		return "4.3.0";
	return table[err->status].dsn;
}

int mf_status_is_temporary(enum mf_status status)
{
	return mf_exit_code(status, MF_MODE_TRANSPORT) == EX_TEMPFAIL;
}
