/* SPDX-License-Identifier: MIT */
/* MX and address lookups for mf-send, with a resolver address of our own. */
#ifndef MF_DNS_H
#define MF_DNS_H

#include <stddef.h>
#include <sys/socket.h>

#include "mf_status.h"

/*
 * Contract: lookups go to the system resolver (/etc/resolv.conf), or to the
 * one name server set with mf_dns_set_resolver("ADDR[:PORT]") -- the
 * [Sender] Resolver setting, which also lets tests use a DNS server on a
 * high loopback port.  /etc/hosts is not consulted for MX; for addresses it
 * is, as getaddrinfo would (so "localhost" works).
 *
 * mf_dns_mx(): the hosts to try for a domain, in order: by preference, hosts
 * of equal preference shuffled (RFC 5321 5.1).  No MX record: the domain
 * itself (implicit MX).  A null MX ("0 .", RFC 7505): MF_EADDR with DSN
 * 5.1.10.  NXDOMAIN: MF_EADDR, 5.1.2.  SERVFAIL, timeout, no answer:
 * MF_ETEMP, 4.4.3.  An address literal "[192.0.2.1]" is returned as itself.
 *
 * Names in MX records that are IP addresses ("192.0.2.1", "1.2.3", anything
 * inet_aton reads) are skipped with a log line, like other bad names; a
 * domain that is an address without brackets is a bad domain (MF_EADDR).
 *
 * mf_dns_addrs(): the IPv4 and IPv6 addresses of a host (A and AAAA through
 * the same resolver; an IP literal as itself), each with port filled in.
 * Caller frees the arrays with free().
 */
struct mf_mx {
	char host[256];
	unsigned pref;
};

enum mf_status mf_dns_set_resolver(const char *spec, struct mf_err *err);
/* "ADDR", "ADDR:PORT", "[V6ADDR]:PORT" into ss (port 0 when none); 0 or -1. */
int mf_dns_parse_addr(const char *spec, struct sockaddr_storage *ss);
/* 1 when ss is this host: a loopback or unspecified address (127/8, ::1,
 * 0.0.0.0, ::, and their v4-mapped forms) or an address of one of its
 * interfaces (getifaddrs).  Ports are not looked at. */
int mf_dns_is_self(const struct sockaddr_storage *ss);
int mf_dns_same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b);
enum mf_status mf_dns_mx(const char *domain, struct mf_mx **mx, size_t *n,
			 struct mf_err *err);
enum mf_status mf_dns_addrs(const char *host, unsigned port,
			    struct sockaddr_storage **addrs, size_t *n,
			    struct mf_err *err);

#endif
