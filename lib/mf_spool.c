/* SPDX-License-Identifier: MIT */
/* The spool: queues of maildir-style entries (see mf-spool(5)). */
#include "mf_spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
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

const char *const mf_queues[] = { "in", "out", "failed", "quarantine", "corrupt", NULL };

int mf_queue_valid(const char *q)
{
	const char *const *p;

	for (p = mf_queues; *p; p++)
		if (!strcmp(*p, q))
			return 1;
	return 0;
}

/* one or more digits, then the character end; the position after it */
static const char *digits_then(const char *p, char end)
{
	const char *q = p;

	while (*q >= '0' && *q <= '9')
		q++;
	return q > p && *q == end ? q + 1 : NULL;
}

static int host_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';
}

/* TIME.MusecPpidQcount.HOST, the names make_id() gives */
int mf_id_valid(const char *id)
{
	const char *p = id;

	if (strnlen(id, MF_ID_MAX) >= MF_ID_MAX)
		return 0;
	if (!(p = digits_then(p, '.')) || *p++ != 'M' || !(p = digits_then(p, 'P')) ||
	    !(p = digits_then(p, 'Q')) || !(p = digits_then(p, '.')) || !*p)
		return 0;
	for (; *p; p++)
		if (!host_char(*p))
			return 0;
	return 1;
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
	if (strlen(root) > MF_SPOOL_ROOT_MAX)
		return mf_err_set(err, MF_ECONFIG, "spool %.60s...: %zu bytes, longer than the %d "
				  "that leave room for entry paths", root, strlen(root), MF_SPOOL_ROOT_MAX);
	if (stat(root, &st) < 0)
		return mf_err_errno(err, errno, "spool %s", root);
	if (!S_ISDIR(st.st_mode))
		return mf_err_set(err, MF_EIO, "spool %s: not a directory", root);
	/* Its owner is the spool's owner, whom everything below must belong to
	 * (or to the user this tool runs as: [General] User may differ). */
	if (st.st_mode & S_IWOTH)
		return mf_err_set(err, MF_ETEMP, "spool %s is world-writable (chmod 700); refusing it",
				  root);
	sp->uid = st.st_uid;
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
	mf_spool_reap_wait(sp);
	free(sp->root);
	sp->root = NULL;
}

/* The spool's owner, or the user this process runs as (root, before it
 * drops to the owner, makes its own directories and files). */
static int trusted_uid(const struct mf_spool *sp, uid_t uid)
{
	return uid == sp->uid || uid == geteuid();
}

/*
 * The spool holds only real directories: a symlink planted in it (a queue,
 * new/ or cur/, or an entry) must not lead a tool outside.  Queue and sub
 * directories are checked with lstat(); entries are opened with O_NOFOLLOW.
 */
static enum mf_status check_real_dir(struct mf_spool *sp, const char *path,
				     struct mf_err *err)
{
	struct stat sb;

	if (lstat(path, &sb) < 0)
		return errno == ENOENT ? mf_err_set(err, MF_ENOENT, "%s: no such directory", path)
				       : mf_err_errno(err, errno, "%s", path);
	if (!S_ISDIR(sb.st_mode))
		return mf_err_set(err, MF_EIO, "%s: not a directory (a symlink?); refusing it", path);
	if (sb.st_mode & S_IWOTH)
		return mf_err_set(err, MF_ETEMP, "%s is world-writable; refusing it (chmod 700)", path);
	if (!trusted_uid(sp, sb.st_uid))
		return mf_err_set(err, MF_ETEMP, "%s is owned by uid %u, not by the spool's owner "
				  "(uid %u); refusing it", path, (unsigned)sb.st_uid, (unsigned)sp->uid);
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
	    (st = check_real_dir(sp, path, err)) ||
	    (st = path_fmt(path, sizeof path, err, "%s/%s/%s", sp->root, queue, sub)))
		return st;
	return check_real_dir(sp, path, err);
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
		if ((st = check_queue_dirs(sp, queue, "cur", err)) ||
		    (st = check_queue_dirs(sp, queue, "new", err)))
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
	return openat(e->dirfd, name, flags | O_CLOEXEC | O_NOFOLLOW, 0600);
}

static int clear_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
}

/* Why the file open as fd cannot be trusted, or NULL when it can. */
static const char *untrusted(struct mf_entry *e, int fd)
{
	struct stat sb;

	if (fstat(fd, &sb) < 0)
		return NULL; /* the read will fail and say why */
	if (!S_ISREG(sb.st_mode))
		return "not a regular file";
	if (!trusted_uid(e->spool, sb.st_uid))
		return "owned by another user";
	if (sb.st_nlink != 1)
		return "has more than one link";
	return NULL;
}

enum mf_status mf_entry_open_file(struct mf_entry *e, const char *name,
				  int flags, int *fdp, struct mf_err *err)
{
	const char *why;
	int fd;

	*fdp = -1;
	fd = mf_entry_openat(e, name, (flags & ~O_CREAT) | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return errno == ENOENT ? mf_err_set(err, MF_ECORRUPT, "%s/%s: missing", e->path, name)
		     : errno == ELOOP ? mf_err_set(err, MF_ECORRUPT, "%s/%s: a symlink", e->path, name)
		     : errno == ENXIO ? mf_err_set(err, MF_ECORRUPT, "%s/%s: not a regular file",
						   e->path, name)
		     : errno == EACCES ? mf_err_set(err, MF_ECORRUPT, "%s/%s: not readable by the "
						    "spool's owner", e->path, name)
		     : mf_err_errno(err, errno, "open %s/%s", e->path, name);
	if ((why = untrusted(e, fd)) || (!(flags & O_NONBLOCK) && clear_nonblock(fd) < 0)) {
		close(fd);
		return why ? mf_err_set(err, MF_ECORRUPT, "%s/%s: %s", e->path, name, why)
			   : mf_err_errno(err, errno, "fcntl %s/%s", e->path, name);
	}
	*fdp = fd;
	return MF_OK;
}

int mf_entry_create_file(struct mf_entry *e, const char *name)
{
	int fd;

	if (e->nfiles == MF_ENTRY_FILES || strcmp(e->sub, "tmp")) {
		errno = EINVAL;
		return -1;
	}
	fd = mf_entry_openat(e, name, O_WRONLY | O_CREAT | O_EXCL);
	if (fd < 0 && errno == EEXIST && unlinkat(e->dirfd, name, 0) == 0)
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

/* Unlink whatever is left in the directory open as fd (never following a link). */
static void remove_rest(int fd)
{
	DIR *d = fdopendir(fd);
	struct dirent *de;

	if (!d) {
		close(fd);
		return;
	}
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			unlinkat(fd, de->d_name, 0);
	closedir(d);
}

/* Empty the entry directory PATH (open as dirfd, or -1) and remove it: the
 * files every entry has by name first, so that even without a free
 * descriptor for readdir an entry of its own is emptied; the directory is
 * listed only when something else (an envelope.new) is left.  -1 + errno
 * when it stays. */
static int remove_dir(int dirfd, const char *path)
{
	static const char *const known[] = { "envelope", "message" };
	size_t i;
	int fd;

	for (i = 0; dirfd >= 0 && i < sizeof known / sizeof known[0]; i++)
		unlinkat(dirfd, known[i], 0);
	if (rmdir(path) == 0)
		return 0;
	if (errno != ENOTEMPTY && errno != EEXIST)
		return -1;
	fd = open_entry_dir(path);
	if (fd >= 0)
		remove_rest(fd);
	return rmdir(path);
}

void mf_entry_abort(struct mf_entry *e)
{
	if (!e->path[0])
		return;
	close_files(e); /* frees descriptors for the removal */
	if (remove_dir(e->dirfd, e->path) < 0 && errno != ENOENT)
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

/*
 * Trash.  A removed entry is renamed into its queue's tmp/ as trash.ID: that
 * rename (made durable by the caller's fsync of the directory it left) is the
 * removal; emptying and removing the directory is only freeing space.  With
 * mf_spool_remove_async() on, a thread of this process does that off the
 * delivery path (on a file system mounted with discard each freed block costs
 * a synchronous discard).  Nothing ever delivers, lists or requeues trash; the
 * recovery removes a leftover at once (a crash, a kill), whatever its age.
 */
#define TRASH_PREFIX "trash."
#define REAP_SLOTS 256 /* removals waiting for the thread; more are done inline */

int mf_trash_name(const char *name)
{
	return !strncmp(name, TRASH_PREFIX, sizeof TRASH_PREFIX - 1) &&
	       mf_id_valid(name + sizeof TRASH_PREFIX - 1);
}

struct mf_reaper {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t more;
	char *paths[REAP_SLOTS];
	unsigned head, count;
	int stopping;
	pid_t pid;            /* the process whose thread it is (not a forked copy) */
};

/* Remove the trash directory PATH; what stays is the recovery's. */
static int remove_trash(const char *path)
{
	int fd = open_entry_dir(path), rc, saved;

	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	rc = remove_dir(fd, path);
	saved = errno;
	close(fd);
	errno = saved;
	return rc < 0 && errno != ENOENT ? -1 : 0;
}

static void *reap_loop(void *arg)
{
	struct mf_reaper *r = arg;
	char *path;

	pthread_mutex_lock(&r->lock);
	for (;;) {
		while (!r->count && !r->stopping)
			pthread_cond_wait(&r->more, &r->lock);
		if (!r->count)
			break;
		path = r->paths[r->head];
		r->head = (r->head + 1) % REAP_SLOTS;
		r->count--;
		pthread_mutex_unlock(&r->lock);
		remove_trash(path);
		free(path);
		pthread_mutex_lock(&r->lock);
	}
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

static struct mf_reaper *reaper_start(void)
{
	struct mf_reaper *r = calloc(1, sizeof *r);
	sigset_t all, old;
	int rc;

	if (!r)
		return NULL;
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->more, NULL);
	r->pid = getpid();
	/* signals stay the main thread's (a queue run's stop flag) */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&r->thread, NULL, reap_loop, r);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc) {
		pthread_cond_destroy(&r->more);
		pthread_mutex_destroy(&r->lock);
		free(r);
		return NULL;
	}
	return r;
}

/* Hand PATH to the thread; 0 when the caller must remove it itself. */
static int reap_later(struct mf_spool *sp, const char *path)
{
	struct mf_reaper *r = sp->reaper;
	char *copy;
	int queued = 0;

	if (!sp->async_remove)
		return 0;
	if (r && r->pid != getpid())
		r = sp->reaper = NULL; /* a forked copy: the thread is the parent's */
	if (!r && !(r = sp->reaper = reaper_start()))
		return 0;
	if (!(copy = strdup(path)))
		return 0;
	pthread_mutex_lock(&r->lock);
	if (r->count < REAP_SLOTS) {
		r->paths[(r->head + r->count) % REAP_SLOTS] = copy;
		queued = 1;
		if (r->count++ == 0) /* the thread waits only on an empty queue */
			pthread_cond_signal(&r->more);
	}
	pthread_mutex_unlock(&r->lock);
	if (!queued)
		free(copy);
	return queued;
}

void mf_spool_reap_wait(struct mf_spool *sp)
{
	struct mf_reaper *r = sp->reaper;

	sp->reaper = NULL;
	if (!r || r->pid != getpid())
		return;
	pthread_mutex_lock(&r->lock);
	r->stopping = 1;
	pthread_cond_signal(&r->more);
	pthread_mutex_unlock(&r->lock);
	pthread_join(r->thread, NULL); /* at most REAP_SLOTS removals away */
	pthread_cond_destroy(&r->more);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

void mf_spool_remove_async(struct mf_spool *sp, int on)
{
	sp->async_remove = on;
	if (!on)
		mf_spool_reap_wait(sp);
}

static enum mf_status rename_to_trash(struct mf_entry *e, struct mf_err *err)
{
	char to[PATH_MAX];
	enum mf_status st;

	if ((st = path_fmt(to, sizeof to, err, "%s/%s/tmp/" TRASH_PREFIX "%s",
			   e->spool->root, e->queue, e->id)) ||
	    (st = check_queue_dirs(e->spool, e->queue, "tmp", err)))
		return st;
	if (rename(e->path, to) < 0)
		return errno == ENOENT ? mf_err_set(err, MF_ENOENT, "%s: gone", e->path)
				       : mf_err_errno(err, errno, "rename %s", e->path);
	memcpy(e->path, to, sizeof to);
	snprintf(e->sub, sizeof e->sub, "tmp");
	return MF_OK;
}

enum mf_status mf_entry_remove_nosync(struct mf_entry *e, struct mf_err *err)
{
	enum mf_status st = MF_OK;

	/* Out of the queue first, in one rename: a crash then leaves trash
	 * that recovery removes, never a half-emptied entry in new/ or cur/
	 * that looks like mail. */
	if (strcmp(e->sub, "tmp") && (st = rename_to_trash(e, err)))
		return st;
	if (!reap_later(e->spool, e->path) && remove_dir(e->dirfd, e->path) < 0 &&
	    errno != ENOENT)
		st = mf_err_errno(err, errno, "remove %s", e->path); /* left for the recovery */
	mf_entry_close(e);
	return st;
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

/* An entry holding neither file was being removed when a crash came. */
static int emptied(struct mf_entry *e)
{
	struct stat sb;

	return fstatat(e->dirfd, "message", &sb, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT &&
	       fstatat(e->dirfd, "envelope", &sb, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT;
}

enum mf_status mf_entry_set_aside(struct mf_entry *e, const struct mf_err *why,
				  struct mf_err *err)
{
	char msg[MF_ERR_MAX], code[16];
	enum mf_status st;

	snprintf(msg, sizeof msg, "%s", why ? why->msg : "corrupt entry");
	snprintf(code, sizeof code, "%s", why ? mf_err_dsncode(why) : "5.6.0");
	if (emptied(e)) {
		mf_log(LOG_NOTICE, "%s/%s/%s: empty entry (a removal cut short); removed",
		       e->queue, e->sub, e->id);
		st = mf_entry_remove(e, err);
		e->path[0] = '\0'; /* nothing to name any more */
		return st;
	}
	if ((st = mf_entry_move(e, MF_CORRUPT_QUEUE, err)))
		return st;
	mf_log(LOG_ERR, "%s (#%s); set aside in %s/", msg, code, MF_CORRUPT_QUEUE);
	return MF_OK;
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

	if ((st = mf_entry_open_file(e, "envelope", O_RDONLY, &fd, err)))
		return st;
	while ((n = read(fd, chunk, sizeof chunk)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			st = mf_err_errno(err, errno, "read %s/envelope", e->path);
			break;
		}
		if (b.len + (size_t)n > MF_ENVELOPE_MAX) {
			st = mf_err_set(err, MF_ECORRUPT, "%s/envelope: too large", e->path);
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
	if (!strcmp(e->sub, "tmp") &&
	    faccessat(e->dirfd, "envelope", F_OK, AT_SYMLINK_NOFOLLOW) < 0) {
		/* A new entry: nobody sees it before the commit, which syncs it. */
		fd = mf_entry_create_file(e, "envelope");
		st = fd < 0 || mf_write_all(fd, b.data, b.len) < 0
			? mf_err_errno(err, errno, "write %s/envelope", e->path) : MF_OK;
		mf_buf_free(&b);
		return st;
	}
	/* a stale or planted temp is removed, never written through */
	if (unlinkat(e->dirfd, "envelope.new", 0) < 0 && errno != ENOENT)
		fd = -1;
	else
		fd = mf_entry_openat(e, "envelope.new", O_WRONLY | O_CREAT | O_EXCL);
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

	if (fstatat(e->dirfd, "message", &sb, AT_SYMLINK_NOFOLLOW) < 0)
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

static enum mf_status each(struct mf_spool *sp, const char *queue,
			   const char *sub, int all, mf_spool_fn fn, void *ctx,
			   struct mf_err *err)
{
	char dir[PATH_MAX];
	char **names;
	size_t n, i;
	enum mf_status st;
	int stop = 0;

	/* never list (and so never move things out of) a directory a link leads to */
	if ((st = check_queue_dirs(sp, queue, sub, err)))
		return st == MF_ENOENT ? MF_OK : st;
	if ((st = path_fmt(dir, sizeof dir, err, "%s/%s/%s", sp->root, queue, sub)) ||
	    (st = read_names(dir, &names, &n, err)))
		return st;
	for (i = 0; i < n; i++) {
		if (!stop && (all || mf_id_valid(names[i])))
			stop = fn(sp, queue, sub, names[i], ctx);
		free(names[i]);
	}
	free(names);
	return MF_OK;
}

enum mf_status mf_spool_each(struct mf_spool *sp, const char *queue,
			     const char *sub, mf_spool_fn fn, void *ctx,
			     struct mf_err *err)
{
	return each(sp, queue, sub, 0, fn, ctx, err);
}

enum mf_status mf_spool_each_name(struct mf_spool *sp, const char *queue,
				  const char *sub, mf_spool_fn fn, void *ctx,
				  struct mf_err *err)
{
	return each(sp, queue, sub, 1, fn, ctx, err);
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

/* Trash a crash (or a failed removal) left: removed at once. */
static int recover_trash(struct mf_spool *sp, const char *queue, const char *sub,
			 const char *name, void *vctx)
{
	struct recover_ctx *c = vctx;
	char path[PATH_MAX];

	if (!mf_trash_name(name) ||
	    path_fmt(path, sizeof path, NULL, "%s/%s/%s/%s", sp->root, queue, sub, name))
		return 0;
	if (remove_trash(path) < 0)
		mf_log(LOG_WARNING, "cannot remove %s: %s", path, strerror(errno));
	else
		c->removed++;
	return 0;
}

/* What is wrong with QUEUE/SUB/NAME as an entry (or as trash in tmp/), or NULL. */
static const char *bad_entry(struct mf_spool *sp, const char *queue,
			     const char *sub, const char *name)
{
	char path[PATH_MAX];
	struct stat sb;

	if (!mf_id_valid(name) && !(!strcmp(sub, "tmp") && mf_trash_name(name)))
		return "invalid entry name";
	if (path_fmt(path, sizeof path, NULL, "%s/%s/%s/%s", sp->root, queue, sub, name) ||
	    lstat(path, &sb) < 0)
		return NULL; /* gone meanwhile */
	if (!S_ISDIR(sb.st_mode))
		return "not a directory";
	if (!trusted_uid(sp, sb.st_uid) || (sb.st_mode & S_IWOTH))
		return "owned by another user or world-writable";
	return NULL;
}

/* Move QUEUE/SUB/NAME, which is no entry mf made, to corrupt/new under a
 * fresh name (the old one may hold anything); the rename never follows it. */
static int set_aside_name(struct mf_spool *sp, const char *queue,
			  const char *sub, const char *name, void *vctx)
{
	char from[PATH_MAX], to[PATH_MAX], id[MF_ID_MAX];
	const char *why = bad_entry(sp, queue, sub, name);

	if (!why)
		return 0;
	make_id(sp, id, sizeof id);
	if (mf_queue_init(sp, MF_CORRUPT_QUEUE, NULL) ||
	    path_fmt(from, sizeof from, NULL, "%s/%s/%s/%s", sp->root, queue, sub, name) ||
	    path_fmt(to, sizeof to, NULL, "%s/%s/new/%s", sp->root, MF_CORRUPT_QUEUE, id) ||
	    rename(from, to) < 0) {
		mf_log(LOG_ERR, "%s/%s/%s: %s; cannot set it aside: %s", queue, sub, name,
		       why, strerror(errno));
		return 0;
	}
	mf_queue_sync(sp, MF_CORRUPT_QUEUE, "new", NULL);
	mf_log(LOG_ERR, "%s/%s/%s: %s; set aside as %s/new/%s", queue, sub, name, why,
	       MF_CORRUPT_QUEUE, id);
	(void)vctx;
	return 0;
}

static enum mf_status sweep(struct mf_spool *sp, const char *queue,
			    struct recover_ctx *c, struct mf_err *err)
{
	static const char *const subs[] = { "new", "cur", "tmp" };
	enum mf_status st;
	size_t i;

	if (!strcmp(queue, MF_CORRUPT_QUEUE))
		return MF_OK;
	for (i = 0; i < 3; i++)
		if ((st = mf_spool_each_name(sp, queue, subs[i], set_aside_name, c, err)))
			return st;
	return MF_OK;
}

enum mf_status mf_spool_recover(struct mf_spool *sp, const char *queue,
				int64_t stalled, int64_t tmp_age,
				unsigned *put_back, unsigned *removed,
				struct mf_err *err)
{
	struct recover_ctx c = { stalled, tmp_age, 0, 0, time(NULL), err, MF_OK };
	enum mf_status st;

	if ((st = sweep(sp, queue, &c, err)) ||
	    (stalled >= 0 && (st = mf_spool_each(sp, queue, "cur", recover_cur, &c, err))) ||
	    (st = mf_spool_each(sp, queue, "tmp", recover_tmp, &c, err)) ||
	    (st = mf_spool_each_name(sp, queue, "tmp", recover_trash, &c, err)))
		return st;
	if (put_back)
		*put_back = c.put_back;
	if (removed)
		*removed = c.removed;
	return c.st;
}

enum mf_status mf_spool_sweep(struct mf_spool *sp, int64_t tmp_age,
			      struct mf_err *err)
{
	const char *const *q;
	char path[PATH_MAX];
	enum mf_status st;
	struct stat sb;

	for (q = mf_queues; *q; q++) {
		if ((st = path_fmt(path, sizeof path, err, "%s/%s/cur", sp->root, *q)))
			return st;
		if (lstat(path, &sb) < 0 || !S_ISDIR(sb.st_mode))
			continue; /* a queue not made yet */
		if ((st = mf_queue_init(sp, *q, err)) ||
		    (st = mf_spool_recover(sp, *q, -1, tmp_age, NULL, NULL, err)))
			return st;
	}
	return MF_OK;
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
