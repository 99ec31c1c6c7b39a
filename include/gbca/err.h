/* User-facing error messages and diagnostics. */
#ifndef GBCA_ERR_H
#define GBCA_ERR_H

#include <stdbool.h>
#include <stddef.h>

/* A message for the user: names the thing that went wrong and the next step.
 * Library code fills one and returns false; only cmd-*.c prints it. */
struct gbca_err {
	char msg[1024];
};

#if defined(__GNUC__)
#define GBCA_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define GBCA_PRINTF(f, a)
#endif

/* Sets err (if not NULL) and returns false, so callers can `return gbca_fail(...)`. */
bool gbca_fail(struct gbca_err *err, const char *fmt, ...) GBCA_PRINTF(2, 3);

/* Prefixes an existing message: "context: old message". Returns false. */
bool gbca_fail_prefix(struct gbca_err *err, const char *fmt, ...) GBCA_PRINTF(2, 3);

void gbca_print_error(const char *fmt, ...) GBCA_PRINTF(1, 2);
void gbca_print_warning(const char *fmt, ...) GBCA_PRINTF(1, 2);
void gbca_print_note(const char *fmt, ...) GBCA_PRINTF(1, 2);

/* Turns off notes (not warnings or errors); set by --quiet. */
extern bool gbca_quiet;

#endif
