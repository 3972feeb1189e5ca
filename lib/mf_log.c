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

const char *mf_escape(const char *s, char *out, size_t outsz)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;
	char e[5];
	unsigned char c;

	for (; *s; s++) {
		c = (unsigned char)*s;
		e[0] = (char)c;
		e[1] = '\0';
		if (c < 0x20 || c == 0x7f) {
			e[0] = '\\';
			e[1] = c == '\n' ? 'n' : c == '\r' ? 'r' : c == '\t' ? 't' : 'x';
			e[2] = e[1] == 'x' ? hex[c >> 4] : '\0';
			e[3] = e[1] == 'x' ? hex[c & 15] : '\0';
			e[4] = '\0';
		}
		if (o + strlen(e) >= outsz)
			break;
		memcpy(out + o, e, strlen(e));
		o += strlen(e);
	}
	out[o] = '\0';
	return out;
}

void mf_log(int level, const char *fmt, ...)
{
	va_list ap;
	char raw[1024], line[1024];

	if (level > syslog_level && level > stderr_level)
		return;
	va_start(ap, fmt);
	vsnprintf(raw, sizeof raw, fmt, ap);
	va_end(ap);
	mf_escape(raw, line, sizeof line);
	if (level <= syslog_level)
		syslog(level, "%s", line);
	if (level <= stderr_level)
		fprintf(stderr, "%s: %s\n", log_prog, line);
}

int mf_log_fail(const struct mf_err *err, enum mf_mode mode)
{
	int code = mf_exit_code(err->status, mode);
	char msg[4 * MF_ERR_MAX];

	mf_escape(err->msg, msg, sizeof msg);
	if (syslog_level != MF_LOG_OFF)
		syslog(LOG_ERR, "%s (#%s)", msg, mf_err_dsncode(err));
	fflush(stdout);
	fprintf(stderr, "%s: %s (#%s)\n", log_prog, msg, mf_err_dsncode(err));
	return code;
}
