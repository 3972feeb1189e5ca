/* SPDX-License-Identifier: MIT */
/* Durations, sizes and timestamps as written in mf.conf and envelopes. */
#include "mf_time.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int parse_number(const char **sp, uint64_t *v)
{
	const char *s = *sp;
	uint64_t n = 0;

	if (!isdigit((unsigned char)*s))
		return -1;
	for (; isdigit((unsigned char)*s); s++) {
		unsigned d = (unsigned)(*s - '0');
		if (n > UINT64_MAX / 10 || (n == UINT64_MAX / 10 && d > UINT64_MAX % 10))
			return -1;
		n = n * 10 + d;
	}
	*sp = s;
	*v = n;
	return 0;
}

static int64_t duration_unit(char c)
{
	switch (tolower((unsigned char)c)) {
	case 's': return 1;
	case 'm': return 60;
	case 'h': return 3600;
	case 'd': return 86400;
	case 'w': return 7 * 86400;
	default: return 0;
	}
}

int mf_parse_duration(const char *s, int64_t *seconds)
{
	int64_t total = 0, unit;
	uint64_t n;

	if (!*s)
		return -1;
	while (*s) {
		if (parse_number(&s, &n) < 0)
			return -1;
		unit = 1;
		if (*s) {
			unit = duration_unit(*s);
			if (!unit)
				return -1;
			s++;
		}
		if (n > (uint64_t)(INT64_MAX / unit) ||
		    total > INT64_MAX - (int64_t)n * unit)
			return -1;
		total += (int64_t)n * unit;
	}
	*seconds = total;
	return 0;
}

int mf_parse_size(const char *s, uint64_t *bytes)
{
	static const struct { const char *unit; uint64_t mult; } units[] = {
		{ "", 1 }, { "b", 1 },
		{ "k", 1ULL << 10 }, { "kb", 1ULL << 10 }, { "kib", 1ULL << 10 },
		{ "m", 1ULL << 20 }, { "mb", 1ULL << 20 }, { "mib", 1ULL << 20 },
		{ "g", 1ULL << 30 }, { "gb", 1ULL << 30 }, { "gib", 1ULL << 30 },
	};
	uint64_t n;
	size_t i;

	if (parse_number(&s, &n) < 0)
		return -1;
	for (i = 0; i < sizeof units / sizeof units[0]; i++) {
		if (strcasecmp(s, units[i].unit))
			continue;
		if (n > UINT64_MAX / units[i].mult)
			return -1;
		*bytes = n * units[i].mult;
		return 0;
	}
	return -1;
}

void mf_format_timestamp(time_t t, char out[MF_TIMESTAMP_LEN])
{
	struct tm tm;
	char buf[64];

	/* not strftime(): it reads the time zone files, which UTC never needs */
	if (!gmtime_r(&t, &tm) || tm.tm_year + 1900 > 9999 || tm.tm_year + 1900 < 0)
		snprintf(out, MF_TIMESTAMP_LEN, "1970-01-01T00:00:00Z");
	else {
		snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02dZ",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
			 tm.tm_min, tm.tm_sec);
		snprintf(out, MF_TIMESTAMP_LEN, "%.20s", buf);
	}
}

/* Exactly YYYY-MM-DDTHH:MM:SSZ, a real date: formatting the result back must
 * give the same text (strptime alone takes Feb 30 and one-digit fields). */
int mf_parse_timestamp(const char *s, time_t *t)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:ddZ";
	char back[MF_TIMESTAMP_LEN];
	struct tm tm;
	time_t v;
	size_t i;

	if (strlen(s) != sizeof shape - 1)
		return -1;
	for (i = 0; shape[i]; i++)
		if (shape[i] == 'd' ? !isdigit((unsigned char)s[i]) : s[i] != shape[i])
			return -1;
	memset(&tm, 0, sizeof tm);
	tm.tm_year = atoi(s) - 1900;
	tm.tm_mon = atoi(s + 5) - 1;
	tm.tm_mday = atoi(s + 8);
	tm.tm_hour = atoi(s + 11);
	tm.tm_min = atoi(s + 14);
	tm.tm_sec = atoi(s + 17);
	v = timegm(&tm);
	mf_format_timestamp(v, back);
	if (strcmp(back, s))
		return -1;
	*t = v;
	return 0;
}

void mf_format_age(int64_t s, char *out, size_t outsz)
{
	if (s < 0)
		s = 0;
	if (s < 60)
		snprintf(out, outsz, "%llds", (long long)s);
	else if (s < 3600)
		snprintf(out, outsz, "%lldm", (long long)(s / 60));
	else if (s < 86400)
		snprintf(out, outsz, "%lldh%lldm", (long long)(s / 3600),
			 (long long)(s % 3600 / 60));
	else
		snprintf(out, outsz, "%lldd%lldh", (long long)(s / 86400),
			 (long long)(s % 86400 / 3600));
}
