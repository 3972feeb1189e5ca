/* SPDX-License-Identifier: MIT */
/* Logging to syslog (facility mail) and/or stderr. */
#include "mf_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char *log_prog = "mf";
static int syslog_level = MF_LOG_OFF;
static int stderr_level = LOG_NOTICE;
static int log_opened;

void mf_log_open(const char *prog, int to_syslog, int to_stderr)
{
	log_prog = prog;
	syslog_level = to_syslog;
	stderr_level = to_stderr;
	if (syslog_level != MF_LOG_OFF && !log_opened) {
		openlog(log_prog, LOG_PID, LOG_MAIL);
		log_opened = 1;
	}
}

const char *mf_log_prog(void)
{
	return log_prog;
}

int mf_log_level_parse(const char *s)
{
	static const struct { const char *name; int level; } names[] = {
		{ "error", LOG_ERR }, { "warning", LOG_WARNING },
		{ "notice", LOG_NOTICE }, { "info", LOG_INFO }, { "debug", LOG_DEBUG },
	};
	size_t i;

	for (i = 0; i < sizeof names / sizeof names[0]; i++)
		if (!strcasecmp(s, names[i].name))
			return names[i].level;
	return -1;
}

void mf_log(int level, const char *fmt, ...)
{
	va_list ap;
	char line[1024];
	char *p;

	if (level > syslog_level && level > stderr_level)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	for (p = line; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	if (level <= syslog_level)
		syslog(level, "%s", line);
	if (level <= stderr_level)
		fprintf(stderr, "%s: %s\n", log_prog, line);
}

int mf_log_fail(const struct mf_err *err, enum mf_mode mode)
{
	int code = mf_exit_code(err->status, mode);

	if (syslog_level != MF_LOG_OFF)
		syslog(LOG_ERR, "%s (#%s)", err->msg, mf_err_dsncode(err));
	fflush(stdout);
	fprintf(stderr, "%s: %s (#%s)\n", log_prog, err->msg, mf_err_dsncode(err));
	return code;
}
