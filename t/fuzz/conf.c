/* SPDX-License-Identifier: MIT */
/* Fuzz target: the mf.conf loader (mf_conf_load over a memfd holding the
 * input).  Properties: a file that loads gives values its own getters accept
 * (every duration, size, list and map parses); a refusal is one line. */
#include "fuzz.h"

#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mf_conf.h"

static int conf_fd = -1;
static char conf_path[64];

static void check_values(const struct mf_conf *c)
{
	static const char *const ids[] = { NULL, "a", "relay2", "-" };
	int64_t iv[16];
	char out[128];
	size_t i, n;

	for (i = 0; i < sizeof ids / sizeof ids[0]; i++) {
		FUZZ_ASSERT(mf_conf_duration(c, "Sender", ids[i], "PipeTimeout") >= 0);
		FUZZ_ASSERT(mf_conf_str(c, "Sender", ids[i], "Address"));
		n = mf_conf_durations(c, "Sender", ids[i], "SendingIntervals", iv, 16);
		FUZZ_ASSERT(n <= 16);
		(void)mf_conf_uint(c, "Sender", ids[i], "Workers");
		(void)mf_conf_bool(c, "Sender", ids[i], "SendDSN");
		(void)mf_conf_size(c, "Receiver", ids[i], "MaxSize");
		(void)mf_conf_has_section(c, "Receiver", ids[i]);
		if (mf_conf_msgid_map(c, ids[i], out, sizeof out))
			FUZZ_ASSERT(mf_conf_check_id(out, NULL) == MF_OK);
	}
	FUZZ_ASSERT(mf_conf_spool(c, NULL));
	(void)mf_conf_duration(c, "Notifier", NULL, "DelayWarning");
	(void)mf_conf_str(c, "General", NULL, "LogLevel");
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet();
	unsetenv("MF_SPOOL");
	conf_fd = memfd_create("mf.conf", MFD_CLOEXEC);
	FUZZ_ASSERT(conf_fd >= 0);
	snprintf(conf_path, sizeof conf_path, "/proc/self/fd/%d", conf_fd);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mf_conf *c = NULL;
	struct mf_err err;

	if (conf_fd < 0)
		LLVMFuzzerInitialize(NULL, NULL);
	FUZZ_ASSERT(ftruncate(conf_fd, 0) == 0);
	FUZZ_ASSERT(pwrite(conf_fd, data, size, 0) == (ssize_t)size);
	if (mf_conf_load(conf_path, &c, &err) != MF_OK) {
		fuzz_check_err(&err);
		FUZZ_ASSERT(err.status == MF_ECONFIG || err.status == MF_ENOMEM);
		return 0;
	}
	FUZZ_ASSERT(!strcmp(mf_conf_path(c), conf_path));
	check_values(c);
	mf_conf_free(c);
	return 0;
}
