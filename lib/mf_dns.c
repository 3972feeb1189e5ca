/* SPDX-License-Identifier: MIT */
/* MX and address lookups through libresolv, with an optional name server of our own. */
#include "mf_dns.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <errno.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "mf_log.h"

/*
 * Choices not fixed by mf_dns.h:
 *
 * - One process-wide resolver state (struct __res_state), initialised on first
 *   use with res_ninit() and, when mf_dns_set_resolver() named a server, made
 *   to hold only that server (IPv4 in nsaddr_list[0]; IPv6 through the
 *   _u._ext.nsaddrs[0] slot glibc reads when nsaddr_list[0].sin_family is 0).
 *   Not thread-safe: mf tools are single-threaded.  mf_dns_set_resolver()
 *   releases the state (the next lookup makes it again), so a tool may call
 *   mf_dns_set_resolver(NULL) before it exits to leave nothing allocated.
 * - Timeouts: each try waits at most DNS_RETRANS seconds (glibc doubles it for
 *   the second try) and at most DNS_RETRY tries are made, also when
 *   /etc/resolv.conf asks for more: a silent server costs about 6 s per query.
 *   A closed port (ICMP unreachable) fails at once.
 * - mf_dns_addrs() returns IPv4 addresses first, then IPv6, each in the order
 *   the server gave.  With the system resolver it asks getaddrinfo() (so
 *   /etc/hosts and nsswitch apply); with a resolver override it asks that server
 *   for A and AAAA, and only "localhost" still goes to getaddrinfo().
 * - Any failure of mf_dns_addrs() is MF_ETEMP, 4.4.3: the caller tries the next
 *   MX host, and an unresolvable host may be fixed later.
 * - Answers are outside input.  They are read with libresolv's ns_initparse /
 *   ns_parserr / dn_expand, which check every count, length and compression
 *   pointer against the end of the answer (a pointer loop fails); the answer
 *   buffer is DNS_ANSWER_MAX (the largest DNS message), so the number of
 *   records is bounded by it; names are checked again by name_valid() and
 *   A/AAAA data by its exact length.
 */
#define DNS_RETRANS 2
#define DNS_RETRY 2
#define DNS_ANSWER_MAX 65536
#define DNS_NAME_MAX 253

static struct __res_state dns_state;
static int dns_ready;
static int dns_override;
static struct sockaddr_storage dns_server;
static uint64_t dns_rand_state;

/* --- random order for equal preferences ------------------------------------ */

static uint64_t dns_rand(void)
{
	uint64_t x;

	if (!dns_rand_state) {
		if (getrandom(&dns_rand_state, sizeof dns_rand_state, GRND_NONBLOCK) !=
		    (ssize_t)sizeof dns_rand_state)
			dns_rand_state = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
		dns_rand_state |= 1;
	}
	/* xorshift64* */
	x = dns_rand_state;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	dns_rand_state = x;
	return x * 0x2545F4914F6CDD1DULL;
}

/* --- names and literals ---------------------------------------------------- */

/* Letters, digits, '-', '_' in labels of 1..63, at most 253 in all; one trailing dot allowed. */
static int name_valid(const char *name)
{
	size_t n = strlen(name), label = 0, i;

	if (n && name[n - 1] == '.')
		n--;
	if (n == 0 || n > DNS_NAME_MAX)
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c == '.') {
			if (label == 0)
				return 0;
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return 0;
		if (++label > 63)
			return 0;
	}
	return 1;
}

/*
 * A name that is an IP address in disguise: its last label is all digits (no
 * top-level domain is, RFC 3696 2), or inet_aton() reads it ("0x7f000001").
 * RFC 5321 5.1: an MX names a host, never an address.
 */
static int name_numeric(const char *name)
{
	size_t n = strlen(name);
	const char *last;
	struct in_addr in;

	if (n && name[n - 1] == '.')
		n--;
	if (inet_aton(name, &in))
		return 1;
	for (last = name + n; last > name && last[-1] != '.'; last--)
		;
	if (last == name + n)
		return 0;
	return strspn(last, "0123456789") >= (size_t)(name + n - last);
}

/*
 * Parse an IP address: "[192.0.2.1]", "[IPv6:2001:db8::1]", or bare.  Fills ss
 * (port 0) and returns 1; 0 when s is not an address; -1 when s is bracketed
 * but not a valid literal.
 */
static int parse_literal(const char *s, struct sockaddr_storage *ss)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	char buf[INET6_ADDRSTRLEN + 8];
	size_t n = strlen(s);
	int bracket = s[0] == '[';

	memset(ss, 0, sizeof *ss);
	if (bracket) {
		if (n < 3 || s[n - 1] != ']' || n - 2 >= sizeof buf)
			return -1;
		memcpy(buf, s + 1, n - 2);
		buf[n - 2] = '\0';
		if (!strncasecmp(buf, "IPv6:", 5)) {
			sin6->sin6_family = AF_INET6;
			return inet_pton(AF_INET6, buf + 5, &sin6->sin6_addr) == 1 ? 1 : -1;
		}
	} else if (snprintf(buf, sizeof buf, "%s", s) >= (int)sizeof buf) {
		return 0;
	}
	if (inet_pton(AF_INET, buf, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		return 1;
	}
	if (!bracket && inet_pton(AF_INET6, buf, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		return 1;
	}
	return bracket ? -1 : 0;
}

/* --- resolver state -------------------------------------------------------- */

/* Parse "ADDR", "ADDR:PORT", "[V6ADDR]", "[V6ADDR]:PORT", "V6ADDR" into ss (port defport by default). */
static int parse_hostport(const char *spec, unsigned defport, struct sockaddr_storage *ss)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *colon, *end = NULL, *port = NULL;
	unsigned long p = defport;
	size_t n;
	char *e;

	if (spec[0] == '[') {
		if (!(end = strchr(spec, ']')) || (end[1] && end[1] != ':'))
			return -1;
		port = end[1] ? end + 2 : NULL;
		spec++;
	} else if ((colon = strchr(spec, ':')) && !strchr(colon + 1, ':')) {
		end = colon;
		port = colon + 1;
	}
	n = end ? (size_t)(end - spec) : strlen(spec);
	if (n == 0 || n >= sizeof host)
		return -1;
	memcpy(host, spec, n);
	host[n] = '\0';
	if (port) {
		errno = 0;
		p = strtoul(port, &e, 10);
		if (!*port || *e || errno || p == 0 || p > 65535)
			return -1;
	}
	if (parse_literal(host, ss) != 1)
		return -1;
	((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)p); /* same offset in sin6 */
	return 0;
}

static int parse_server(const char *spec, struct sockaddr_storage *ss)
{
	return parse_hostport(spec, NS_DEFAULTPORT, ss);
}

int mf_dns_parse_addr(const char *spec, struct sockaddr_storage *ss)
{
	return parse_hostport(spec, 0, ss);
}

/* --- ourselves ------------------------------------------------------------- */

static int addr_loopback(const struct sockaddr_storage *ss)
{
	const struct in6_addr *a6 = &((const struct sockaddr_in6 *)ss)->sin6_addr;
	uint32_t a4;

	if (ss->ss_family == AF_INET) {
		a4 = ntohl(((const struct sockaddr_in *)ss)->sin_addr.s_addr);
		return (a4 >> 24) == 127 || a4 == 0;
	}
	if (ss->ss_family != AF_INET6)
		return 0;
	if (IN6_IS_ADDR_V4MAPPED(a6))
		return a6->s6_addr[12] == 127 || !memcmp(a6->s6_addr + 12, "\0\0\0\0", 4);
	return IN6_IS_ADDR_LOOPBACK(a6) || IN6_IS_ADDR_UNSPECIFIED(a6);
}

/* The same IP address (ports not compared). */
int mf_dns_same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return 0;
	if (a->ss_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
		       ((const struct sockaddr_in *)b)->sin_addr.s_addr;
	return a->ss_family == AF_INET6 &&
	       !memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
		       &((const struct sockaddr_in6 *)b)->sin6_addr, sizeof(struct in6_addr));
}

int mf_dns_is_self(const struct sockaddr_storage *ss)
{
	struct ifaddrs *ifa, *i;
	struct sockaddr_storage x;
	int self = 0;

	if (addr_loopback(ss))
		return 1;
	if (getifaddrs(&ifa) < 0)
		return 0;
	for (i = ifa; i && !self; i = i->ifa_next) {
		if (!i->ifa_addr || (i->ifa_addr->sa_family != AF_INET &&
				     i->ifa_addr->sa_family != AF_INET6))
			continue;
		memset(&x, 0, sizeof x);
		memcpy(&x, i->ifa_addr, i->ifa_addr->sa_family == AF_INET ?
		       sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6));
		self = mf_dns_same_addr(&x, ss);
	}
	freeifaddrs(ifa);
	return self;
}

/* Make dns_state ask only dns_server. */
static enum mf_status apply_override(struct mf_err *err)
{
	struct __res_state *rs = &dns_state;
	int i;

	for (i = 1; i < rs->nscount && i < MAXNS; i++) {
		free(rs->_u._ext.nsaddrs[i]);
		rs->_u._ext.nsaddrs[i] = NULL;
	}
	rs->nscount = 1;
	rs->_u._ext.nscount = 0;
	if (dns_server.ss_family == AF_INET) {
		memcpy(&rs->nsaddr_list[0], &dns_server, sizeof rs->nsaddr_list[0]);
		return MF_OK;
	}
	if (!rs->_u._ext.nsaddrs[0] &&
	    !(rs->_u._ext.nsaddrs[0] = malloc(sizeof *rs->_u._ext.nsaddrs[0])))
		return mf_err_set(err, MF_ENOMEM, "out of memory");
	memcpy(rs->_u._ext.nsaddrs[0], &dns_server, sizeof *rs->_u._ext.nsaddrs[0]);
	memset(&rs->nsaddr_list[0], 0, sizeof rs->nsaddr_list[0]);
	return MF_OK;
}

static enum mf_status state_init(struct mf_err *err)
{
	if (dns_ready)
		return MF_OK;
	memset(&dns_state, 0, sizeof dns_state);
	if (res_ninit(&dns_state) < 0)
		return mf_err_set(err, MF_ETEMP, "cannot initialise the resolver");
	dns_ready = 1;
	if (dns_state.retrans > DNS_RETRANS || dns_state.retrans <= 0)
		dns_state.retrans = DNS_RETRANS;
	if (dns_state.retry > DNS_RETRY || dns_state.retry <= 0)
		dns_state.retry = DNS_RETRY;
	dns_state.options &= ~(unsigned long)(RES_DNSRCH | RES_DEFNAMES);
	if (dns_override)
		return apply_override(err);
	return MF_OK;
}

enum mf_status mf_dns_set_resolver(const char *spec, struct mf_err *err)
{
	struct sockaddr_storage ss;

	if (spec && *spec && parse_server(spec, &ss) < 0)
		return mf_err_set(err, MF_ECONFIG,
				  "resolver %.100s: want ADDR, ADDR:PORT or [V6ADDR]:PORT", spec);
	if (dns_ready) {
		res_nclose(&dns_state);
		dns_ready = 0;
	}
	dns_override = spec && *spec;
	if (dns_override)
		dns_server = ss;
	return MF_OK;
}

/* --- queries --------------------------------------------------------------- */

/* Why a failed query failed, as text, from h_errno in the state. */
static const char *query_why(int herr)
{
	switch (herr) {
	case TRY_AGAIN:
		return "server failure or timeout";
	case NO_RECOVERY:
		return "query refused or malformed answer";
	default:
		return "lookup failed";
	}
}

/*
 * Send one query.  Returns the answer length (> 0) with *herr = 0, or 0 with
 * *herr set to HOST_NOT_FOUND (NXDOMAIN), NO_DATA (no such record), or
 * another h_errno value (temporary).
 */
static int query(const char *name, int type, unsigned char *ans, int anslen, int *herr)
{
	int n;

	dns_state.res_h_errno = 0;
	n = res_nquery(&dns_state, name, ns_c_in, type, ans, anslen);
	if (n < 0) {
		*herr = dns_state.res_h_errno ? dns_state.res_h_errno : TRY_AGAIN;
		return 0;
	}
	*herr = 0;
	if (n > anslen)
		n = anslen; /* a truncated copy: ns_initparse will notice */
	return n;
}

/* Give the error just set an RFC 3463 code; return its status. */
static enum mf_status with_dsn(struct mf_err *err, const char *dsn, enum mf_status st)
{
	mf_err_dsn(err, dsn);
	return st;
}

/* How bad a query failure is, to keep the worst of A and AAAA. */
static int herr_rank(int herr)
{
	return herr == 0 ? 0 : herr == NO_DATA ? 1 : herr == HOST_NOT_FOUND ? 2 : 3;
}

/* --- MX -------------------------------------------------------------------- */

static int mx_cmp(const void *a, const void *b)
{
	const struct mf_mx *x = a, *y = b;

	return x->pref < y->pref ? -1 : x->pref > y->pref;
}

/* Sort by preference, then shuffle each run of equal preference (Fisher-Yates). */
static void mx_order(struct mf_mx *mx, size_t n)
{
	size_t i, j, k;
	struct mf_mx t;

	qsort(mx, n, sizeof *mx, mx_cmp);
	for (i = 0; i < n; i = j) {
		for (j = i + 1; j < n && mx[j].pref == mx[i].pref; j++)
			;
		for (k = j - 1; k > i; k--) {
			size_t r = i + (size_t)(dns_rand() % (k - i + 1));

			t = mx[k];
			mx[k] = mx[r];
			mx[r] = t;
		}
	}
}

/* One MX record's preference and exchange; 0, or -1 when malformed. */
static int mx_rr(ns_msg *msg, ns_rr *rr, struct mf_mx *out)
{
	char name[NS_MAXDNAME];
	const unsigned char *rd = ns_rr_rdata(*rr);
	int used;

	if (ns_rr_rdlen(*rr) < 3)
		return -1;
	out->pref = ns_get16(rd);
	/* the exchange must lie within the record's own data */
	used = dn_expand(ns_msg_base(*msg), ns_msg_end(*msg), rd + 2, name, sizeof name);
	if (used < 0 || used > (int)ns_rr_rdlen(*rr) - 2)
		return -1;
	if (strlen(name) >= sizeof out->host)
		return -1;
	snprintf(out->host, sizeof out->host, "%s", name[0] ? name : ".");
	return 0;
}

/*
 * Collect the MX records of an answer into *mx.  *nnull counts exchanges "."
 * (null MX), *nbad the invalid names and IP addresses, which are dropped.
 */
static enum mf_status mx_parse(const unsigned char *ans, int len, struct mf_mx **mx,
			       size_t *n, size_t *nnull, size_t *nbad, struct mf_err *err)
{
	ns_msg msg;
	ns_rr rr;
	int i, count;
	struct mf_mx one;

	*mx = NULL;
	*n = *nnull = *nbad = 0;
	if (ns_initparse(ans, len, &msg) < 0)
		return mf_err_set(err, MF_ETEMP, "malformed answer");
	count = ns_msg_count(msg, ns_s_an);
	if (count > 0 && !(*mx = calloc((size_t)count, sizeof **mx)))
		return mf_err_set(err, MF_ENOMEM, "out of memory");
	for (i = 0; i < count; i++) {
		if (ns_parserr(&msg, ns_s_an, i, &rr) < 0)
			return mf_err_set(err, MF_ETEMP, "malformed answer");
		if (ns_rr_type(rr) != ns_t_mx || ns_rr_class(rr) != ns_c_in)
			continue;
		if (mx_rr(&msg, &rr, &one) < 0)
			return mf_err_set(err, MF_ETEMP, "malformed MX record");
		if (!strcmp(one.host, "."))
			(*nnull)++;
		else if (name_valid(one.host) && !name_numeric(one.host))
			(*mx)[(*n)++] = one;
		else {
			mf_log(LOG_WARNING, "dns: MX %s is not a host name (an address, or a bad "
			       "name): skipped", name_valid(one.host) ? one.host : "(unprintable)");
			(*nbad)++;
		}
	}
	return MF_OK;
}

/* A list of one host, pref 0: an address literal or the implicit MX. */
static enum mf_status mx_self(const char *domain, struct mf_mx **mx, size_t *n,
			      struct mf_err *err)
{
	size_t len = strlen(domain);

	if (len && domain[len - 1] == '.' && domain[0] != '[')
		len--;
	if (len >= sizeof (*mx)->host)
		return mf_err_set(err, MF_EADDR, "domain name too long");
	if (!(*mx = calloc(1, sizeof **mx)))
		return mf_err_set(err, MF_ENOMEM, "out of memory");
	memcpy((*mx)->host, domain, len);
	(*mx)->host[len] = '\0';
	*n = 1;
	return MF_OK;
}

static enum mf_status mx_answer(const char *domain, const unsigned char *ans, int len,
				struct mf_mx **mx, size_t *n, struct mf_err *err)
{
	size_t nnull, nbad;
	enum mf_status st;

	if ((st = mx_parse(ans, len, mx, n, &nnull, &nbad, err))) {
		free(*mx);
		*mx = NULL;
		mf_err_prefix(err, domain);
		mf_err_dsn(err, "4.4.3");
		return st;
	}
	if (*n > 0) {
		mx_order(*mx, *n);
		return MF_OK;
	}
	free(*mx);
	*mx = NULL;
	if (nnull > 0 && nbad == 0)
		return with_dsn(err, "5.1.10", mf_err_set(err, MF_EADDR,
			"domain %s accepts no mail (null MX)", domain));
	if (nbad > 0)
		return with_dsn(err, "4.4.3", mf_err_set(err, MF_ETEMP,
			"domain %s: no usable MX host name", domain));
	return mx_self(domain, mx, n, err);
}

enum mf_status mf_dns_mx(const char *domain, struct mf_mx **mx, size_t *n,
			 struct mf_err *err)
{
	struct sockaddr_storage ss;
	unsigned char *ans;
	enum mf_status st;
	int len, herr;

	*mx = NULL;
	*n = 0;
	if (domain[0] == '[') {
		if (parse_literal(domain, &ss) != 1)
			return mf_err_set(err, MF_EADDR, "bad address literal %.300s", domain);
		return mx_self(domain, mx, n, err);
	}
	if (!name_valid(domain) || name_numeric(domain))
		return mf_err_set(err, MF_EADDR, "bad domain name \"%.300s\"", domain);
	if ((st = state_init(err)))
		return st;
	if (!(ans = malloc(DNS_ANSWER_MAX)))
		return mf_err_set(err, MF_ENOMEM, "out of memory");
	len = query(domain, ns_t_mx, ans, DNS_ANSWER_MAX, &herr);
	if (herr == HOST_NOT_FOUND)
		st = with_dsn(err, "5.1.2", mf_err_set(err, MF_EADDR,
			"domain %s does not exist", domain));
	else if (herr == NO_DATA)
		st = mx_self(domain, mx, n, err);
	else if (herr)
		st = with_dsn(err, "4.4.3", mf_err_set(err, MF_ETEMP,
			"MX lookup for %s: %s", domain, query_why(herr)));
	else
		st = mx_answer(domain, ans, len, mx, n, err);
	free(ans);
	return st;
}

/* --- addresses ------------------------------------------------------------- */

struct addr_list {
	struct sockaddr_storage *a;
	size_t n, cap;
};

static int addr_add(struct addr_list *l, const struct sockaddr_storage *ss, unsigned port)
{
	struct sockaddr_storage *p;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 4;

		if (!(p = realloc(l->a, cap * sizeof *p)))
			return -1;
		l->a = p;
		l->cap = cap;
	}
	p = &l->a[l->n++];
	*p = *ss;
	if (p->ss_family == AF_INET)
		((struct sockaddr_in *)p)->sin_port = htons((uint16_t)port);
	else
		((struct sockaddr_in6 *)p)->sin6_port = htons((uint16_t)port);
	return 0;
}

/* Append the A (type ns_t_a) or AAAA records of an answer to l. */
static int addr_parse(const unsigned char *ans, int len, int type, unsigned port,
		      struct addr_list *l)
{
	struct sockaddr_storage ss;
	ns_msg msg;
	ns_rr rr;
	int i, count;
	size_t alen = type == ns_t_a ? 4 : 16;

	if (ns_initparse(ans, len, &msg) < 0)
		return -1;
	count = ns_msg_count(msg, ns_s_an);
	for (i = 0; i < count; i++) {
		if (ns_parserr(&msg, ns_s_an, i, &rr) < 0)
			return -1;
		if ((int)ns_rr_type(rr) != type || ns_rr_class(rr) != ns_c_in ||
		    ns_rr_rdlen(rr) != alen)
			continue;
		memset(&ss, 0, sizeof ss);
		ss.ss_family = type == ns_t_a ? AF_INET : AF_INET6;
		if (type == ns_t_a)
			memcpy(&((struct sockaddr_in *)&ss)->sin_addr, ns_rr_rdata(rr), 4);
		else
			memcpy(&((struct sockaddr_in6 *)&ss)->sin6_addr, ns_rr_rdata(rr), 16);
		if (addr_add(l, &ss, port) < 0)
			return -2;
	}
	return 0;
}

/* A then AAAA from the resolver state.  *herr: the worst failure seen, 0 if none. */
static enum mf_status addrs_dns(const char *host, unsigned port, struct addr_list *l,
				int *herr, struct mf_err *err)
{
	static const int types[] = { ns_t_a, ns_t_aaaa };
	unsigned char *ans;
	int len, h, rc;
	size_t i;

	*herr = 0;
	if (!(ans = malloc(DNS_ANSWER_MAX)))
		return mf_err_set(err, MF_ENOMEM, "out of memory");
	for (i = 0; i < sizeof types / sizeof types[0]; i++) {
		len = query(host, types[i], ans, DNS_ANSWER_MAX, &h);
		rc = h ? 0 : addr_parse(ans, len, types[i], port, l);
		if (rc == -2) {
			free(ans);
			return mf_err_set(err, MF_ENOMEM, "out of memory");
		}
		if (rc == -1)
			h = NO_RECOVERY;
		if (herr_rank(h) > herr_rank(*herr))
			*herr = h;
	}
	free(ans);
	return MF_OK;
}

/* Through getaddrinfo (hosts file, nsswitch): IPv4 first, then IPv6.  *herr as above. */
static enum mf_status addrs_gai(const char *host, unsigned port, struct addr_list *l,
				int *herr, struct mf_err *err)
{
	struct addrinfo hints, *res, *ai;
	struct sockaddr_storage ss;
	int rc, pass;

	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	*herr = 0;
	rc = getaddrinfo(host, NULL, &hints, &res);
	if (rc) {
		*herr = rc == EAI_NONAME ? HOST_NOT_FOUND :
#ifdef EAI_NODATA
			rc == EAI_NODATA ? NO_DATA :
#endif
			rc == EAI_MEMORY ? -1 : TRY_AGAIN;
		return *herr == -1 ? mf_err_set(err, MF_ENOMEM, "out of memory") : MF_OK;
	}
	for (pass = 0; pass < 2; pass++)
		for (ai = res; ai; ai = ai->ai_next) {
			if (ai->ai_family != (pass ? AF_INET6 : AF_INET) ||
			    ai->ai_addrlen > sizeof ss)
				continue;
			memset(&ss, 0, sizeof ss);
			memcpy(&ss, ai->ai_addr, ai->ai_addrlen);
			if (addr_add(l, &ss, port) < 0) {
				freeaddrinfo(res);
				return mf_err_set(err, MF_ENOMEM, "out of memory");
			}
		}
	freeaddrinfo(res);
	return MF_OK;
}

static enum mf_status addrs_lookup(const char *host, unsigned port, struct addr_list *l,
				   struct mf_err *err)
{
	enum mf_status st;
	int herr;

	if ((st = state_init(err)))
		return st;
	if (!dns_override || !strcasecmp(host, "localhost") || !strcasecmp(host, "localhost."))
		st = addrs_gai(host, port, l, &herr, err);
	else
		st = addrs_dns(host, port, l, &herr, err);
	if (st || l->n > 0)
		return st;
	if (herr == HOST_NOT_FOUND)
		mf_err_set(err, MF_ETEMP, "host %s does not exist", host);
	else if (herr == NO_DATA || herr == 0)
		mf_err_set(err, MF_ETEMP, "host %s has no address", host);
	else
		mf_err_set(err, MF_ETEMP, "address lookup for %s: %s", host, query_why(herr));
	return with_dsn(err, "4.4.3", MF_ETEMP);
}

enum mf_status mf_dns_addrs(const char *host, unsigned port,
			    struct sockaddr_storage **addrs, size_t *n,
			    struct mf_err *err)
{
	struct addr_list l = { NULL, 0, 0 };
	struct sockaddr_storage ss;
	enum mf_status st;
	int lit;

	*addrs = NULL;
	*n = 0;
	if (port > 65535)
		return mf_err_set(err, MF_ECONFIG, "port %u out of range", port);
	lit = parse_literal(host, &ss);
	if (lit < 0)
		return mf_err_set(err, MF_EADDR, "bad address literal %.300s", host);
	if (lit > 0)
		st = addr_add(&l, &ss, port) < 0 ? mf_err_set(err, MF_ENOMEM, "out of memory")
						 : MF_OK;
	else if (!name_valid(host))
		st = mf_err_set(err, MF_EADDR, "bad host name \"%.300s\"", host);
	else
		st = addrs_lookup(host, port, &l, err);
	if (st) {
		free(l.a);
		return st;
	}
	mf_log(LOG_DEBUG, "dns: %s has %zu address(es)", host, l.n);
	*addrs = l.a;
	*n = l.n;
	return MF_OK;
}
