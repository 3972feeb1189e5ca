/* SPDX-License-Identifier: MIT */
/* Next hops in Dr.Web MailD's address syntax, and failover lists of them. */
#include "mf_hop.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mf_buf.h"

static int copy(char *dst, size_t dstsz, const char *src)
{
	return snprintf(dst, dstsz, "%s", src) >= (int)dstsz ? -1 : 0;
}

/* "PORT@HOST" (host may be empty when empty_ok); [IPv6] keeps its brackets off. */
static int parse_port_host(const char *s, struct mf_hop *h, int empty_ok)
{
	const char *at = strchr(s, '@');
	char *end;
	unsigned long port;
	size_t n;

	if (!at)
		return -1;
	port = strtoul(s, &end, 10);
	if (end != at || port == 0 || port > 65535 || !isdigit((unsigned char)*s))
		return -1;
	h->port = (unsigned)port;
	s = at + 1;
	n = strlen(s);
	if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
		s++;
		n -= 2;
	}
	if (n >= sizeof h->host || (!n && !empty_ok) || strcspn(s, " \t") < n)
		return -1;
	memcpy(h->host, s, n);
	h->host[n] = '\0';
	return 0;
}

static int parse_path_hop(const char *v, struct mf_hop *h)
{
	if (v[0] != '/' || strpbrk(v, " \t"))
		return -1;
	return copy(h->path, sizeof h->path, v);
}

/* A control character other than a tab between pipe arguments: never in a
 * hop (its name goes into logs and the envelope). */
static int has_ctl(const char *s)
{
	for (; *s; s++)
		if (((unsigned char)*s < 32 && *s != '\t') || *s == 127)
			return 1;
	return 0;
}

static int parse_one(char *item, const char *method, const char *options,
		     struct mf_hop *h)
{
	int lmtp_method = !strcasecmp(method, "LMTP");

	memset(h, 0, sizeof *h);
	if (has_ctl(item))
		return -1;
	if (!strncmp(item, "inet:", 5)) {
		h->kind = MF_HOP_INET;
		h->lmtp = lmtp_method;
		return parse_port_host(item + 5, h, 0);
	}
	if (!strncmp(item, "unix:", 5)) {
		h->kind = MF_HOP_UNIX;
		h->lmtp = lmtp_method;
		return parse_path_hop(item + 5, h);
	}
	if (!strncmp(item, "lmtp:", 5)) {
		h->lmtp = 1;
		item += 5;
		if (!strncmp(item, "unix:", 5))
			item += 5;
		h->kind = item[0] == '/' ? MF_HOP_UNIX : MF_HOP_INET;
		return h->kind == MF_HOP_UNIX ? parse_path_hop(item, h)
					      : parse_port_host(item, h, 0);
	}
	if (!strncmp(item, "mx:", 3)) {
		h->kind = MF_HOP_MX;
		h->port = 25;
		item += 3;
		if (strchr(item, '@'))
			return parse_port_host(item, h, 1);
		return strpbrk(item, " \t") ? -1 : copy(h->host, sizeof h->host, item);
	}
	if (!strncmp(item, "maildir:", 8)) {
		h->kind = MF_HOP_MAILDIR;
		return parse_path_hop(item + 8, h);
	}
	if (!strncmp(item, "pipe:", 5) || (item[0] == '/' && !strcasecmp(method, "pipe"))) {
		char *sp;
		h->kind = MF_HOP_PIPE;
		if (!strncmp(item, "pipe:", 5))
			item = mf_str_trim(item + 5);
		sp = item + strcspn(item, " \t");
		if (*sp) {
			*sp++ = '\0';
			if (copy(h->args, sizeof h->args, mf_str_trim(sp)) < 0)
				return -1;
		} else if (options && copy(h->args, sizeof h->args, options) < 0) {
			return -1;
		}
		return item[0] == '/' ? copy(h->path, sizeof h->path, item) : -1;
	}
	if (item[0] == '/') {
		h->kind = MF_HOP_UNIX;
		h->lmtp = lmtp_method;
		return parse_path_hop(item, h);
	}
	return -1;
}

enum mf_status mf_hop_parse_list(const char *text, const char *method,
				 const char *options, struct mf_hop **hops,
				 size_t *n, struct mf_err *err)
{
	char *copy_text = strdup(text), *p, *item, *pipe_at;
	struct mf_hop *v = NULL, *nv;
	size_t cnt = 0;

	*hops = NULL;
	*n = 0;
	if (!copy_text)
		return mf_err_set(err, MF_ENOMEM, "out of memory");
	for (p = copy_text; p; ) {
		pipe_at = strstr(p, "pipe:");
		item = p;
		if (pipe_at == mf_str_trim(p) || (!strcasecmp(method, "pipe") && *mf_str_trim(p) == '/')) {
			p = NULL; /* a program takes the rest, commas and all */
		} else {
			p += strcspn(p, ",|");
			if (*p)
				*p++ = '\0';
			else
				p = NULL;
		}
		item = mf_str_trim(item);
		if (!*item)
			continue;
		nv = realloc(v, (cnt + 1) * sizeof *v);
		if (!nv) {
			free(v);
			free(copy_text);
			return mf_err_set(err, MF_ENOMEM, "out of memory");
		}
		v = nv;
		if (parse_one(item, method, options, &v[cnt]) < 0) {
			mf_err_set(err, MF_ECONFIG, "bad next hop '%.200s' (inet:PORT@HOST, unix:/path, "
				   "lmtp:..., mx:[HOST], pipe:/path args, maildir:/path)", item);
			free(v);
			free(copy_text);
			return MF_ECONFIG;
		}
		cnt++;
	}
	free(copy_text);
	if (!cnt)
		return mf_err_set(err, MF_ECONFIG, "empty next-hop list '%.200s'", text);
	*hops = v;
	*n = cnt;
	return MF_OK;
}

void mf_hop_name(const struct mf_hop *h, char *out, size_t outsz)
{
	const char *l = h->lmtp ? "lmtp:" : "";

	switch (h->kind) {
	case MF_HOP_INET:
		snprintf(out, outsz, "%sinet:%u@%s", l, h->port, h->host);
		break;
	case MF_HOP_UNIX:
		snprintf(out, outsz, "%sunix:%s", l, h->path);
		break;
	case MF_HOP_MX:
		snprintf(out, outsz, "mx:%s", h->host[0] ? h->host : "(recipient domain)");
		break;
	case MF_HOP_PIPE:
		snprintf(out, outsz, "pipe:%s", h->path);
		break;
	case MF_HOP_MAILDIR:
		snprintf(out, outsz, "maildir:%s", h->path);
		break;
	}
}
