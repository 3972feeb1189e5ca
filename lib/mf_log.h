/* SPDX-License-Identifier: MIT */
/* Logging to syslog (facility mail) and/or stderr. */
#ifndef MF_LOG_H
#define MF_LOG_H

#include <stddef.h>
#include <syslog.h>
#include "mf_status.h"

/*
 * One process-wide logger, set up once by main() with mf_log_open().  Messages
 * at or above the chosen level go to syslog (facility mail, "prog[pid]") when
 * enabled, and to stderr as "prog: text" when enabled.  The final diagnostic of
 * a failing tool is written with mf_log_fail(): always to stderr, as the last
 * line, "prog: text (#x.y.z)".
 */
#define MF_LOG_OFF (-1)

/* Levels are syslog's (LOG_ERR..LOG_DEBUG); MF_LOG_OFF turns a destination off. */
void mf_log_open(const char *prog, int syslog_level, int stderr_level);
const char *mf_log_prog(void);
/* Parse "error", "warning", "notice", "info", "debug"; -1 when unknown. */
int mf_log_level_parse(const char *s);
void mf_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/*
 * Copy s into out (outsz > 0 bytes, always NUL-terminated, cut when full)
 * with every control character (C0 and DEL) written as \n, \r, \t or \xHH,
 * so that a name or a text from outside can neither end a log line nor drive
 * a terminal.  Returns out.  Every log line, diagnostic and listing goes
 * through it; escaping twice changes nothing.
 */
const char *mf_escape(const char *s, char *out, size_t outsz);
/* Report err as the tool's one diagnostic; return the exit code for mode. */
int mf_log_fail(const struct mf_err *err, enum mf_mode mode);

#endif
