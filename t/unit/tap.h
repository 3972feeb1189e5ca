/* SPDX-License-Identifier: MIT */
/* A minimal TAP producer for the library's unit tests. */
#ifndef MF_TAP_H
#define MF_TAP_H

void tap_plan(int n);
/* ok(cond, name...) prints "ok N - name" or "not ok N - name"; returns cond. */
int tap_ok(int cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* is_str/is_int compare and print both values as a diagnostic on failure. */
int tap_is_str(const char *got, const char *want, const char *name);
int tap_is_int(long long got, long long want, const char *name);
void tap_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A fresh empty directory for this test; removed at exit unless MF_KEEP is set. */
const char *tap_tmpdir(void);
/* Exit status: 0 when every planned test ran and passed. */
int tap_done(void);

#define ok tap_ok
#define is_str tap_is_str
#define is_int tap_is_int

#endif
