/* SPDX-License-Identifier: MIT */
/* What every mf tool does before its own job: options, config, log, spool. */
#include "mf_tool.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "mf_log.h"

void mf_common_opts_free(struct mf_common_opts *o)
{
	free(o->spool);
	free(o->config);
	free(o->unique_id);
	o->spool = o->config = o->unique_id = NULL;
}

int mf_tool_popt(poptContext pc, struct mf_common_opts *o, struct mf_err *err)
{
	int rc;

	while ((rc = poptGetNextOpt(pc)) > 0)
		if (rc == 'v')
			o->verbose++;
	if (rc < -1) {
		mf_err_set(err, MF_EUSAGE, "%s: %s", poptBadOption(pc, POPT_BADOPTION_NOALIAS),
			   poptStrerror(rc));
		return -1;
	}
	return 0;
}

enum mf_status mf_tool_start(struct mf_tool *t, const char *prog,
			     enum mf_mode mode, const struct mf_common_opts *o,
			     struct mf_err *err)
{
	enum mf_status st;

	memset(t, 0, sizeof *t);
	t->prog = prog;
	t->mode = mode;
	umask(077);
	mf_log_open(prog, MF_LOG_OFF, mode == MF_MODE_INTERACTIVE ? LOG_NOTICE : MF_LOG_OFF);
	if (o->unique_id && (st = mf_conf_check_id(o->unique_id, err)))
		return st;
	if ((st = mf_conf_load(o->config, &t->conf, err)))
		return st;
	mf_conf_log_setup(t->conf, prog, o->verbose, mode == MF_MODE_INTERACTIVE);
	return mf_priv_drop(t->conf, mf_conf_spool(t->conf, o->spool), &t->priv, err);
}

enum mf_status mf_tool_spool(struct mf_tool *t, const struct mf_common_opts *o,
			     struct mf_err *err)
{
	const char *root = mf_conf_spool(t->conf, o->spool);
	enum mf_status st;

	if (t->spool_open) /* a tool's --check-config check may have opened it */
		return MF_OK;
	st = mf_spool_open(root, mf_conf_str(t->conf, "General", NULL, "Hostname"),
			   &t->spool, err);
	if (st == MF_OK)
		t->spool_open = 1;
	return st;
}

int mf_tool_check_config(struct mf_tool *t, const struct mf_common_opts *o,
			 const char *section, const struct mf_err *load_err,
			 enum mf_status load_st)
{
	struct mf_err err;

	/* an admin is reading: notes go to stderr even for transport tools */
	mf_log_open(t->prog, MF_LOG_OFF, LOG_NOTICE);
	if (load_st != MF_OK) {
		err = *load_err; /* a spool that cannot be used is a config error too */
		if (load_st != MF_ENOMEM && load_st != MF_EUSAGE)
			err.status = MF_ECONFIG;
		return mf_log_fail(&err, MF_MODE_INTERACTIVE);
	}
	if (section && o->unique_id &&
	    !mf_conf_has_section(t->conf, section, o->unique_id))
		mf_log(LOG_NOTICE, "note: no [%s %s] section; [%s] applies",
		       section, o->unique_id, section);
	if (mf_tool_spool(t, o, &err) != MF_OK) {
		mf_err_prefix(&err, "config is valid, but");
		err.status = MF_ECONFIG;
		return mf_log_fail(&err, MF_MODE_INTERACTIVE);
	}
	mf_priv_name(&t->priv);
	printf("%s: %s: configuration OK; runs as %s%suid %lu gid %lu%s\n", t->prog,
	       mf_conf_path(t->conf), t->priv.name, t->priv.name[0] ? " (" : "",
	       (unsigned long)t->priv.uid, (unsigned long)t->priv.gid,
	       t->priv.name[0] ? ")" : "");
	return 0;
}

void mf_tool_end(struct mf_tool *t)
{
	if (t->spool_open)
		mf_spool_close(&t->spool);
	mf_conf_free(t->conf);
	t->conf = NULL;
}

static int wants_check_config(int argc, const char **argv)
{
	int i;

	for (i = 1; i < argc && strcmp(argv[i], "--"); i++)
		if (!strcmp(argv[i], "--check-config"))
			return 1;
	return 0;
}

/*
 * popt takes the argument after an option as its value even when it is "--":
 * "-f -- rcpt" (an MTA that dropped an empty sender argument) would make
 * "--" the sender.  A string option whose value is "--" had its value left
 * out: a usage error, like a missing one.
 */
static const char *dashdash_value(const struct poptOption *t)
{
	const char *name;

	for (; t->longName || t->shortName || t->arg; t++) {
		if ((t->argInfo & POPT_ARG_MASK) == POPT_ARG_INCLUDE_TABLE && t->arg) {
			if ((name = dashdash_value(t->arg)))
				return name;
		} else if ((t->argInfo & POPT_ARG_MASK) == POPT_ARG_STRING && t->arg &&
			   *(char **)t->arg && !strcmp(*(char **)t->arg, "--")) {
			return t->longName ? t->longName : "?";
		}
	}
	return NULL;
}

static int parse_options(const struct mf_tool_def *def, poptContext pc,
			 struct mf_err *err)
{
	const char *name;

	if (mf_tool_popt(pc, def->common, err) < 0)
		return -1;
	if ((name = dashdash_value(def->table))) {
		mf_err_set(err, MF_EUSAGE, "--%s: missing argument (\"--\" is no value)", name);
		return -1;
	}
	return 0;
}

int mf_tool_main(const struct mf_tool_def *def, int argc, const char **argv)
{
	struct mf_common_opts *o = def->common;
	struct mf_tool t = { 0 };
	struct mf_err err = { 0 };
	enum mf_status st;
	poptContext pc;
	int code;

	signal(SIGPIPE, SIG_IGN);
	pc = poptGetContext(def->prog, argc, argv, def->table, 0);
	poptSetOtherOptionHelp(pc, def->usage);
	if (parse_options(def, pc, &err) < 0) {
		mf_log_open(def->prog, MF_LOG_OFF, MF_LOG_OFF);
		code = mf_log_fail(&err, wants_check_config(argc, argv)
					 ? MF_MODE_INTERACTIVE : def->mode);
	} else if (o->version) {
		printf("%s (mf) %s\n", def->prog, MF_VERSION);
		code = 0;
	} else {
		st = mf_tool_start(&t, def->prog, def->mode, o, &err);
		if (o->check_config && st == MF_OK && def->check &&
		    (st = def->check(&t, def->opts, &err)) != MF_OK) {
			mf_log_open(def->prog, MF_LOG_OFF, LOG_NOTICE);
			err.status = err.status == MF_ENOMEM ? MF_ENOMEM : MF_ECONFIG;
			code = mf_log_fail(&err, MF_MODE_INTERACTIVE);
		} else if (o->check_config)
			code = mf_tool_check_config(&t, o, def->section, &err, st);
		else if (st == MF_OK &&
			 (st = def->run(&t, def->opts, poptGetArgs(pc), &err)) == MF_OK)
			code = 0;
		else
			code = mf_log_fail(&err, def->mode);
		mf_tool_end(&t);
	}
	mf_common_opts_free(o);
	poptFreeContext(pc);
	return code;
}
