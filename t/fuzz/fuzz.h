/* SPDX-License-Identifier: MIT */
/* Helpers shared by the fuzz targets (t/fuzz/README). */
#ifndef MF_FUZZ_H
#define MF_FUZZ_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mf_log.h"
#include "mf_status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* A property does not hold: crash so that libFuzzer saves the input. */
#define FUZZ_ASSERT(cond) do { if (!(cond)) abort(); } while (0)

/* data as a NUL-terminated string (cut at the first NUL); free() it. */
static inline char *fuzz_str(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	FUZZ_ASSERT(s);
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/* An error message is one bounded line (mf_status.h). */
static inline void fuzz_check_err(const struct mf_err *err)
{
	const char *end = memchr(err->msg, '\0', sizeof err->msg);

	FUZZ_ASSERT(end);
	FUZZ_ASSERT(!memchr(err->msg, '\n', (size_t)(end - err->msg)));
	FUZZ_ASSERT(!memchr(err->msg, '\r', (size_t)(end - err->msg)));
}

/* No logging from the library while fuzzing. */
static inline void fuzz_quiet(void)
{
	mf_log_open("fuzz", MF_LOG_OFF, MF_LOG_OFF);
}

/* The LLVMFuzzerInitialize of a target that needs nothing but quiet. */
#define FUZZ_INIT_QUIET \
	int LLVMFuzzerInitialize(int *argc, char ***argv) \
	{ \
		(void)argc; \
		(void)argv; \
		fuzz_quiet(); \
		return 0; \
	}

#endif
