// SPDX-License-Identifier: GPL-2.0
/* Bounded line splitter for watch streams; see watch_buf.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "watch_buf.h"

#define WATCH_BUF_MIN_CAP 4096

void watch_buf_init(struct watch_buf *wb, size_t max)
{
	memset(wb, 0, sizeof(*wb));
	wb->max = max ? max : WATCH_BUF_DEFAULT_MAX;
}

size_t watch_buf_pending(const struct watch_buf *wb)
{
	return wb->len;
}

void watch_buf_reset(struct watch_buf *wb)
{
	wb->len = 0;
}

void watch_buf_free(struct watch_buf *wb)
{
	free(wb->data);
	wb->data = NULL;
	wb->len = 0;
	wb->cap = 0;
}

/* Makes room for a line of want bytes plus its NUL; want <= max. */
static int reserve(struct watch_buf *wb, size_t want)
{
	size_t cap = wb->cap ? wb->cap : WATCH_BUF_MIN_CAP;
	char *p;

	if (want + 1 <= wb->cap)
		return 0;
	while (cap < want + 1)
		cap *= 2;
	if (cap > wb->max + 1)
		cap = wb->max + 1;
	p = realloc(wb->data, cap);
	if (!p)
		return -ENOMEM;
	wb->data = p;
	wb->cap = cap;
	return 0;
}

static int append(struct watch_buf *wb, const char *data, size_t n)
{
	int err;

	if (n > wb->max - wb->len)
		return -EMSGSIZE;
	err = reserve(wb, wb->len + n);
	if (err)
		return err;
	memcpy(wb->data + wb->len, data, n);
	wb->len += n;
	return 0;
}

/* Hands out the buffered line (complete now) and empties the buffer. */
static int emit(struct watch_buf *wb, watch_buf_line_fn fn, void *ctx)
{
	size_t len = wb->len;
	int err;

	if (len && wb->data[len - 1] == '\r')
		len--;
	wb->len = 0;
	if (!len)
		return 0;
	err = reserve(wb, len);
	if (err)
		return err;
	wb->data[len] = '\0';
	return fn(ctx, wb->data, len);
}

int watch_buf_feed(struct watch_buf *wb, const char *data, size_t n,
		   watch_buf_line_fn fn, void *ctx)
{
	while (n) {
		const char *nl = memchr(data, '\n', n);
		size_t part = nl ? (size_t)(nl - data) : n;
		int err;

		err = append(wb, data, part);
		if (!err && nl)
			err = emit(wb, fn, ctx);
		if (err) {
			wb->len = 0;
			return err;
		}
		data += part + !!nl;
		n -= part + !!nl;
	}
	return 0;
}
