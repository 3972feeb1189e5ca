/* SPDX-License-Identifier: MIT */
/* Fuzz target: next-hop lists (mf_hop_parse_list), as [Sender] Address and
 * Options give them.  Input: one byte picking Method, then the Address text,
 * then (after a NUL) the Options.  Properties: every hop parsed is complete
 * (a port in range, an absolute path, strings terminated) and names itself
 * in one line without control characters (the name goes into logs and the
 * envelope); a refusal is one line. */
#include "fuzz.h"

#include "mf_hop.h"

static void check_hop(const struct mf_hop *h)
{
	char name[PATH_MAX + 64];
	size_t i;

	FUZZ_ASSERT(memchr(h->host, '\0', sizeof h->host));
	FUZZ_ASSERT(memchr(h->path, '\0', sizeof h->path));
	FUZZ_ASSERT(memchr(h->args, '\0', sizeof h->args));
	switch (h->kind) {
	case MF_HOP_INET:
		FUZZ_ASSERT(h->host[0]);
		/* fall through */
	case MF_HOP_MX:
		FUZZ_ASSERT(h->port >= 1 && h->port <= 65535);
		break;
	case MF_HOP_UNIX:
	case MF_HOP_PIPE:
	case MF_HOP_MAILDIR:
		FUZZ_ASSERT(h->path[0] == '/');
		break;
	}
	mf_hop_name(h, name, sizeof name);
	for (i = 0; name[i]; i++)
		FUZZ_ASSERT((unsigned char)name[i] >= 32 && name[i] != 127);
}

FUZZ_INIT_QUIET

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const methods[] = { "SMTP", "LMTP", "pipe", "smtp" };
	struct mf_hop *hops;
	struct mf_err err;
	size_t n, i, len;
	char *text;
	const char *options = NULL;

	if (size < 1)
		return 0;
	text = fuzz_str(data + 1, size - 1);
	len = strlen(text);
	if (len + 1 < size - 1)
		options = text + len + 1;
	if (mf_hop_parse_list(text, methods[data[0] % 4], options, &hops, &n, &err) != MF_OK) {
		fuzz_check_err(&err);
		free(text);
		return 0;
	}
	FUZZ_ASSERT(n > 0);
	for (i = 0; i < n; i++)
		check_hop(&hops[i]);
	free(hops);
	free(text);
	return 0;
}
