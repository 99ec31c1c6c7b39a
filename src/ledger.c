/* The issuance log in CAROOT: append one tab-separated line per certificate,
 * read them back for `gbca list`. */
#include "config.h"
#include <gbca/ledger.h>
#include <gbca/path.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void
hex(const unsigned char *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

bool
gbca_ledger_entry_from(gnutls_x509_crt_t crt, const struct gbca_name *names, size_t n,
                       const char *file, struct gbca_ledger_entry *e, struct gbca_err *err)
{
	unsigned char buf[32];
	size_t len = 20, used = 0;
	int ret;

	memset(e, 0, sizeof(*e));
	e->issued = gnutls_x509_crt_get_activation_time(crt);
	e->not_after = gnutls_x509_crt_get_expiration_time(crt);
	if ((ret = gnutls_x509_crt_get_serial(crt, buf, &len)) < 0)
		return gbca_fail(err, "couldn't read the serial: %s", gnutls_strerror(ret));
	hex(buf, len, e->serial);
	len = sizeof(buf);
	if ((ret = gnutls_x509_crt_get_fingerprint(crt, GNUTLS_DIG_SHA256, buf, &len)) < 0)
		return gbca_fail(err, "couldn't hash the certificate: %s", gnutls_strerror(ret));
	hex(buf, len, e->sha256);
	for (size_t i = 0; i < n; i++) {
		int w = snprintf(e->names + used, sizeof(e->names) - used, "%s%s", i ? " " : "", names[i].text);
		if (w < 0 || (size_t)w >= sizeof(e->names) - used)
			break;  /* the log keeps as many names as fit; the certificate has them all */
		used += (size_t)w;
	}
	snprintf(e->file, sizeof(e->file), "%s", file ? file : "-");
	for (char *p = e->file; *p; p++)
		if ((unsigned char)*p < 0x20)
			*p = '?';
	return true;
}

bool
gbca_ledger_open(const char *caroot, int *fd, struct gbca_err *err)
{
	char path[PATH_MAX];
	struct stat st;

	if (!gbca_path_join(path, sizeof(path), caroot, GBCA_LEDGER_FILE, err))
		return false;
	/* CAROOT may be a user's folder: never follow a link planted there (root
	 * would append to its target), and append only to a plain file of our own. */
	*fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, 0600);
	if (*fd < 0) {
		int e = errno;
		if (e == ELOOP)
			return gbca_fail(err, "refusing the issuance log %s: it is a symbolic link; remove it (gbca makes a new one)", path);
		return gbca_fail(err, "couldn't open the issuance log %s: %s; is CAROOT writable by you?", path, strerror(e));
	}
	if (fstat(*fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1 ||
	    (geteuid() == 0 && st.st_uid != 0)) {
		close(*fd);
		*fd = -1;
		return gbca_fail(err, "refusing the issuance log %s: not a plain file of %s (a hard link, a device, or someone else's); remove it (gbca makes a new one)",
		                 path, geteuid() == 0 ? "root's" : "yours");
	}
	(void)fcntl(*fd, F_SETFL, O_APPEND);
	return true;
}

static void
iso(time_t t, char *buf, size_t len)
{
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

bool
gbca_ledger_append(int fd, const struct gbca_ledger_entry *e, struct gbca_err *err)
{
	char line[8192], issued[32], not_after[32];
	int n;
	ssize_t w;

	iso(e->issued, issued, sizeof(issued));
	iso(e->not_after, not_after, sizeof(not_after));
	n = snprintf(line, sizeof(line), "%s\t%s\t%s\t%s\t%s\t%s\n", issued, e->serial, not_after,
	             e->sha256, e->names, e->file);
	if (n < 0 || (size_t)n >= sizeof(line)) {
		close(fd);
		return gbca_fail(err, "issuance log line too long");
	}
	/* One write with O_APPEND: concurrent writers never interleave lines. */
	w = write(fd, line, (size_t)n);
	if (w != n) {
		int e2 = errno;
		close(fd);
		return gbca_fail(err, "couldn't append to the issuance log: %s", w < 0 ? strerror(e2) : "short write");
	}
	if (close(fd) < 0) {
		int e2 = errno;
		return gbca_fail(err, "couldn't append to the issuance log: %s", strerror(e2));
	}
	return true;
}

static bool
parse_iso(const char *s, time_t *out)
{
	struct tm tm;
	const char *end;

	memset(&tm, 0, sizeof(tm));
	end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (end == NULL || *end != '\0')
		return false;
	*out = timegm(&tm);
	return true;
}

static bool
field(char **cursor, char *out, size_t len)
{
	char *tab = strchr(*cursor, '\t');
	size_t n = tab ? (size_t)(tab - *cursor) : strlen(*cursor);

	if (n >= len)
		return false;
	memcpy(out, *cursor, n);
	out[n] = '\0';
	*cursor = tab ? tab + 1 : *cursor + n;
	return tab != NULL;
}

bool
gbca_ledger_parse_line(const char *line, struct gbca_ledger_entry *e)
{
	char copy[8192], issued[32], not_after[32];
	char *c = copy;

	memset(e, 0, sizeof(*e));
	if (strlen(line) >= sizeof(copy) || line[0] == '#')
		return false;
	strcpy(copy, line);
	if (!field(&c, issued, sizeof(issued)) || !field(&c, e->serial, sizeof(e->serial)) ||
	    !field(&c, not_after, sizeof(not_after)) || !field(&c, e->sha256, sizeof(e->sha256)) ||
	    !field(&c, e->names, sizeof(e->names)))
		return false;
	if (strlen(c) >= sizeof(e->file) || strchr(c, '\t'))
		return false;
	strcpy(e->file, c);
	return parse_iso(issued, &e->issued) && parse_iso(not_after, &e->not_after);
}

bool
gbca_ledger_read(const char *caroot, bool (*fn)(const struct gbca_ledger_entry *, void *),
                 void *data, struct gbca_err *err)
{
	char path[PATH_MAX], line[8192];
	struct gbca_ledger_entry e;
	FILE *f;

	if (!gbca_path_join(path, sizeof(path), caroot, GBCA_LEDGER_FILE, err))
		return false;
	f = fopen(path, "re");
	if (f == NULL) {
		int e2 = errno;
		if (e2 == ENOENT)
			return true;
		return gbca_fail(err, "couldn't read the issuance log %s: %s", path, strerror(e2));
	}
	while (fgets(line, sizeof(line), f)) {
		size_t n = strlen(line);
		if (n > 0 && line[n - 1] == '\n')
			line[--n] = '\0';
		if (gbca_ledger_parse_line(line, &e) && !fn(&e, data))
			break;
	}
	fclose(f);
	return true;
}
