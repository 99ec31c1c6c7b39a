/* User-facing error messages: formatted into a struct gbca_err or printed to stderr. */
#include "config.h"
#include <gbca/err.h>

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

bool gbca_quiet;

bool
gbca_fail(struct gbca_err *err, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return false;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return false;
}

bool
gbca_fail_prefix(struct gbca_err *err, const char *fmt, ...)
{
	char prefix[512];
	char old[sizeof(err->msg)];
	va_list ap;

	if (err == NULL)
		return false;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(old, err->msg, sizeof(old));
	snprintf(err->msg, sizeof(err->msg), "%.400s: %.600s", prefix, old);
	return false;
}

static void
print(const char *label, const char *fmt, va_list ap)
{
	fprintf(stderr, "gbca: %s", label);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void
gbca_print_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	print("error: ", fmt, ap);
	va_end(ap);
}

void
gbca_print_warning(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	print("warning: ", fmt, ap);
	va_end(ap);
}

void
gbca_print_note(const char *fmt, ...)
{
	va_list ap;

	if (gbca_quiet)
		return;
	va_start(ap, fmt);
	print("", fmt, ap);
	va_end(ap);
}
