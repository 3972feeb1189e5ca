/* SPDX-License-Identifier: MIT */
/* Take one message from a file descriptor into a new spool entry. */
#include "mf_intake.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "mf_file.h"
#include "mf_log.h"

#define BLOCK 65536

struct sink {
	int fd;
	char buf[BLOCK];
	char in[BLOCK];
	size_t len;
	uint64_t total;
	uint64_t max;
	int last_lf;   /* the last byte stored was LF (or nothing stored) */
	/* counting Received: lines in the header (hdr_done once it ended) */
	unsigned received, max_received;
	size_t col;    /* bytes of the current header line seen so far */
	int hdr_done;
	int match;     /* how much of "received:" the line begins with; -1: no */
};

/* Count the Received: header lines (RFC 5321 6.3: a message that went
 * through 100 hops is looping).  A continuation line begins with a blank
 * and so is never counted; the empty line ends the header. */
static enum mf_status count_hops(struct sink *s, const char *p, size_t n,
				 struct mf_err *err)
{
	static const char pat[] = "received:";
	size_t i;

	for (i = 0; i < n && !s->hdr_done; i++) {
		if (p[i] == '\n') {
			s->hdr_done = s->col == 0;
			s->col = 0;
			s->match = 0;
			continue;
		}
		s->col++;
		if (s->match < 0 || s->match >= (int)sizeof pat - 1)
			continue;
		if (tolower((unsigned char)p[i]) != pat[s->match]) {
			s->match = -1;
		} else if (++s->match == (int)sizeof pat - 1 &&
			   ++s->received >= s->max_received) {
			mf_err_set(err, MF_EDATA, "too many hops: %u or more Received: lines",
				   s->max_received);
			mf_err_dsn(err, "5.4.6");
			return MF_EDATA;
		}
	}
	return MF_OK;
}

static enum mf_status sink_flush(struct sink *s, struct mf_err *err)
{
	if (mf_write_all(s->fd, s->buf, s->len) < 0)
		return mf_err_errno(err, errno, "write message");
	s->len = 0;
	return MF_OK;
}

static enum mf_status sink_put(struct sink *s, const char *p, size_t n,
			       struct mf_err *err)
{
	enum mf_status st;
	size_t room;

	if (!n)
		return MF_OK;
	if (s->max_received && !s->hdr_done && (st = count_hops(s, p, n, err)))
		return st;
	if (s->max && s->total + n > s->max)
		return mf_err_set(err, MF_ETOOBIG,
				  "message larger than the limit of %llu bytes",
				  (unsigned long long)s->max);
	s->total += n;
	s->last_lf = p[n - 1] == '\n';
	while (n) {
		room = sizeof s->buf - s->len;
		if (room > n)
			room = n;
		memcpy(s->buf + s->len, p, room);
		s->len += room;
		p += room;
		n -= room;
		if (s->len == sizeof s->buf && (st = sink_flush(s, err)))
			return st;
	}
	return MF_OK;
}

/* Copy block to the sink with CRLF -> LF; a CR at the end of a block waits
 * for the next one in *cr. */
static enum mf_status put_block(struct sink *s, const char *p, size_t n,
				int *cr, struct mf_err *err)
{
	enum mf_status st;
	const char *q;

	if (*cr && n) {
		*cr = 0;
		if (p[0] != '\n' && (st = sink_put(s, "\r", 1, err)))
			return st;
	}
	while (n) {
		q = memchr(p, '\r', n);
		if (!q)
			return sink_put(s, p, n, err);
		if ((st = sink_put(s, p, (size_t)(q - p), err)))
			return st;
		n -= (size_t)(q - p) + 1;
		p = q + 1;
		if (!n)
			*cr = 1;
		else if (p[0] != '\n' && (st = sink_put(s, "\r", 1, err)))
			return st;
	}
	return MF_OK;
}

static ssize_t read_some(int fd, char *buf, size_t n)
{
	ssize_t r;

	do
		r = read(fd, buf, n);
	while (r < 0 && errno == EINTR);
	return r;
}

static enum mf_status copy_message(int in, struct sink *s,
				   const struct mf_intake_opts *o,
				   struct mf_err *err)
{
	char *buf = s->in;
	enum mf_status st;
	size_t have = 0, off = 0;
	ssize_t r = 0;
	int cr = 0, skipping = 0;

	/* Gather at least 5 bytes to see whether a "From " line leads. */
	while (have < 5 && (r = read_some(in, buf + have, BLOCK - have)) > 0)
		have += (size_t)r;
	if (have == 0 || (have < 5 && r < 0))
		goto read_done;
	if (!o->keep_from_line && have >= 5 && !memcmp(buf, "From ", 5))
		skipping = 1;
	for (;;) {
		if (skipping) {
			char *lf = memchr(buf + off, '\n', have - off);
			if (lf) {
				off = (size_t)(lf - buf) + 1;
				skipping = 0;
			} else {
				off = have;
			}
		}
		if (!skipping && (st = put_block(s, buf + off, have - off, &cr, err)))
			return st;
		off = 0;
		r = read_some(in, buf, BLOCK);
		if (r <= 0)
			break;
		have = (size_t)r;
	}
read_done:
	if (r < 0)
		return mf_err_errno(err, errno, "read message");
	if (cr && (st = sink_put(s, "\r", 1, err)))
		return st;
	if (!s->last_lf && (st = sink_put(s, "\n", 1, err)))
		return st;
	return sink_flush(s, err);
}

static enum mf_status write_message(struct mf_entry *e, int in,
				    const struct mf_intake_opts *o,
				    uint64_t *size, struct mf_err *err)
{
	struct sink *s;
	enum mf_status st;
	int fd;

	s = malloc(sizeof *s);
	if (!s)
		return mf_err_set(err, MF_ENOMEM, "out of memory");
	fd = mf_entry_create_file(e, "message"); /* synced and closed by the commit */
	if (fd < 0) {
		free(s);
		return mf_err_errno(err, errno, "%s/message", e->path);
	}
	s->fd = fd;
	s->len = 0;
	s->total = 0;
	s->max = o->max_size;
	s->last_lf = 1;
	s->received = 0;
	s->max_received = o->max_received;
	s->col = 0;
	s->hdr_done = 0;
	s->match = 0;
	st = copy_message(in, s, o, err);
	*size = s->total;
	free(s);
	return st;
}

enum mf_status mf_intake_room(const char *dir, uint64_t need, struct mf_err *err)
{
	struct statvfs vfs;
	uint64_t avail;

	if (!need)
		return MF_OK;
	if (statvfs(dir, &vfs) < 0)
		return mf_err_errno(err, errno, "statvfs %s", dir);
	avail = (uint64_t)vfs.f_bavail * (vfs.f_frsize ? vfs.f_frsize : vfs.f_bsize);
	if (avail >= need)
		return MF_OK;
	return mf_err_set(err, MF_ENOSPC, "%s: %llu KiB free, %llu KiB needed",
			  dir, (unsigned long long)(avail / 1024),
			  (unsigned long long)((need + 1023) / 1024));
}

enum mf_status mf_intake(struct mf_spool *sp, const char *queue, int fd,
			 struct mf_envelope *env,
			 const struct mf_intake_opts *opts, struct mf_entry *e,
			 struct mf_err *err)
{
	enum mf_status st;

	if ((st = mf_intake_room(sp->root, opts->min_free, err))) {
		mf_err_prefix(err, "not enough free space in the spool");
		return st;
	}
	if ((st = mf_entry_create(sp, queue, e, err)))
		return st;
	if (!env->arrival)
		env->arrival = time(NULL);
	if ((st = write_message(e, fd, opts, &env->size, err)))
		goto fail;
	if (mf_envelope_set(&env->id, e->id) < 0) {
		st = mf_err_set(err, MF_ENOMEM, "out of memory");
		goto fail;
	}
	if ((st = mf_entry_write_envelope(e, env, err)) ||
	    (st = mf_entry_commit(e, err)))
		goto fail;
	mf_entry_close(e);
	return MF_OK;
fail:
	/* Failure is reported, so the sender will retry: leave no entry that
	 * would deliver a second copy (the commit may have renamed it already). */
	mf_entry_abort(e);
	return st;
}
