/* SPDX-License-Identifier: MIT */
/* mf-inject: put a message into the spool by hand, requeue failed mail, list queues. */
#include <errno.h>
#include <fcntl.h>
#include <popt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mf_log.h"
#include "mf_queue.h"
#include "mf_receive.h"
#include "mf_tool.h"

struct opts {
	struct mf_common_opts c;
	char *sender;
	char *file;
	char *queue;
	int list;
	int requeue;
	int all;
};

static int print_path(const struct mf_entry *e)
{
	return printf("%s\n", e->path) < 0 ? -1 : 0;
}

static enum mf_status inject(struct mf_tool *t, struct opts *o,
			     const char **rcpts, struct mf_err *err)
{
	struct mf_receive_args a = { o->sender, rcpts, NULL, NULL, o->c.unique_id };
	const char *queue = o->queue ? o->queue : "in";
	struct mf_intake_opts io;
	struct mf_envelope env;
	struct mf_entry e;
	enum mf_status st;
	int fd = STDIN_FILENO;

	if (!mf_queue_valid(queue) || !strcmp(queue, "failed") ||
	    !strcmp(queue, MF_CORRUPT_QUEUE))
		return mf_err_set(err, MF_EUSAGE, "cannot inject into queue '%.40s' (in, out, quarantine)",
				  queue);
	mf_envelope_init(&env);
	st = mf_receive_envelope(&a, &env, err);
	if (st == MF_OK && o->file && strcmp(o->file, "-")) {
		fd = open(o->file, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			st = mf_err_errno(err, errno, "%s", o->file);
			if (errno == ENOENT || errno == EACCES || errno == EISDIR)
				st = err->status = MF_EUSAGE; /* the admin named a bad file */
		}
	}
	if (st == MF_OK) {
		mf_receive_opts(t->conf, o->c.unique_id, &io);
		st = mf_intake(&t->spool, queue, fd, &env, &io, &e, err);
	}
	if (st == MF_OK) {
		mf_log(LOG_INFO, "%s: injected into %s/ from=<%s> nrcpt=%zu size=%llu",
		       e.id, queue, env.sender, env.nrcpts, (unsigned long long)env.size);
		print_path(&e);
	}
	if (fd != STDIN_FILENO)
		close(fd);
	mf_envelope_free(&env);
	return st;
}

struct requeue_ctx {
	unsigned done;
	enum mf_status st;
	struct mf_err *err;
};

static int requeue_one(struct mf_spool *sp, const char *queue, const char *sub,
		       const char *id, void *vctx)
{
	struct requeue_ctx *c = vctx;
	struct mf_entry e;
	struct mf_err err;

	(void)queue;
	(void)sub;
	if (mf_queue_requeue(sp, id, &e, &err) == MF_OK) {
		print_path(&e);
		c->done++;
	} else if (err.status != MF_EBUSY && err.status != MF_ENOENT) {
		mf_log(LOG_ERR, "%s (#%s)", err.msg, mf_err_dsncode(&err));
		if (c->st == MF_OK) {
			c->st = err.status;
			*c->err = err;
		}
	}
	return 0;
}

static enum mf_status requeue(struct mf_tool *t, struct opts *o,
			      const char **names, struct mf_err *err)
{
	struct requeue_ctx c = { 0, MF_OK, err };
	enum mf_status st;
	struct mf_entry e;
	size_t i;

	if (o->all == !!(names && names[0]))
		return mf_err_set(err, MF_EUSAGE, "requeue wants either --all or entry ids/paths");
	/* A claim in failed/ whose process is gone would block the requeue. */
	if ((st = mf_spool_recover(&t->spool, "failed", 0, MF_TMP_MAX_AGE, NULL, NULL, err)))
		return st;
	if (o->all) {
		if ((st = mf_spool_each(&t->spool, "failed", "new", requeue_one, &c, err)))
			return st;
		mf_log(LOG_NOTICE, "requeued %u %s from failed/", c.done,
		       c.done == 1 ? "entry" : "entries");
		return c.st;
	}
	for (i = 0; names[i]; i++) {
		if ((st = mf_queue_requeue(&t->spool, names[i], &e, err)))
			return st;
		print_path(&e);
	}
	return MF_OK;
}

static enum mf_status run(struct mf_tool *t, void *vo, const char **args,
			  struct mf_err *err)
{
	struct opts *o = vo;
	enum mf_status st;

	if (o->list + o->requeue > 1)
		return mf_err_set(err, MF_EUSAGE, "--list and --requeue do not go together");
	if ((o->list || o->requeue) && (o->sender || o->file || o->queue))
		return mf_err_set(err, MF_EUSAGE, "-f, -m and -Q are for injecting, not with -l or -r");
	if (o->all && !o->requeue)
		return mf_err_set(err, MF_EUSAGE, "--all goes with --requeue");
	if (o->list && args && args[0] && args[1])
		return mf_err_set(err, MF_EUSAGE, "--list takes at most one queue");
	if ((st = mf_tool_spool(t, &o->c, err)))
		return st;
	if (o->list)
		return mf_queue_list(&t->spool, args ? args[0] : NULL, stdout,
				     time(NULL), NULL, err);
	if (o->requeue)
		return requeue(t, o, args, err);
	return inject(t, o, args, err);
}

int main(int argc, const char **argv)
{
	struct opts o = { 0 };
	struct poptOption table[] = {
		{ "from", 'f', POPT_ARG_STRING, &o.sender, 0,
		  "envelope sender of the injected message ('' for the null sender)", "SENDER" },
		{ "message", 'm', POPT_ARG_STRING, &o.file, 0,
		  "read the message from FILE instead of stdin", "FILE" },
		{ "queue", 'Q', POPT_ARG_STRING, &o.queue, 0,
		  "queue to inject into: in (default), out, quarantine", "QUEUE" },
		{ "list", 'l', POPT_ARG_NONE, &o.list, 0,
		  "list QUEUE (default: every queue)", NULL },
		{ "requeue", 'r', POPT_ARG_NONE, &o.requeue, 0,
		  "move the named entries from failed/ back to out/", NULL },
		{ "all", 'A', POPT_ARG_NONE, &o.all, 0,
		  "with --requeue: every entry in failed/", NULL },
		MF_POPT_COMMON(o.c),
		POPT_AUTOHELP
		POPT_TABLEEND
	};
	struct mf_tool_def def = { "mf-inject", MF_MODE_INTERACTIVE, "Receiver",
				   "[OPTION...] -f SENDER [-m FILE] [--] RECIPIENT...\n"
				   "   or: mf-inject -r {--all | ID|PATH...}\n"
				   "   or: mf-inject -l [QUEUE]",
				   table, &o.c, run, &o, NULL };
	int code;

	code = mf_tool_main(&def, argc, argv);
	free(o.sender);
	free(o.file);
	free(o.queue);
	return code;
}
