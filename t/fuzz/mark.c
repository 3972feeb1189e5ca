/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the "already scanned" mark (mf_mark), which mf-send reads
 * from the headers of mail that came from outside.  Input: a header value,
 * NUL, a sender, NUL, a message.  Properties: a mark made for any identity
 * verifies for it (and not for another sender); a value the input offers is
 * either refused with one line or is exactly the mark made for its time; the
 * Message-ID read from the message is one bounded, unfolded line.
 */
#include "fuzz.h"

#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mf_mark.h"

#define NOW 1800000000

static unsigned char secret[32] = "0123456789abcdef0123456789abcdef";
static const struct mf_mark_key key = { secret, sizeof secret };

static void check_msgid(const char *msg, size_t len, char *msgid, size_t msgidsz)
{
	struct mf_err err;
	int fd = memfd_create("message", MFD_CLOEXEC);

	FUZZ_ASSERT(fd >= 0 && write(fd, msg, len) == (ssize_t)len);
	if (mf_mark_message_id(fd, msgid, msgidsz, &err) != MF_OK) {
		fuzz_check_err(&err);
		msgid[0] = '\0';
	}
	close(fd);
	FUZZ_ASSERT(memchr(msgid, '\0', msgidsz));
	/* unfolded: no LF (a bare CR is kept and hashed as it is) */
	FUZZ_ASSERT(!strchr(msgid, '\n'));
}

static void check_offered(const char *value, const char *sender, const char *msgid)
{
	char made[MF_MARK_MAX];
	struct mf_err err;
	long t;

	if (mf_mark_verify(&key, value, sender, msgid, NOW, 3600, &err) != MF_OK) {
		fuzz_check_err(&err);
		return;
	}
	FUZZ_ASSERT(sscanf(value, "mf1; t=%ld;", &t) == 1);
	FUZZ_ASSERT(mf_mark_make(&key, (time_t)t, sender, msgid, made, &err) == MF_OK);
	FUZZ_ASSERT(!strcmp(made, value));
}

FUZZ_INIT_QUIET

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *in = fuzz_str(data, size), made[MF_MARK_MAX], msgid[256];
	const char *value = in, *sender = "", *msg = "";
	size_t off = strlen(in) + 1;
	struct mf_err err;

	if (off < size) {
		sender = in + off;
		off += strlen(sender) + 1;
		if (off < size)
			msg = in + off;
	}
	check_msgid(msg, off < size ? size - off : 0, msgid, sizeof msgid);
	check_offered(value, sender, msgid);
	if (mf_mark_make(&key, NOW - 10, sender, msgid, made, &err) == MF_OK) {
		FUZZ_ASSERT(mf_mark_verify(&key, made, sender, msgid, NOW, 3600, &err) == MF_OK);
		FUZZ_ASSERT(mf_mark_verify(&key, made, "x@other.example", msgid, NOW, 3600,
					   &err) != MF_OK || !strcmp(sender, "x@other.example"));
	} else {
		fuzz_check_err(&err);
	}
	free(in);
	return 0;
}
