/* SPDX-License-Identifier: MIT */
/* mf.conf: sections of Key = value lines, checked against one schema. */
/*
 * Why not inih: mf needs repeated sections kept apart ([Filter] blocks, later),
 * no silent truncation of long lines, and one "file:line: why" per error; the
 * parser below is short enough to own.
 */
#include "mf_conf.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "mf_buf.h"
#include "mf_log.h"
#include "mf_time.h"

enum type { T_STRING, T_PATH, T_DURATION, T_SIZE, T_BOOL, T_LOGLEVEL,
	    T_DURATIONS, T_UINT, T_CHOICE };

struct schema {
	const char *section;
	const char *key;
	enum type type;
	const char *def;
	const char *choices; /* T_CHOICE: "a|b|c" */
};

/* Sections that take an ID ("[Receiver relay2]"). */
static const char *const id_sections[] = { "Receiver", "Sender", NULL };

/* Rows name only the fields they need; choices is for T_CHOICE rows. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
static const struct schema schema[] = {
	{ "General", "Spool", T_PATH, MF_DEFAULT_SPOOL },
	{ "General", "Hostname", T_STRING, "" },
	{ "General", "Syslog", T_BOOL, "yes" },
	{ "General", "LogLevel", T_LOGLEVEL, "info" },
	{ "General", "User", T_STRING, "" },
	{ "General", "MinFreeSpace", T_SIZE, "100M" },
	{ "Receiver", "MaxSize", T_SIZE, "50M" },
	{ "Notifier", "ReportingMTA", T_STRING, "" },
	{ "Notifier", "From", T_STRING, "" },
	{ "Notifier", "Templates", T_PATH, "/usr/local/share/mf" },
	{ "Notifier", "ReturnFullMessage", T_BOOL, "no" },
	{ "Notifier", "DelayWarning", T_DURATION, "4h" },
	{ "Notifier", "MsgIdMap", T_STRING, "" },
	/* [Sender]: Dr.Web MailD's names, and ours beside them */
	{ "Sender", "Method", T_CHOICE, "SMTP", "SMTP|LMTP|pipe" },
	{ "Sender", "Address", T_STRING, "mx:" },
	{ "Sender", "Options", T_STRING, "" },
	{ "Sender", "SendingIntervals", T_DURATIONS, "0s, 30s, 60s, 10m, 30m, 2h, 8h, 1d, 1d" },
	{ "Sender", "SendDSN", T_BOOL, "no" },
	{ "Sender", "StalledProcessingInterval", T_DURATION, "10m" },
	{ "Sender", "PipeTimeout", T_DURATION, "2m" },
	{ "Sender", "ConnectTimeout", T_DURATION, "30s" },
	{ "Sender", "HeloCmdTimeout", T_DURATION, "5m" },
	{ "Sender", "MailFromCmdTimeout", T_DURATION, "5m" },
	{ "Sender", "RcptToCmdTimeout", T_DURATION, "5m" },
	{ "Sender", "DataCmdTimeout", T_DURATION, "2m" },
	{ "Sender", "DataBlockTimeout", T_DURATION, "3m" },
	{ "Sender", "EndOfDataTimeout", T_DURATION, "10m" },
	{ "Sender", "OtherCmdsTimeout", T_DURATION, "2m" },
	{ "Sender", "RecipientLimit", T_UINT, "100" },
	{ "Sender", "HeloName", T_STRING, "" },
	{ "Sender", "TLS", T_CHOICE, "may", "none|may|encrypt|verify" },
	{ "Sender", "TLSCAFile", T_PATH, "" },
	{ "Sender", "AuthUser", T_STRING, "" },
	{ "Sender", "AuthPasswordFile", T_PATH, "" },
	{ "Sender", "Resolver", T_STRING, "" },
	{ "Sender", "MaxMXHosts", T_UINT, "5" },
	{ "Sender", "MXLoopExempt", T_STRING, "" },
	{ "Sender", "Workers", T_UINT, "1" },
	{ "Sender", "QueueRunInterval", T_DURATION, "1m" },
	{ "Sender", "NotifyProgram", T_PATH, "" },
	{ "Sender", "UseSecureHash", T_BOOL, "no" },
	{ "Sender", "SecureHashFile", T_PATH, "" },
	{ "Sender", "SecureHashHeader", T_STRING, "X-MF-Scanned" },
	{ NULL, NULL, T_STRING, NULL, NULL }
};
#pragma GCC diagnostic pop

struct item {
	char *key;
	char *value;
	unsigned line;
};

struct section {
	char *name;
	char *id; /* NULL when none */
	unsigned line;
	struct item *items;
	size_t nitems;
};

/* The longest list value (SendingIntervals, MsgIdMap): it is split in a buffer. */
#define CONF_LIST_MAX 1024

struct mf_conf {
	char *path;
	struct section *sections;
	size_t nsections;
};

/* Reading the config failed: for the exit code that is a config error. */
static enum mf_status conf_status(struct mf_err *err, enum mf_status st)
{
	if (st == MF_ENOMEM)
		return st;
	if (err)
		err->status = MF_ECONFIG;
	return MF_ECONFIG;
}

static const struct schema *schema_find(const char *section, const char *key)
{
	const struct schema *s;

	for (s = schema; s->section; s++)
		if (!strcasecmp(s->section, section) && !strcasecmp(s->key, key))
			return s;
	return NULL;
}

static const char *section_canon(const char *name)
{
	const struct schema *s;

	for (s = schema; s->section; s++)
		if (!strcasecmp(s->section, name))
			return s->section;
	return NULL;
}

static int section_takes_id(const char *name)
{
	const char *const *p;

	for (p = id_sections; *p; p++)
		if (!strcmp(*p, name))
			return 1;
	return 0;
}

/* v is in "a|b|c" (case-insensitive). */
static int check_choice(const char *choices, const char *v)
{
	size_t n = strlen(v);
	const char *p = choices;

	while (p && *p) {
		const char *bar = strchr(p, '|');
		size_t len = bar ? (size_t)(bar - p) : strlen(p);
		if (len == n && !strncasecmp(p, v, n))
			return 0;
		p = bar ? bar + 1 : NULL;
	}
	return -1;
}

static int check_durations(const char *v)
{
	char buf[1024], *tok, *save;
	int64_t d;
	int n = 0;

	if (strlen(v) >= sizeof buf)
		return -1;
	memcpy(buf, v, strlen(v) + 1);
	for (tok = strtok_r(buf, ", \t", &save); tok; tok = strtok_r(NULL, ", \t", &save), n++)
		if (mf_parse_duration(tok, &d) < 0)
			return -1;
	return n ? 0 : -1;
}

/* "RECEIVER:SENDER, ..." with ids as mf_conf_check_id wants ("-": no id) */
static int check_idmap(const char *v)
{
	char buf[CONF_LIST_MAX], *pair, *save, *colon;

	if (strlen(v) >= sizeof buf)
		return -1;
	memcpy(buf, v, strlen(v) + 1);
	for (pair = strtok_r(buf, ", \t", &save); pair; pair = strtok_r(NULL, ", \t", &save)) {
		colon = strchr(pair, ':');
		if (!colon)
			return -1;
		*colon = '\0';
		if ((strcmp(pair, "-") && mf_conf_check_id(pair, NULL)) ||
		    mf_conf_check_id(colon + 1, NULL))
			return -1;
	}
	return 0;
}

static int check_value(const struct schema *s, const char *v)
{
	int64_t d;
	uint64_t z;

	switch (s->type) {
	case T_DURATIONS: return check_durations(v);
	case T_UINT: return mf_parse_size(v, &z) < 0 || strspn(v, "0123456789") != strlen(v) ? -1 : 0;
	case T_CHOICE: return check_choice(s->choices, v);
	case T_DURATION: return mf_parse_duration(v, &d);
	case T_SIZE: return mf_parse_size(v, &z);
	case T_BOOL:
		return !strcasecmp(v, "yes") || !strcasecmp(v, "no") ||
		       !strcasecmp(v, "true") || !strcasecmp(v, "false") ||
		       !strcmp(v, "1") || !strcmp(v, "0") ? 0 : -1;
	case T_LOGLEVEL: return mf_log_level_parse(v) < 0 ? -1 : 0;
	case T_PATH: return v[0] == '/' || (!v[0] && !s->def[0]) ? 0 : -1;
	case T_STRING:
		return strcmp(s->key, "MsgIdMap") ? 0 : check_idmap(v);
	}
	return -1;
}

static const char *type_name(enum type t)
{
	static const char *const names[] = {
		[T_STRING] = " string", [T_PATH] = "n absolute path",
		[T_DURATION] = " duration (e.g. 30s, 10m, 2h, 1d)",
		[T_SIZE] = " size (e.g. 512K, 50M)", [T_BOOL] = " yes or no",
		[T_LOGLEVEL] = " log level (error, warning, notice, info, debug)",
		[T_DURATIONS] = " list of durations (e.g. 0s, 30s, 10m, 1d)",
		[T_UINT] = " whole number", [T_CHOICE] = " value from the list",
	};
	return names[t];
}

static enum mf_status conf_fail(struct mf_err *err, const struct mf_conf *c,
				unsigned line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static enum mf_status conf_fail(struct mf_err *err, const struct mf_conf *c,
				unsigned line, const char *fmt, ...)
{
	char why[300];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	return mf_err_set(err, MF_ECONFIG, "%s:%u: %s", c->path, line, why);
}

static enum mf_status add_section(struct mf_conf *c, char *head, unsigned line,
				  struct mf_err *err)
{
	struct section *s, *n;
	const char *name;
	char *id;

	head = mf_str_trim(head);
	id = head + strcspn(head, " \t");
	if (*id) {
		*id++ = '\0';
		id = mf_str_trim(id);
	}
	name = section_canon(head);
	if (!name)
		return conf_fail(err, c, line, "unknown section [%s]", head);
	if (*id && !section_takes_id(name))
		return conf_fail(err, c, line, "section [%s] takes no ID (got '%s')",
				 name, id);
	if (*id && mf_conf_check_id(id, err) != MF_OK)
		return conf_fail(err, c, line, "bad ID '%s' in [%s ...]", id, name);
	n = realloc(c->sections, (c->nsections + 1) * sizeof *n);
	if (!n)
		return mf_err_set(err, MF_ENOMEM, "out of memory");
	c->sections = n;
	s = &n[c->nsections];
	memset(s, 0, sizeof *s);
	s->line = line;
	s->name = strdup(name);
	s->id = *id ? strdup(id) : NULL;
	c->nsections++;
	if (!s->name || (*id && !s->id))
		return mf_err_set(err, MF_ENOMEM, "out of memory");
	return MF_OK;
}

static const struct item *find_item(const struct mf_conf *c, const char *name,
				    const char *id, const char *key)
{
	size_t i, j;

	for (i = 0; i < c->nsections; i++) {
		const struct section *s = &c->sections[i];
		if (strcmp(s->name, name))
			continue;
		if (id ? !s->id || strcmp(s->id, id) : s->id != NULL)
			continue;
		for (j = 0; j < s->nitems; j++)
			if (!strcasecmp(s->items[j].key, key))
				return &s->items[j];
	}
	return NULL;
}

static enum mf_status add_item(struct mf_conf *c, char *text, unsigned line,
			       struct mf_err *err)
{
	struct section *s;
	const struct schema *sc;
	const struct item *dup;
	struct item *n;
	char *eq, *key, *value;
	size_t vlen;

	eq = strchr(text, '=');
	if (!eq)
		return conf_fail(err, c, line, "expected 'Key = value'");
	*eq = '\0';
	key = mf_str_trim(text);
	value = mf_str_trim(eq + 1);
	vlen = strlen(value);
	if (vlen >= 2 && value[0] == '"' && value[vlen - 1] == '"') {
		value[vlen - 1] = '\0';
		value++;
	}
	if (!c->nsections)
		return conf_fail(err, c, line, "'%s' outside any [Section]", key);
	s = &c->sections[c->nsections - 1];
	sc = schema_find(s->name, key);
	if (!sc)
		return conf_fail(err, c, line, "unknown key '%s' in [%s]", key, s->name);
	dup = find_item(c, s->name, s->id, sc->key);
	if (dup)
		return conf_fail(err, c, line, "%s is set again (first at line %u)",
				 sc->key, dup->line);
	if ((sc->type == T_DURATIONS || !strcmp(sc->key, "MsgIdMap")) &&
	    strlen(value) >= CONF_LIST_MAX)	/* read into a buffer that size */
		return conf_fail(err, c, line, "%s is longer than %d bytes", sc->key,
				 CONF_LIST_MAX - 1);
	if (check_value(sc, value) < 0)
		return sc->type == T_CHOICE
			? conf_fail(err, c, line, "%s wants one of %s", sc->key, sc->choices)
			: conf_fail(err, c, line, "%s wants a%s", sc->key, type_name(sc->type));
	n = realloc(s->items, (s->nitems + 1) * sizeof *n);
	if (!n)
		return mf_err_set(err, MF_ENOMEM, "out of memory");
	s->items = n;
	n[s->nitems].key = strdup(sc->key);
	n[s->nitems].value = strdup(value);
	n[s->nitems].line = line;
	s->nitems++;
	if (!n[s->nitems - 1].key || !n[s->nitems - 1].value)
		return mf_err_set(err, MF_ENOMEM, "out of memory");
	return MF_OK;
}

static int is_comment(const char *s)
{
	s += strspn(s, " \t");
	return *s == '#' || *s == ';';
}

static enum mf_status parse_line(struct mf_conf *c, char *text, unsigned line,
				 struct mf_err *err)
{
	char *t = mf_str_trim(text), *end;

	if (!*t || is_comment(t))
		return MF_OK;
	if (*t == '[') {
		end = strchr(t, ']');
		if (!end || *mf_str_trim(end + 1))
			return conf_fail(err, c, line, "bad section header");
		*end = '\0';
		return add_section(c, t + 1, line, err);
	}
	return add_item(c, t, line, err);
}

#define MF_CONF_LINE_MAX 65536

static enum mf_status parse_file(struct mf_conf *c, FILE *f, struct mf_err *err)
{
	struct mf_buf logical = { 0 };
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	unsigned lineno = 0, start = 0;
	enum mf_status st = MF_OK;

	while (st == MF_OK && (n = getline(&line, &cap, f)) >= 0) {
		lineno++;
		if (memchr(line, '\0', (size_t)n)) {
			st = conf_fail(err, c, lineno, "NUL byte in line");
			break;
		}
		while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		if (!logical.len)
			start = lineno;
		if (mf_buf_add(&logical, line, (size_t)n) < 0) {
			st = mf_err_set(err, MF_ENOMEM, "out of memory");
			break;
		}
		if (logical.len > MF_CONF_LINE_MAX) {
			st = conf_fail(err, c, start, "line longer than 65536 bytes");
			break;
		}
		/* comments never continue: a '\\' ending one is just text */
		if (n && line[n - 1] == '\\' && !is_comment(logical.data)) {
			logical.data[--logical.len] = '\0';
			continue;
		}
		st = parse_line(c, logical.data, start, err);
		mf_buf_reset(&logical);
	}
	if (st == MF_OK && ferror(f))
		st = conf_status(err, mf_err_errno(err, errno, "%s: read", c->path));
	if (st == MF_OK && logical.len)
		st = parse_line(c, logical.data, start, err);
	free(line);
	mf_buf_free(&logical);
	return st;
}

enum mf_status mf_conf_load(const char *path, struct mf_conf **out,
			    struct mf_err *err)
{
	struct mf_conf *c;
	enum mf_status st;
	struct stat sb;
	int named = path != NULL;
	FILE *f;

	if (!path)
		path = getenv("MF_CONFIG");
	if (path && *path)
		named = 1;
	else
		path = MF_DEFAULT_CONF;
	c = calloc(1, sizeof *c);
	if (!c || !(c->path = strdup(path))) {
		free(c);
		return mf_err_set(err, MF_ENOMEM, "out of memory");
	}
	f = fopen(path, "re");
	if (!f) {
		if (errno == ENOENT && !named) {
			*out = c;
			return MF_OK;
		}
		st = mf_err_errno(err, errno, "config %s", path);
		mf_conf_free(c);
		return st == MF_ENOMEM ? st : conf_status(err, MF_ECONFIG);
	}
	if (fstat(fileno(f), &sb) == 0 && S_ISDIR(sb.st_mode)) {
		fclose(f);
		mf_err_set(err, MF_ECONFIG, "config %s: is a directory", path);
		mf_conf_free(c);
		return MF_ECONFIG;
	}
	st = parse_file(c, f, err);
	fclose(f);
	if (st != MF_OK) {
		mf_conf_free(c);
		return st;
	}
	*out = c;
	return MF_OK;
}

void mf_conf_free(struct mf_conf *c)
{
	size_t i, j;

	if (!c)
		return;
	for (i = 0; i < c->nsections; i++) {
		for (j = 0; j < c->sections[i].nitems; j++) {
			free(c->sections[i].items[j].key);
			free(c->sections[i].items[j].value);
		}
		free(c->sections[i].items);
		free(c->sections[i].name);
		free(c->sections[i].id);
	}
	free(c->sections);
	free(c->path);
	free(c);
}

const char *mf_conf_path(const struct mf_conf *c)
{
	return c->path;
}

const char *mf_conf_str(const struct mf_conf *c, const char *section,
			const char *id, const char *key)
{
	const struct schema *sc = schema_find(section, key);
	const struct item *it = NULL;

	if (id)
		it = find_item(c, section, id, key);
	if (!it)
		it = find_item(c, section, NULL, key);
	if (it)
		return it->value;
	return sc ? sc->def : "";
}

unsigned mf_conf_line(const struct mf_conf *c, const char *section,
		      const char *id, const char *key)
{
	const struct item *it = NULL;

	if (id)
		it = find_item(c, section, id, key);
	if (!it)
		it = find_item(c, section, NULL, key);
	return it ? it->line : 0;
}

int64_t mf_conf_duration(const struct mf_conf *c, const char *section,
			 const char *id, const char *key)
{
	int64_t v = 0;

	mf_parse_duration(mf_conf_str(c, section, id, key), &v);
	return v;
}

uint64_t mf_conf_size(const struct mf_conf *c, const char *section,
		      const char *id, const char *key)
{
	uint64_t v = 0;

	mf_parse_size(mf_conf_str(c, section, id, key), &v);
	return v;
}

unsigned mf_conf_uint(const struct mf_conf *c, const char *section,
		      const char *id, const char *key)
{
	unsigned long v = strtoul(mf_conf_str(c, section, id, key), NULL, 10);

	return v > 1000000 ? 1000000 : (unsigned)v;
}

size_t mf_conf_durations(const struct mf_conf *c, const char *section,
			 const char *id, const char *key, int64_t *out, size_t max)
{
	char buf[CONF_LIST_MAX], *tok, *save;
	const char *v = mf_conf_str(c, section, id, key);
	size_t n = 0;

	snprintf(buf, sizeof buf, "%s", v);
	for (tok = strtok_r(buf, ", \t", &save); tok && n < max;
	     tok = strtok_r(NULL, ", \t", &save))
		if (mf_parse_duration(tok, &out[n]) == 0)
			n++;
	return n;
}

int mf_conf_bool(const struct mf_conf *c, const char *section, const char *id,
		 const char *key)
{
	const char *v = mf_conf_str(c, section, id, key);

	return !strcasecmp(v, "yes") || !strcasecmp(v, "true") || !strcmp(v, "1");
}

enum mf_status mf_conf_copy(const struct mf_conf *c, const char *section,
			    const char *id, const char *key, char *out, size_t outsz,
			    struct mf_err *err)
{
	int n = snprintf(out, outsz, "%s", mf_conf_str(c, section, id, key));

	if (n >= 0 && (size_t)n < outsz)
		return MF_OK;
	out[0] = '\0';
	return mf_err_set(err, MF_ECONFIG, "%s:%u: %s is longer than %zu bytes",
			  c->path, mf_conf_line(c, section, id, key), key, outsz - 1);
}

const char *mf_conf_msgid_map(const struct mf_conf *c, const char *receiver_id,
			      char *out, size_t outsz)
{
	char buf[CONF_LIST_MAX], *pair, *save, *colon;
	const char *want = receiver_id && *receiver_id ? receiver_id : "-";

	snprintf(buf, sizeof buf, "%s", mf_conf_str(c, "Notifier", NULL, "MsgIdMap"));
	for (pair = strtok_r(buf, ", \t", &save); pair; pair = strtok_r(NULL, ", \t", &save)) {
		colon = strchr(pair, ':');
		if (!colon)
			continue;
		*colon = '\0';
		if (strcmp(pair, want) || !colon[1] || mf_conf_check_id(colon + 1, NULL))
			continue;
		snprintf(out, outsz, "%s", colon + 1);
		return out;
	}
	return NULL;
}

int mf_conf_has_section(const struct mf_conf *c, const char *section,
			const char *id)
{
	size_t i;

	for (i = 0; i < c->nsections; i++)
		if (!strcmp(c->sections[i].name, section) &&
		    (id ? c->sections[i].id && !strcmp(c->sections[i].id, id)
			: !c->sections[i].id))
			return 1;
	return 0;
}

enum mf_status mf_conf_check_id(const char *id, struct mf_err *err)
{
	size_t n = strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
			      "0123456789_.-");

	if (!*id || id[n] || n > 64 || id[0] == '.')
		return mf_err_set(err, MF_EUSAGE,
				  "bad unique id '%.80s': use 1-64 of A-Z a-z 0-9 _ . -", id);
	return MF_OK;
}

const char *mf_conf_spool(const struct mf_conf *c, const char *option)
{
	const char *env = getenv("MF_SPOOL");

	if (option && *option)
		return option;
	if (env && *env)
		return env;
	return mf_conf_str(c, "General", NULL, "Spool");
}

void mf_conf_log_setup(const struct mf_conf *c, const char *prog, int verbose,
		       int interactive)
{
	int to_syslog = MF_LOG_OFF, to_stderr = MF_LOG_OFF;

	if (mf_conf_bool(c, "General", NULL, "Syslog"))
		to_syslog = mf_log_level_parse(mf_conf_str(c, "General", NULL, "LogLevel"));
	if (verbose)
		to_stderr = verbose > 1 ? LOG_DEBUG : LOG_INFO;
	else if (interactive)
		to_stderr = LOG_NOTICE;
	mf_log_open(prog, to_syslog, to_stderr);
}
