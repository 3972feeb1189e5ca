/* SPDX-License-Identifier: MIT */
/* Unit tests for mf_buf: growth, the NUL-termination invariant, detach, reset. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mf_buf.h"
#include "tap.h"

/* The invariant stated in mf_buf.h. */
static int invariant(const struct mf_buf *b)
{
	if (!b->data)
		return b->len == 0;
	return b->len < b->cap && b->data[b->len] == '\0';
}

static void test_zeroed(void)
{
	struct mf_buf b = { 0 };

	ok(invariant(&b), "zeroed buffer satisfies the invariant");
	ok(mf_buf_add(&b, "", 0) == 0, "adding 0 bytes to an empty buffer succeeds");
	ok(b.data && b.len == 0 && b.data[0] == '\0' && invariant(&b),
	   "after an empty add the buffer is a valid empty C string");
	mf_buf_free(&b);
	ok(!b.data && !b.len && !b.cap, "free leaves a zeroed buffer");
	mf_buf_free(&b); /* twice must be harmless */
	ok(!b.data, "free twice is harmless");
}

static void test_add_growth(void)
{
	struct mf_buf b = { 0 };
	char want[100000];
	size_t i, n = 0;
	int good = 1, inv = 1;

	/* 10,000 appends of varied sizes, checking the invariant each time. */
	for (i = 0; i < 10000; i++) {
		char piece[16];
		size_t k = i % 11;
		memset(piece, 'a' + (int)(i % 26), k);
		if (mf_buf_add(&b, piece, k) < 0)
			good = 0;
		memcpy(want + n, piece, k);
		n += k;
		if (!invariant(&b) || b.len != n)
			inv = 0;
	}
	ok(good, "10000 appends succeed");
	ok(inv, "len and NUL termination hold after every append");
	is_int((long long)b.len, (long long)n, "length is the sum of the appends");
	ok(b.data && !memcmp(b.data, want, n), "contents are the appends in order");
	ok(b.cap > b.len, "cap exceeds len");
	mf_buf_free(&b);
}

static void test_add_binary(void)
{
	struct mf_buf b = { 0 };
	const char bin[] = { 'a', '\0', 'b', '\0', (char)0xff };

	ok(mf_buf_add(&b, bin, sizeof bin) == 0, "add binary data with NUL bytes");
	is_int((long long)b.len, 5, "length counts the NUL bytes");
	ok(!memcmp(b.data, bin, 5) && b.data[5] == '\0', "binary bytes kept, NUL after them");
	mf_buf_free(&b);
}

static void test_adds_addf(void)
{
	struct mf_buf b = { 0 };
	char big[5000];
	size_t i;
	int good = 1;

	ok(mf_buf_adds(&b, "Hello") == 0 && mf_buf_adds(&b, ", ") == 0,
	   "adds appends C strings");
	ok(mf_buf_addf(&b, "%s %d%c", "world", 42, '!') == 0, "addf appends formatted text");
	is_str(b.data, "Hello, world 42!", "adds and addf concatenate");
	is_int((long long)b.len, (long long)strlen("Hello, world 42!"), "len matches strlen");
	ok(invariant(&b), "invariant after addf");

	/* addf growing the buffer far past its capacity in one call */
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	mf_buf_reset(&b);
	ok(mf_buf_addf(&b, "[%s]", big) == 0, "addf of a 5000-byte string");
	is_int((long long)b.len, 5000 + 1, "addf length with a large argument");
	ok(b.data[0] == '[' && b.data[5000] == ']' && b.data[5001] == '\0',
	   "large addf is complete and NUL-terminated");

	/* many small addf calls (each reuses the va_list twice) */
	mf_buf_reset(&b);
	for (i = 0; i < 2000; i++)
		if (mf_buf_addf(&b, "%zu,", i) < 0 || !invariant(&b))
			good = 0;
	ok(good, "2000 addf appends keep the invariant");
	ok(!strncmp(b.data, "0,1,2,3,", 8) && !strcmp(b.data + b.len - 5, "1999,"),
	   "addf appends are in order");

	/* an empty format */
	{
		size_t before = b.len;
		ok(mf_buf_addf(&b, "%s", "") == 0 && b.len == before && invariant(&b),
		   "addf of an empty string changes nothing");
	}
	mf_buf_free(&b);

	/* addf into a zeroed buffer */
	ok(mf_buf_addf(&b, "%d", 7) == 0 && b.data && !strcmp(b.data, "7"),
	   "addf into a zeroed buffer");
	mf_buf_free(&b);
}

static void test_reset(void)
{
	struct mf_buf b = { 0 };
	size_t cap;

	mf_buf_reset(&b);
	ok(!b.data && b.len == 0, "reset of a zeroed buffer is harmless");
	mf_buf_adds(&b, "some text that is here");
	cap = b.cap;
	mf_buf_reset(&b);
	ok(b.len == 0 && b.data && b.data[0] == '\0', "reset empties to \"\"");
	is_int((long long)b.cap, (long long)cap, "reset keeps the allocation");
	mf_buf_adds(&b, "new");
	is_str(b.data, "new", "appending after reset starts at the beginning");
	mf_buf_free(&b);
}

static void test_detach(void)
{
	struct mf_buf b = { 0 };
	char *s;

	mf_buf_adds(&b, "owned string");
	s = mf_buf_detach(&b);
	is_str(s, "owned string", "detach returns the contents");
	ok(!b.data && b.len == 0 && b.cap == 0, "buffer is empty after detach");
	ok(mf_buf_adds(&b, "again") == 0 && !strcmp(b.data, "again") && b.data != s,
	   "buffer is reusable after detach and does not share the detached string");
	free(s);
	mf_buf_free(&b);

	s = mf_buf_detach(&b);
	ok(s && !strcmp(s, ""), "detach of an empty buffer gives \"\"");
	free(s);

	mf_buf_add(&b, "", 0);
	s = mf_buf_detach(&b);
	ok(s && !strcmp(s, ""), "detach of an allocated empty buffer gives \"\"");
	free(s);
}

static void test_grow(void)
{
	struct mf_buf b = { 0 };

	ok(mf_buf_grow(&b, 1000) == 0 && b.cap >= 1001, "grow reserves room plus the NUL");
	is_int((long long)b.len, 0, "grow does not change len");
	ok(mf_buf_grow(&b, SIZE_MAX) == -1, "grow by SIZE_MAX fails");
	ok(mf_buf_add(&b, "x", SIZE_MAX) == -1, "add of an impossible size fails");
	ok(mf_buf_add(&b, "x", SIZE_MAX >> 2) == -1, "add of a size realloc cannot give fails");
	ok(b.len == 0 && b.cap >= 1001, "a failed add leaves the buffer as it was");
	mf_buf_free(&b);
}

int main(void)
{
	tap_plan(40);
	test_zeroed();
	test_add_growth();
	test_add_binary();
	test_adds_addf();
	test_reset();
	test_detach();
	test_grow();
	return tap_done();
}
