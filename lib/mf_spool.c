/* SPDX-License-Identifier: MIT */
/* The spool: queues of maildir-style entries (see mf-spool(5)). */
#include "mf_spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "mf_buf.h"
#include "mf_envelope.h"
#include "mf_file.h"
#include "mf_log.h"

const char *const mf_queues[] = { "in", "out", "failed", "quarantine", NULL };

int mf_queue_valid(const char *q)
{
	const char *const *p;

	for (p = mf_queues; *p; p++)
		if (!strcmp(*p, q))
			return 1;
	return 0;
}

int mf_id_valid(const char *id)
{
	size_t n = strlen(id);

	return n > 0 && n < MF_ID_MAX && id[0] != '.' && !strchr(id, '/');
}

static enum mf_status path_fmt(char *out, size_t outsz, struct mf_err *err,
			       const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static enum mf_status path_fmt(char *out, size_t outsz, struct mf_err *err,
			       const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(out, outsz, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= outsz)
		return mf_err_set(err, MF_ECONFIG, "path too long: %.100s...", out);
	return MF_OK;
}

static int fsync_path(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc, saved;

	if (fd < 0)
		return -1;
	rc = fsync(fd);
	saved = errno;
	close(fd);
	errno = saved;
	return rc;
}

enum mf_status mf_spool_open(const char *root, const char *hostname,
			     struct mf_spool *sp, struct mf_err *err)
{
	struct stat st;
	char host[256];
	size_t i;

	memset(sp, 0, sizeof *sp);
	if (stat(root, &st) < 0)
		return mf_err_errno(err, errno, "spool %s", root);
	if (!S_ISDIR(st.st_mode))
		return mf_err_set(err, MF_EIO, "spool %s: not a directory", root);
	if (!hostname || !*hostname) {
		if (gethostname(host, sizeof host) < 0)
			snprintf(host, sizeof host, "localhost");
		host[sizeof host - 1] = '\0';
		hostname = host;
	}
	snprintf(sp->host, sizeof sp->host, "%.63s", hostname);
	for (i = 0; sp->host[i]; i++) {
		char c = sp->host[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '-'))
			sp->host[i] = '_';
	}
	sp->root = strdup(root);
	if (!sp->root)
		return mf_err_set(err, MF_ENOMEM, "out of memory");
	return MF_OK;
}

void mf_spool_close(struct mf_spool *sp)
{
	free(sp->root);
	sp->root = NULL;
}

/*
 * The spool holds only real directories: a symlink planted in it (a queue,
 * new/ or cur/, or an entry) must not lead a tool outside.  Queue and sub
 * directories are checked with lstat(); entries are opened with O_NOFOLLOW.
 */
static enum mf_status check_real_dir(const char *path, struct mf_err *err)
{
	struct stat sb;

	if (lstat(path, &sb) < 0)
		return errno == ENOENT ? mf_err_set(err, MF_ENOENT, "%s: no such directory", path)
				       : mf_err_errno(err, errno, "%s", path);
	if (!S_ISDIR(sb.st_mode))
		return mf_err_set(err, MF_EIO, "%s: not a directory (a symlink?); refusing it", path);
	return MF_OK;
}

static enum mf_status check_uncached(struct mf_spool *sp, const char *queue,
				     const char *sub, struct mf_err *err);

/* bit of QUEUE/SUB in sp->checked, or 0 for names outside the lists */
static unsigned queue_bit(const char *queue, const char *sub)
{
	static const char *const subs[] = { "tmp", "new", "cur" };
	unsigned q, i;

	for (q = 0; mf_queues[q]; q++)
		if (!strcmp(mf_queues[q], queue))
			for (i = 0; i < 3; i++)
				if (!strcmp(subs[i], sub))
					return 1u << (q * 3 + i);
	return 0;
}

/* Checked once per process: the queue directories are made by mf itself,
 * and a tool that runs a queue must not stat them again for every entry. */
static enum mf_status check_queue_dirs(struct mf_spool *sp, const char *queue,
				       const char *sub, struct mf_err *err)
{
	unsigned bit = queue_bit(queue, sub);
	enum mf_status st;

	if (bit && (sp->checked & bit))
		return MF_OK;
	if ((st = check_uncached(sp, queue, sub, err)) == MF_OK)
		sp->checked |= bit;
	return st;
}

static enum mf_status check_uncached(struct mf_spool *sp, const char *queue,
				     const char *sub, struct mf_err *err)
{
	char path[PATH_MAX];
	enum mf_status st;

	if ((st = path_fmt(path, sizeof path, err, "%s/%s", sp->root, queue)) ||
	    (st = check_real_dir(path, err)) ||
	    (st = path_fmt(path, sizeof path, err, "%s/%s/%s", sp->root, queue, sub)))
		return st;
	return check_real_dir(path, err);
}

static int open_entry_dir(const char *path)
{
	return open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

static enum mf_status make_dir(const char *path, struct mf_err *err)
{
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return mf_err_errno(err, errno, "mkdir %s", path);
	return MF_OK;
}

enum mf_status mf_queue_init(struct mf_spool *sp, const char *queue,
			     struct mf_err *err)
{
	static const char *const subs[] = { "tmp", "new", "cur" };
	char path[PATH_MAX];
	enum mf_status st;
	struct stat sb;
	size_t i;

	if (!mf_queue_valid(queue))
		return mf_err_set(err, MF_EUSAGE, "unknown queue '%.40s'", queue);
	if ((st = path_fmt(path, sizeof path, err, "%s/%s/cur", sp->root, queue)))
		return st;
	if (lstat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) { /* cur/ is made last */
		if ((st = check_queue_dirs(sp, queue, "new", err)))
			return st;
		return check_queue_dirs(sp, queue, "tmp", err);
	}
	if ((st = path_fmt(path, sizeof path, err, "%s/%s", sp->root, queue)) ||
	    (st = make_dir(path, err)))
		return st;
	for (i = 0; i < 3; i++) {
		if ((st = path_fmt(path, sizeof path, err, "%s/%s/%s", sp->root,
				   queue, subs[i])) ||
		    (st = make_dir(path, err)))
			return st;
	}
	if ((st = path_fmt(path, sizeof path, err, "%s/%s", sp->root, queue)))
		return st;
	if (fsync_path(path) < 0 || fsync_path(sp->root) < 0)
		return mf_err_errno(err, errno, "fsync %s", path);
	return MF_OK;
}

static enum mf_status entry_path(struct mf_entry *e, struct mf_err *err)
{
	return path_fmt(e->path, sizeof e->path, err, "%s/%s/%s/%s",
			e->spool->root, e->queue, e->sub, e->id);
}

static void entry_init(struct mf_entry *e, struct mf_spool *sp,
		       const char *queue, const char *sub)
{
	memset(e, 0, sizeof *e);
	e->spool = sp;
	e->dirfd = -1;
	e->nfiles = 0;
	snprintf(e->queue, sizeof e->queue, "%s", queue);
	snprintf(e->sub, sizeof e->sub, "%s", sub);
}

/* time.MusecPpidQcount.host, as maildir names are made */
static void make_id(struct mf_spool *sp, char *id, size_t idsz)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	snprintf(id, idsz, "%lld.M%06ldP%ldQ%u.%s", (long long)tv.tv_sec,
		 (long)tv.tv_usec, (long)getpid(), ++sp->counter, sp->host);
}

enum mf_status mf_entry_create(struct mf_spool *sp, const char *queue,
			       struct mf_entry *e, struct mf_err *err)
{
	enum mf_status st;
	int tries;

	if ((st = mf_queue_init(sp, queue, err)))
		return st;
	entry_init(e, sp, queue, "tmp");
	for (tries = 0; tries < 100; tries++) {
		make_id(sp, e->id, sizeof e->id);
		if ((st = entry_path(e, err)))
			return st;
		if (mkdir(e->path, 0700) == 0)
			break;
		if (errno != EEXIST)
			return mf_err_errno(err, errno, "mkdir %s", e->path);
	}
	if (tries == 100)
		return mf_err_set(err, MF_ETEMP, "cannot make a unique entry name in %s/tmp", queue);
	e->dirfd = open_entry_dir(e->path);
	if (e->dirfd < 0) {
		st = mf_err_errno(err, errno, "open %s", e->path);
		rmdir(e->path);
		return st;
	}
	return MF_OK;
}

int mf_entry_openat(struct mf_entry *e, const char *name, int flags)
{
	return openat(e->dirfd, name, flags | O_CLOEXEC, 0600);
}

int mf_entry_create_file(struct mf_entry *e, const char *name)
{
	int fd;

	if (e->nfiles == MF_ENTRY_FILES || strcmp(e->sub, "tmp")) {
		errno = EINVAL;
		return -1;
	}
	fd = mf_entry_openat(e, name, O_WRONLY | O_CREAT | O_EXCL);
	if (fd >= 0)
		e->files[e->nfiles++] = fd;
	return fd;
}

static void close_files(struct mf_entry *e)
{
	while (e->nfiles > 0)
		close(e->files[--e->nfiles]);
}

/*
 * Start write-back of every file first, then wait for each: on ext4 the first
 * fsync then commits one journal transaction that holds all the files' block
 * allocations, and the others find nothing left to commit.
 */
static enum mf_status sync_files(struct mf_entry *e, struct mf_err *err)
{
	int i;

#ifdef SYNC_FILE_RANGE_WRITE
	for (i = 0; i < e->nfiles; i++)
		sync_file_range(e->files[i], 0, 0, SYNC_FILE_RANGE_WRITE);
#endif
	for (i = 0; i < e->nfiles; i++)
		if (fsync(e->files[i]) < 0)
			return mf_err_errno(err, errno, "fsync %s", e->path);
	for (i = e->nfiles; i > 0; i--) {
		e->nfiles--;
		if (close(e->files[i - 1]) < 0)
			return mf_err_errno(err, errno, "close %s", e->path);
	}
	return MF_OK;
}

static enum mf_status rename_entry(struct mf_entry *e, const char *queue,
				   const char *sub, int durable, struct mf_err *err)
{
	char to[PATH_MAX], todir[PATH_MAX];
	enum mf_status st;

	if ((st = path_fmt(todir, sizeof todir, err, "%s/%s/%s", e->spool->root,
			   queue, sub)) ||
	    (st = path_fmt(to, sizeof to, err, "%s/%s", todir, e->id)) ||
	    (st = check_queue_dirs(e->spool, queue, sub, err)))
		return st;
	if (rename(e->path, to) < 0)
		return errno == ENOENT ? mf_err_set(err, MF_ENOENT, "%s: gone", e->path)
				       : mf_err_errno(err, errno, "rename %s", e->path);
	memcpy(e->path, to, sizeof to);
	/* queue may be e->queue itself (commit, release): copy only when it differs */
	if (queue != e->queue)
		snprintf(e->queue, sizeof e->queue, "%s", queue);
	if (sub != e->sub)
		snprintf(e->sub, sizeof e->sub, "%s", sub);
	/* One journal transaction holds both directory changes on the file
	 * systems a spool lives on; the fsync of the target commits it. */
	if (durable && fsync_path(todir) < 0)
		return mf_err_errno(err, errno, "fsync %s", todir);
	return MF_OK;
}

enum mf_status mf_entry_commit(struct mf_entry *e, struct mf_err *err)
{
	enum mf_status st;

	if ((st = sync_files(e, err)))
		return st;
	if (fsync(e->dirfd) < 0)
		return mf_err_errno(err, errno, "fsync %s", e->path);
	return rename_entry(e, e->queue, "new", 1, err);
}

static void remove_files(struct mf_entry *e)
{
	DIR *d;
	struct dirent *de;
	int fd;

	fd = open_entry_dir(e->path);
	if (fd < 0)
		return;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return;
	}
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			unlinkat(fd, de->d_name, 0);
	closedir(d);
}

void mf_entry_abort(struct mf_entry *e)
{
	if (!e->path[0])
		return;
	remove_files(e);
	if (rmdir(e->path) < 0 && errno != ENOENT)
		mf_log(LOG_WARNING, "cannot remove %s: %s", e->path, strerror(errno));
	mf_entry_close(e);
}

void mf_entry_close(struct mf_entry *e)
{
	close_files(e);
	if (e->dirfd >= 0)
		close(e->dirfd); /* drops the flock too */
	e->dirfd = -1;
	e->locked = 0;
}

enum mf_status mf_entry_open(struct mf_spool *sp, const char *queue,
			     const char *sub, const char *id,
			     struct mf_entry *e, struct mf_err *err)
{
	enum mf_status st;

	if (!mf_queue_valid(queue) || !mf_id_valid(id))
		return mf_err_set(err, MF_ENOENT, "no entry %.40s/%.100s", queue, id);
	entry_init(e, sp, queue, sub);
	snprintf(e->id, sizeof e->id, "%s", id);
	if ((st = entry_path(e, err)) || (st = check_queue_dirs(sp, queue, sub, err)))
		return st;
	e->dirfd = open_entry_dir(e->path);
	if (e->dirfd < 0)
		return errno == ENOENT ? mf_err_set(err, MF_ENOENT, "%s: no such entry", e->path)
		     : errno == ELOOP || errno == ENOTDIR
			? mf_err_set(err, MF_EIO, "%s: not a directory (a symlink?); refusing it", e->path)
			: mf_err_errno(err, errno, "open %s", e->path);
	return MF_OK;
}

static enum mf_status lock_entry(struct mf_entry *e, struct mf_err *err)
{
	if (flock(e->dirfd, LOCK_EX | LOCK_NB) < 0)
		return errno == EWOULDBLOCK
			? mf_err_set(err, MF_EBUSY, "%s: in use by another process", e->path)
			: mf_err_errno(err, errno, "lock %s", e->path);
	e->locked = 1;
	return MF_OK;
}

enum mf_status mf_entry_claim(struct mf_spool *sp, const char *queue,
			      const char *id, struct mf_entry *e,
			      struct mf_err *err)
{
	enum mf_status st;

	char cur[PATH_MAX];
	struct stat sb;

	if ((st = mf_entry_open(sp, queue, "new", id, e, err))) {
		if (st == MF_ENOENT && path_fmt(cur, sizeof cur, NULL, "%s/%s/cur/%s",
						sp->root, queue, id) == MF_OK &&
		    stat(cur, &sb) == 0)
			st = mf_err_set(err, MF_EBUSY, "%s/cur/%s: claimed by another process",
					queue, id);
		return st;
	}
	/* A claim needs no fsync: after a crash the entry is in new/ or in cur/,
	 * and a claim nobody holds is put back either way. */
	if ((st = lock_entry(e, err)) || (st = rename_entry(e, queue, "cur", 0, err))) {
		if (st == MF_ENOENT) /* someone claimed it before us */
			st = mf_err_set(err, MF_EBUSY, "%s/new/%s: claimed by another process",
					queue, id);
		mf_entry_close(e);
		return st;
	}
	/* The claim's age, for stalled-claim recovery, counts from now. */
	futimens(e->dirfd, NULL);
	return MF_OK;
}

enum mf_status mf_entry_move(struct mf_entry *e, const char *queue,
			     struct mf_err *err)
{
	enum mf_status st;

	if ((st = mf_queue_init(e->spool, queue, err)))
		return st;
	if ((st = rename_entry(e, queue, "new", 1, err)))
		return st;
	mf_entry_close(e);
	return MF_OK;
}

enum mf_status mf_entry_release(struct mf_entry *e, struct mf_err *err)
{
	return mf_entry_move(e, e->queue, err);
}

enum mf_status mf_entry_remove_nosync(struct mf_entry *e, struct mf_err *err)
{
	remove_files(e);
	if (rmdir(e->path) < 0)
		return mf_err_errno(err, errno, "remove %s", e->path);
	mf_entry_close(e);
	return MF_OK;
}

enum mf_status mf_queue_sync(struct mf_spool *sp, const char *queue,
			     const char *sub, struct mf_err *err)
{
	char dir[PATH_MAX];
	enum mf_status st;

	if ((st = path_fmt(dir, sizeof dir, err, "%s/%s/%s", sp->root, queue, sub)))
		return st;
	if (fsync_path(dir) < 0)
		return mf_err_errno(err, errno, "fsync %s", dir);
	return MF_OK;
}

enum mf_status mf_entry_remove(struct mf_entry *e, struct mf_err *err)
{
	char queue[16], sub[4];
	enum mf_status st;

	memcpy(queue, e->queue, sizeof queue);
	memcpy(sub, e->sub, sizeof sub);
	if ((st = mf_entry_remove_nosync(e, err)))
		return st;
	return mf_queue_sync(e->spool, queue, sub, err);
}

enum mf_status mf_entry_read_envelope(struct mf_entry *e,
				      struct mf_envelope *env,
				      struct mf_err *err)
{
	struct mf_buf b = { 0 };
	enum mf_status st = MF_OK;
	char chunk[8192];
	ssize_t n;
	int fd;

	fd = mf_entry_openat(e, "envelope", O_RDONLY);
	if (fd < 0)
		return errno == ENOENT
			? mf_err_set(err, MF_EDATA, "%s: no envelope", e->path)
			: mf_err_errno(err, errno, "%s/envelope", e->path);
	while ((n = read(fd, chunk, sizeof chunk)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			st = mf_err_errno(err, errno, "read %s/envelope", e->path);
			break;
		}
		if (b.len + (size_t)n > MF_ENVELOPE_MAX) {
			st = mf_err_set(err, MF_EDATA, "%s/envelope: too large", e->path);
			break;
		}
		if (mf_buf_add(&b, chunk, (size_t)n) < 0) {
			st = mf_err_set(err, MF_ENOMEM, "out of memory");
			break;
		}
	}
	close(fd);
	if (st == MF_OK) {
		st = mf_envelope_parse(b.data ? b.data : "", b.len, env, err);
		if (st)
			mf_err_prefix(err, e->path);
	}
	mf_buf_free(&b);
	return st;
}

enum mf_status mf_entry_write_envelope(struct mf_entry *e,
				       const struct mf_envelope *env,
				       struct mf_err *err)
{
	struct mf_buf b = { 0 };
	enum mf_status st;
	int fd, saved;

	if ((st = mf_envelope_format(env, &b, err)))
		return st;
	if (!strcmp(e->sub, "tmp") && faccessat(e->dirfd, "envelope", F_OK, 0) < 0) {
		/* A new entry: nobody sees it before the commit, which syncs it. */
		fd = mf_entry_create_file(e, "envelope");
		st = fd < 0 || mf_write_all(fd, b.data, b.len) < 0
			? mf_err_errno(err, errno, "write %s/envelope", e->path) : MF_OK;
		mf_buf_free(&b);
		return st;
	}
	fd = mf_entry_openat(e, "envelope.new", O_WRONLY | O_CREAT | O_TRUNC);
	if (fd < 0) {
		st = mf_err_errno(err, errno, "%s/envelope.new", e->path);
		mf_buf_free(&b);
		return st;
	}
	if (mf_write_all(fd, b.data, b.len) < 0 || fsync(fd) < 0) {
		saved = errno;
		close(fd);
		mf_buf_free(&b);
		unlinkat(e->dirfd, "envelope.new", 0);
		return mf_err_errno(err, saved, "write %s/envelope", e->path);
	}
	mf_buf_free(&b);
	if (close(fd) < 0)
		return mf_err_errno(err, errno, "close %s/envelope", e->path);
	if (renameat(e->dirfd, "envelope.new", e->dirfd, "envelope") < 0)
		return mf_err_errno(err, errno, "rename %s/envelope", e->path);
	if (fsync(e->dirfd) < 0)
		return mf_err_errno(err, errno, "fsync %s", e->path);
	return MF_OK;
}

int64_t mf_entry_message_size(struct mf_entry *e)
{
	struct stat sb;

	if (fstatat(e->dirfd, "message", &sb, 0) < 0)
		return -1;
	return (int64_t)sb.st_size;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static enum mf_status read_names(const char *dir, char ***names, size_t *n,
				 struct mf_err *err)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **v = NULL, **nv;
	size_t cnt = 0;

	*names = NULL;
	*n = 0;
	if (!d)
		return errno == ENOENT ? MF_OK : mf_err_errno(err, errno, "opendir %s", dir);
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		nv = realloc(v, (cnt + 1) * sizeof *v);
		if (!nv || !(nv[cnt] = strdup(de->d_name))) {
			v = nv ? nv : v;
			while (cnt)
				free(v[--cnt]);
			free(v);
			closedir(d);
			return mf_err_set(err, MF_ENOMEM, "out of memory");
		}
		v = nv;
		cnt++;
	}
	closedir(d);
	if (cnt)
		qsort(v, cnt, sizeof *v, cmp_names);
	*names = v;
	*n = cnt;
	return MF_OK;
}

enum mf_status mf_spool_each(struct mf_spool *sp, const char *queue,
			     const char *sub, mf_spool_fn fn, void *ctx,
			     struct mf_err *err)
{
	char dir[PATH_MAX];
	char **names;
	size_t n, i;
	enum mf_status st;
	int stop = 0;

	if ((st = path_fmt(dir, sizeof dir, err, "%s/%s/%s", sp->root, queue, sub)) ||
	    (st = read_names(dir, &names, &n, err)))
		return st;
	for (i = 0; i < n; i++) {
		if (!stop && mf_id_valid(names[i]))
			stop = fn(sp, queue, sub, names[i], ctx);
		free(names[i]);
	}
	free(names);
	return MF_OK;
}

enum mf_status mf_entry_put_back_stalled(struct mf_spool *sp, const char *queue,
					 const char *id, struct mf_err *err)
{
	struct mf_entry e;
	enum mf_status st;

	if ((st = mf_entry_open(sp, queue, "cur", id, &e, err)))
		return st;
	if ((st = lock_entry(&e, err)) == MF_OK)
		st = mf_entry_release(&e, err);
	mf_entry_close(&e);
	return st;
}

struct recover_ctx {
	int64_t stalled, tmp_age;
	unsigned put_back, removed;
	time_t now;
	struct mf_err *err;
	enum mf_status st;
};

static int older_than(struct mf_entry *e, int64_t age, time_t now)
{
	struct stat sb;

	return fstat(e->dirfd, &sb) == 0 && (int64_t)(now - sb.st_mtime) >= age;
}

static int recover_cur(struct mf_spool *sp, const char *queue, const char *sub,
		       const char *id, void *vctx)
{
	struct recover_ctx *c = vctx;
	struct mf_entry e;

	if (mf_entry_open(sp, queue, sub, id, &e, NULL))
		return 0;
	if (lock_entry(&e, NULL) == MF_OK && older_than(&e, c->stalled, c->now)) {
		if (mf_entry_release(&e, c->err) == MF_OK) {
			mf_log(LOG_NOTICE, "%s/cur/%s: stalled claim put back", queue, id);
			c->put_back++;
		} else {
			c->st = c->err ? c->err->status : MF_EIO;
		}
	}
	mf_entry_close(&e);
	return 0;
}

static int recover_tmp(struct mf_spool *sp, const char *queue, const char *sub,
		       const char *id, void *vctx)
{
	struct recover_ctx *c = vctx;
	struct mf_entry e;

	if (mf_entry_open(sp, queue, sub, id, &e, NULL))
		return 0;
	if (older_than(&e, c->tmp_age, c->now)) {
		mf_log(LOG_INFO, "%s/tmp/%s: removing unfinished entry", queue, id);
		mf_entry_abort(&e);
		c->removed++;
	}
	mf_entry_close(&e);
	return 0;
}

enum mf_status mf_spool_recover(struct mf_spool *sp, const char *queue,
				int64_t stalled, int64_t tmp_age,
				unsigned *put_back, unsigned *removed,
				struct mf_err *err)
{
	struct recover_ctx c = { stalled, tmp_age, 0, 0, time(NULL), err, MF_OK };
	enum mf_status st;

	if ((st = mf_spool_each(sp, queue, "cur", recover_cur, &c, err)) ||
	    (st = mf_spool_each(sp, queue, "tmp", recover_tmp, &c, err)))
		return st;
	if (put_back)
		*put_back = c.put_back;
	if (removed)
		*removed = c.removed;
	return c.st;
}

static enum mf_status find_by_path(struct mf_spool *sp, const char *name,
				   char *qout, size_t qsz, char *subout,
				   char *idout, struct mf_err *err)
{
	char real[PATH_MAX], root[PATH_MAX];
	char *rest, *q, *sub, *id;
	size_t rl;

	if (!realpath(sp->root, root))
		return mf_err_errno(err, errno, "spool %s", sp->root);
	if (!realpath(name, real))
		return errno == ENOENT ? mf_err_set(err, MF_ENOENT, "%.200s: no such entry", name)
				       : mf_err_errno(err, errno, "%.200s", name);
	rl = strlen(root);
	if (strncmp(real, root, rl) || real[rl] != '/')
		return mf_err_set(err, MF_EUSAGE, "%.200s: not inside the spool %s", name, root);
	rest = real + rl + 1;
	q = strtok_r(rest, "/", &rest);
	sub = q ? strtok_r(rest, "/", &rest) : NULL;
	id = sub ? strtok_r(rest, "/", &rest) : NULL;
	if (!id || strtok_r(rest, "/", &rest) || !mf_queue_valid(q) ||
	    (strcmp(sub, "new") && strcmp(sub, "cur")) || !mf_id_valid(id))
		return mf_err_set(err, MF_EUSAGE, "%.200s: not a spool entry (QUEUE/new/ID or QUEUE/cur/ID)", name);
	snprintf(qout, qsz, "%s", q);
	snprintf(subout, 4, "%s", sub);
	snprintf(idout, MF_ID_MAX, "%s", id);
	return MF_OK;
}

enum mf_status mf_spool_find(struct mf_spool *sp, const char *queue,
			     const char *name, char *qout, size_t qsz,
			     char *subout, char *idout, struct mf_err *err)
{
	static const char *const subs[] = { "new", "cur" };
	const char *const *q;
	char path[PATH_MAX];
	struct stat sb;
	enum mf_status st;
	size_t i;

	if (strchr(name, '/'))
		return find_by_path(sp, name, qout, qsz, subout, idout, err);
	if (!mf_id_valid(name))
		return mf_err_set(err, MF_EUSAGE, "'%.200s' is not an entry id", name);
	for (q = mf_queues; *q; q++) {
		if (queue && strcmp(queue, *q))
			continue;
		for (i = 0; i < 2; i++) {
			if ((st = path_fmt(path, sizeof path, err, "%s/%s/%s/%s",
					   sp->root, *q, subs[i], name)))
				return st;
			if (lstat(path, &sb) == 0 && S_ISDIR(sb.st_mode) &&
			    check_queue_dirs(sp, *q, subs[i], NULL) == MF_OK) {
				snprintf(qout, qsz, "%s", *q);
				snprintf(subout, 4, "%s", subs[i]);
				snprintf(idout, MF_ID_MAX, "%s", name);
				return MF_OK;
			}
		}
	}
	return mf_err_set(err, MF_ENOENT, "no entry '%.200s'%s%s", name,
			  queue ? " in " : "", queue ? queue : "");
}
