/* SPDX-License-Identifier: MIT */
/* mf-notify: make delivery status notifications for failed and delayed mail. */
#include <errno.h>
#include <popt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mf_dsn.h"
#include "mf_envelope.h"
#include "mf_log.h"
#include "mf_tool.h"

struct opts {
	struct mf_common_opts c;
	int delayed;
	int full;
	int queue_run;
	/* filled in by run() */
	struct mf_dsn_opts dsn;
	int64_t delay_warning;
	char host[256];
	enum mf_status st;   /* the first failure, reported at the end */
	struct mf_err err;
};

static void keep_error(struct opts *o, const struct mf_err *err)
{
	mf_log(LOG_ERR, "%s (#%s)", err->msg, mf_err_dsncode(err));
	if (o->st == MF_OK) {
		o->st = err->status;
		o->err = *err;
	}
}

/* Report on a claimed entry and write its envelope back (delayed < 0: no age limit). */
static enum mf_status report(struct mf_tool *t, struct opts *o, struct mf_entry *e,
			     int delayed, struct mf_err *err)
{
	struct mf_dsn_opts d = o->dsn;
	char sender_id[80];
	struct mf_envelope env;
	struct mf_entry dsn;
	enum mf_status st;

	mf_envelope_init(&env);
	if ((st = mf_entry_read_envelope(e, &env, err)))
		goto done;
	d.sender_id = mf_conf_msgid_map(t->conf, env.receiver_id, sender_id, sizeof sender_id);
	d.delayed = delayed && env.arrival + o->delay_warning <= time(NULL);
	if (delayed < 0) /* named on the command line: no age limit */
		d.delayed = 1;
	st = mf_dsn_make(&t->spool, e, &env, &d, &dsn, err);
	if (st == MF_ENOENT) {
		mf_log(LOG_INFO, "%s: %s", e->id, err->msg);
		st = MF_OK;
		goto done;
	}
	if (st)
		goto done;
	mf_log(LOG_INFO, "%s: DSN %s to <%s>", e->id, dsn.id, env.sender);
	if ((st = mf_entry_write_envelope(e, &env, err))) {
		/* The DSN is made; a later run would make it again. */
		mf_err_prefix(err, "DSN made but not recorded");
		goto done;
	}
	if (printf("%s\n", dsn.path) < 0 || fflush(stdout) == EOF)
		st = mf_err_errno(err, errno, "write stdout");
done:
	mf_envelope_free(&env);
	return st;
}

/* Claim QUEUE/new/ID, report, put it back.  A busy entry is skipped. */
static enum mf_status notify_one(struct mf_tool *t, struct opts *o, const char *queue,
				 const char *id, int delayed, struct mf_err *err)
{
	struct mf_err rerr;
	struct mf_entry e;
	enum mf_status st, rst;

	st = mf_entry_claim(&t->spool, queue, id, &e, err);
	if (st == MF_EBUSY) {
		mf_log(LOG_NOTICE, "%s: claimed by another process; skipped", id);
		return MF_OK;
	}
	if (st)
		return st;
	st = report(t, o, &e, delayed, err);
	/* a corrupt entry (links, FIFO, bad envelope) is set aside, not retried */
	if (st == MF_ECORRUPT || st == MF_EDATA) {
		rst = mf_entry_set_aside(&e, err, &rerr);
		st = err->status = MF_EDATA; /* set aside: never reportable, exit 65 */
	} else {
		rst = mf_entry_release(&e, &rerr);
	}
	mf_entry_close(&e);
	if (rst && st == MF_OK) {
		*err = rerr;
		st = rst;
	}
	return st;
}

static enum mf_status notify_name(struct mf_tool *t, struct opts *o, const char *name,
				  struct mf_err *err)
{
	char queue[16], sub[4], id[MF_ID_MAX];
	enum mf_status st;

	if ((st = mf_spool_find(&t->spool, NULL, name, queue, sizeof queue, sub, id, err)))
		return st;
	if (strcmp(queue, "failed") && strcmp(queue, "out"))
		return mf_err_set(err, MF_EUSAGE, "%s: in %s/, not in failed/ or out/", id, queue);
	if (!strcmp(sub, "cur")) {
		mf_log(LOG_NOTICE, "%s: claimed by another process; skipped", id);
		return MF_OK;
	}
	return notify_one(t, o, queue, id, o->delayed ? -1 : 0, err);
}

struct walk {
	struct mf_tool *t;
	struct opts *o;
};

static int walk_one(struct mf_spool *sp, const char *queue, const char *sub,
		    const char *id, void *vctx)
{
	struct walk *w = vctx;
	struct mf_err err;
	enum mf_status st;

	(void)sp;
	(void)sub;
	st = notify_one(w->t, w->o, queue, id, w->o->delayed, &err);
	if (st && st != MF_ENOENT) /* ENOENT: gone meanwhile */
		keep_error(w->o, &err);
	return 0;
}

static enum mf_status queue_run(struct mf_tool *t, struct opts *o, struct mf_err *err)
{
	struct walk w = { t, o };
	enum mf_status st;

	/* A claim whose process is gone would hide its entry. */
	if ((st = mf_spool_recover(&t->spool, "failed", 0, MF_TMP_MAX_AGE, NULL, NULL, err)) ||
	    (st = mf_spool_each(&t->spool, "failed", "new", walk_one, &w, err)))
		return st;
	if (o->delayed && (st = mf_spool_each(&t->spool, "out", "new", walk_one, &w, err)))
		return st;
	return MF_OK;
}

static void each_name(struct mf_tool *t, struct opts *o, const char *name)
{
	struct mf_err err;

	if (notify_name(t, o, name, &err))
		keep_error(o, &err);
}

static enum mf_status from_stdin(struct mf_tool *t, struct opts *o, struct mf_err *err)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	while ((n = getline(&line, &cap, stdin)) >= 0) {
		while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		if (n)
			each_name(t, o, line);
	}
	free(line);
	if (ferror(stdin))
		return mf_err_errno(err, errno, "read stdin");
	return MF_OK;
}

static enum mf_status dsn_opts(struct mf_tool *t, void *vo, struct mf_err *err)
{
	struct opts *o = vo;
	const char *s;
	enum mf_status st;

	st = *mf_conf_str(t->conf, "Notifier", NULL, "ReportingMTA")
		? mf_conf_copy(t->conf, "Notifier", NULL, "ReportingMTA", o->host, sizeof o->host, err)
		: mf_conf_copy(t->conf, "General", NULL, "Hostname", o->host, sizeof o->host, err);
	if (st)
		return st;
	if (!o->host[0] && (gethostname(o->host, sizeof o->host - 1) < 0 || !o->host[0]))
		snprintf(o->host, sizeof o->host, "localhost");
	o->dsn.reporting_mta = o->host;
	s = mf_conf_str(t->conf, "Notifier", NULL, "From");
	o->dsn.from = s && s[0] ? s : NULL;
	o->dsn.template_dir = mf_conf_str(t->conf, "Notifier", NULL, "Templates");
	if (strlen(o->dsn.template_dir) > MF_DSN_TEMPLATE_DIR_MAX)	/* else the built-in text */
		return mf_err_set(err, MF_ECONFIG, "%s:%u: Templates is longer than %d bytes",
				  mf_conf_path(t->conf),
				  mf_conf_line(t->conf, "Notifier", NULL, "Templates"),
				  MF_DSN_TEMPLATE_DIR_MAX);
	o->dsn.full = o->full || mf_conf_bool(t->conf, "Notifier", NULL, "ReturnFullMessage");
	o->delay_warning = mf_conf_duration(t->conf, "Notifier", NULL, "DelayWarning");
	return MF_OK;
}

static enum mf_status run(struct mf_tool *t, void *vo, const char **args,
			  struct mf_err *err)
{
	struct opts *o = vo;
	enum mf_status st;
	size_t i;

	if (o->queue_run && args && args[0])
		return mf_err_set(err, MF_EUSAGE, "-q takes no entries");
	if (!o->queue_run && !(args && args[0]) && isatty(STDIN_FILENO))
		return mf_err_set(err, MF_EUSAGE,
				  "no entries: name them, give them on stdin, or use -q");
	if ((st = mf_tool_spool(t, &o->c, err)))
		return st;
	if ((st = dsn_opts(t, o, err)))
		return st;
	if (o->queue_run)
		st = queue_run(t, o, err);
	else if (args && args[0]) {
		for (i = 0; args[i]; i++)
			each_name(t, o, args[i]);
	} else
		st = from_stdin(t, o, err);
	if (st == MF_OK && o->st) {
		*err = o->err;
		st = o->st;
	}
	return st;
}

int main(int argc, const char **argv)
{
	struct opts o = { 0 };
	struct poptOption table[] = {
		{ "queue", 'q', POPT_ARG_NONE, &o.queue_run, 0,
		  "report on every entry in failed/ (and, with --delayed, out/) that needs it", NULL },
		{ "delayed", 'd', POPT_ARG_NONE, &o.delayed, 0,
		  "also warn about deferred recipients (Action: delayed)", NULL },
		{ "full", 'F', POPT_ARG_NONE, &o.full, 0,
		  "return the whole message, not only its headers", NULL },
		MF_POPT_COMMON(o.c),
		POPT_AUTOHELP
		POPT_TABLEEND
	};
	struct mf_tool_def def = { "mf-notify", MF_MODE_TRANSPORT, "Notifier",
				   "[OPTION...] [ENTRY...]\n"
				   "   or: mf-notify -q [--delayed]",
				   table, &o.c, run, &o, dsn_opts };

	return mf_tool_main(&def, argc, argv);
}
