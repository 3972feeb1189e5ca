/* SPDX-License-Identifier: MIT */
/* A minimal TAP producer for the library's unit tests. */
#include "tap.h"

#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int planned, run, failed;
static char tmpdir[256];

void tap_plan(int n)
{
	planned = n;
	printf("1..%d\n", n);
}

static int vok(int cond, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

static int vok(int cond, const char *fmt, va_list ap)
{
	run++;
	if (!cond)
		failed++;
	printf("%sok %d - ", cond ? "" : "not ", run);
	vprintf(fmt, ap);
	putchar('\n');
	fflush(stdout);
	return cond;
}

int tap_ok(int cond, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vok(cond, fmt, ap);
	va_end(ap);
	return cond;
}

void tap_diag(const char *fmt, ...)
{
	va_list ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

int tap_is_str(const char *got, const char *want, const char *name)
{
	int cond = got && want ? !strcmp(got, want) : got == want;

	if (!tap_ok(cond, "%s", name))
		tap_diag("got '%s', want '%s'", got ? got : "(null)",
			 want ? want : "(null)");
	return cond;
}

int tap_is_int(long long got, long long want, const char *name)
{
	if (!tap_ok(got == want, "%s", name)) {
		tap_diag("got %lld, want %lld", got, want);
		return 0;
	}
	return 1;
}

static int rm_one(const char *path, const struct stat *sb, int flag,
		  struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void cleanup(void)
{
	if (tmpdir[0] && !getenv("MF_KEEP") &&
	    nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS) != 0)
		fprintf(stderr, "# could not remove %s\n", tmpdir);
}

const char *tap_tmpdir(void)
{
	const char *base = getenv("TMPDIR");

	if (tmpdir[0])
		return tmpdir;
	snprintf(tmpdir, sizeof tmpdir, "%s/mf-unit.XXXXXX", base ? base : "/tmp");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		exit(2);
	}
	atexit(cleanup);
	return tmpdir;
}

int tap_done(void)
{
	if (run != planned)
		tap_diag("planned %d tests but ran %d", planned, run);
	return failed || run != planned ? 1 : 0;
}
