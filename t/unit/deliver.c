/* SPDX-License-Identifier: MIT */
/* Unit tests for maildir delivery: addresses that would name a path, links (mf_deliver). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mf_deliver.h"
#include "tap.h"
#include "util.h"

static char dir[PATH_MAX];
static int msgfd;
static struct mf_envelope env;

/* Deliver to rcpt by template (relative to dir); the reply's code. */
static int deliver(const char *tmpl, const char *rcpt, struct mf_smtp_reply *r)
{
	memset(r, 0, sizeof *r);
	mf_deliver_maildir(pathf("%s/%s", dir, tmpl), &env, rcpt, msgfd, "host", NULL, r);
	return r->code;
}

/* The code and DSN of a reply, and that nothing was made under sub. */
static void refused(const char *tmpl, const char *rcpt, int code, const char *dsn,
		    const char *sub, const char *name)
{
	struct mf_smtp_reply r;

	is_int(deliver(tmpl, rcpt, &r), code, name);
	is_str(r.dsn, dsn, pathf("%s: DSN", name));
	ok(t_count_dir(pathf("%s/%s", dir, sub)) <= 0, "%s: nothing made in %s", name, sub);
}

static void test_values(void)
{
	char lng[400];

	refused("a/%u", "x\033y@example.net", 550, "5.1.3", "a", "a control character in %u");
	refused("a/%u", "x\177y@example.net", 550, "5.1.3", "a", "DEL in %u");
	refused("a/%u", ".hidden@example.net", 550, "5.1.3", "a", "a leading dot in %u");
	refused("a/%u", "..@example.net", 550, "5.1.3", "a", "%u = ..");
	refused("a/%u", "x/../../y@example.net", 550, "5.1.3", "a", "a / in %u");
	refused("a/%d/x", "u@.example.net", 550, "5.1.3", "a", "a leading dot in %d");
	refused("a/%u", "@example.net", 550, "5.1.3", "a", "an empty %u: not the parent of all");
	refused("a/pre-%u", "/x@example.net", 550, "5.1.3", "a", "a / inside a component");
	memset(lng, 'l', 300);
	memcpy(lng + 300, "@example.net", 13);
	refused("a/%u", lng, 550, "5.1.3", "a", "a local part longer than NAME_MAX");
	refused("b/%u/../x", "u@example.net", 451, "4.3.5", "b/u/tmp", "a .. in the template");
}

static void test_delivered(void)
{
	struct mf_smtp_reply r;

	is_int(deliver("c/%d/%u/", "postmaster", &r), 250, "%d of <postmaster> is left out");
	ok(t_count_dir(pathf("%s/c/postmaster/new", dir)) == 1, "into c/postmaster");
	is_int(deliver("c/box-%u.x", "b.c@example.net", &r), 250, "a macro inside a component");
	ok(t_count_dir(pathf("%s/c/box-b.c.x/new", dir)) == 1, "into c/box-b.c.x");
	is_int(deliver("c/100%%/%u", "q@example.net", &r), 250, "%% is a percent sign");
	ok(t_count_dir(pathf("%s/c/100%%/q/new", dir)) == 1, "into c/100%%/q");
	is_int(t_mode(pathf("%s/c/100%%/q", dir)), 0700, "made 0700");
}

static void test_links(void)
{
	struct mf_smtp_reply r;

	mkdir(pathf("%s/target", dir), 0700);
	mkdir(pathf("%s/d", dir), 0700);
	symlink(pathf("%s/target", dir), pathf("%s/d/fixed", dir));
	is_int(deliver("d/fixed", "u@example.net", &r), 451,
	       "without a macro, the last component is not followed either");
	is_int(deliver("d/fixed/", "u@example.net", &r), 451, "nor with a trailing /");
	symlink(pathf("%s/nowhere", dir), pathf("%s/d/dangling", dir));
	is_int(deliver("d/%u", "dangling@example.net", &r), 451, "a dangling link is not followed");
	ok(!t_exists(pathf("%s/nowhere", dir)), "its target is not made");
	ok(t_count_dir(pathf("%s/target", dir)) == 0, "nothing in the target");
	symlink(pathf("%s/d", dir), pathf("%s/start", dir));
	is_int(deliver("start/%u", "s@example.net", &r), 250, "the start before the first %% may be a link");
	ok(t_count_dir(pathf("%s/d/s/new", dir)) == 1, "into its target");
}

int main(void)
{
	tap_plan(44);
	snprintf(dir, sizeof dir, "%s", tap_tmpdir());
	if (t_write_str(pathf("%s/msg", dir), "Subject: x\n\nbody\n") < 0 ||
	    (msgfd = open(pathf("%s/msg", dir), O_RDONLY | O_CLOEXEC)) < 0)
		return 1;
	mf_envelope_init(&env);
	mf_envelope_set(&env.sender, "a@example.org");
	mf_envelope_set(&env.id, "1.M1P1Q1.host");
	test_values();
	test_delivered();
	test_links();
	mf_envelope_free(&env);
	return tap_done();
}
