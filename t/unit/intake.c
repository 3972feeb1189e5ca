/* SPDX-License-Identifier: MIT */
/* Unit tests for taking a message from a file descriptor into the spool (mf_intake). */
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mf_envelope.h"
#include "mf_intake.h"
#include "mf_log.h"
#include "mf_spool.h"
#include "tap.h"
#include "util.h"

#define BLOCK 65536 /* the block size the contract is tested around */

static struct mf_spool sp;
static char root[PATH_MAX];


static void new_env(struct mf_envelope *env)
{
	mf_envelope_init(env);
	mf_envelope_set(&env->sender, "s@example.org");
	mf_envelope_add_rcpt(env, "r@example.org");
}

/* An fd to read input from: 'f' a regular file, 'p' a pipe written at once,
 * '1' a pipe written one byte at a time with pauses. */
static int input_fd(char how, const char *data, size_t len, pid_t *pid)
{
	const char *path = pathf("%s/input", tap_tmpdir());

	*pid = -1;
	if (how == 'f') {
		if (t_write_file(path, data, len) < 0)
			return -1;
		return open(path, O_RDONLY | O_CLOEXEC);
	}
	return t_pipe_writer(data, len, how == '1' ? 1 : 0, how == '1' ? 3000 : 0, pid);
}

/* Remove a committed entry so that the queue stays small. */
static void drop(const struct mf_entry *e)
{
	struct mf_entry c;
	struct mf_err err;

	/* not e->queue: see the e->queue check in test_envelope() */
	if (mf_entry_claim(&sp, "in", e->id, &c, &err) == MF_OK)
		mf_entry_remove(&c, &err);
	else
		tap_diag("cannot remove %s: %s", e->path, err.msg);
}

/* Run mf_intake on input given the way how; the stored message must be want. */
static void check(const char *label, char how, const char *in, size_t inlen,
		  const char *want, size_t wantlen, int keep_from)
{
	struct mf_intake_opts o = { .keep_from_line = keep_from };
	struct mf_envelope env;
	struct mf_entry e;
	struct mf_err err;
	enum mf_status st;
	char *got;
	size_t gotlen = 0;
	pid_t pid = -1;
	int fd;

	new_env(&env);
	fd = input_fd(how, in, inlen, &pid);
	st = mf_intake(&sp, "in", fd, &env, &o, &e, &err);
	close(fd);
	if (pid > 0)
		t_wait(pid);
	if (st != MF_OK) {
		ok(0, "%s (%s)", label, how == 'f' ? "file" : how == 'p' ? "pipe" : "pipe, 1 byte at a time");
		tap_diag("mf_intake: %s", err.msg);
		mf_envelope_free(&env);
		return;
	}
	got = t_read_file(pathf("%s/message", e.path), &gotlen);
	if (!ok(got && gotlen == wantlen && !memcmp(got, want, wantlen) && env.size == wantlen,
		"%s (%s)", label, how == 'f' ? "file" : how == 'p' ? "pipe" : "pipe, 1 byte at a time")) {
		size_t i = 0;
		while (got && i < gotlen && i < wantlen && got[i] == want[i])
			i++;
		tap_diag("stored %zu bytes, want %zu, env.size %llu, first difference at %zu",
			 gotlen, wantlen, (unsigned long long)env.size, i);
		if (got && gotlen < 200)
			tap_diag("stored '%.*s'", (int)gotlen, got);
	}
	free(got);
	drop(&e);
	mf_envelope_free(&env);
}

#define CHECK(label, how, in, want, keep) \
	check(label, how, in, sizeof in - 1, want, sizeof want - 1, keep)

/* Run input in parts through a pipe, pausing between them. */
static void check_parts(const char *label, const char *const *parts, size_t nparts,
			const char *want, size_t wantlen)
{
	struct mf_intake_opts o = { 0 };
	struct mf_envelope env;
	struct mf_entry e;
	struct mf_err err;
	size_t lens[8], i, gotlen = 0;
	enum mf_status st;
	char *got;
	pid_t pid;
	int fd;

	for (i = 0; i < nparts; i++)
		lens[i] = strlen(parts[i]);
	new_env(&env);
	fd = t_pipe_parts(parts, lens, nparts, 100000, &pid);
	st = mf_intake(&sp, "in", fd, &env, &o, &e, &err);
	close(fd);
	t_wait(pid);
	got = st == MF_OK ? t_read_file(pathf("%s/message", e.path), &gotlen) : NULL;
	if (!ok(got && gotlen == wantlen && !memcmp(got, want, wantlen), "%s", label)) {
		if (st != MF_OK)
			tap_diag("mf_intake: %s", err.msg);
		else if (gotlen < 200)
			tap_diag("stored '%.*s' (%zu bytes), want %zu bytes", (int)gotlen, got,
				 gotlen, wantlen);
		else
			tap_diag("stored %zu bytes, want %zu", gotlen, wantlen);
	}
	free(got);
	if (st == MF_OK)
		drop(&e);
	mf_envelope_free(&env);
}

static void test_line_ends(void)
{
	static const char *const hows = "fp";
	const char *h;

	for (h = hows; *h; h++) {
		CHECK("CRLF becomes LF", *h, "Subject: a\r\n\r\nbody\r\n", "Subject: a\n\nbody\n", 0);
		CHECK("LF stays LF", *h, "Subject: a\n\nbody\n", "Subject: a\n\nbody\n", 0);
		CHECK("lone CR inside a line is kept", *h, "a\rb\r\nc\n", "a\rb\nc\n", 0);
		CHECK("final LF added", *h, "Subject: a\n\nno newline", "Subject: a\n\nno newline\n", 0);
		CHECK("final LF added after CRLF lines", *h, "a\r\nb", "a\nb\n", 0);
		CHECK("empty input gives an empty message", *h, "", "", 0);
		CHECK("a single LF", *h, "\n", "\n", 0);
		CHECK("input shorter than 5 bytes", *h, "Hi", "Hi\n", 0);
	}

	/* CR as the last byte of a 64 KiB block, its LF first in the next one */
	{
		size_t n = BLOCK - 1;
		char *in = malloc(n + 32), *want = malloc(n + 32);
		memset(in, 'a', n);
		memcpy(in + n, "\r\nnext\r\n", 8);
		memset(want, 'a', n);
		memcpy(want + n, "\nnext\n", 6);
		check("CR at the 64 KiB block boundary, LF in the next block", 'f', in, n + 8,
		      want, n + 6, 0);
		{
			/* the same through a pipe: the writer stops right after the CR */
			char *p1 = malloc(BLOCK + 1);
			const char *parts[2];
			memcpy(p1, in, BLOCK);
			p1[BLOCK] = '\0';
			parts[0] = p1;
			parts[1] = "\nnext\r\n";
			check_parts("CR ending a 64 KiB pipe chunk, LF in the next write", parts, 2,
				    want, n + 6);
			free(p1);
		}
		/* CR at the block end followed by a non-LF: the CR is kept */
		memcpy(in + n, "\rX\r\n", 4);
		memcpy(want + n, "\rX\n", 3);
		check("CR at the block boundary followed by another byte is kept", 'f', in, n + 4,
		      want, n + 3, 0);
		free(in);
		free(want);
	}
	{
		const char *parts[] = { "abc\r", "\ndef\r", "\n" };
		check_parts("CR and LF split across small writes", parts, 3, "abc\ndef\n", 8);
	}
	{
		const char *parts[] = { "ab\r", "cd\n" };
		check_parts("CR at the end of a write followed by a non-LF is kept", parts, 2,
			    "ab\rcd\n", 6);
	}
	{
		const char *parts[] = { "ab\r", "\r", "\n" };
		check_parts("CR, CR, LF in three writes: as in one block", parts, 3,
			    "ab\r\n", 4);
	}
}

static void test_from_line(void)
{
	static const char *const hows = "fp1";
	const char *h;

	for (h = hows; *h; h++) {
		CHECK("leading From line dropped", *h,
		      "From a@b Sat Jan  3 01:05:34 1996\nSubject: x\n\nbody\n",
		      "Subject: x\n\nbody\n", 0);
		CHECK("leading From line with CRLF dropped", *h,
		      "From a@b Sat Jan  3 01:05:34 1996\r\nSubject: x\r\n\r\nbody\r\n",
		      "Subject: x\n\nbody\n", 0);
		CHECK("keep_from_line keeps it", *h, "From a@b Sat Jan  3\nSubject: x\n",
		      "From a@b Sat Jan  3\nSubject: x\n", 1);
		CHECK("a From: header is not a From line", *h, "From: a@b\nSubject: x\n",
		      "From: a@b\nSubject: x\n", 0);
		CHECK("a From line later in the message is kept", *h,
		      "Subject: x\n\nFrom here on\n", "Subject: x\n\nFrom here on\n", 0);
		CHECK("only the first From line is dropped", *h,
		      "From a@b\nFrom b@c\n", "From b@c\n", 0);
		CHECK("'From' alone (4 bytes) is kept", *h, "From", "From\n", 0);
		CHECK("a message that is only a From line is empty", *h, "From a@b x\n", "", 0);
	}
	{
		/* a From line longer than a block */
		size_t n = 5 + 70000;
		char *in = malloc(n + 16);
		memcpy(in, "From ", 5);
		memset(in + 5, 'x', 70000);
		memcpy(in + n, "\nbody\n", 6);
		check("a From line longer than 64 KiB is dropped", 'f', in, n + 6, "body\n", 5, 0);
		check("a From line longer than 64 KiB is dropped", 'p', in, n + 6, "body\n", 5, 0);
		free(in);
	}
}

static void test_bytes(void)
{
	size_t n = 0, i, big = 3u << 20;
	char bin[600], *line;

	/* every byte value but CR, NUL included, twice */
	for (i = 0; i < 512; i++)
		if ((i & 255) != '\r')
			bin[n++] = (char)(i & 255);
	bin[n++] = '\n';
	check("8-bit and NUL bytes are preserved", 'f', bin, n, bin, n, 0);
	check("8-bit and NUL bytes are preserved", 'p', bin, n, bin, n, 0);

	line = malloc(big + 1);
	memset(line, 'y', big);
	line[big / 2] = '\0';
	line[big] = '\n';
	check("a 3 MB line is preserved", 'p', line, big + 1, line, big + 1, 0);
	check("a 3 MB line is preserved", 'f', line, big + 1, line, big + 1, 0);
	free(line);
}

static int count(const char *sub)
{
	return t_count_dir(pathf("%s/in/%s", root, sub));
}

static void test_max_size(void)
{
	struct mf_intake_opts o = { 0 };
	struct mf_envelope env;
	struct mf_entry e;
	struct mf_err err;
	enum mf_status st;
	int fd, before;
	pid_t pid;

	o.max_size = 5;
	new_env(&env);
	fd = input_fd('f', "abcd\n", 5, &pid);
	st = mf_intake(&sp, "in", fd, &env, &o, &e, &err);
	close(fd);
	ok(st == MF_OK && env.size == 5, "a message exactly at max_size is accepted");
	if (st == MF_OK)
		drop(&e);
	mf_envelope_free(&env);

	before = count("new");
	o.max_size = 4;
	new_env(&env);
	fd = input_fd('f', "abcd\n", 5, &pid);
	st = mf_intake(&sp, "in", fd, &env, &o, &e, &err);
	close(fd);
	is_int(st, MF_ETOOBIG, "one byte over max_size: MF_ETOOBIG");
	ok(err.status == MF_ETOOBIG && !strcmp(mf_err_dsncode(&err), "5.3.4") &&
	   mf_exit_code(st, MF_MODE_TRANSPORT) == 65, "MF_ETOOBIG reports 5.3.4 and exits 65");
	is_int(count("new"), before, "nothing was added to new/");
	is_int(count("tmp"), 0, "nothing is left in tmp/");
	mf_envelope_free(&env);

	/* the limit counts stored bytes: CRLF counts as one, the added LF counts */
	o.max_size = 4;
	new_env(&env);
	fd = input_fd('f', "abc\r\n", 5, &pid);
	st = mf_intake(&sp, "in", fd, &env, &o, &e, &err);
	close(fd);
	ok(st == MF_OK && env.size == 4, "max_size counts the stored bytes (CRLF stored as LF)");
	if (st == MF_OK)
		drop(&e);
	mf_envelope_free(&env);
	o.max_size = 3;
	new_env(&env);
	fd = input_fd('p', "abc", 3, &pid);
	st = mf_intake(&sp, "in", fd, &env, &o, &e, &err);
	close(fd);
	t_wait(pid);
	is_int(st, MF_ETOOBIG, "the final LF added counts towards max_size");
	mf_envelope_free(&env);

	/* a large message: refused without reading all of its input */
	{
		size_t n = 4u << 20;
		char *in = malloc(n);
		off_t pos;
		memset(in, 'z', n);
		in[n - 1] = '\n';
		o.max_size = 100000;
		new_env(&env);
		fd = input_fd('f', in, n, &pid);
		st = mf_intake(&sp, "in", fd, &env, &o, &e, &err);
		pos = lseek(fd, 0, SEEK_CUR);
		close(fd);
		is_int(st, MF_ETOOBIG, "a 4 MB message over a 100 kB limit: MF_ETOOBIG");
		ok(pos >= 0 && pos < (off_t)(o.max_size + 2 * BLOCK),
		   "the rest of the input is not read (read %lld bytes)", (long long)pos);
		mf_envelope_free(&env);

		new_env(&env);
		fd = input_fd('p', in, n, &pid);
		st = mf_intake(&sp, "in", fd, &env, &o, &e, &err);
		close(fd);
		is_int(st, MF_ETOOBIG, "the same through a pipe: MF_ETOOBIG");
		ok(t_wait(pid) != 0, "the writer was not drained to the end (it got EPIPE)");
		mf_envelope_free(&env);
		is_int(count("new"), before, "refused messages left nothing in new/");
		is_int(count("tmp"), 0, "refused messages left nothing in tmp/");
		free(in);
	}
}

static void test_envelope(void)
{
	struct mf_intake_opts o = { 0 };
	struct mf_envelope env, back;
	struct mf_entry e, ro;
	struct mf_err err;
	enum mf_status st;
	time_t t0, t1;
	struct stat sb;
	char *slash;
	pid_t pid;
	int fd;

	new_env(&env);
	fd = input_fd('p', "Subject: hi\r\n\r\nbody\r\n", 21, &pid);
	t0 = time(NULL);
	st = mf_intake(&sp, "in", fd, &env, &o, &e, &err);
	t1 = time(NULL);
	close(fd);
	t_wait(pid);
	if (!is_int(st, MF_OK, "intake a small message")) {
		tap_diag("%s", err.msg);
		mf_envelope_free(&env);
		return;
	}
	slash = strrchr(e.path, '/');
	ok(!strcmp(e.path, pathf("%s/in/new/%s", root, e.id)), "e->path names in/new/ID");
	is_str(e.queue, "in", "e->queue is the queue");
	is_str(e.sub, "new", "e->sub is new");
	ok(env.id && !strcmp(env.id, e.id) && slash && !strcmp(slash + 1, env.id),
	   "env->id is the entry id");
	ok(env.arrival >= t0 && env.arrival <= t1, "env->arrival is set to now");
	is_int((long long)env.size, 18, "env->size counts the stored bytes");
	ok(stat(pathf("%s/message", e.path), &sb) == 0 && (uint64_t)sb.st_size == env.size,
	   "env->size equals the message file size");
	is_int(e.dirfd, -1, "the entry is closed on return");
	is_int(t_mode(pathf("%s/message", e.path)), 0600, "message is 0600");
	is_int(t_mode(e.path), 0700, "entry directory is 0700");

	st = mf_entry_open(&sp, "in", "new", e.id, &ro, &err);
	mf_envelope_init(&back);
	ok(st == MF_OK && mf_entry_read_envelope(&ro, &back, &err) == MF_OK,
	   "the envelope file is readable");
	ok(back.id && !strcmp(back.id, e.id) && back.size == env.size &&
	   back.arrival == env.arrival && back.sender && !strcmp(back.sender, "s@example.org") &&
	   back.nrcpts == 1 && !strcmp(back.rcpts[0].addr, "r@example.org"),
	   "the envelope file holds id, size, arrival, sender and recipients");
	is_int(mf_entry_message_size(&ro), (long long)env.size, "mf_entry_message_size agrees");
	mf_envelope_free(&back);
	mf_entry_close(&ro);
	drop(&e);
	mf_envelope_free(&env);

	/* a preset arrival is kept */
	new_env(&env);
	env.arrival = 1000000000;
	fd = input_fd('f', "x\n", 2, &pid);
	st = mf_intake(&sp, "in", fd, &env, &o, &e, &err);
	close(fd);
	ok(st == MF_OK && env.arrival == 1000000000, "a preset arrival is kept");
	if (st == MF_OK)
		drop(&e);
	mf_envelope_free(&env);

	/* a read error: nothing left behind */
	{
		int before = count("new");
		new_env(&env);
		fd = open(tap_tmpdir(), O_RDONLY | O_DIRECTORY);
		st = mf_intake(&sp, "in", fd, &env, &o, &e, &err);
		close(fd);
		ok(st != MF_OK && mf_status_is_temporary(st),
		   "a read error is a temporary failure");
		ok(count("new") == before && count("tmp") == 0, "a read error leaves nothing behind");
		mf_envelope_free(&env);
	}

	new_env(&env);
	fd = input_fd('f', "x\n", 2, &pid);
	st = mf_intake(&sp, "nosuchqueue", fd, &env, &o, &e, &err);
	close(fd);
	is_int(st, MF_EUSAGE, "an unknown queue is MF_EUSAGE");
	mf_envelope_free(&env);
}

int main(void)
{
	struct mf_err err;

	mf_log_open("t/intake", MF_LOG_OFF, LOG_WARNING);
	umask(077);
	snprintf(root, sizeof root, "%s/spool", tap_tmpdir());
	mkdir(root, 0700);
	tap_plan(83);
	if (mf_spool_open(root, "test.host", &sp, &err) != MF_OK) {
		printf("Bail out! %s\n", err.msg);
		return 1;
	}
	test_line_ends();
	test_from_line();
	test_bytes();
	test_max_size();
	test_envelope();
	mf_spool_close(&sp);
	return tap_done();
}
