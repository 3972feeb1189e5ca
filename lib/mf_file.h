/* SPDX-License-Identifier: MIT */
/* Small file helpers: whole writes, bounded reads, secrets from files. */
#ifndef MF_FILE_H
#define MF_FILE_H

#include <stddef.h>
#include <sys/types.h>

#include "mf_status.h"

/* Write all n bytes (retrying short writes and EINTR); 0, or -1 with errno. */
int mf_write_all(int fd, const void *p, size_t n);
/* Read until bufsz bytes or end of file; the count, or -1 with errno. */
ssize_t mf_read_upto(int fd, void *buf, size_t bufsz);

/*
 * A secret (the HMAC key of the scanned mark, an SMTP AUTH password) read
 * from a file that must be a regular file, not a symlink, with no access for
 * group or others (0600 or 0400), holding min to max bytes after one
 * trailing "\n" or "\r\n" is dropped.  Every refusal is MF_ECONFIG with one
 * line saying why ("secret file F must not be readable by group or others
 * (chmod 600)").  data is NUL-terminated (len excludes the NUL) so that a
 * password can be used as a string; mf_secret_free() wipes it, and the
 * read buffer is wiped before returning.
 */
struct mf_secret {
	unsigned char *data;
	size_t len;
};

#define MF_SECRET_MAX 4096

enum mf_status mf_secret_load(const char *path, size_t min, size_t max,
			      struct mf_secret *sec, struct mf_err *err);
void mf_secret_free(struct mf_secret *sec);

#endif
