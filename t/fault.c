/* SPDX-License-Identifier: MIT */
/* t/fault.c: an LD_PRELOAD shim that makes chosen system calls fail, for tests. */
/*
 * Faults a real file system cannot produce on demand: a full disk exactly
 * when the envelope is written, an fsync that fails, a rename that fails.
 *
 *   MF_FAULT='CALL:ERRNO:N[:GLOB][,CALL:ERRNO:N[:GLOB]...]'
 *
 * CALL is one of read, write, fsync, fdatasync, close, rename, renameat,
 * mkdir, unlinkat.  The Nth call of CALL that matches GLOB fails with ERRNO (a name
 * such as ENOSPC, EIO, EDQUOT, EROFS, EACCES, ENOMEM); with "N+" that call
 * and every later matching one fail.  GLOB (fnmatch, '*' does not cross '/')
 * is matched against the trailing components of the file's path -- for
 * descriptors the path /proc/self/fd names, for *at calls the directory's
 * path joined with the name; rename matches on either name:
 *
 *   write:ENOSPC:1:envelope.new   the first write of any envelope.new
 *   fsync:EIO:1:in/tmp/?*         the fsync of the entry directory in in/tmp/
 *   rename:EIO:1:in/new/?*        the rename of an entry into in/new/
 *
 * A write or read that fails does nothing; a failing close still closes (as
 * Linux does).  With MF_FAULT_LOG=FILE each injected fault appends one line
 * "CALL PATH ERRNO" to FILE, so a test can check that its fault happened.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#define MAX_RULES 8

struct rule {
	char call[16];
	char glob[PATH_MAX];
	int err;
	unsigned long nth;
	int and_later;
	unsigned long seen;
};

static struct rule rules[MAX_RULES];
static size_t nrules;

static ssize_t (*real_read)(int, void *, size_t);
static ssize_t (*real_write)(int, const void *, size_t);
static int (*real_fsync)(int);
static int (*real_fdatasync)(int);
static int (*real_close)(int);
static int (*real_rename)(const char *, const char *);
static int (*real_renameat)(int, const char *, int, const char *);
static int (*real_mkdir)(const char *, mode_t);
static int (*real_unlinkat)(int, const char *, int);

static const struct { const char *name; int err; } errnames[] = {
	{ "ENOSPC", ENOSPC }, { "EIO", EIO }, { "EDQUOT", EDQUOT },
	{ "EROFS", EROFS }, { "EACCES", EACCES }, { "EPERM", EPERM },
	{ "ENOMEM", ENOMEM }, { "EFBIG", EFBIG }, { "ENOENT", ENOENT },
	{ "EEXIST", EEXIST }, { "EXDEV", EXDEV }, { "EINTR", EINTR },
	{ "EAGAIN", EAGAIN }, { "EBADF", EBADF },
};

static int errno_parse(const char *s)
{
	size_t i;

	for (i = 0; i < sizeof errnames / sizeof errnames[0]; i++)
		if (!strcmp(s, errnames[i].name))
			return errnames[i].err;
	return atoi(s);
}

static const char *errno_name(int e)
{
	size_t i;

	for (i = 0; i < sizeof errnames / sizeof errnames[0]; i++)
		if (errnames[i].err == e)
			return errnames[i].name;
	return "E?";
}

static void parse_rule(char *spec)
{
	struct rule *r = &rules[nrules];
	char *call, *err, *nth, *glob, *end;

	call = strtok_r(spec, ":", &spec);
	err = call ? strtok_r(spec, ":", &spec) : NULL;
	nth = err ? strtok_r(spec, ":", &spec) : NULL;
	glob = spec; /* the rest: may itself hold ':' */
	if (!nth || nrules == MAX_RULES) {
		fprintf(stderr, "fault.so: bad MF_FAULT rule\n");
		return;
	}
	snprintf(r->call, sizeof r->call, "%s", call);
	snprintf(r->glob, sizeof r->glob, "%s", glob ? glob : "");
	r->err = errno_parse(err);
	r->nth = strtoul(nth, &end, 10);
	r->and_later = *end == '+';
	nrules++;
}

/* The real calls; also run from the wrappers, in case one is called before
 * the constructor (by another library's constructor). */
static void resolve(void)
{
	if (real_write)
		return;
	real_read = (ssize_t (*)(int, void *, size_t))dlsym(RTLD_NEXT, "read");
	real_write = (ssize_t (*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");
	real_fsync = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
	real_fdatasync = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
	real_close = (int (*)(int))dlsym(RTLD_NEXT, "close");
	real_rename = (int (*)(const char *, const char *))dlsym(RTLD_NEXT, "rename");
	real_renameat = (int (*)(int, const char *, int, const char *))dlsym(RTLD_NEXT, "renameat");
	real_mkdir = (int (*)(const char *, mode_t))dlsym(RTLD_NEXT, "mkdir");
	real_unlinkat = (int (*)(int, const char *, int))dlsym(RTLD_NEXT, "unlinkat");
}

__attribute__((constructor)) static void fault_init(void)
{
	const char *env = getenv("MF_FAULT");
	char *copy, *rest, *spec;

	resolve();
	if (!env || !*env || !(copy = strdup(env)))
		return;
	for (rest = copy; (spec = strtok_r(rest, ",", &rest));)
		parse_rule(spec);
	free(copy);
}

/* Whether glob matches path or one of its trailing runs of components. */
static int tail_match(const char *glob, const char *path)
{
	const char *p;

	if (!*glob)
		return 1;
	if (fnmatch(glob, path, FNM_PATHNAME) == 0)
		return 1;
	for (p = path; (p = strchr(p, '/')); p++)
		if (fnmatch(glob, p + 1, FNM_PATHNAME) == 0)
			return 1;
	return 0;
}

static void fd_path(int fd, char *out, size_t outsz)
{
	char link[64];
	ssize_t n;

	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	n = readlink(link, out, outsz - 1);
	out[n < 0 ? 0 : n] = '\0';
}

static void at_path(int dirfd, const char *name, char *out, size_t outsz)
{
	char dir[PATH_MAX / 2];

	if (name[0] == '/' || dirfd == AT_FDCWD) {
		snprintf(out, outsz, "%s", name);
		return;
	}
	fd_path(dirfd, dir, sizeof dir);
	snprintf(out, outsz, "%s/%s", dir, name);
}

static void log_fault(const char *call, const char *path, int err)
{
	const char *file = getenv("MF_FAULT_LOG");
	char line[PATH_MAX + 64];
	int fd, n;

	if (!file || !*file)
		return;
	fd = open(file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	n = snprintf(line, sizeof line, "%s %s %s\n", call, path, errno_name(err));
	if (n > 0)
		real_write(fd, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
	real_close(fd);
}

/* The errno to fail this call with, or 0 to let it through. */
static int fault(const char *call, const char *path, const char *path2)
{
	size_t i;
	int saved = errno;

	for (i = 0; i < nrules; i++) {
		struct rule *r = &rules[i];
		if (strcmp(r->call, call))
			continue;
		if (!tail_match(r->glob, path) && !(path2 && tail_match(r->glob, path2)))
			continue;
		r->seen++;
		if (r->seen == r->nth || (r->and_later && r->seen > r->nth)) {
			log_fault(call, path, r->err);
			errno = saved;
			return r->err;
		}
	}
	errno = saved;
	return 0;
}

static int fd_fault(const char *call, int fd)
{
	char path[PATH_MAX];

	resolve();
	if (!nrules)
		return 0;
	fd_path(fd, path, sizeof path);
	return fault(call, path, NULL);
}

ssize_t read(int fd, void *buf, size_t n)
{
	int e = fd_fault("read", fd);

	if (e) {
		errno = e;
		return -1;
	}
	return real_read(fd, buf, n);
}

ssize_t write(int fd, const void *buf, size_t n)
{
	int e = fd_fault("write", fd);

	if (e) {
		errno = e;
		return -1;
	}
	return real_write(fd, buf, n);
}

int fsync(int fd)
{
	int e = fd_fault("fsync", fd);

	if (e) {
		errno = e;
		return -1;
	}
	return real_fsync(fd);
}

int fdatasync(int fd)
{
	int e = fd_fault("fdatasync", fd);

	if (e) {
		errno = e;
		return -1;
	}
	return real_fdatasync(fd);
}

int close(int fd)
{
	int e = fd_fault("close", fd);
	int rc = real_close(fd);

	if (e) {
		errno = e;
		return -1;
	}
	return rc;
}

int rename(const char *from, const char *to)
{
	int e;

	resolve();
	e = nrules ? fault("rename", from, to) : 0;

	if (e) {
		errno = e;
		return -1;
	}
	return real_rename(from, to);
}

int renameat(int fromfd, const char *from, int tofd, const char *to)
{
	char p1[PATH_MAX], p2[PATH_MAX];
	int e = 0;

	resolve();
	if (nrules) {
		at_path(fromfd, from, p1, sizeof p1);
		at_path(tofd, to, p2, sizeof p2);
		e = fault("renameat", p1, p2);
	}
	if (e) {
		errno = e;
		return -1;
	}
	return real_renameat(fromfd, from, tofd, to);
}

int mkdir(const char *path, mode_t mode)
{
	int e;

	resolve();
	e = nrules ? fault("mkdir", path, NULL) : 0;

	if (e) {
		errno = e;
		return -1;
	}
	return real_mkdir(path, mode);
}

int unlinkat(int dirfd, const char *name, int flags)
{
	char p[PATH_MAX];
	int e = 0;

	resolve();
	if (nrules) {
		at_path(dirfd, name, p, sizeof p);
		e = fault("unlinkat", p, NULL);
	}
	if (e) {
		errno = e;
		return -1;
	}
	return real_unlinkat(dirfd, name, flags);
}
