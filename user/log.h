/* One log line per event on stderr: time, level, message. */
#ifndef XLB_LOG_H
#define XLB_LOG_H

#include <syslog.h>	/* LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG */

void xlb_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
