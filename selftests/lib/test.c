#include "test.h"

int test_failures;
int test_case_failed;
const char *test_case_name = "?";

void test_begin(const char *name)
{
	test_case_name = name;
	test_case_failed = 0;
}

int test_end(void)
{
	if (test_case_failed) {
		test_failures++;
		printf("FAIL: %s\n", test_case_name);
	} else {
		printf("PASS: %s\n", test_case_name);
	}
	fflush(stdout);
	return test_case_failed;
}

void test_skip(const char *name, const char *why)
{
	printf("SKIP: %s: %s\n", name, why);
	fflush(stdout);
}

int test_exit_status(void)
{
	return test_failures ? 1 : 0;
}
