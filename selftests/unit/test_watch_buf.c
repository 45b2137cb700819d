// SPDX-License-Identifier: GPL-2.0
/* watch_buf: lines split at every byte boundary, packed lines, CRLF, the bound. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "watch_buf.h"

#define MAX_LINES 16

struct lines {
	int n;
	char *line[MAX_LINES];
	int stop_after;		/* return -ECANCELED after this many; 0 = never */
};

static int collect(void *ctx, char *line, size_t len)
{
	struct lines *l = ctx;

	if (l->n == MAX_LINES || strlen(line) != len)
		return -EINVAL;
	l->line[l->n++] = strdup(line);
	if (l->stop_after && l->n == l->stop_after)
		return -ECANCELED;
	return 0;
}

static void lines_free(struct lines *l)
{
	for (int i = 0; i < l->n; i++)
		free(l->line[i]);
	memset(l, 0, sizeof(*l));
}

static const char stream[] = "{\"type\":\"ADDED\"}\n{\"a\":1}\n\n{\"b\":[1,2]}\n";
static const char *const want[] = { "{\"type\":\"ADDED\"}", "{\"a\":1}", "{\"b\":[1,2]}" };

static int same_lines(const struct lines *l)
{
	if (l->n != 3)
		return 0;
	for (int i = 0; i < 3; i++)
		if (strcmp(l->line[i], want[i]))
			return 0;
	return 1;
}

/* Every way of cutting the stream in two, then in 1-byte pieces. */
static void test_split_every_boundary(void)
{
	size_t n = strlen(stream);

	test_begin("watch_buf_split_every_boundary");
	for (size_t cut = 0; cut <= n; cut++) {
		struct watch_buf wb;
		struct lines l = { 0 };
		int e1, e2;

		watch_buf_init(&wb, 64);
		e1 = watch_buf_feed(&wb, stream, cut, collect, &l);
		e2 = watch_buf_feed(&wb, stream + cut, n - cut, collect, &l);
		CHECK(!e1 && !e2, "cut %zu: errors %d %d", cut, e1, e2);
		CHECK(same_lines(&l), "cut %zu: got %d lines", cut, l.n);
		CHECK(watch_buf_pending(&wb) == 0, "cut %zu: pending", cut);
		lines_free(&l);
		watch_buf_free(&wb);
	}
	test_end();

	test_begin("watch_buf_one_byte_chunks");
	{
		struct watch_buf wb;
		struct lines l = { 0 };
		int err = 0;

		watch_buf_init(&wb, 64);
		for (size_t i = 0; i < n && !err; i++)
			err = watch_buf_feed(&wb, stream + i, 1, collect, &l);
		CHECK(!err, "feed: %d", err);
		CHECK(same_lines(&l), "got %d lines", l.n);
		lines_free(&l);
		watch_buf_free(&wb);
	}
	test_end();
}

static void test_packed_and_partial(void)
{
	struct watch_buf wb;
	struct lines l = { 0 };
	int err;

	test_begin("watch_buf_packed_lines_and_tail");
	watch_buf_init(&wb, 64);
	err = watch_buf_feed(&wb, "{\"x\":1}\n{\"y\":2}\n{\"z\"", 20, collect, &l);
	CHECK(!err, "feed: %d", err);
	CHECK(l.n == 2, "lines %d", l.n);
	CHECK(watch_buf_pending(&wb) == 4, "pending %zu", watch_buf_pending(&wb));
	watch_buf_reset(&wb);
	CHECK(watch_buf_pending(&wb) == 0, "pending after reset");
	err = watch_buf_feed(&wb, "{\"q\":3}\n", 8, collect, &l);
	CHECK(!err && l.n == 3 && !strcmp(l.line[2], "{\"q\":3}"),
	      "after reset: err %d n %d", err, l.n);
	lines_free(&l);
	watch_buf_free(&wb);
	test_end();
}

static void test_crlf(void)
{
	struct watch_buf wb;
	struct lines l = { 0 };
	int err;

	test_begin("watch_buf_crlf");
	watch_buf_init(&wb, 64);
	err = watch_buf_feed(&wb, "{\"a\":1}\r", 8, collect, &l);
	err = err ?: watch_buf_feed(&wb, "\n\r\n{\"b\":2}\r\n", 12, collect, &l);
	CHECK(!err, "feed: %d", err);
	CHECK(l.n == 2 && !strcmp(l.line[0], "{\"a\":1}") &&
	      !strcmp(l.line[1], "{\"b\":2}"), "lines %d", l.n);
	lines_free(&l);
	watch_buf_free(&wb);
	test_end();
}

static void test_oversize(void)
{
	char big[100];
	struct watch_buf wb;
	struct lines l = { 0 };
	int err;

	memset(big, 'x', sizeof(big));
	test_begin("watch_buf_oversize_is_error");
	watch_buf_init(&wb, 16);
	/* Exactly at the bound is fine. */
	err = watch_buf_feed(&wb, big, 16, collect, &l);
	err = err ?: watch_buf_feed(&wb, "\n", 1, collect, &l);
	CHECK(!err && l.n == 1 && strlen(l.line[0]) == 16, "at bound: %d", err);
	/* One past the bound, in pieces: error, buffer emptied, bounded. */
	err = watch_buf_feed(&wb, big, 10, collect, &l);
	CHECK(!err, "first piece: %d", err);
	err = watch_buf_feed(&wb, big, 7, collect, &l);
	CHECK(err == -EMSGSIZE, "over bound: %d", err);
	CHECK(watch_buf_pending(&wb) == 0, "pending after error");
	CHECK(wb.cap <= 17, "cap %zu exceeds bound", wb.cap);
	/* Packed short lines whose total exceeds the bound are fine. */
	err = watch_buf_feed(&wb, "aaaaaaaa\nbbbbbbbb\ncccccccc\n", 27, collect, &l);
	CHECK(!err && l.n == 4, "packed after error: %d n %d", err, l.n);
	/* A huge chunk without a newline does not grow the buffer. */
	err = watch_buf_feed(&wb, big, sizeof(big), collect, &l);
	CHECK(err == -EMSGSIZE && wb.cap <= 17, "huge chunk: %d cap %zu", err, wb.cap);
	lines_free(&l);
	watch_buf_free(&wb);
	test_end();

	test_begin("watch_buf_default_bound");
	watch_buf_init(&wb, 0);
	CHECK(wb.max == WATCH_BUF_DEFAULT_MAX, "max %zu", wb.max);
	watch_buf_free(&wb);
	test_end();
}

static void test_callback_stop(void)
{
	struct watch_buf wb;
	struct lines l = { .stop_after = 1 };
	int err;

	test_begin("watch_buf_callback_error_stops_feed");
	watch_buf_init(&wb, 64);
	err = watch_buf_feed(&wb, "a\nb\nc", 5, collect, &l);
	CHECK(err == -ECANCELED, "err %d", err);
	CHECK(l.n == 1, "lines %d", l.n);
	CHECK(watch_buf_pending(&wb) == 0, "pending after stop");
	lines_free(&l);
	watch_buf_free(&wb);
	test_end();
}

int main(void)
{
	test_split_every_boundary();
	test_packed_and_partial();
	test_crlf();
	test_oversize();
	test_callback_stop();
	return test_exit_status();
}
