/* SPDX-License-Identifier: MIT */
/* mf-receive: take one message from an MTA pipe transport into the spool. */
#include <popt.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "mf_log.h"
#include "mf_receive.h"
#include "mf_tool.h"

struct opts {
	struct mf_common_opts c;
	char *sender;
	char *client_addr;
	char *client_helo;
};

static enum mf_status run(struct mf_tool *t, void *vo, const char **rcpts,
			  struct mf_err *err)
{
	struct opts *o = vo;
	struct mf_receive_args a = { o->sender, rcpts, o->client_addr,
				     o->client_helo, o->c.unique_id };
	const char *env_rcpt[2];
	struct mf_intake_opts io;
	struct mf_envelope env;
	struct mf_entry e;
	enum mf_status st;

	mf_envelope_init(&env);
	mf_receive_from_env(&a, env_rcpt);
	st = mf_receive_envelope(&a, &env, err);
	if (st == MF_OK)
		st = mf_tool_spool(t, &o->c, err);
	if (st == MF_OK) {
		mf_receive_opts(t->conf, o->c.unique_id, &io);
		st = mf_intake(&t->spool, "in", STDIN_FILENO, &env, &io, &e, err);
	}
	if (st == MF_OK) {
		mf_log(LOG_INFO, "%s: from=<%s> nrcpt=%zu size=%llu%s%s", e.id,
		       env.sender, env.nrcpts, (unsigned long long)env.size,
		       env.client_addr ? " client=" : "",
		       env.client_addr ? env.client_addr : "");
		/* The entry is durable: a reader that went away does not undo that. */
		if (printf("%s\n", e.path) < 0 || fflush(stdout) == EOF)
			mf_log(LOG_WARNING, "%s: could not print the path", e.id);
	}
	mf_envelope_free(&env);
	return st;
}

int main(int argc, const char **argv)
{
	struct opts o = { 0 };
	struct poptOption table[] = {
		{ "from", 'f', POPT_ARG_STRING, &o.sender, 0,
		  "envelope sender ('' or '<>' for the null sender)", "SENDER" },
		{ "client-address", 'a', POPT_ARG_STRING, &o.client_addr, 0,
		  "IP address of the SMTP client the MTA received from", "ADDR" },
		{ "client-helo", 'H', POPT_ARG_STRING, &o.client_helo, 0,
		  "HELO/EHLO name the client gave", "NAME" },
		MF_POPT_COMMON(o.c),
		POPT_AUTOHELP
		POPT_TABLEEND
	};
	struct mf_tool_def def = { "mf-receive", MF_MODE_TRANSPORT, "Receiver",
				   "[OPTION...] -f SENDER [--] RECIPIENT...",
				   table, &o.c, run, &o, NULL };
	int code;

	code = mf_tool_main(&def, argc, argv);
	free(o.sender);
	free(o.client_addr);
	free(o.client_helo);
	return code;
}
