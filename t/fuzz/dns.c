/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: DNS answers (mf_dns_mx and mf_dns_addrs).  The input is the
 * answer a name server sends: this file defines res_nquery(), which the link
 * takes before libresolv's, and answers every query with the input, setting
 * h_errno from the header the way glibc does (NXDOMAIN, other RCODEs, no
 * answer records).  Properties: every MX host returned is a usable name
 * (not empty, no blank or control character, below 256 bytes) in preference
 * order; every address has the port asked for; a refusal is one line.
 */
#include "fuzz.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>

#include "mf_dns.h"

static const uint8_t *answer;
static size_t answer_len;

int res_nquery(res_state statp, const char *dname, int class, int type,
	       unsigned char *ans, int anslen)
{
	(void)dname;
	(void)class;
	(void)type;
	if (answer_len < 12 || (answer[3] & 15) == 2) {
		statp->res_h_errno = TRY_AGAIN;
		return -1;
	}
	if ((answer[3] & 15) == 3 || (answer[3] & 15) != 0) {
		statp->res_h_errno = (answer[3] & 15) == 3 ? HOST_NOT_FOUND : NO_RECOVERY;
		return -1;
	}
	if (!answer[6] && !answer[7]) {
		statp->res_h_errno = NO_DATA;
		return -1;
	}
	memcpy(ans, answer, answer_len < (size_t)anslen ? answer_len : (size_t)anslen);
	return (int)answer_len;
}

static void check_host(const char *h)
{
	size_t i, n = strlen(h);

	FUZZ_ASSERT(n > 0 && n < 256);
	for (i = 0; i < n; i++)
		FUZZ_ASSERT((unsigned char)h[i] > 32 && h[i] != 127);
}

static void check_addrs(const char *host)
{
	struct sockaddr_storage *a;
	struct mf_err err;
	size_t n, i;

	if (mf_dns_addrs(host, 2525, &a, &n, &err) != MF_OK) {
		fuzz_check_err(&err);
		return;
	}
	for (i = 0; i < n; i++)
		FUZZ_ASSERT(a[i].ss_family == AF_INET ?
			    ntohs(((struct sockaddr_in *)&a[i])->sin_port) == 2525 :
			    ntohs(((struct sockaddr_in6 *)&a[i])->sin6_port) == 2525);
	free(a);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet();
	/* our own resolver: mf_dns_addrs asks res_nquery too, not getaddrinfo */
	FUZZ_ASSERT(mf_dns_set_resolver("127.0.0.1:53", NULL) == MF_OK);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mf_mx *mx;
	struct mf_err err;
	size_t n, i;

	answer = data;
	answer_len = size;
	if (mf_dns_mx("example.org", &mx, &n, &err) != MF_OK) {
		fuzz_check_err(&err);
	} else {
		FUZZ_ASSERT(n > 0);
		for (i = 0; i < n; i++) {
			check_host(mx[i].host);
			FUZZ_ASSERT(!i || mx[i - 1].pref <= mx[i].pref);
		}
		for (i = 0; i < n && i < 3; i++)
			check_addrs(mx[i].host);
		free(mx);
	}
	check_addrs("mx.example.org");
	return 0;
}
