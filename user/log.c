#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "log.h"

void xlb_log(int level, const char *fmt, ...)
{
	static const char *const names[] = {
		[LOG_ERR] = "E", [LOG_WARNING] = "W", [LOG_NOTICE] = "N",
		[LOG_INFO] = "I", [LOG_DEBUG] = "D",
	};
	struct timespec ts;
	struct tm tm;
	char when[32];
	va_list ap;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%H:%M:%S", &tm);
	flockfile(stderr);
	fprintf(stderr, "%s %s.%03ld xlb: ", level <= LOG_DEBUG && names[level] ? names[level] : "?",
		when, ts.tv_nsec / 1000000);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	funlockfile(stderr);
}
