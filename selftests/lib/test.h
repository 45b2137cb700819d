/* Minimal test reporting shared by every C test: each case prints one line,
 * "PASS: name", "FAIL: name: why" or "SKIP: name: why"; selftests/run counts
 * them. */
#ifndef XLB_TEST_H
#define XLB_TEST_H

#include <stdio.h>

extern int test_failures;	/* cases failed so far in this binary */
extern int test_case_failed;	/* the current case has a failed check */
extern const char *test_case_name;

void test_begin(const char *name);
/* Prints the verdict of the current case; returns 0 when it passed. */
int test_end(void);
void test_skip(const char *name, const char *why);
/* Exit status for main(): non-zero when any case failed. */
int test_exit_status(void);

#define CHECK(cond, fmt, ...)                                                 \
	({                                                                    \
		int __ok = !!(cond);                                          \
		if (!__ok) {                                                  \
			test_case_failed = 1;                                 \
			fprintf(stderr, "  %s:%d: %s: " fmt "\n", __FILE__,  \
				__LINE__, test_case_name, ##__VA_ARGS__);     \
		}                                                             \
		__ok;                                                         \
	})

#endif
