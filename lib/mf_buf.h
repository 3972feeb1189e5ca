/* SPDX-License-Identifier: MIT */
/* A growable byte buffer. */
#ifndef MF_BUF_H
#define MF_BUF_H

#include <stddef.h>

/*
 * Invariants: len < cap whenever data != NULL, and data[len] == '\0', so
 * data can be used as a C string when it holds no NUL.  A zeroed struct is
 * an empty buffer.  On allocation failure the append functions return -1 and
 * leave the buffer as it was; the owner frees it with mf_buf_free().
 */
struct mf_buf {
	char *data;
	size_t len;
	size_t cap;
};

int mf_buf_grow(struct mf_buf *b, size_t extra);
int mf_buf_add(struct mf_buf *b, const void *p, size_t n);
int mf_buf_adds(struct mf_buf *b, const char *s);
int mf_buf_addf(struct mf_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void mf_buf_reset(struct mf_buf *b);
void mf_buf_free(struct mf_buf *b);
/* Give the owned string to the caller ("" when empty); the buffer becomes empty. */
char *mf_buf_detach(struct mf_buf *b);

/* Cut white space (isspace) off both ends of s, in place; the new start. */
char *mf_str_trim(char *s);

#endif
