/* SPDX-License-Identifier: MIT */
/* Unit tests for durations, sizes, timestamps and ages (mf_time). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mf_time.h"
#include "tap.h"

static void dur_good(const char *s, int64_t want)
{
	int64_t got = -12345;
	char name[128];

	snprintf(name, sizeof name, "duration '%s' = %lld", s, (long long)want);
	if (!ok(mf_parse_duration(s, &got) == 0 && got == want, "%s", name))
		tap_diag("got %lld", (long long)got);
}

static void dur_bad(const char *s, const char *why)
{
	int64_t got = -12345;

	ok(mf_parse_duration(s, &got) == -1 && got == -12345,
	   "duration '%s' refused (%s), output untouched", s, why);
}

static void test_duration(void)
{
	dur_good("30s", 30);
	dur_good("10m", 600);
	dur_good("2h", 7200);
	dur_good("1d", 86400);
	dur_good("1w", 7 * 86400);
	dur_good("1h30m", 5400);
	dur_good("1d2h3m4s", 86400 + 7200 + 180 + 4);
	dur_good("0s", 0);
	dur_good("0", 0);
	dur_good("45", 45);
	dur_good("2H", 7200);
	dur_good("9223372036854775807", INT64_MAX);
	dur_good("9223372036854775807s", INT64_MAX);

	dur_bad("", "empty");
	dur_bad("10x", "unknown unit");
	dur_bad("-5", "negative");
	dur_bad("+5", "sign");
	dur_bad("m", "unit without a number");
	dur_bad("10mm", "unit twice");
	dur_bad("1.5h", "fraction");
	dur_bad(" 10s", "leading blank");
	dur_bad("10s ", "trailing blank");
	dur_bad("10 s", "blank before the unit");
	dur_bad("9223372036854775808", "one past INT64_MAX seconds");
	dur_bad("99999999999999999999999", "number overflows 64 bits");
	dur_bad("15250284452472w", "weeks overflow");
	dur_bad("106751991167301d", "days overflow");
	dur_bad("9223372036854775807s1s", "sum overflows");
}

static void size_good(const char *s, uint64_t want)
{
	uint64_t got = 12345;
	char name[128];

	snprintf(name, sizeof name, "size '%s' = %llu", s, (unsigned long long)want);
	if (!ok(mf_parse_size(s, &got) == 0 && got == want, "%s", name))
		tap_diag("got %llu", (unsigned long long)got);
}

static void size_bad(const char *s, const char *why)
{
	uint64_t got = 12345;

	ok(mf_parse_size(s, &got) == -1 && got == 12345,
	   "size '%s' refused (%s), output untouched", s, why);
}

static void test_size(void)
{
	size_good("512K", 512 * 1024);
	size_good("512k", 512 * 1024);
	size_good("50M", 50ULL << 20);
	size_good("1G", 1ULL << 30);
	size_good("10MB", 10ULL << 20);
	size_good("10MiB", 10ULL << 20);
	size_good("10mib", 10ULL << 20);
	size_good("3KB", 3 * 1024);
	size_good("3KiB", 3 * 1024);
	size_good("2GB", 2ULL << 30);
	size_good("100B", 100);
	size_good("100", 100);
	size_good("0", 0);
	size_good("17179869183G", 17179869183ULL << 30);
	size_good("18446744073709551615", UINT64_MAX);

	size_bad("", "empty");
	size_bad("K", "unit without a number");
	size_bad("10X", "unknown unit");
	size_bad("10T", "terabytes are not a unit");
	size_bad("-1", "negative");
	size_bad("1.5M", "fraction");
	size_bad("10 M", "blank before the unit");
	size_bad("10MBB", "garbage after the unit");
	size_bad("10Mi", "'Mi' alone");
	size_bad("18446744073709551616", "one past UINT64_MAX");
	size_bad("17179869184G", "2^64 bytes overflows");
	size_bad("18014398509481984K", "2^64 bytes in K overflows");
}

static void ts_good(const char *s, time_t want)
{
	time_t got = 12345;
	char name[128];

	snprintf(name, sizeof name, "timestamp '%s' = %lld", s, (long long)want);
	if (!ok(mf_parse_timestamp(s, &got) == 0 && got == want, "%s", name))
		tap_diag("got %lld", (long long)got);
}

static void ts_bad(const char *s, const char *why)
{
	time_t got = 12345;

	ok(mf_parse_timestamp(s, &got) == -1 && got == 12345,
	   "timestamp '%s' refused (%s)", s, why);
}

static void test_timestamp(void)
{
	char out[MF_TIMESTAMP_LEN];
	static const time_t samples[] = { 0, 1, 59, 951782400 /* 2000-02-29 */,
					  1795431256, 2147483647, 4102444799 };
	size_t i;
	int rt = 1;

	/* Formatting is UTC whatever the local zone. */
	setenv("TZ", "America/New_York", 1);
	tzset();

	mf_format_timestamp(0, out);
	is_str(out, "1970-01-01T00:00:00Z", "epoch formats as 1970-01-01T00:00:00Z");
	mf_format_timestamp(1795431256, out);
	is_str(out, "2026-11-23T10:54:16Z", "a 2026 time formats in UTC");
	mf_format_timestamp(951782400, out);
	is_str(out, "2000-02-29T00:00:00Z", "leap day formats");
	is_int((long long)strlen(out), MF_TIMESTAMP_LEN - 1, "timestamp length is 20");

	for (i = 0; i < sizeof samples / sizeof samples[0]; i++) {
		time_t back = -1;
		mf_format_timestamp(samples[i], out);
		if (mf_parse_timestamp(out, &back) != 0 || back != samples[i]) {
			rt = 0;
			tap_diag("%lld -> %s -> %lld", (long long)samples[i], out,
				 (long long)back);
		}
	}
	ok(rt, "format/parse round trip for sample times (TZ not UTC)");

	ts_good("2026-11-23T10:54:16Z", 1795431256);
	ts_good("1970-01-01T00:00:00Z", 0);
	ts_good("2000-02-29T12:00:00Z", 951825600);

	ts_bad("", "empty");
	ts_bad("2026-11-23", "date only");
	ts_bad("2026-11-23T10:54:16", "no Z");
	ts_bad("2026-11-23T10:54:16+01:00", "offset instead of Z");
	ts_bad("2026-11-23 10:54:16Z", "blank instead of T");
	ts_bad("2026-11-23T10:54:16Zjunk", "trailing junk");
	ts_bad("2026-11-23T10:54:16Z ", "trailing blank");
	ts_bad("2026-13-01T00:00:00Z", "month 13");
	ts_bad("2026-11-23T24:00:00Z", "hour 24");
	ts_bad("2026-11-23T10:60:00Z", "minute 60");
	ts_bad("2026-11-32T00:00:00Z", "day 32");
	ts_bad("2026-02-30T00:00:00Z", "February 30 does not exist");
	ts_bad("2025-02-29T00:00:00Z", "not a leap year");
	ts_bad("2026-1-2T3:4:5Z", "one-digit fields are not RFC 3339");
	ts_bad(" 2026-11-23T10:54:16Z", "leading blank");
	ts_bad("tomorrow", "words");

	setenv("TZ", "UTC", 1);
	tzset();
}

static void age(int64_t s, const char *want)
{
	char out[32], name[64];

	snprintf(name, sizeof name, "age %lld -> %s", (long long)s, want);
	mf_format_age(s, out, sizeof out);
	is_str(out, want, name);
}

static void test_age(void)
{
	char small[4];

	age(0, "0s");
	age(40, "40s");
	age(59, "59s");
	age(60, "1m");
	age(12 * 60 + 59, "12m");
	age(3599, "59m");
	age(3600, "1h0m");
	age(3600 + 61, "1h1m");
	age(86399, "23h59m");
	age(86400, "1d0h");
	age(3 * 86400 + 4 * 3600 + 59 * 60, "3d4h");
	age(400 * 86400, "400d0h");
	age(-5, "0s");

	memset(small, 'Z', sizeof small);
	mf_format_age(3 * 86400 + 4 * 3600, small, sizeof small);
	ok(small[3] == '\0' && !strcmp(small, "3d4"), "age is truncated to the buffer");
}

int main(void)
{
	tap_plan(93);
	test_duration();
	test_size();
	test_timestamp();
	test_age();
	return tap_done();
}
