/* The TAP test library: named cases, per-case temp dirs, failures that end one case. */
#include "config.h"
#include "tap.h"

#include <ftw.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/wait.h>
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

const char *
tap_path(const char *fmt, ...)
{
	static char buf[8][1024];
	static int i;
	char rel[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(rel, sizeof(rel), fmt, ap);
	va_end(ap);
	i = (i + 1) % 8;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", tap_tmpdir(), rel);
	return buf[i];
}

const char *
tap_capture(int *status, const char *fmt, ...)
{
	static char buf[4][256 * 1024];
	static int i;
	char cmd[4096];
	va_list ap;
	FILE *p;
	size_t n;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	i = (i + 1) % 4;
	if ((p = popen(cmd, "r")) == NULL)
		tap_fail(__FILE__, __LINE__, "popen %s", cmd);
	n = fread(buf[i], 1, sizeof(buf[i]) - 1, p);
	buf[i][n] = '\0';
	st = pclose(p);
	if (status)
		*status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	return buf[i];
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
