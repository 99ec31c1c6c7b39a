/* The TAP test library: named cases, per-case temp dirs, failures that end one case. */
#include "config.h"
#include "tap.h"

#include <ftw.h>
#include <stdarg.h>
#include <stdlib.h>
#include <unistd.h>

#define TAP_MAX 256

static struct {
	const char *name;
	tap_fn fn;
} cases[TAP_MAX];
static int n_cases;
static jmp_buf case_jmp;
static char tmpdir[256];

void
tap_add(const char *name, tap_fn fn)
{
	if (n_cases == TAP_MAX) {
		fprintf(stderr, "too many test cases\n");
		abort();
	}
	cases[n_cases].name = name;
	cases[n_cases].fn = fn;
	n_cases++;
}

void
tap_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	printf("# %s:%d: ", file, line);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	longjmp(case_jmp, 1);
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	return remove(path);
}

const char *
tap_tmpdir(void)
{
	if (tmpdir[0] == '\0') {
		const char *base = getenv("TMPDIR");
		snprintf(tmpdir, sizeof(tmpdir), "%s/gbca-unit.XXXXXX", base ? base : "/tmp");
		if (mkdtemp(tmpdir) == NULL) {
			perror("mkdtemp");
			abort();
		}
	}
	return tmpdir;
}

int
tap_run(void)
{
	static int failed;

	printf("1..%d\n", n_cases);
	for (int i = 0; i < n_cases; i++) {
		volatile int ok = 1;
		if (setjmp(case_jmp) == 0)
			cases[i].fn();
		else
			ok = 0;
		if (tmpdir[0] != '\0') {
			nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
			tmpdir[0] = '\0';
		}
		printf("%s %d %s\n", ok ? "ok" : "not ok", i + 1, cases[i].name);
		fflush(stdout);
		failed += !ok;
	}
	/* Failures are in the TAP lines; a non-zero exit would count them twice. */
	fprintf(stderr, "%d of %d cases failed\n", failed, n_cases);
	return 0;
}
