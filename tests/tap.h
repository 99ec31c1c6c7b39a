/* A small TAP test library with named cases, after p11-kit's test.h.
 * Register cases with tap_add("/module/case", fn), then return tap_run().
 * A failed assertion reports file:line and ends the current case only. */
#ifndef GBCA_TAP_H
#define GBCA_TAP_H

#include <setjmp.h>
#include <stdio.h>
#include <string.h>

typedef void (*tap_fn)(void);

void tap_add(const char *name, tap_fn fn);
int tap_run(void);
void tap_fail(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4), noreturn));

#define assert_true(c) \
	do { if (!(c)) tap_fail(__FILE__, __LINE__, "assertion failed: %s", #c); } while (0)
#define assert_false(c) assert_true(!(c))
#define assert_int_eq(a, b) \
	do { long long a_ = (long long)(a), b_ = (long long)(b); \
	     if (a_ != b_) tap_fail(__FILE__, __LINE__, "%s == %lld, want %s == %lld", #a, a_, #b, b_); } while (0)
#define assert_str_eq(a, b) \
	do { const char *a_ = (a), *b_ = (b); \
	     if (a_ == NULL || b_ == NULL || strcmp(a_, b_) != 0) \
	         tap_fail(__FILE__, __LINE__, "%s is \"%s\", want \"%s\"", #a, a_ ? a_ : "(null)", b_ ? b_ : "(null)"); } while (0)
#define assert_str_contains(hay, needle) \
	do { const char *h_ = (hay), *n_ = (needle); \
	     if (h_ == NULL || strstr(h_, n_) == NULL) \
	         tap_fail(__FILE__, __LINE__, "%s is \"%s\", want it to contain \"%s\"", #hay, h_ ? h_ : "(null)", n_); } while (0)

/* A fresh private directory for the current case, removed after it. */
const char *tap_tmpdir(void);
/* tap_tmpdir()/FMT...: a path in it, good until 8 more calls. */
const char *tap_path(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The standard output of `sh -c FMT...` (up to 256 KiB, good until 4 more
 * calls); *status (if not NULL) gets its exit status, -1 if it did not exit. */
const char *tap_capture(int *status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
