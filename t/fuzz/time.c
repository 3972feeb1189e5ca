/* SPDX-License-Identifier: MIT */
/* Fuzz target: durations, sizes and timestamps (mf_time).  Properties: a
 * parsed timestamp formats back to the same text; a failed parse leaves the
 * output alone; formatting any time gives the fixed shape. */
#include "fuzz.h"

#include <ctype.h>

#include "mf_time.h"

static void check_shape(const char *ts)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:ddZ";
	size_t i;

	FUZZ_ASSERT(strlen(ts) == sizeof shape - 1);
	for (i = 0; shape[i]; i++)
		FUZZ_ASSERT(shape[i] == 'd' ? isdigit((unsigned char)ts[i]) : ts[i] == shape[i]);
}

static void check_text(const char *s)
{
	char back[MF_TIMESTAMP_LEN], age[64];
	int64_t d = -7;
	uint64_t z = 7;
	time_t t = 7;

	if (mf_parse_duration(s, &d) == 0) {
		FUZZ_ASSERT(d >= 0);
		mf_format_age(d, age, sizeof age);
		FUZZ_ASSERT(strlen(age) < sizeof age);
	} else {
		FUZZ_ASSERT(d == -7);
	}
	if (mf_parse_size(s, &z) != 0)
		FUZZ_ASSERT(z == 7);
	if (mf_parse_timestamp(s, &t) == 0) {
		mf_format_timestamp(t, back);
		FUZZ_ASSERT(!strcmp(back, s));
	} else {
		FUZZ_ASSERT(t == 7);
	}
}

FUZZ_INIT_QUIET

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char ts[MF_TIMESTAMP_LEN], age[16];
	char *s = fuzz_str(data, size);
	int64_t v = 0;

	check_text(s);
	free(s);
	if (size >= sizeof v) {
		memcpy(&v, data, sizeof v);
		mf_format_timestamp((time_t)v, ts);
		check_shape(ts);
		mf_format_age(v, age, sizeof age);
		FUZZ_ASSERT(strlen(age) < sizeof age);
	}
	return 0;
}
