/* SPDX-License-Identifier: MIT */
/* libFuzzer target: the envelope reader, and the round trip of its writer.
 * Whatever parses must be written back byte for byte (mf-spool(5): the
 * writer's form is the only one the reader takes), and what is written must
 * parse again and be written the same; abort() otherwise. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mf_envelope.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void write_or_abort(const struct mf_envelope *env, struct mf_buf *b)
{
	struct mf_err err;

	if (mf_envelope_format(env, b, &err) != MF_OK)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mf_envelope env, again;
	struct mf_buf b1 = { 0 }, b2 = { 0 };
	struct mf_err err;
	enum mf_status st;

	mf_envelope_init(&env);
	st = mf_envelope_parse((const char *)data, size, &env, &err);
	if (st != MF_OK) {
		if (st != MF_ECORRUPT && st != MF_ENOMEM)
			abort();
		mf_envelope_free(&env);
		return 0;
	}
	write_or_abort(&env, &b1);
	if (b1.len != size || memcmp(b1.data, data, size))
		abort(); /* write(parse(x)) != x */
	mf_envelope_init(&again);
	if (mf_envelope_parse(b1.data, b1.len, &again, &err) != MF_OK)
		abort();
	write_or_abort(&again, &b2);
	if (b1.len != b2.len || memcmp(b1.data, b2.data, b1.len))
		abort();
	mf_envelope_free(&again);
	mf_envelope_free(&env);
	mf_buf_free(&b1);
	mf_buf_free(&b2);
	return 0;
}
