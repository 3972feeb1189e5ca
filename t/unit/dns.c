/* SPDX-License-Identifier: MIT */
/* Unit tests for MX and address lookups (mf_dns) against the server t/0011-lib-dns.t starts. */
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mf_dns.h"
#include "tap.h"

/*
 * Environment: MF_DNS_SERVER "127.0.0.1:PORT" (dnsmasq, required);
 * MF_DNS_SERVER6 "[::1]:PORT" (the same dnsmasq over IPv6, optional);
 * MF_DNS_DEAD "127.0.0.1:PORT" where nothing listens.
 */
static const char *server, *server6, *dead;

/* The MX list of domain as "host/pref host/pref ..." into out; the status. */
static enum mf_status mx_str(const char *domain, char *out, size_t outsz, struct mf_err *err)
{
	struct mf_mx *mx = NULL;
	size_t n = 0, i, len = 0;
	enum mf_status st;

	out[0] = '\0';
	memset(err, 0, sizeof *err);
	st = mf_dns_mx(domain, &mx, &n, err);
	for (i = 0; st == MF_OK && i < n && len < outsz; i++)
		len += (size_t)snprintf(out + len, outsz - len, "%s%s/%u", i ? " " : "",
					mx[i].host, mx[i].pref);
	free(mx);
	return st;
}

/* The addresses of host as "addr#port ..." into out; the status. */
static enum mf_status addrs_str(const char *host, unsigned port, char *out, size_t outsz,
				struct mf_err *err)
{
	struct sockaddr_storage *a = NULL;
	size_t n = 0, i, len = 0;
	char ip[INET6_ADDRSTRLEN];
	enum mf_status st;

	out[0] = '\0';
	memset(err, 0, sizeof *err);
	st = mf_dns_addrs(host, port, &a, &n, err);
	for (i = 0; st == MF_OK && i < n && len < outsz; i++) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)&a[i];
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&a[i];
		int v4 = a[i].ss_family == AF_INET;

		if (v4)
			inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof ip);
		else
			inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof ip);
		len += (size_t)snprintf(out + len, outsz - len, "%s%s#%u", i ? " " : "", ip,
					ntohs(v4 ? s4->sin_port : s6->sin6_port));
	}
	free(a);
	return st;
}

static void mx_is(const char *domain, const char *want)
{
	char got[1024], name[300];
	struct mf_err err;
	enum mf_status st = mx_str(domain, got, sizeof got, &err);

	snprintf(name, sizeof name, "mx %s: %s", domain, want);
	if (st != MF_OK)
		tap_diag("status %d: %s", st, err.msg);
	is_str(got, want, name);
}

/* s with control characters shown as '?', for a test name (static buffer). */
static const char *shown(const char *s)
{
	static char buf[48];
	size_t i;

	snprintf(buf, sizeof buf, "%.40s", s);
	for (i = 0; buf[i]; i++)
		if ((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f)
			buf[i] = '?';
	return buf;
}

/* mf_dns_mx fails with status and dsn, and the message contains text. */
static void mx_fails(const char *domain, enum mf_status want, const char *dsn, const char *text)
{
	char got[1024];
	struct mf_err err;
	enum mf_status st = mx_str(domain, got, sizeof got, &err);

	if (!ok(st == want && err.status == want && !strcmp(mf_err_dsncode(&err), dsn) &&
		strstr(err.msg, text), "mx %s fails: %s (#%s)", shown(domain), text, dsn))
		tap_diag("status %d, dsn %s, msg '%s', list '%s'", st, mf_err_dsncode(&err),
			 err.msg, got);
}

static void addrs_is(const char *host, unsigned port, const char *want)
{
	char got[1024], name[300];
	struct mf_err err;
	enum mf_status st = addrs_str(host, port, got, sizeof got, &err);

	snprintf(name, sizeof name, "addrs %s: %s", host, want);
	if (st != MF_OK)
		tap_diag("status %d: %s", st, err.msg);
	is_str(got, want, name);
}

static void addrs_fails(const char *host, enum mf_status want, const char *dsn, const char *text)
{
	char got[1024];
	struct mf_err err;
	enum mf_status st = addrs_str(host, 25, got, sizeof got, &err);

	if (!ok(st == want && !strcmp(mf_err_dsncode(&err), dsn) && strstr(err.msg, text),
		"addrs %s fails: %s (#%s)", shown(host), text, dsn))
		tap_diag("status %d, dsn %s, msg '%s'", st, mf_err_dsncode(&err), err.msg);
}

static void test_resolver_spec(void)
{
	static const char *const bad[] = { "nonsense", "127.0.0.1:", "127.0.0.1:0",
		"127.0.0.1:65536", "[::1", "[::1]x", "[::1]:99999", "1.2.3.4:5:6x", NULL };
	static const char *const good[] = { "192.0.2.1", "127.0.0.1:5353", "[::1]:5353",
		"::1", "[2001:db8::1]", NULL };
	struct mf_err err;
	size_t i;
	int all = 1;

	for (i = 0; bad[i]; i++)
		if (mf_dns_set_resolver(bad[i], &err) != MF_ECONFIG) {
			tap_diag("accepted '%s'", bad[i]);
			all = 0;
		}
	ok(all, "resolver: bad specs refused with MF_ECONFIG");
	for (all = 1, i = 0; good[i]; i++)
		if (mf_dns_set_resolver(good[i], &err) != MF_OK) {
			tap_diag("refused '%s': %s", good[i], err.msg);
			all = 0;
		}
	ok(all, "resolver: ADDR, ADDR:PORT, [V6]:PORT, V6 accepted");
	ok(mf_dns_set_resolver(NULL, &err) == MF_OK && mf_dns_set_resolver("", &err) == MF_OK,
	   "resolver: NULL and \"\" mean the system resolver");
}

/* Over 200 lookups, each of a, b, c (pref 10) comes first at least 20 times; d (20) is last. */
static void test_spread(void)
{
	int first[3] = { 0, 0, 0 }, i, bad = 0;
	struct mf_mx *mx;
	struct mf_err err;
	size_t n;

	for (i = 0; i < 200; i++) {
		if (mf_dns_mx("spread.test", &mx, &n, &err) != MF_OK) {
			tap_diag("lookup %d: %s", i, err.msg);
			bad++;
			continue;
		}
		if (n != 4 || mx[0].pref != 10 || mx[2].pref != 10 ||
		    strcmp(mx[3].host, "d.spread.test") || mx[3].pref != 20)
			bad++;
		else if (mx[0].host[0] >= 'a' && mx[0].host[0] <= 'c')
			first[mx[0].host[0] - 'a']++;
		free(mx);
	}
	ok(!bad, "spread: 200 lookups, 3 hosts at 10 then one at 20");
	if (!ok(first[0] >= 20 && first[1] >= 20 && first[2] >= 20,
		"spread: each equal-preference host first at least 20 times"))
		tap_diag("a %d, b %d, c %d", first[0], first[1], first[2]);
}

/* 300 MX hosts: all parsed, in order of preference. */
static void test_many(void)
{
	struct mf_mx *mx;
	struct mf_err err;
	size_t n, i, sorted = 1;
	enum mf_status st = mf_dns_mx("many.test", &mx, &n, &err);

	for (i = 1; st == MF_OK && i < n; i++)
		sorted &= mx[i - 1].pref <= mx[i].pref;
	if (!ok(st == MF_OK && n == 300 && sorted && !strcmp(mx[0].host, "h1.many.test"),
		"mx many.test: 300 hosts, sorted"))
		tap_diag("status %d (%s), %zu hosts", st, st ? err.msg : "", n);
	if (st == MF_OK)
		free(mx);
}

static int self_of(const char *spec)
{
	struct sockaddr_storage ss;

	return mf_dns_parse_addr(spec, &ss) < 0 ? -1 : mf_dns_is_self(&ss);
}

/* Loopback and this host's own addresses are "self"; others are not. */
static void test_self(void)
{
	struct ifaddrs *ifa, *i;
	char buf[INET6_ADDRSTRLEN + 2];
	struct sockaddr_storage ss;

	ok(self_of("127.0.0.1") == 1 && self_of("127.1.2.3:25") == 1 && self_of("0.0.0.0") == 1,
	   "self: 127/8 and 0.0.0.0");
	ok(self_of("::1") == 1 && self_of("[::ffff:127.0.0.1]:25") == 1 && self_of("::") == 1,
	   "self: ::1, v4-mapped loopback, ::");
	ok(self_of("192.0.2.1") == 0 && self_of("[2001:db8::1]:25") == 0,
	   "self: documentation addresses are not");
	ok(mf_dns_parse_addr("192.0.2.1:99999", &ss) < 0 && mf_dns_parse_addr("x", &ss) < 0,
	   "parse_addr: a bad port, a name");
	buf[0] = '\0';
	if (getifaddrs(&ifa) == 0) {
		for (i = ifa; i && !buf[0]; i = i->ifa_next)
			if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET &&
			    !(i->ifa_flags & IFF_LOOPBACK))
				inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr,
					  buf, sizeof buf);
		freeifaddrs(ifa);
	}
	if (buf[0])
		ok(self_of(buf) == 1, "self: %s, an address of an interface", buf);
	else
		ok(1, "# SKIP no interface with an IPv4 address");
}

/* Malformed answers (t/hostile_dns.py): a temporary failure, never a crash. */
static void test_hostile(void)
{
	static const char *const names[] = { "ptrloop.bad", "count.bad", "trunc.bad",
					      "rdlen.bad", "spill.bad" };
	const char *h = getenv("MF_DNS_HOSTILE");
	struct mf_err err;
	size_t i;

	if (!h || !*h || mf_dns_set_resolver(h, &err) != MF_OK) {
		for (i = 0; i < sizeof names / sizeof names[0]; i++)
			ok(1, "# SKIP MF_DNS_HOSTILE not set");
		return;
	}
	for (i = 0; i < sizeof names / sizeof names[0]; i++)
		mx_fails(names[i], MF_ETEMP, "4.4.3", "malformed");
	mf_dns_set_resolver(server, &err);
}

static void test_mx(void)
{
	mx_is("example.test", "mx1.example.test/10 mx2.example.test/20");
	mx_is("example.test.", "mx1.example.test/10 mx2.example.test/20");
	mx_is("EXAMPLE.test", "mx1.example.test/10 mx2.example.test/20");
	mx_is("only-a.test", "only-a.test/0");
	mx_is("only-a.test.", "only-a.test/0");
	mx_is("[192.0.2.1]", "[192.0.2.1]/0");
	mx_is("[IPv6:2001:db8::1]", "[IPv6:2001:db8::1]/0");
	mx_fails("nullmx.test", MF_EADDR, "5.1.10", "domain nullmx.test accepts no mail (null MX)");
	mx_fails("nx.test", MF_EADDR, "5.1.2", "domain nx.test does not exist");
	mx_fails("refused.example", MF_ETEMP, "4.4.3", "refused.example");
	mx_fails("fail.test", MF_ETEMP, "4.4.3", "MX lookup for fail.test");
	mx_fails("[300.1.1.1]", MF_EADDR, "5.1.3", "bad address literal");
	mx_fails("[IPv6:1.2.3.4]", MF_EADDR, "5.1.3", "bad address literal");
	mx_fails("bad\001.test", MF_EADDR, "5.1.3", "bad domain name");
	mx_fails("bad name.test", MF_EADDR, "5.1.3", "bad domain name");
	mx_fails("a..test", MF_EADDR, "5.1.3", "bad domain name");
	mx_fails("", MF_EADDR, "5.1.3", "bad domain name");
	mx_fails("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.test",
		 MF_EADDR, "5.1.3", "bad domain name");
	/* RFC 5321 5.1: an MX names a host; an address there is skipped */
	mx_is("mixed.test", "mx2.example.test/20");
	mx_fails("ipmx.test", MF_ETEMP, "4.4.3", "no usable MX host name");
	mx_fails("192.0.2.1", MF_EADDR, "5.1.3", "bad domain name");
	mx_fails("example.123", MF_EADDR, "5.1.3", "bad domain name");
	test_spread();
	test_many();
}

static void test_addrs(void)
{
	addrs_is("mx1.example.test", 25, "127.0.0.11#25");
	addrs_is("v6.example.test", 2525, "::1#2525");
	addrs_is("dual.example.test", 24, "127.0.0.12#24 ::1#24");
	addrs_is("[192.0.2.7]", 25, "192.0.2.7#25");
	addrs_is("192.0.2.8", 26, "192.0.2.8#26");
	addrs_is("[IPv6:2001:db8::7]", 25, "2001:db8::7#25");
	addrs_is("2001:db8::8", 25, "2001:db8::8#25");
	{
		char got[1024];
		struct mf_err err;
		enum mf_status st = addrs_str("localhost", 25, got, sizeof got, &err);

		if (!ok(st == MF_OK && (strstr(got, "127.0.0.1#25") || strstr(got, "::1#25")),
			"addrs localhost (hosts file, despite the override): %s", got))
			tap_diag("status %d: %s", st, err.msg);
	}
	addrs_fails("nohost.example.test", MF_ETEMP, "4.4.3", "host nohost.example.test does not exist");
	addrs_fails("only-mx.test", MF_ETEMP, "4.4.3", "host only-mx.test has no address");
	addrs_fails("refused.example", MF_ETEMP, "4.4.3", "refused.example");
	addrs_fails("[1.2.3]", MF_EADDR, "5.1.3", "bad address literal");
	addrs_fails("bad\nhost", MF_EADDR, "5.1.3", "bad host name");
}

static void test_ipv6_server(void)
{
	struct mf_err err;

	if (!server6 || !*server6) {
		ok(1, "# SKIP no MF_DNS_SERVER6");
		ok(1, "# SKIP no MF_DNS_SERVER6");
		return;
	}
	ok(mf_dns_set_resolver(server6, &err) == MF_OK, "resolver %s", server6);
	mx_is("example.test", "mx1.example.test/10 mx2.example.test/20");
}

static void test_dead_server(void)
{
	struct mf_err err;
	time_t t0;

	if (!dead || !*dead) {
		ok(1, "# SKIP no MF_DNS_DEAD");
		ok(1, "# SKIP no MF_DNS_DEAD");
		return;
	}
	mf_dns_set_resolver(dead, &err);
	t0 = time(NULL);
	mx_fails("example.test", MF_ETEMP, "4.4.3", "MX lookup for example.test");
	addrs_fails("mx1.example.test", MF_ETEMP, "4.4.3", "address lookup for mx1.example.test");
	tap_diag("unreachable server: %lds for two lookups", (long)(time(NULL) - t0));
}

int main(void)
{
	struct mf_err err;

	server = getenv("MF_DNS_SERVER");
	server6 = getenv("MF_DNS_SERVER6");
	dead = getenv("MF_DNS_DEAD");
	if (!server || !*server) {
		printf("1..0 # SKIP MF_DNS_SERVER not set (run t/0011-lib-dns.t)\n");
		return 0;
	}
	tap_plan(59);
	test_resolver_spec();
	test_self();
	if (!ok(mf_dns_set_resolver(server, &err) == MF_OK, "resolver %s", server))
		tap_diag("%s", err.msg);
	test_mx();
	test_hostile();
	test_addrs();
	test_ipv6_server();
	test_dead_server();
	ok(mf_dns_set_resolver(NULL, &err) == MF_OK, "resolver: back to the system one");
	addrs_is("127.0.0.1", 25, "127.0.0.1#25");
	{
		char got[1024];
		enum mf_status st = addrs_str("localhost", 587, got, sizeof got, &err);

		if (!ok(st == MF_OK && (strstr(got, "127.0.0.1#587") || strstr(got, "::1#587")),
			"addrs localhost through getaddrinfo: %s", got))
			tap_diag("status %d: %s", st, err.msg);
	}
	mf_dns_set_resolver(NULL, &err); /* releases the resolver state (valgrind) */
	return tap_done();
}
