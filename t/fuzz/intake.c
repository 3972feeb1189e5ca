/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the intake stream (mf_intake), message bytes into a spool
 * entry.  Input: one byte of options (bit 0 keep a "From " line, bits 1-3 a
 * size limit), one byte shaping the read sizes, then the stream, which comes
 * through a SOCK_SEQPACKET socket so that each read returns one chunk: the
 * same input always splits the same way, CRs at chunk ends included.
 * Property: the stored message and the status are exactly what the contract
 * in mf_intake.h says (computed here the simple way, on the whole input), and
 * nothing is left in tmp/ after a failure.
 */
#include "fuzz.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mf_envelope.h"
#include "mf_file.h"
#include "mf_intake.h"
#include "mf_spool.h"

static struct mf_spool sp;
static char root[PATH_MAX];

struct writer {
	int fd;
	const uint8_t *p;
	size_t n;
	unsigned shape;
};

static void *write_chunks(void *arg)
{
	struct writer *w = arg;
	size_t off = 0, k = 0, len;

	while (off < w->n) {
		len = 1 + (w->shape * (k++ + 1) * 7919u) % (w->shape % 4 ? 97u : 70000u);
		if (len > w->n - off)
			len = w->n - off;
		if (send(w->fd, w->p + off, len, MSG_NOSIGNAL) < 0)
			break;
		off += len;
	}
	close(w->fd);
	return NULL;
}

/* The contract, simply: drop a leading "From " line, CRLF -> LF, end in LF. */
static size_t expected(const uint8_t *p, size_t n, int keep_from, uint8_t *out)
{
	size_t i = 0, o = 0;

	if (!keep_from && n >= 5 && !memcmp(p, "From ", 5)) {
		const uint8_t *lf = memchr(p, '\n', n);
		i = lf ? (size_t)(lf - p) + 1 : n;
	}
	for (; i < n; i++)
		if (!(p[i] == '\r' && i + 1 < n && p[i + 1] == '\n'))
			out[o++] = p[i];
	if (o && out[o - 1] != '\n')
		out[o++] = '\n';
	return o;
}

static int tmp_empty(void)
{
	char path[PATH_MAX + 8];
	struct dirent *d;
	int empty = 1;
	DIR *dir;

	snprintf(path, sizeof path, "%s/in/tmp", root);
	FUZZ_ASSERT((dir = opendir(path)));
	while ((d = readdir(dir)))
		if (d->d_name[0] != '.')
			empty = 0;
	closedir(dir);
	return empty;
}

static void check_stored(struct mf_entry *e, const struct mf_envelope *env,
			 const uint8_t *want, size_t wantlen)
{
	struct mf_entry c;
	struct mf_err err;
	uint8_t *got = malloc(wantlen + 2);
	char path[PATH_MAX + 16];
	ssize_t n;
	int fd;

	snprintf(path, sizeof path, "%s/message", e->path);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	FUZZ_ASSERT(got && fd >= 0);
	n = mf_read_upto(fd, got, wantlen + 1);
	close(fd);
	FUZZ_ASSERT(n == (ssize_t)wantlen && !memcmp(got, want, wantlen));
	FUZZ_ASSERT(env->size == wantlen);
	free(got);
	FUZZ_ASSERT(mf_entry_claim(&sp, "in", e->id, &c, &err) == MF_OK);
	FUZZ_ASSERT(mf_entry_remove(&c, &err) == MF_OK);
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *f)
{
	(void)sb;
	(void)flag;
	(void)f;
	remove(path);
	return 0;
}

static void rm_spool(void)
{
	mf_spool_close(&sp);
	nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	struct mf_err err;

	(void)argc;
	(void)argv;
	fuzz_quiet();
	snprintf(root, sizeof root, "%s/mf-fuzz-intake.XXXXXX", base);
	FUZZ_ASSERT(mkdtemp(root));
	atexit(rm_spool);
	FUZZ_ASSERT(mf_spool_open(root, "fuzz.example", &sp, &err) == MF_OK);
	FUZZ_ASSERT(mf_queue_init(&sp, "in", &err) == MF_OK);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint64_t limits[8] = { 0, 1, 2, 5, 16, 64, 300, 4096 };
	struct mf_intake_opts o;
	struct mf_envelope env;
	struct mf_entry e;
	struct mf_err err;
	struct writer w;
	pthread_t th;
	enum mf_status st;
	uint8_t *want;
	size_t wantlen;
	int sv[2];

	if (size < 2)
		return 0;
	memset(&o, 0, sizeof o); /* no free-space or hop limits: not tested here */
	o.keep_from_line = data[0] & 1;
	o.max_size = limits[(data[0] >> 1) & 7];
	want = malloc(size + 1);
	FUZZ_ASSERT(want);
	wantlen = expected(data + 2, size - 2, o.keep_from_line, want);
	FUZZ_ASSERT(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0);
	w = (struct writer){ sv[1], data + 2, size - 2, data[1] };
	FUZZ_ASSERT(pthread_create(&th, NULL, write_chunks, &w) == 0);
	mf_envelope_init(&env);
	FUZZ_ASSERT(mf_envelope_set(&env.sender, "s@example.org") == 0);
	FUZZ_ASSERT(mf_envelope_add_rcpt(&env, "r@example.org") == 0);
	st = mf_intake(&sp, "in", sv[0], &env, &o, &e, &err);
	close(sv[0]);
	pthread_join(th, NULL);
	if (o.max_size && wantlen > o.max_size) {
		FUZZ_ASSERT(st == MF_ETOOBIG);
		fuzz_check_err(&err);
	} else {
		FUZZ_ASSERT(st == MF_OK);
		check_stored(&e, &env, want, wantlen);
	}
	FUZZ_ASSERT(tmp_empty());
	mf_envelope_free(&env);
	free(want);
	return 0;
}
