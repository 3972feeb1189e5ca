/* SPDX-License-Identifier: MIT */
/* Durations, sizes and timestamps as written in mf.conf and envelopes. */
#ifndef MF_TIME_H
#define MF_TIME_H

#include <stdint.h>
#include <time.h>

/*
 * Durations: an unsigned number with an optional unit s, m, h, d or w
 * ("30s", "10m", "1d"); several may follow each other ("1h30m").  A bare
 * number is seconds.  Sizes: a number with an optional unit B, K, M, G
 * (powers of 1024, case-insensitive, "KB"/"KiB" accepted).  Timestamps are
 * RFC 3339 in UTC, second precision: "2026-11-23T10:54:16Z".
 * Parsers return 0 on success, -1 on bad syntax or overflow (and then leave
 * the output alone).
 */
int mf_parse_duration(const char *s, int64_t *seconds);
int mf_parse_size(const char *s, uint64_t *bytes);

#define MF_TIMESTAMP_LEN 21 /* "YYYY-MM-DDTHH:MM:SSZ" + NUL */
void mf_format_timestamp(time_t t, char out[MF_TIMESTAMP_LEN]);
int mf_parse_timestamp(const char *s, time_t *t);
/* "3d4h", "12m", "40s": a short human form of a duration (for listings). */
void mf_format_age(int64_t seconds, char *out, size_t outsz);

#endif
