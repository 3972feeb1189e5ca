/* SPDX-License-Identifier: MIT */
/* Fuzz target: envelope addresses (mf_addr_check).  Properties: an accepted
 * address has no control character, fits MF_ADDR_MAX, and is accepted again
 * unchanged (checking is idempotent); a refusal is one line. */
#include "fuzz.h"

#include "mf_addr.h"

static void check_one(const uint8_t *data, size_t size, unsigned flags)
{
	char out[MF_ADDR_MAX + 1], again[MF_ADDR_MAX + 1];
	struct mf_err err;
	size_t i, n;

	if (mf_addr_check((const char *)data, size, flags, out, &err) != MF_OK) {
		fuzz_check_err(&err);
		return;
	}
	n = strlen(out);
	FUZZ_ASSERT(n <= MF_ADDR_MAX);
	FUZZ_ASSERT(n || (flags & MF_ADDR_ALLOW_NULL));
	for (i = 0; i < n; i++)
		FUZZ_ASSERT((unsigned char)out[i] >= 32 && out[i] != 127);
	FUZZ_ASSERT(mf_addr_check(out, n, flags, again, &err) == MF_OK);
	FUZZ_ASSERT(!strcmp(out, again));
}

FUZZ_INIT_QUIET

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_one(data, size, 0);
	check_one(data, size, MF_ADDR_ALLOW_NULL);
	return 0;
}
