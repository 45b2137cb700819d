/* Bounded line splitter for Kubernetes watch streams.
 *
 * A watch response is a stream of JSON objects, one per line, that arrives in
 * arbitrary chunks: an event may be split over many reads and one read may hold
 * many events. watch_buf_feed() takes each chunk as it comes and hands every
 * complete line to a callback. Only the unfinished tail is kept, and it may not
 * grow past the bound: a longer line is an error, after which the stream must be
 * dropped (the caller reconnects). Memory never exceeds bound + 1 bytes.
 */
#ifndef XLB_WATCH_BUF_H
#define XLB_WATCH_BUF_H

#include <stddef.h>

#define WATCH_BUF_DEFAULT_MAX (16u << 20)

struct watch_buf {
	char *data;	/* the unfinished line, NUL-terminated when handed out */
	size_t len;	/* bytes of the unfinished line */
	size_t cap;	/* allocated bytes */
	size_t max;	/* longest line accepted, without its newline */
};

/* Called for each complete line, without its "\n" or "\r\n" and NUL-terminated
 * (so it can go straight to cJSON). Empty lines are not reported. The line may
 * be modified but belongs to the buffer. A negative return stops the feed and
 * is returned by watch_buf_feed(). */
typedef int (*watch_buf_line_fn)(void *ctx, char *line, size_t len);

/* max 0 means WATCH_BUF_DEFAULT_MAX. */
void watch_buf_init(struct watch_buf *wb, size_t max);
/* Returns 0, -EMSGSIZE when a line exceeds the bound, -ENOMEM, or the first
 * negative callback return. After an error the buffer is empty. */
int watch_buf_feed(struct watch_buf *wb, const char *data, size_t n,
		   watch_buf_line_fn fn, void *ctx);
/* Bytes of an unfinished line held (a stream that ends with pending > 0 was
 * cut mid-event). */
size_t watch_buf_pending(const struct watch_buf *wb);
/* Forget any unfinished line (a new stream starts). */
void watch_buf_reset(struct watch_buf *wb);
void watch_buf_free(struct watch_buf *wb);

#endif
