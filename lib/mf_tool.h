/* SPDX-License-Identifier: MIT */
/* What every mf tool does before its own job: options, config, log, spool. */
#ifndef MF_TOOL_H
#define MF_TOOL_H

#include <popt.h>

#include "mf_conf.h"
#include "mf_priv.h"
#include "mf_spool.h"
#include "mf_status.h"

#ifndef MF_VERSION
#define MF_VERSION "0.1.0"
#endif

/* Options every tool takes; popt allocates the strings, mf_common_opts_free() frees them. */
struct mf_common_opts {
	char *spool;
	char *config;
	char *unique_id;
	int verbose;
	int version;
	int check_config;
};

#define MF_POPT_COMMON(o) \
	{ "spool", 'S', POPT_ARG_STRING, &(o).spool, 0, \
	  "spool directory (default: $MF_SPOOL, else [General] Spool)", "DIR" }, \
	{ "config", 'c', POPT_ARG_STRING, &(o).config, 0, \
	  "configuration file (default: $MF_CONFIG, else " MF_DEFAULT_CONF ")", "FILE" }, \
	{ "unique-id", '\0', POPT_ARG_STRING, &(o).unique_id, 0, \
	  "act as the instance with this id ([Section ID] settings)", "ID" }, \
	{ "verbose", 'v', POPT_ARG_NONE | POPT_ARGFLAG_OPTIONAL, NULL, 'v', \
	  "log to stderr too (twice: debug)", NULL }, \
	{ "check-config", '\0', POPT_ARG_NONE, &(o).check_config, 0, \
	  "check the configuration and exit (0 good, 78 bad)", NULL }, \
	{ "version", 'V', POPT_ARG_NONE, &(o).version, 0, "print the version and exit", NULL }

/*
 * A tool's run-time state.  mf_tool_start() loads the config, sets up
 * logging, checks the unique id and -- started as root -- becomes the mail
 * filter user (mf_priv.h: the config is read as root, nothing after it);
 * mf_tool_spool() opens the spool.  On
 * failure err says why; the caller reports it with mf_log_fail(err, t->mode).
 */
struct mf_tool {
	const char *prog;
	enum mf_mode mode;
	struct mf_conf *conf;
	struct mf_spool spool;
	int spool_open;
	struct mf_priv priv;   /* who the tool runs as */
};

enum mf_status mf_tool_start(struct mf_tool *t, const char *prog,
			     enum mf_mode mode, const struct mf_common_opts *o,
			     struct mf_err *err);
enum mf_status mf_tool_spool(struct mf_tool *t, const struct mf_common_opts *o,
			     struct mf_err *err);
/* --check-config: print the verdict, return the exit code (0 or 78).
 * section: the tool's own section, for a note when [section ID] is missing. */
int mf_tool_check_config(struct mf_tool *t, const struct mf_common_opts *o,
			 const char *section, const struct mf_err *load_err,
			 enum mf_status load_st);
void mf_tool_end(struct mf_tool *t);

/* A tool's own work: opts is the tool's option struct, args the operands. */
typedef enum mf_status (*mf_tool_fn)(struct mf_tool *t, void *opts,
				     const char **args, struct mf_err *err);

struct mf_tool_def {
	const char *prog;
	enum mf_mode mode;
	const char *section;   /* the tool's config section, for --check-config */
	const char *usage;     /* what follows [OPTION...] in --help */
	const struct poptOption *table; /* includes MF_POPT_COMMON(*common) */
	struct mf_common_opts *common;
	mf_tool_fn run;
	void *opts;
	/* optional: more checks for --check-config, after the config loaded */
	enum mf_status (*check)(struct mf_tool *t, void *opts, struct mf_err *err);
};

/*
 * The whole life of a tool, so that each cmd/ file holds only its options
 * and its run function: parse options (an error is a usage error in the
 * tool's mode, interactive under --check-config), --version, load config and
 * set up logging, --check-config or run, and report the one diagnostic.
 * Returns the exit code.  The caller frees its own option strings.
 */
int mf_tool_main(const struct mf_tool_def *def, int argc, const char **argv);
/* Free the strings popt allocated for the common options. */
void mf_common_opts_free(struct mf_common_opts *o);
/* Parse options; returns -1 after reporting a usage error (err set). */
int mf_tool_popt(poptContext pc, struct mf_common_opts *o, struct mf_err *err);

#endif
