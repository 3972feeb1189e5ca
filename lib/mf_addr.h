/* SPDX-License-Identifier: MIT */
/* Envelope address checks (RFC 5321 Mailbox syntax and limits). */
#ifndef MF_ADDR_H
#define MF_ADDR_H

#include <stddef.h>
#include "mf_status.h"

/* RFC 5321 4.5.3.1: local part 64, domain 255, path 256 with the brackets. */
#define MF_ADDR_LOCAL_MAX 64
#define MF_ADDR_DOMAIN_MAX 255
#define MF_ADDR_MAX 254 /* without the angle brackets */

enum {
	MF_ADDR_ALLOW_NULL = 1, /* "" and "<>" are the null sender */
};

/*
 * Check one envelope address as given on a command line or in an environment
 * variable: "user@example.org" or "<user@example.org>", surrounding blanks
 * ignored.  CR, LF, NUL and other control characters, a bad local part or
 * domain, and over-long parts are refused with MF_EADDR.  UTF-8 is allowed
 * (SMTPUTF8).  An unqualified "postmaster" is allowed (RFC 5321 4.5.1).
 * On success out (at least MF_ADDR_MAX + 1 bytes) holds the address without
 * brackets; "" is the null sender (only with MF_ADDR_ALLOW_NULL).
 */
enum mf_status mf_addr_check(const char *in, size_t inlen, unsigned flags,
			     char *out, struct mf_err *err);

#endif
