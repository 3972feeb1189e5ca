/* SPDX-License-Identifier: MIT */
/* Logging to syslog (facility mail) and/or stderr. */
#ifndef MF_LOG_H
#define MF_LOG_H

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
/* Report err as the tool's one diagnostic; return the exit code for mode. */
int mf_log_fail(const struct mf_err *err, enum mf_mode mode);

#endif
