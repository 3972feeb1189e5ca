/* SPDX-License-Identifier: MIT */
/* Small file helpers: whole writes, bounded reads, secrets from files. */
#include "mf_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int mf_write_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;
	ssize_t w;

	while (n) {
		w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

ssize_t mf_read_upto(int fd, void *buf, size_t bufsz)
{
	size_t got = 0;
	ssize_t r;

	while (got < bufsz) {
		r = read(fd, (char *)buf + got, bufsz - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

static enum mf_status secret_open(const char *path, int *fdp, struct mf_err *err)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	*fdp = -1;
	if (fd < 0) {
		if (errno == ELOOP)
			return mf_err_set(err, MF_ECONFIG, "secret file %s is a symlink; refusing it", path);
		if (errno == ENOENT || errno == EACCES || errno == ENOTDIR)
			return mf_err_set(err, MF_ECONFIG, "secret file %s: %s", path, strerror(errno));
		return mf_err_errno(err, errno, "secret file %s", path);
	}
	*fdp = fd;
	if (fstat(fd, &st) < 0)
		return mf_err_errno(err, errno, "secret file %s", path);
	if (!S_ISREG(st.st_mode))
		return mf_err_set(err, MF_ECONFIG, "secret file %s is not a regular file", path);
	if (st.st_mode & 077)
		return mf_err_set(err, MF_ECONFIG, "secret file %s must not be readable by group "
				  "or others (chmod 600)", path);
	return MF_OK;
}

static enum mf_status secret_take(const char *path, const unsigned char *buf,
				  size_t n, size_t min, size_t max,
				  struct mf_secret *sec, struct mf_err *err)
{
	if (n > 0 && buf[n - 1] == '\n')
		n--;
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	if (n < min || n > max)
		return mf_err_set(err, MF_ECONFIG, "secret file %s must hold %zu to %zu bytes "
				  "(it holds %zu)", path, min, max, n);
	sec->data = malloc(n + 1);
	if (!sec->data)
		return mf_err_set(err, MF_ENOMEM, "out of memory");
	memcpy(sec->data, buf, n);
	sec->data[n] = '\0';
	sec->len = n;
	return MF_OK;
}

enum mf_status mf_secret_load(const char *path, size_t min, size_t max,
			      struct mf_secret *sec, struct mf_err *err)
{
	unsigned char buf[MF_SECRET_MAX + 3]; /* the secret, "\r\n", one to see "too long" */
	enum mf_status st;
	ssize_t n;
	int fd;

	sec->data = NULL;
	sec->len = 0;
	if (max > MF_SECRET_MAX)
		max = MF_SECRET_MAX;
	st = secret_open(path, &fd, err);
	if (st == MF_OK) {
		n = mf_read_upto(fd, buf, max + 3);
		if (n < 0)
			st = mf_err_errno(err, errno, "secret file %s", path);
		else if ((size_t)n == max + 3)
			st = mf_err_set(err, MF_ECONFIG, "secret file %s is longer than %zu bytes",
					path, max);
		else
			st = secret_take(path, buf, (size_t)n, min, max, sec, err);
		explicit_bzero(buf, sizeof buf);
	}
	if (fd >= 0)
		close(fd);
	return st;
}

void mf_secret_free(struct mf_secret *sec)
{
	if (!sec)
		return;
	if (sec->data) {
		explicit_bzero(sec->data, sec->len);
		free(sec->data);
	}
	sec->data = NULL;
	sec->len = 0;
}
