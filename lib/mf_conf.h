/* SPDX-License-Identifier: MIT */
/* mf.conf: sections of Key = value lines, checked against one schema. */
#ifndef MF_CONF_H
#define MF_CONF_H

#include <stddef.h>
#include <stdint.h>
#include "mf_status.h"

#ifndef MF_SYSCONFDIR
#define MF_SYSCONFDIR "/etc/mf"
#endif
#define MF_DEFAULT_CONF MF_SYSCONFDIR "/mf.conf"
#define MF_DEFAULT_SPOOL "/var/spool/mf"

/*
 * Syntax (mf.conf(5)): "[Section]" or "[Section ID]" headers; "Key = value"
 * lines; lines starting with '#' or ';' are comments; a line ending in '\'
 * continues on the next.  Keys are case-insensitive.  Every key is checked
 * against the schema in mf_conf.c when the file is loaded, so a typo or a bad
 * value is reported once, as "FILE:LINE: why", with MF_ECONFIG.
 *
 * Lookups: a key asked for with an ID is taken from "[Section ID]" first, then
 * from "[Section]", then from the schema's default.  Strings returned belong
 * to the conf and live until mf_conf_free().
 */
struct mf_conf;

/* Load path; NULL means $MF_CONFIG, else MF_DEFAULT_CONF, which may be absent
 * (then only defaults apply).  A path that was named and cannot be read fails. */
enum mf_status mf_conf_load(const char *path, struct mf_conf **conf,
			    struct mf_err *err);
void mf_conf_free(struct mf_conf *conf);
const char *mf_conf_path(const struct mf_conf *conf);

const char *mf_conf_str(const struct mf_conf *c, const char *section,
			const char *id, const char *key);
/* The line a key was set on (for "FILE:LINE: why" after loading); 0 if unset. */
unsigned mf_conf_line(const struct mf_conf *c, const char *section,
		      const char *id, const char *key);
int64_t mf_conf_duration(const struct mf_conf *c, const char *section,
			 const char *id, const char *key);
uint64_t mf_conf_size(const struct mf_conf *c, const char *section,
		      const char *id, const char *key);
unsigned mf_conf_uint(const struct mf_conf *c, const char *section,
		      const char *id, const char *key);
/* A comma-separated list of durations into out (at most max); the count. */
size_t mf_conf_durations(const struct mf_conf *c, const char *section,
			 const char *id, const char *key, int64_t *out, size_t max);
int mf_conf_bool(const struct mf_conf *c, const char *section,
		 const char *id, const char *key);
/* The value of key copied into out (outsz bytes); when it does not fit,
 * nothing is cut: MF_ECONFIG naming FILE:LINE and the key. */
enum mf_status mf_conf_copy(const struct mf_conf *c, const char *section,
			    const char *id, const char *key, char *out, size_t outsz,
			    struct mf_err *err);

/* [Notifier] MsgIdMap = "RECEIVER:SENDER, ...": which sender id carries the
 * notices about mail received by a receiver id ("-" names the receiver with
 * no id).  Returns the sender id (in out, at most outsz) or NULL for the
 * default sender. */
const char *mf_conf_msgid_map(const struct mf_conf *c, const char *receiver_id,
			      char *out, size_t outsz);
/* Whether [section id] exists, for --unique-id checks. */
int mf_conf_has_section(const struct mf_conf *c, const char *section,
			const char *id);
/* A unique id is 1-64 of [A-Za-z0-9_.-], not starting with '.'. */
enum mf_status mf_conf_check_id(const char *id, struct mf_err *err);
/* The spool root: option, else $MF_SPOOL, else [General] Spool. */
const char *mf_conf_spool(const struct mf_conf *c, const char *option);
/* Set up logging from [General] for prog (stderr stays on for interactive tools). */
void mf_conf_log_setup(const struct mf_conf *c, const char *prog, int verbose,
		       int interactive);

#endif
