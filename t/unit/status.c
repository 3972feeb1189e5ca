/* SPDX-License-Identifier: MIT */
/* Unit tests for the status table, mf_err and the final diagnostic. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "mf_log.h"
#include "mf_status.h"
#include "tap.h"
#include "util.h"

static const struct {
	enum mf_status st;
	const char *name;
	int transport, interactive;
	const char *dsn;
} table[] = {
	{ MF_OK, "MF_OK", 0, 0, "2.0.0" },
	{ MF_ETEMP, "MF_ETEMP", 75, 75, "4.3.0" },
	{ MF_EIO, "MF_EIO", 75, 75, "4.3.0" },
	{ MF_ENOSPC, "MF_ENOSPC", 75, 75, "4.3.1" },
	{ MF_ENOMEM, "MF_ENOMEM", 75, 75, "4.3.0" },
	{ MF_EBUSY, "MF_EBUSY", 75, 75, "4.3.0" },
	{ MF_EINTERNAL, "MF_EINTERNAL", 75, 75, "4.3.0" },
	{ MF_ECONFIG, "MF_ECONFIG", 75, 78, "4.3.5" },
	{ MF_EUSAGE, "MF_EUSAGE", 75, 64, "4.3.5" },
	{ MF_ENOENT, "MF_ENOENT", 75, 64, "4.3.0" },
	{ MF_EDATA, "MF_EDATA", 65, 65, "5.6.0" },
	{ MF_EADDR, "MF_EADDR", 65, 65, "5.1.3" },
	{ MF_ETOOBIG, "MF_ETOOBIG", 65, 65, "5.3.4" },
	{ MF_EPOLICY, "MF_EPOLICY", 77, 77, "5.7.1" },
	{ MF_ECORRUPT, "MF_ECORRUPT", 75, 75, "4.3.0" },
};
#define NTABLE (sizeof table / sizeof table[0])

static void test_table(void)
{
	struct mf_err err;
	size_t i;
	int seen[MF_STATUS_MAX] = { 0 }, all = 1, consistent = 1;

	is_int(NTABLE, MF_STATUS_MAX, "the test covers every status");
	for (i = 0; i < NTABLE; i++) {
		char name[80];
		int temp = table[i].transport == 75;

		seen[table[i].st] = 1;
		snprintf(name, sizeof name, "%s: transport exit %d", table[i].name,
			 table[i].transport);
		is_int(mf_exit_code(table[i].st, MF_MODE_TRANSPORT), table[i].transport, name);
		snprintf(name, sizeof name, "%s: interactive exit %d", table[i].name,
			 table[i].interactive);
		is_int(mf_exit_code(table[i].st, MF_MODE_INTERACTIVE), table[i].interactive, name);
		snprintf(name, sizeof name, "%s: temporary = %d", table[i].name, temp);
		is_int(mf_status_is_temporary(table[i].st), temp, name);

		mf_err_set(&err, table[i].st, "x");
		snprintf(name, sizeof name, "%s: DSN %s", table[i].name, table[i].dsn);
		is_str(mf_err_dsncode(&err), table[i].dsn, name);
		/* a temporary failure carries a 4.x.x code, a permanent one 5.x.x */
		if (table[i].st != MF_OK &&
		    (mf_err_dsncode(&err)[0] == '4') != temp)
			consistent = 0;
	}
	for (i = 0; i < MF_STATUS_MAX; i++)
		all &= seen[i];
	ok(all, "every status value is in the table");
	ok(consistent, "DSN class (4/5) agrees with the exit code (75 or not)");

	/* Only the codes every MTA reads alike. */
	{
		int allowed = 1;
		for (i = 0; i < NTABLE; i++) {
			int c = mf_exit_code(table[i].st, MF_MODE_TRANSPORT);
			if (c != 0 && c != 75 && c != 65 && c != 77)
				allowed = 0;
		}
		ok(allowed, "transport mode only uses 0, 75, 65, 77");
	}
	is_int(mf_exit_code(MF_STATUS_MAX, MF_MODE_TRANSPORT), 75,
	       "an out-of-range status defers (transport)");
	is_int(mf_exit_code((enum mf_status)-1, MF_MODE_INTERACTIVE), 75,
	       "a negative status defers (interactive)");
	err.status = MF_STATUS_MAX + 3;
	err.dsn[0] = '\0';
	is_str(mf_err_dsncode(&err), "4.3.0", "an out-of-range status reports 4.3.0");
}

static void test_set_dsn(void)
{
	struct mf_err err;

	ok(mf_err_set(&err, MF_EADDR, "bad sender <%s>", "a@b") == MF_EADDR,
	   "mf_err_set returns the status");
	is_str(err.msg, "bad sender <a@b>", "mf_err_set formats the message");
	is_int(err.status, MF_EADDR, "mf_err_set stores the status");
	mf_err_dsn(&err, "5.1.7");
	is_str(mf_err_dsncode(&err), "5.1.7", "mf_err_dsn overrides the default 5.1.3");
	is_int(err.status, MF_EADDR, "mf_err_dsn keeps the status");
	mf_err_set(&err, MF_EIO, "next");
	is_str(mf_err_dsncode(&err), "4.3.0", "a new mf_err_set clears the override");
	mf_err_dsn(&err, "4.4.1");
	mf_err_errno(&err, ENOENT, "open");
	is_str(mf_err_dsncode(&err), "4.3.0", "mf_err_errno clears the override");
	mf_err_dsn(&err, "5.1.10.toolong");
	ok(strlen(err.dsn) < sizeof err.dsn, "an over-long DSN is truncated, still terminated");
	mf_err_dsn(NULL, "5.1.7");
	ok(mf_err_set(NULL, MF_EPOLICY, "x") == MF_EPOLICY, "mf_err_set with NULL err");
	ok(mf_err_errno(NULL, ENOSPC, "x") == MF_ENOSPC, "mf_err_errno with NULL err");
}

static void test_errno(void)
{
	struct mf_err err;
	char want[200];

	ok(mf_err_errno(&err, ENOSPC, "write %s", "/spool/x") == MF_ENOSPC,
	   "ENOSPC -> MF_ENOSPC");
	snprintf(want, sizeof want, "write /spool/x: %s", strerror(ENOSPC));
	is_str(err.msg, want, "message is 'what: strerror'");
	is_str(mf_err_dsncode(&err), "4.3.1", "ENOSPC reports 4.3.1");
	is_int(mf_exit_code(err.status, MF_MODE_TRANSPORT), 75, "ENOSPC exits 75");
	ok(mf_err_errno(&err, EDQUOT, "write") == MF_ENOSPC && err.status == MF_ENOSPC,
	   "EDQUOT -> MF_ENOSPC");
	is_str(mf_err_dsncode(&err), "4.3.1", "EDQUOT reports 4.3.1");
	is_int(mf_status_from_errno(ENOMEM), MF_ENOMEM, "ENOMEM -> MF_ENOMEM");
	is_int(mf_status_from_errno(EWOULDBLOCK), MF_EBUSY, "EWOULDBLOCK -> MF_EBUSY");
	is_int(mf_status_from_errno(EIO), MF_EIO, "EIO -> MF_EIO");
	is_int(mf_status_from_errno(EACCES), MF_EIO, "EACCES -> MF_EIO");
	ok(mf_status_is_temporary(mf_status_from_errno(EROFS)), "EROFS is temporary");
}

static void test_sanitise(void)
{
	struct mf_err err;
	char huge[4000];

	mf_err_set(&err, MF_EIO, "line one\r\nline two\nthree\r");
	is_str(err.msg, "line one  line two three ", "CR and LF in the format become spaces");
	mf_err_set(&err, MF_EIO, "reply %s", "550 no\r\n.\r\nQUIT");
	ok(!strpbrk(err.msg, "\r\n"), "CR and LF in arguments become spaces");
	mf_err_errno(&err, EIO, "file\nname");
	ok(!strpbrk(err.msg, "\r\n"), "mf_err_errno sanitises too");
	mf_err_set(&err, MF_EIO, "inner");
	mf_err_prefix(&err, "pre\r\nfix");
	ok(!strpbrk(err.msg, "\r\n") && !strcmp(err.msg, "pre  fix: inner"),
	   "mf_err_prefix sanitises the prefix and adds ': '");

	memset(huge, 'x', sizeof huge - 1);
	huge[sizeof huge - 1] = '\0';
	huge[1000] = '\n';
	mf_err_set(&err, MF_EIO, "%s", huge);
	is_int((long long)strlen(err.msg), MF_ERR_MAX - 1, "a huge message is cut at MF_ERR_MAX - 1");
	ok(!strchr(err.msg, '\n'), "the cut message has no LF");
	mf_err_errno(&err, ENOSPC, "%s", huge);
	ok(strlen(err.msg) < MF_ERR_MAX && err.status == MF_ENOSPC,
	   "mf_err_errno with a huge message stays bounded");
	mf_err_set(&err, MF_EIO, "short");
	mf_err_prefix(&err, huge);
	ok(strlen(err.msg) < MF_ERR_MAX && !strchr(err.msg, '\n'),
	   "mf_err_prefix with a huge prefix stays bounded");
}

/* The last stderr line is "prog: msg (#x.y.z)" and the exit code follows the mode. */
static void test_log_fail(void)
{
	char path[512];
	struct mf_err err;
	char *text;
	int saved, fd, c1, c2, c3;

	snprintf(path, sizeof path, "%s/stderr", tap_tmpdir());
	fflush(stderr);
	saved = dup(2);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	dup2(fd, 2);
	close(fd);
	mf_log_open("mf-test", MF_LOG_OFF, MF_LOG_OFF);
	mf_err_set(&err, MF_ECONFIG, "/etc/mf/mf.conf:3: unknown key");
	c1 = mf_log_fail(&err, MF_MODE_TRANSPORT);
	c2 = mf_log_fail(&err, MF_MODE_INTERACTIVE);
	mf_err_set(&err, MF_EADDR, "bad sender");
	mf_err_dsn(&err, "5.1.7");
	c3 = mf_log_fail(&err, MF_MODE_TRANSPORT);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	text = t_read_file(path, NULL);
	is_int(c1, 75, "mf_log_fail: config error in transport mode -> 75");
	is_int(c2, 78, "mf_log_fail: config error interactive -> 78");
	is_int(c3, 65, "mf_log_fail: bad address -> 65");
	is_str(text,
	       "mf-test: /etc/mf/mf.conf:3: unknown key (#4.3.5)\n"
	       "mf-test: /etc/mf/mf.conf:3: unknown key (#4.3.5)\n"
	       "mf-test: bad sender (#5.1.7)\n",
	       "mf_log_fail writes 'prog: msg (#x.y.z)' even with stderr logging off");
	free(text);
}

int main(void)
{
	tap_plan(100);
	test_table();
	test_set_dsn();
	test_errno();
	test_sanitise();
	test_log_fail();
	return tap_done();
}
