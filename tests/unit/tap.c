/* SPDX-License-Identifier: MIT */
#include "tap.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static unsigned int tap_count;
static unsigned int tap_failures;

bool tap_ok(bool cond, const char *file, int line, const char *fmt, ...)
{
	va_list args;

	tap_count++;
	printf("%s %u - ", cond ? "ok" : "not ok", tap_count);
	va_start(args, fmt);
	vprintf(fmt, args);
	va_end(args);
	printf("\n");
	if (!cond) {
		tap_failures++;
		printf("#   failed at %s:%d\n", file, line);
	}
	return cond;
}

bool tap_is_i64(int64_t got, int64_t expected, const char *file, int line, const char *what)
{
	bool cond = got == expected;

	tap_ok(cond, file, line, "%s", what);
	if (!cond) {
		printf("#   got:      %" PRId64 "\n#   expected: %" PRId64 "\n", got, expected);
	}
	return cond;
}

bool tap_is_str(const char *got, const char *expected, const char *file, int line, const char *what)
{
	bool cond = (got == NULL && expected == NULL) ||
		    (got && expected && strcmp(got, expected) == 0);

	tap_ok(cond, file, line, "%s", what);
	if (!cond) {
		printf("#   got:      \"%s\"\n#   expected: \"%s\"\n", got ? got : "(null)",
		       expected ? expected : "(null)");
	}
	return cond;
}

int tap_done(void)
{
	printf("1..%u\n", tap_count);
	if (tap_failures) {
		printf("# %u of %u checks failed\n", tap_failures, tap_count);
	}
	return tap_failures || tap_count == 0 ? 1 : 0;
}
