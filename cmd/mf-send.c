/* SPDX-License-Identifier: MIT */
/* mf-send: deliver spool entries by SMTP/LMTP, pipe or maildir; retry; give up. */
#include <errno.h>
#include <limits.h>
#include <popt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mf_log.h"
#include "mf_send.h"
#include "mf_tool.h"

struct opts {
	struct mf_common_opts c;
	int queue;
	int loop;
	int force;
};

static volatile sig_atomic_t stop, reload;

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		reload = 1;
	else
		stop = 1;
}

static void catch(int sig)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal; /* no SA_RESTART: a sleep ends at once */
	sigaction(sig, &sa, NULL);
}

/* SIGHUP: read the configuration again; a bad one is reported and the old
 * one kept, so a typo never stops delivery. */
static void reconfigure(struct mf_tool *t, struct opts *o, struct mf_sender *s)
{
	struct mf_conf *conf = NULL;
	struct mf_sender fresh;
	struct mf_err err;

	reload = 0;
	memset(&fresh, 0, sizeof fresh);
	if (mf_conf_load(o->c.config, &conf, &err) != MF_OK ||
	    mf_send_check(&t->spool, conf, o->c.unique_id, &err) != MF_OK ||
	    mf_send_setup(&fresh, &t->spool, conf, o->c.unique_id, &err) != MF_OK) {
		mf_send_end(&fresh);
		mf_conf_free(conf);
		mf_log(LOG_ERR, "reload: %s (#%s); keeping the old configuration",
		       err.msg, mf_err_dsncode(&err));
		return;
	}
	mf_send_end(s);
	mf_conf_free(t->conf);
	t->conf = conf;
	fresh.conf_path = s->conf_path;
	fresh.force = s->force;
	fresh.stop = &stop;
	*s = fresh;
	mf_log(LOG_NOTICE, "configuration reloaded");
}

/* Entry names from the operands, or one per line on stdin. */
static enum mf_status send_named(struct mf_sender *s, const char **args,
				 struct mf_err *err)
{
	char *line = NULL, newpath[PATH_MAX];
	size_t cap = 0;
	ssize_t n;
	enum mf_status st, worst = MF_OK;
	size_t i = 0;

	for (;;) {
		const char *name;
		if (args && args[0]) {
			if (!args[i])
				break;
			name = args[i++];
		} else {
			if ((n = getline(&line, &cap, stdin)) < 0)
				break;
			line[strcspn(line, "\r\n")] = '\0';
			if (!*line)
				continue;
			name = line;
		}
		st = mf_send_entry(s, name, newpath, sizeof newpath, err);
		if (st == MF_OK && newpath[0])
			printf("%s\n", newpath);
		else if (st == MF_EBUSY)
			mf_log(LOG_NOTICE, "%s (skipped)", err->msg);
		else if (st != MF_OK) {
			mf_log(LOG_ERR, "%s (#%s)", err->msg, mf_err_dsncode(err));
			worst = worst == MF_OK ? st : worst;
		}
		fflush(stdout);
	}
	free(line);
	if ((st = mf_send_sync(s, err)) && worst == MF_OK)
		worst = st;
	if (worst != MF_OK)
		err->status = worst;
	return worst;
}

/* Queue runs with Workers processes; claims keep them apart. */
static enum mf_status run_queue(struct mf_sender *s, unsigned workers,
				struct mf_err *err)
{
	unsigned i, started = 0;
	int status, bad = 0;
	pid_t pid;

	if (workers <= 1)
		return mf_send_queue(s, stdout, err);
	fflush(stdout);
	for (i = 0; i < workers; i++) {
		pid = fork();
		if (pid == 0) {
			enum mf_status st = mf_send_queue(s, stdout, err);
			mf_send_end(s);
			fflush(stdout);
			_exit(st == MF_OK ? 0 : 75);
		}
		if (pid > 0)
			started++;
	}
	while (started && wait(&status) > 0) {
		started--;
		bad |= !WIFEXITED(status) || WEXITSTATUS(status);
	}
	return bad ? mf_err_set(err, MF_ETEMP, "a queue worker failed; see the log") : MF_OK;
}

static enum mf_status run(struct mf_tool *t, void *vo, const char **args,
			  struct mf_err *err)
{
	struct opts *o = vo;
	struct mf_sender s;
	enum mf_status st;
	unsigned workers;
	int64_t interval;

	if ((st = mf_tool_spool(t, &o->c, err)) ||
	    (st = mf_send_setup(&s, &t->spool, t->conf, o->c.unique_id, err)))
		return st;
	s.conf_path = o->c.config;
	s.force = o->force;
	workers = mf_conf_uint(t->conf, "Sender", o->c.unique_id, "Workers");
	interval = mf_conf_duration(t->conf, "Sender", o->c.unique_id, "QueueRunInterval");
	if (o->loop) {
		catch(SIGTERM);
		catch(SIGINT);
		catch(SIGHUP);
		s.stop = &stop; /* a queue run ends after the entry in hand */
		mf_log(LOG_NOTICE, "running the queue every %llds", (long long)interval);
		while (!stop) {
			if (reload) {
				reconfigure(t, o, &s);
				workers = mf_conf_uint(t->conf, "Sender", o->c.unique_id, "Workers");
				interval = mf_conf_duration(t->conf, "Sender", o->c.unique_id,
							    "QueueRunInterval");
			}
			st = run_queue(&s, workers, err);
			if (st != MF_OK)
				mf_log(LOG_ERR, "%s (#%s)", err->msg, mf_err_dsncode(err));
			mf_send_idle(&s); /* do not hold sessions while idle */
			for (int64_t w = 0; w < (interval > 0 ? interval : 1) && !stop && !reload; w++)
				sleep(1);
		}
		mf_log(LOG_NOTICE, "stopping");
		st = MF_OK;
	} else if (o->queue) {
		st = run_queue(&s, workers, err);
	} else {
		st = send_named(&s, args, err);
	}
	mf_log(LOG_INFO, "delivered %u, deferred %u, failed %u", s.delivered, s.deferred, s.failed);
	mf_send_end(&s);
	return st;
}

static enum mf_status check(struct mf_tool *t, void *vo, struct mf_err *err)
{
	struct opts *o = vo;
	enum mf_status st;

	if ((st = mf_tool_spool(t, &o->c, err)))
		return st;
	return mf_send_check(&t->spool, t->conf, o->c.unique_id, err);
}

int main(int argc, const char **argv)
{
	struct opts o = { 0 };
	struct poptOption table[] = {
		{ "queue", 'q', POPT_ARG_NONE, &o.queue, 0,
		  "run the out/ queue: deliver every entry whose next attempt is due", NULL },
		{ "loop", '\0', POPT_ARG_NONE, &o.loop, 0,
		  "keep running the queue every QueueRunInterval until SIGTERM", NULL },
		{ "force", 'F', POPT_ARG_NONE, &o.force, 0,
		  "try deferred recipients now, whatever their next attempt", NULL },
		MF_POPT_COMMON(o.c),
		POPT_AUTOHELP
		POPT_TABLEEND
	};
	struct mf_tool_def def = { "mf-send", MF_MODE_TRANSPORT, "Sender",
				   "[OPTION...] [ENTRY...]\n"
				   "   or: mf-send -q [--loop]",
				   table, &o.c, run, &o, check };

	return mf_tool_main(&def, argc, argv);
}
