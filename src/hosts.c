/* The hosts-file entries for the served names: gbca's block, --force, status. */
#include "config.h"
#include <gbca/strbuf.h>
#include <gbca/hosts.h>
#include <gbca/names.h>
#include <gbca/save.h>
#include <gbca/store.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define HOSTS_MAX (16 * 1024 * 1024)   /* refuse anything bigger than any sane hosts file */
#define MAX_TOKENS 256
#define ADDR4 "127.0.0.1"
#define ADDR6 "::1"

/* One line of the file: off..off+len includes its terminator ("\n", "\r\n"
 * or nothing on a last line without one); clen leaves the terminator out. */
struct line {
	size_t off, len, clen;
};

/* One entry of gbca's block. */
struct entry {
	bool v6;
	char name[256];
};

struct hosts {
	char *data;
	size_t len;
	struct line *lines;
	size_t n_lines;
	ssize_t begin, end;        /* gbca's block: marker line indexes, -1 when none */
	struct entry *entries;
	size_t n_entries;
	const char *eol;           /* what the block's lines end with */
};

static void
hosts_free(struct hosts *h)
{
	free(h->data);
	free(h->lines);
	free(h->entries);
	memset(h, 0, sizeof(*h));
}

static bool
starts_with(const char *p, size_t len, const char *prefix)
{
	size_t n = strlen(prefix);
	return len >= n && memcmp(p, prefix, n) == 0;
}

struct tok {
	const char *p;
	size_t len;
};

/* The fields of a hosts line as glibc reads them: up to '#', split on space. */
static size_t
tokens(const char *p, size_t len, struct tok *out, size_t max)
{
	size_t n = 0, i = 0;

	while (i < len && p[i] != '#' && n < max) {
		while (i < len && isspace((unsigned char)p[i]))
			i++;
		if (i >= len || p[i] == '#')
			break;
		out[n].p = p + i;
		while (i < len && p[i] != '#' && !isspace((unsigned char)p[i]))
			i++;
		out[n].len = (size_t)(p + i - out[n].p);
		n++;
	}
	return n;
}

static bool
tok_is(const struct tok *t, const char *s)
{
	return t->len == strlen(s) && strncasecmp(t->p, s, t->len) == 0;
}

/* Parses a token as an address: family, or 0 when it is none. */
static int
tok_addr(const struct tok *t, unsigned char ip[16])
{
	char a[INET6_ADDRSTRLEN + 1];

	if (t->len >= sizeof(a))
		return 0;
	memcpy(a, t->p, t->len);
	a[t->len] = '\0';
	if (inet_pton(AF_INET, a, ip) == 1)
		return AF_INET;
	if (inet_pton(AF_INET6, a, ip) == 1)
		return AF_INET6;
	return 0;
}

/* The addresses gbca puts in the file, and so never a conflict. */
static bool
is_ours(int family, const unsigned char ip[16])
{
	static const unsigned char v4[4] = { 127, 0, 0, 1 };
	static const unsigned char v6[16] = { [15] = 1 };

	return family == AF_INET ? memcmp(ip, v4, 4) == 0 : memcmp(ip, v6, 16) == 0;
}

static bool
add_entry(struct hosts *h, bool v6, const char *name, size_t name_len)
{
	struct entry *e;

	if (name_len >= sizeof(e->name))
		return false;
	e = realloc(h->entries, (h->n_entries + 1) * sizeof(*e));
	if (e == NULL)
		return false;
	h->entries = e;
	e = &h->entries[h->n_entries++];
	e->v6 = v6;
	memcpy(e->name, name, name_len);
	e->name[name_len] = '\0';
	for (char *c = e->name; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	return true;
}

static ssize_t
find_entry(const struct hosts *h, bool v6, const char *name)
{
	for (size_t i = 0; i < h->n_entries; i++)
		if (h->entries[i].v6 == v6 && strcmp(h->entries[i].name, name) == 0)
			return (ssize_t)i;
	return -1;
}

static void
drop_entry(struct hosts *h, size_t i)
{
	memmove(&h->entries[i], &h->entries[i + 1], (h->n_entries - i - 1) * sizeof(h->entries[0]));
	h->n_entries--;
}

/* Splits h->data into lines and finds gbca's block and its entries. */
static bool
hosts_parse(struct hosts *h, const char *shown, struct gbca_err *err)
{
	size_t cap = 0;

	h->begin = h->end = -1;
	for (size_t off = 0; off < h->len;) {
		const char *nl = memchr(h->data + off, '\n', h->len - off);
		struct line l = { .off = off };
		l.len = nl ? (size_t)(nl - (h->data + off)) + 1 : h->len - off;
		l.clen = nl ? l.len - 1 : l.len;
		if (nl && l.clen > 0 && h->data[off + l.clen - 1] == '\r')
			l.clen--;
		if (h->n_lines == cap) {
			struct line *n = realloc(h->lines, (cap = cap ? cap * 2 : 64) * sizeof(*n));
			if (n == NULL)
				return gbca_fail(err, "out of memory reading %s", shown);
			h->lines = n;
		}
		h->lines[h->n_lines++] = l;
		off += l.len;
	}

	/* The block's lines end the way the file's first line does. */
	h->eol = "\n";
	if (h->n_lines > 0 && h->lines[0].len >= 2 && h->lines[0].clen == h->lines[0].len - 2)
		h->eol = "\r\n";

	for (size_t i = 0; i < h->n_lines; i++) {
		const char *p = h->data + h->lines[i].off;
		size_t clen = h->lines[i].clen;
		if (starts_with(p, clen, GBCA_HOSTS_BEGIN)) {
			if (h->begin >= 0)
				return gbca_fail(err, "%s has gbca's block twice (lines %zd and %zu); delete one of them by hand",
				                 shown, h->begin + 1, i + 1);
			h->begin = (ssize_t)i;
		} else if (starts_with(p, clen, GBCA_HOSTS_END)) {
			if (h->begin < 0 || h->end >= 0)
				return gbca_fail(err, "line %zu of %s ends a gbca block that did not start; delete it by hand", i + 1, shown);
			h->end = (ssize_t)i;
		} else if (h->begin >= 0 && h->end < 0) {
			struct tok t[3];
			unsigned char ip[16];
			int family;
			if (tokens(p, clen, t, 3) != 2 || (family = tok_addr(&t[0], ip)) == 0 || !is_ours(family, ip) ||
			    memchr(p, '#', clen) != NULL)
				return gbca_fail(err, "line %zu of %s, inside gbca's block, is not one of gbca's entries: \"%.*s\"; "
				                 "move it out of the block (or delete it) by hand", i + 1, shown, (int)clen, p);
			if (!add_entry(h, family == AF_INET6, t[1].p, t[1].len))
				return gbca_fail(err, "line %zu of %s: name too long or out of memory", i + 1, shown);
		}
	}
	if (h->begin >= 0 && h->end < 0)
		return gbca_fail(err, "gbca's block in %s (line %zd) has no end line \"%s\"; fix it by hand",
		                 shown, h->begin + 1, GBCA_HOSTS_END);
	if (h->begin >= 0)
		h->eol = (h->lines[h->begin].len - h->lines[h->begin].clen == 2) ? "\r\n" : "\n";
	return true;
}

/* Reads all of fd. */
static bool
read_all(int fd, const char *shown, struct hosts *h, struct gbca_err *err)
{
	struct gbca_strbuf b = { 0 };
	char chunk[8192];
	ssize_t n;

	for (;;) {
		n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		gbca_strbuf_add(&b, chunk, (size_t)n);
		if (b.len > HOSTS_MAX) {
			free(b.p);
			errno = EFBIG;
			return gbca_fail(err, "%s is bigger than %d MB; is it really a hosts file?", shown, HOSTS_MAX >> 20);
		}
	}
	if (n < 0 || b.oom) {
		int e = b.oom ? ENOMEM : errno;
		free(b.p);
		errno = e;
		return gbca_fail(err, "couldn't read %s: %s", shown, strerror(e));
	}
	h->data = b.p;
	h->len = b.len;
	return true;
}

bool
gbca_hosts_path(char *buf, size_t len, const char *path, struct gbca_err *err)
{
	if (path != NULL) {
		if (snprintf(buf, len, "%s", path) >= (int)len)
			return gbca_fail(err, "path too long: %s", path);
		return true;
	}
	return gbca_sys_path(buf, len, GBCA_HOSTS_FILE, err);
}

bool
gbca_hosts_check_name(const char *in, char *out, size_t out_len, struct gbca_err *err)
{
	struct gbca_name n;

	if (!gbca_name_parse(in, &n, err))
		return false;
	switch (n.type) {
	case GBCA_NAME_DNS:
		break;
	case GBCA_NAME_WILDCARD:
		return gbca_fail(err, "\"%s\": hosts files can't hold wildcards (each line names exact hosts); "
		                 "list the names you need one by one", in);
	case GBCA_NAME_IPV4:
	case GBCA_NAME_IPV6:
		return gbca_fail(err, "\"%s\" is an IP address; a hosts file maps host names to addresses", in);
	default:
		return gbca_fail(err, "\"%s\" is %s, not a host name", in,
		                 n.type == GBCA_NAME_EMAIL ? "an email address" : "a URI");
	}
	if (snprintf(out, out_len, "%s", n.text) >= (int)out_len)
		return gbca_fail(err, "\"%s\" is too long", in);
	return true;
}

bool
gbca_hosts_ipv6_default(void)
{
	FILE *f = fopen("/proc/net/if_inet6", "re");
	char line[256];
	bool found = false;

	if (f == NULL)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		found = strncmp(line, "00000000000000000000000000000001 ", 33) == 0;
	fclose(f);
	return found;
}

/* Opens and locks the real file behind shown: fd is read-write when it can
 * be (else read-only, with the reason in *rw_errno). The lock serialises gbca
 * runs; a run that waited re-opens when the one before renamed a new file in. */
static bool
open_locked(const char *shown, char *real, size_t real_len, int *fd_out, int *rw_errno,
            struct stat *st, struct gbca_err *err)
{
	char buf[PATH_MAX];

	for (int tries = 0; tries < 100; tries++) {
		struct stat now;
		int fd, e;

		if (realpath(shown, buf) == NULL) {
			e = errno;
			if (e == ENOENT)
				gbca_fail(err, "%s does not exist; gbca only edits an existing hosts file "
				          "(give another with --hosts-file)", shown);
			else
				gbca_fail(err, "couldn't open %s: %s", shown, strerror(e));
			errno = e;
			return false;
		}
		if (snprintf(real, real_len, "%s", buf) >= (int)real_len) {
			errno = ENAMETOOLONG;
			return gbca_fail(err, "path too long: %s", buf);
		}
		*rw_errno = 0;
		fd = open(real, O_RDWR | O_CLOEXEC | O_NOCTTY);
		if (fd < 0) {
			*rw_errno = errno;
			fd = open(real, O_RDONLY | O_CLOEXEC | O_NOCTTY);
		}
		if (fd < 0) {
			e = errno;
			gbca_fail(err, "couldn't open %s: %s", shown, strerror(e));
			errno = e;
			return false;
		}
		while (flock(fd, LOCK_EX) < 0 && errno == EINTR)
			;
		if (fstat(fd, st) < 0 || !S_ISREG(st->st_mode)) {
			close(fd);
			errno = EINVAL;
			return gbca_fail(err, "%s is not a regular file", shown);
		}
		if (stat(real, &now) == 0 && now.st_dev == st->st_dev && now.st_ino == st->st_ino) {
			*fd_out = fd;
			return true;
		}
		close(fd);
	}
	errno = EAGAIN;
	return gbca_fail(err, "%s keeps changing under gbca; try again", shown);
}

static const char *
why(int e)
{
	switch (e) {
	case EACCES:
	case EPERM:
		return "; it needs root";
	case EROFS:
		return "; the file system is read-only";
	case ENOSPC:
	case EDQUOT:
		return "; free some disk space";
	default:
		return "";
	}
}

/* A new file by rename, with mode and owner; on failure errno says why and
 * nothing is left. */
static bool
save_as(const char *path, const char *data, size_t len, const struct stat *st, struct gbca_save *s,
        bool commit)
{
	int e;

	if (!gbca_save_begin(s, path, st->st_mode & 07777, NULL))
		return false;
	if (!gbca_save_write(s, data, len, NULL) ||
	    ((st->st_uid != geteuid() || st->st_gid != getegid()) && fchown(s->fd, st->st_uid, st->st_gid) < 0) ||
	    !gbca_save_finish(s, NULL) || (commit && !gbca_save_commit(s, NULL))) {
		e = errno;
		gbca_save_abort(s);
		errno = e;
		return false;
	}
	return true;
}

static bool
pwrite_all(int fd, const char *data, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t w = pwrite(fd, data + done, len - done, (off_t)done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		done += (size_t)w;
	}
	return true;
}

static void
report_add(char *report, size_t len, const char *fmt, ...) GBCA_PRINTF(3, 4);

static void
report_add(char *report, size_t len, const char *fmt, ...)
{
	size_t used = strnlen(report, len);
	va_list ap;

	if (len == 0 || used + 1 >= len)
		return;
	if (used > 0) {
		report[used++] = '\n';
		report[used] = '\0';
	}
	va_start(ap, fmt);
	vsnprintf(report + used, len - used, fmt, ap);
	va_end(ap);
}

/* Replaces the file's content: rename when that works, else in place. */
static bool
write_hosts(const char *shown, const char *real, int fd, int rw_errno, const struct stat *st,
            const char *data, size_t len, char *report, size_t report_len, struct gbca_err *err)
{
	struct gbca_save s;
	const char *how;
	int e;

	if (save_as(real, data, len, st, &s, false)) {
		if (rename(s.tmp, real) == 0) {
			s.tmp[0] = '\0';
			return true;
		}
		e = errno;
		if (e != EBUSY && e != EXDEV && e != EPERM && e != EACCES) {
			gbca_save_abort(&s);
			errno = e;
			return gbca_fail(err, "couldn't replace %s: %s%s", shown, strerror(e), why(e));
		}
		/* A bind mount (Docker, Kubernetes, our tests) can't be renamed
		 * over. Keep the fsynced temp file until the in-place write is on
		 * disk, so a crash in between leaves the whole new content there. */
		how = e == EBUSY || e == EXDEV ? "it is a mount point, which rename() can't replace"
		                               : "rename() over it was refused";
	} else {
		e = errno;
		s.tmp[0] = '\0';
		s.fd = -1;
		if (e != EACCES && e != EPERM && e != EROFS) {
			errno = e;
			return gbca_fail(err, "couldn't write %s: %s%s", shown, strerror(e), why(e));
		}
		/* The folder is not ours to write (a lone bind-mounted file), or
		 * the owner can't be kept: only the file itself can change. */
		how = e == EROFS ? "its folder is read-only" : "a new file can't take its place";
	}
	if (rw_errno != 0) {
		gbca_save_abort(&s);
		errno = rw_errno;
		return gbca_fail(err, "couldn't write %s: %s%s", shown, strerror(rw_errno), why(rw_errno));
	}
	if (!pwrite_all(fd, data, len) || ftruncate(fd, (off_t)len) < 0 || fsync(fd) < 0) {
		e = errno;
		if (s.tmp[0] != '\0') {
			gbca_fail(err, "couldn't rewrite %s in place: %s%s; the new content is in %s, the original in %s%s",
			          shown, strerror(e), why(e), s.tmp, shown, GBCA_HOSTS_BACKUP_SUFFIX);
		} else {
			gbca_fail(err, "couldn't rewrite %s in place: %s%s; the original is in %s%s",
			          shown, strerror(e), why(e), shown, GBCA_HOSTS_BACKUP_SUFFIX);
		}
		errno = e;
		return false;
	}
	gbca_save_abort(&s);
	report_add(report, report_len, "rewrote %s in place (%s)", shown, how);
	return true;
}

/* True when entry k is the first for its name (reports say each name once). */
static bool
first_of_name(const struct hosts *h, size_t k)
{
	for (size_t j = 0; j < k; j++)
		if (strcmp(h->entries[j].name, h->entries[k].name) == 0)
			return false;
	return true;
}

static bool
has_entry(const struct hosts *h, const char *name)
{
	return find_entry(h, false, name) >= 0 || find_entry(h, true, name) >= 0;
}

bool
gbca_hosts_set(const char *path, const char *const *names_in, size_t n, bool on, bool ipv6,
               bool force, char *report, size_t report_len, struct gbca_err *err)
{
	static const char *const default_names[] = { GBCA_HOSTS_DEFAULT_NAME };
	char shown[PATH_MAX], real[PATH_MAX], backup[PATH_MAX + 32];
	char (*names)[256] = NULL;
	struct hosts h = { 0 };
	struct gbca_strbuf out = { 0 };
	struct stat st;
	unsigned char *disable = NULL, *enable = NULL;
	size_t n_before;
	int fd = -1, rw_errno = 0, e = 0;
	bool ok = false;

	if (report_len > 0)
		report[0] = '\0';
	if (!gbca_hosts_path(shown, sizeof(shown), path, err))
		return false;
	if (on && n == 0) {
		names_in = default_names;
		n = 1;
	}
	if (n > 0 && (names = calloc(n, sizeof(*names))) == NULL) {
		errno = ENOMEM;
		return gbca_fail(err, "out of memory");
	}
	for (size_t i = 0; i < n; i++) {
		if (!gbca_hosts_check_name(names_in[i], names[i], sizeof(names[i]), err)) {
			free(names);
			errno = EINVAL;
			return false;
		}
	}
	if (!open_locked(shown, real, sizeof(real), &fd, &rw_errno, &st, err)) {
		e = errno;
		free(names);
		errno = e;
		return false;
	}
	if (!read_all(fd, shown, &h, err) || !hosts_parse(&h, shown, err)) {
		e = errno ? errno : EINVAL;
		goto out;
	}
	disable = calloc(h.n_lines + 1, 1);
	enable = calloc(h.n_lines + 1, 1);
	if (disable == NULL || enable == NULL) {
		e = ENOMEM;
		gbca_fail(err, "out of memory");
		goto out;
	}

	n_before = h.n_entries;
	if (on) {
		/* Conflicts first: a line not gbca's that maps a name elsewhere. */
		for (size_t i = 0; i < h.n_lines; i++) {
			const char *p = h.data + h.lines[i].off;
			size_t clen = h.lines[i].clen;
			struct tok t[MAX_TOKENS];
			unsigned char ip[16];
			size_t nt;
			int family;

			if (h.begin >= 0 && (ssize_t)i >= h.begin && (ssize_t)i <= h.end)
				continue;
			nt = tokens(p, clen, t, MAX_TOKENS);
			if (nt < 2 || (family = tok_addr(&t[0], ip)) == 0 || is_ours(family, ip))
				continue;
			for (size_t k = 1; k < nt; k++) {
				for (size_t j = 0; j < n; j++) {
					if (!tok_is(&t[k], names[j]))
						continue;
					if (!force) {
						e = EEXIST;
						gbca_fail(err, "line %zu of %s already maps %s to %.*s: \"%.*s\"; gbca won't add a "
						          "second address for it. Delete or comment out that line, or run again "
						          "with --force, which disables it until 'gbca hosts off'",
						          i + 1, shown, names[j], (int)t[0].len, t[0].p, (int)clen, p);
						goto out;
					}
					disable[i] = 1;
				}
			}
		}
		for (size_t j = 0; j < n; j++) {
			bool changed = false;
			ssize_t k;
			if (find_entry(&h, false, names[j]) < 0) {
				changed = true;
				if (!add_entry(&h, false, names[j], strlen(names[j])))
					goto oom;
			}
			k = find_entry(&h, true, names[j]);
			if (ipv6 && k < 0) {
				changed = true;
				if (!add_entry(&h, true, names[j], strlen(names[j])))
					goto oom;
			} else if (!ipv6 && k >= 0) {
				changed = true;
				drop_entry(&h, (size_t)k);
			}
			if (changed)
				report_add(report, report_len, "%s -> %s%s in %s", names[j], ADDR4, ipv6 ? ", " ADDR6 : "", shown);
			else
				report_add(report, report_len, "%s: already on in %s", names[j], shown);
		}
	} else if (n == 0) {
		for (size_t k = 0; k < h.n_entries; k++)
			if (first_of_name(&h, k))
				report_add(report, report_len, "removed %s from %s", h.entries[k].name, shown);
		h.n_entries = 0;
		if (n_before == 0)
			report_add(report, report_len, "already off: %s has no entries from gbca", shown);
	} else {
		for (size_t j = 0; j < n; j++) {
			ssize_t k;
			if (!has_entry(&h, names[j])) {
				report_add(report, report_len, "%s: already off in %s", names[j], shown);
				continue;
			}
			while ((k = find_entry(&h, false, names[j])) >= 0 || (k = find_entry(&h, true, names[j])) >= 0)
				drop_entry(&h, (size_t)k);
			report_add(report, report_len, "removed %s from %s", names[j], shown);
		}
	}

	/* A line --force disabled comes back once none of its names is gbca's. */
	for (size_t i = 0; i < h.n_lines; i++) {
		const char *p = h.data + h.lines[i].off;
		size_t clen = h.lines[i].clen, pl = strlen(GBCA_HOSTS_DISABLED);
		struct tok t[MAX_TOKENS];
		size_t nt;
		bool keep = false;

		if (!starts_with(p, clen, GBCA_HOSTS_DISABLED) ||
		    (h.begin >= 0 && (ssize_t)i >= h.begin && (ssize_t)i <= h.end))
			continue;
		nt = tokens(p + pl, clen - pl, t, MAX_TOKENS);
		for (size_t k = 1; k < nt && !keep; k++) {
			char nm[256];
			if (t[k].len >= sizeof(nm))
				continue;
			for (size_t c = 0; c < t[k].len; c++)
				nm[c] = (char)tolower((unsigned char)t[k].p[c]);
			nm[t[k].len] = '\0';
			keep = has_entry(&h, nm);
		}
		if (!keep) {
			enable[i] = 1;
			report_add(report, report_len, "re-enabled line %zu of %s: \"%.*s\"", i + 1, shown,
			           (int)(clen - pl), p + pl);
		}
	}

	/* The new file: the block (at the top, or where it was), then every
	 * other line as it was, bar the ones disabled or re-enabled. */
	{
		struct gbca_strbuf block = { 0 };
		if (h.n_entries > 0) {
			gbca_strbuf_str(&block, GBCA_HOSTS_BEGIN " added by 'gbca hosts on'; 'gbca hosts off' removes it");
			gbca_strbuf_str(&block, h.eol);
			for (size_t k = 0; k < h.n_entries; k++) {
				gbca_strbuf_str(&block, h.entries[k].v6 ? ADDR6 : ADDR4);
				gbca_strbuf_str(&block, " ");
				gbca_strbuf_str(&block, h.entries[k].name);
				gbca_strbuf_str(&block, h.eol);
			}
			gbca_strbuf_str(&block, GBCA_HOSTS_END);
			gbca_strbuf_str(&block, h.eol);
		}
		if (h.begin < 0 && block.len > 0)
			gbca_strbuf_add(&out, block.p, block.len);
		for (size_t i = 0; i < h.n_lines; i++) {
			const struct line *l = &h.lines[i];
			if (h.begin >= 0 && (ssize_t)i >= h.begin && (ssize_t)i <= h.end) {
				if ((ssize_t)i == h.begin && block.len > 0)
					gbca_strbuf_add(&out, block.p, block.len);
				continue;
			}
			if (disable[i]) {
				gbca_strbuf_str(&out, GBCA_HOSTS_DISABLED);
				report_add(report, report_len, "disabled line %zu of %s: \"%.*s\" ('gbca hosts off' re-enables it)",
				           i + 1, shown, (int)l->clen, h.data + l->off);
			}
			if (enable[i])
				gbca_strbuf_add(&out, h.data + l->off + strlen(GBCA_HOSTS_DISABLED), l->len - strlen(GBCA_HOSTS_DISABLED));
			else
				gbca_strbuf_add(&out, h.data + l->off, l->len);
		}
		if (out.p == NULL && !out.oom)
			gbca_strbuf_add(&out, "", 0);
		free(block.p);
		if (block.oom || out.oom)
			goto oom;
	}

	if (out.len == h.len && memcmp(out.p, h.data, h.len) == 0) {
		ok = true;
		goto out;
	}

	/* The first change keeps a copy of the file as it was. */
	if (snprintf(backup, sizeof(backup), "%s%s", shown, GBCA_HOSTS_BACKUP_SUFFIX) >= (int)sizeof(backup)) {
		e = ENAMETOOLONG;
		gbca_fail(err, "path too long: %s%s", shown, GBCA_HOSTS_BACKUP_SUFFIX);
		goto out;
	}
	if (access(backup, F_OK) < 0) {
		struct gbca_save s;
		if (errno != ENOENT || !save_as(backup, h.data, h.len, &st, &s, true)) {
			e = errno;
			gbca_fail(err, "couldn't keep a copy of %s in %s before changing it: %s%s",
			          shown, backup, strerror(e), why(e));
			goto out;
		}
		report_add(report, report_len, "kept a copy of the original in %s", backup);
	}
	if (!write_hosts(shown, real, fd, rw_errno, &st, out.p, out.len, report, report_len, err)) {
		e = errno;
		goto out;
	}
	ok = true;
	goto out;

oom:
	e = ENOMEM;
	gbca_fail(err, "out of memory");
out:
	if (fd >= 0)
		close(fd);
	free(out.p);
	free(disable);
	free(enable);
	free(names);
	hosts_free(&h);
	if (!ok) {
		/* nothing was changed, so nothing to report */
		if (report_len > 0)
			report[0] = '\0';
		errno = e ? e : EIO;
	}
	return ok;
}

static void
addr_add(char *addr, size_t addr_len, const char *a)
{
	size_t used = strnlen(addr, addr_len), alen = strlen(a);
	const char *p = addr;

	/* skip duplicates: the list is short */
	while ((p = strstr(p, a)) != NULL) {
		if ((p == addr || p[-1] == ' ') && (p[alen] == '\0' || p[alen] == ' '))
			return;
		p += alen;
	}
	if (used + (used > 0) + alen + 1 > addr_len)
		return;
	snprintf(addr + used, addr_len - used, "%s%s", used > 0 ? " " : "", a);
}

bool
gbca_hosts_uses_resolver(const char *path)
{
	char shown[PATH_MAX], a[PATH_MAX], b[PATH_MAX];

	if (!gbca_hosts_path(shown, sizeof(shown), path, NULL))
		return false;
	if (realpath(shown, a) == NULL || realpath(GBCA_HOSTS_FILE, b) == NULL)
		return strcmp(shown, GBCA_HOSTS_FILE) == 0;
	return strcmp(a, b) == 0;
}

bool
gbca_hosts_status(const char *path, const char *name_in, bool *on, char *addr, size_t addr_len,
                  struct gbca_err *err)
{
	char shown[PATH_MAX], name[256];
	struct hosts h = { 0 };
	int fd;
	bool ok;

	if (addr_len > 0)
		addr[0] = '\0';
	*on = false;
	if (!gbca_hosts_path(shown, sizeof(shown), path, err) ||
	    !gbca_hosts_check_name(name_in, name, sizeof(name), err))
		return false;
	if ((fd = open(shown, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0) {
		int e = errno;
		if (e == ENOENT)
			return gbca_fail(err, "%s does not exist", shown);
		return gbca_fail(err, "couldn't read %s: %s", shown, strerror(e));
	}
	ok = read_all(fd, shown, &h, err) && hosts_parse(&h, shown, err);
	close(fd);
	if (!ok) {
		hosts_free(&h);
		return false;
	}
	*on = find_entry(&h, false, name) >= 0;

	if (gbca_hosts_uses_resolver(path)) {
		struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *res, *r;
		if (getaddrinfo(name, NULL, &hints, &res) == 0) {
			for (r = res; r; r = r->ai_next) {
				char a[INET6_ADDRSTRLEN];
				const void *src = r->ai_family == AF_INET
					? (const void *)&((struct sockaddr_in *)r->ai_addr)->sin_addr
					: (const void *)&((struct sockaddr_in6 *)r->ai_addr)->sin6_addr;
				if ((r->ai_family == AF_INET || r->ai_family == AF_INET6) &&
				    inet_ntop(r->ai_family, src, a, sizeof(a)))
					addr_add(addr, addr_len, a);
			}
			freeaddrinfo(res);
		}
	} else {
		/* glibc's files backend: every line that names it, in file order. */
		for (size_t i = 0; i < h.n_lines; i++) {
			struct tok t[MAX_TOKENS];
			unsigned char ip[16];
			char a[INET6_ADDRSTRLEN];
			size_t nt = tokens(h.data + h.lines[i].off, h.lines[i].clen, t, MAX_TOKENS);
			int family;

			if (nt < 2 || (family = tok_addr(&t[0], ip)) == 0)
				continue;
			for (size_t k = 1; k < nt; k++) {
				if (tok_is(&t[k], name) && inet_ntop(family, ip, a, sizeof(a))) {
					addr_add(addr, addr_len, a);
					break;
				}
			}
		}
	}
	hosts_free(&h);
	return true;
}

bool
gbca_hosts_all_loopback(const char *addrs)
{
	char a[INET6_ADDRSTRLEN + 1];
	unsigned char ip[16];
	bool any = false;

	while (*addrs) {
		size_t len = strcspn(addrs, " ");
		if (len > 0) {
			if (len >= sizeof(a))
				return false;
			memcpy(a, addrs, len);
			a[len] = '\0';
			if (inet_pton(AF_INET, a, ip) == 1) {
				if (ip[0] != 127)
					return false;
			} else if (inet_pton(AF_INET6, a, ip) != 1 || !is_ours(AF_INET6, ip)) {
				return false;
			}
			any = true;
		}
		addrs += len;
		while (*addrs == ' ')
			addrs++;
	}
	return any;
}
