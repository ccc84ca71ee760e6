/* SPDX-License-Identifier: MIT */
/*
 * A minimal TAP producer for the C unit tests: each check prints one
 * `ok`/`not ok` line, and `tap_done()` gives the process exit status.
 */
#ifndef VMTRACE_TESTS_UNIT_TAP_H
#define VMTRACE_TESTS_UNIT_TAP_H

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>

/* Records one check; returns `cond`. */
bool tap_ok(bool cond, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Records an equality check of two signed integers, printing both on failure. */
bool tap_is_i64(int64_t got, int64_t expected, const char *file, int line, const char *what);

/* Records an equality check of two strings (NULL allowed). */
bool tap_is_str(const char *got, const char *expected, const char *file, int line,
		const char *what);

/* Prints the plan and returns 0 if every check passed, else 1. */
int tap_done(void);

#define OK(cond, ...) tap_ok((cond), __FILE__, __LINE__, __VA_ARGS__)
#define IS_I64(got, expected, what) tap_is_i64((got), (expected), __FILE__, __LINE__, (what))
#define IS_STR(got, expected, what) tap_is_str((got), (expected), __FILE__, __LINE__, (what))

#endif /* VMTRACE_TESTS_UNIT_TAP_H */
