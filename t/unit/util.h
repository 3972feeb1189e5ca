/* SPDX-License-Identifier: MIT */
/* Small helpers shared by the unit tests: files, pipes, child processes. */
#ifndef MF_T_UTIL_H
#define MF_T_UTIL_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

/* Write n bytes to path (created 0600, truncated); 0 or -1. */
/* printf into one of 8 rotating buffers: a path for a call's argument. */
static inline const char *pathf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline const char *pathf(const char *fmt, ...)
{
	static char buf[8][PATH_MAX];
	static int i;
	va_list ap;

	i = (i + 1) % 8;
	va_start(ap, fmt);
	vsnprintf(buf[i], sizeof buf[i], fmt, ap);
	va_end(ap);
	return buf[i];
}

static inline int t_write_file(const char *path, const void *p, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	const char *s = p;
	ssize_t w;

	if (fd < 0)
		return -1;
	while (n) {
		w = write(fd, s, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			close(fd);
			return -1;
		}
		s += w;
		n -= (size_t)w;
	}
	return close(fd);
}

static inline int t_write_str(const char *path, const char *s)
{
	return t_write_file(path, s, strlen(s));
}

/* Read the whole file into a malloc'ed, NUL-terminated buffer; NULL on error. */
static inline char *t_read_file(const char *path, size_t *len)
{
	struct stat sb;
	char *p;
	size_t got = 0;
	ssize_t r;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return NULL;
	if (fstat(fd, &sb) < 0 || !(p = malloc((size_t)sb.st_size + 1))) {
		close(fd);
		return NULL;
	}
	while (got < (size_t)sb.st_size &&
	       (r = read(fd, p + got, (size_t)sb.st_size - got)) > 0)
		got += (size_t)r;
	close(fd);
	p[got] = '\0';
	if (len)
		*len = got;
	return p;
}

/* Whether path exists (lstat). */
static inline int t_exists(const char *path)
{
	struct stat sb;

	return lstat(path, &sb) == 0;
}

/* Number of entries in dir other than "." and ".."; -1 when it cannot be read. */
static inline int t_count_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

/* File mode bits (07777) of path, or -1. */
static inline int t_mode(const char *path)
{
	struct stat sb;

	return lstat(path, &sb) == 0 ? (int)(sb.st_mode & 07777) : -1;
}

/* Write all n bytes; 0 or -1. */
static inline int t_write_all(int fd, const char *p, size_t n)
{
	ssize_t w;

	while (n) {
		w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/*
 * A child process that writes data to a pipe in chunks of chunk bytes (0: all
 * at once), pausing pause_us microseconds after each chunk, then exits.
 * Returns the read end; *pid receives the child's pid.
 */
static inline int t_pipe_writer(const char *data, size_t len, size_t chunk,
				unsigned pause_us, pid_t *pid)
{
	int fds[2];
	size_t off = 0, n;

	*pid = -1;
	if (pipe(fds) < 0)
		return -1;
	*pid = fork();
	if (*pid < 0)
		return -1;
	if (*pid == 0) {
		signal(SIGPIPE, SIG_DFL);
		close(fds[0]);
		while (off < len) {
			n = chunk && len - off > chunk ? chunk : len - off;
			if (t_write_all(fds[1], data + off, n) < 0)
				_exit(3);
			off += n;
			if (pause_us)
				usleep(pause_us);
		}
		close(fds[1]);
		_exit(0);
	}
	close(fds[1]);
	return fds[0];
}

/* A child that writes each of the parts, pausing pause_us after each one. */
static inline int t_pipe_parts(const char *const *parts, const size_t *lens,
			       size_t nparts, unsigned pause_us, pid_t *pid)
{
	int fds[2];
	size_t i;

	*pid = -1;
	if (pipe(fds) < 0)
		return -1;
	*pid = fork();
	if (*pid < 0)
		return -1;
	if (*pid == 0) {
		close(fds[0]);
		for (i = 0; i < nparts; i++) {
			if (t_write_all(fds[1], parts[i], lens[i]) < 0)
				_exit(3);
			usleep(pause_us);
		}
		close(fds[1]);
		_exit(0);
	}
	close(fds[1]);
	return fds[0];
}

/* Wait for pid; its exit status, or 128 + signal, or -1. */
static inline int t_wait(pid_t pid)
{
	int ws;

	if (pid <= 0)
		return -1;
	while (waitpid(pid, &ws, 0) < 0)
		if (errno != EINTR)
			return -1;
	if (WIFEXITED(ws))
		return WEXITSTATUS(ws);
	if (WIFSIGNALED(ws))
		return 128 + WTERMSIG(ws);
	return -1;
}

#endif
