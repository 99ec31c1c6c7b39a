/* The hosts-file entries for the served names: gbca's block, --force, status. */
#include "config.h"
#include <gbca/block.h>
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
	char addr[INET6_ADDRSTRLEN];   /* normal form (inet_ntop) */
	char name[256];
};

struct hosts {
	struct gbca_text text;
	const char *data;          /* text.data */
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
	gbca_text_free(&h->text);
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
add_entry(struct hosts *h, bool v6, const char *addr, const char *name, size_t name_len)
{
	struct entry *e;

	if (name_len >= sizeof(e->name) || strlen(addr) >= sizeof(e->addr))
		return false;
	e = realloc(h->entries, (h->n_entries + 1) * sizeof(*e));
	if (e == NULL)
		return false;
	h->entries = e;
	e = &h->entries[h->n_entries++];
	e->v6 = v6;
	strcpy(e->addr, addr);
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

/* An entry for name whose address is not addr, or -1. */
static ssize_t
find_other(const struct hosts *h, const char *name, const char *addr)
{
	for (size_t i = 0; i < h->n_entries; i++)
		if (strcmp(h->entries[i].name, name) == 0 && strcmp(h->entries[i].addr, addr) != 0)
			return (ssize_t)i;
	return -1;
}

static void
drop_entry(struct hosts *h, size_t i)
{
	memmove(&h->entries[i], &h->entries[i + 1], (h->n_entries - i - 1) * sizeof(h->entries[0]));
	h->n_entries--;
}

/* The comment after an entry for another address ('gbca join'): what tells
 * gbca's line from one a user put in the block by hand. */
#define JOIN_MARK " " GBCA_HOSTS_JOIN_MARK

/* A line inside gbca's block: one of its entries, which goes into h: a
 * loopback one ('gbca hosts on'), or another address with JOIN_MARK after it
 * ('gbca join'). */
static bool
entry_ok(void *arg, const char *p, size_t n)
{
	struct hosts *h = arg;
	struct tok t[3];
	unsigned char ip[16];
	char a[INET6_ADDRSTRLEN];
	size_t ml = strlen(JOIN_MARK);
	bool marked;
	int family;

	if (n > 0 && p[n - 1] == '\r')
		n--;
	marked = n > ml && memcmp(p + n - ml, JOIN_MARK, ml) == 0;
	if (marked)
		n -= ml;
	return tokens(p, n, t, 3) == 2 && (family = tok_addr(&t[0], ip)) != 0 && is_ours(family, ip) != marked &&
	       inet_ntop(family, ip, a, sizeof(a)) != NULL && memchr(p, '#', n) == NULL &&
	       add_entry(h, family == AF_INET6, a, t[1].p, t[1].len);
}

/* Splits h->data into lines and finds gbca's block and its entries. */
static bool
hosts_parse(struct hosts *h, const char *shown, struct gbca_err *err)
{
	struct gbca_block_marks m = { GBCA_HOSTS_BEGIN, GBCA_HOSTS_END, NULL, entry_ok, h };
	struct gbca_block b;
	const struct line *bad;
	size_t cap = 0;

	h->data = h->text.data ? h->text.data : "";
	h->len = h->text.len;
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

	switch (gbca_block_find(h->data, h->len, &m, &b)) {
	case GBCA_BLOCK_OK:
	case GBCA_BLOCK_BAD_BEGIN:
		break;
	case GBCA_BLOCK_NESTED:
	case GBCA_BLOCK_TWICE:
		return gbca_fail(err, "%s has gbca's block twice (lines %zu and %zu); delete one of them by hand",
		                 shown, b.begin_line, b.problem_line);
	case GBCA_BLOCK_STRAY_END:
		return gbca_fail(err, "line %zu of %s ends a gbca block that did not start; delete it by hand",
		                 b.problem_line, shown);
	case GBCA_BLOCK_FOREIGN:
		bad = &h->lines[b.problem_line - 1];
		return gbca_fail(err, "line %zu of %s, inside gbca's block, is not one of gbca's entries: \"%.*s\"; "
		                 "move it out of the block (or delete it) by hand", b.problem_line, shown,
		                 (int)bad->clen, h->data + bad->off);
	case GBCA_BLOCK_NO_END:
		return gbca_fail(err, "gbca's block in %s (line %zu) has no end line \"%s\"; fix it by hand",
		                 shown, b.begin_line, GBCA_HOSTS_END);
	}
	for (size_t i = 0; b.found && i < h->n_lines; i++) {
		if (h->lines[i].off == b.start)
			h->begin = (ssize_t)i;
		if (h->lines[i].off + h->lines[i].len == b.end)
			h->end = (ssize_t)i;
	}
	if (h->begin >= 0)
		h->eol = (h->lines[h->begin].len - h->lines[h->begin].clen == 2) ? "\r\n" : "\n";
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

/* One line per thing done. */
#define report_add(report, len, ...) gbca_report_add(report, len, "\n", __VA_ARGS__)

/* Replaces the file's content: rename when that works, else in place. */
static bool
write_hosts(const char *shown, const char *real, int fd, int rw_errno, const struct stat *st,
            const char *data, size_t len, char *report, size_t report_len, struct gbca_err *err)
{
	struct gbca_save s;
	const char *how;
	int e;

	if (gbca_text_save(real, data, len, st->st_mode & 07777, st->st_uid, st->st_gid, &s, false)) {
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

/* What a change does to the file: the entries it ends with (in h), the
 * lines --force turns off and the ones it turns back on. */
struct plan {
	unsigned char *disable, *enable;   /* per line */
};

static bool
in_block(const struct hosts *h, size_t i)
{
	return h->begin >= 0 && (ssize_t)i >= h->begin && (ssize_t)i <= h->end;
}

/* A line not gbca's that maps one of the names elsewhere: an error, or with
 * force, a line to disable. */
static bool
plan_conflicts(const struct hosts *h, const struct gbca_hosts_change *c, char (*names)[256], struct plan *pl,
               const char *shown, struct gbca_err *err)
{
	for (size_t i = 0; i < h->n_lines; i++) {
		const char *p = h->data + h->lines[i].off;
		size_t clen = h->lines[i].clen;
		struct tok t[MAX_TOKENS];
		unsigned char ip[16];
		size_t nt;
		int family;

		if (in_block(h, i))
			continue;
		nt = tokens(p, clen, t, MAX_TOKENS);
		if (nt < 2 || (family = tok_addr(&t[0], ip)) == 0 || is_ours(family, ip))
			continue;
		for (size_t k = 1; k < nt; k++) {
			for (size_t j = 0; j < c->n; j++) {
				if (!tok_is(&t[k], names[j]))
					continue;
				if (!c->force) {
					errno = EEXIST;
					return gbca_fail(err, "line %zu of %s already maps %s to %.*s: \"%.*s\"; gbca won't add a "
					                 "second address for it. Delete or comment out that line, or run again "
					                 "with --force, which disables it until 'gbca hosts off'",
					                 i + 1, shown, names[j], (int)t[0].len, t[0].p, (int)clen, p);
				}
				pl->disable[i] = 1;
			}
		}
	}
	return true;
}

/* The entries after the change, in h. */
static bool
plan_entries(struct hosts *h, const struct gbca_hosts_change *c, char (*names)[256], const char *shown,
             char *report, size_t report_len)
{
	size_t n_before = h->n_entries;
	ssize_t k;

	if (c->on && c->address != NULL) {
		/* one address for the name, whatever it had before */
		bool v6 = strchr(c->address, ':') != NULL;
		for (size_t j = 0; j < c->n; j++) {
			bool changed = false;
			while ((k = find_other(h, names[j], c->address)) >= 0) {
				changed = true;
				drop_entry(h, (size_t)k);
			}
			if (find_entry(h, v6, names[j]) < 0) {
				changed = true;
				if (!add_entry(h, v6, c->address, names[j], strlen(names[j])))
					return false;
			}
			if (changed)
				report_add(report, report_len, "%s -> %s in %s", names[j], c->address, shown);
			else
				report_add(report, report_len, "%s: already on in %s", names[j], shown);
		}
	} else if (c->on) {
		for (size_t j = 0; j < c->n; j++) {
			bool changed = false;
			/* a gateway's address (gbca join) gives way to the loopback */
			for (size_t e = h->n_entries; e-- > 0;) {
				if (strcmp(h->entries[e].name, names[j]) == 0 &&
				    strcmp(h->entries[e].addr, h->entries[e].v6 ? ADDR6 : ADDR4) != 0) {
					changed = true;
					drop_entry(h, e);
				}
			}
			if (find_entry(h, false, names[j]) < 0) {
				changed = true;
				if (!add_entry(h, false, ADDR4, names[j], strlen(names[j])))
					return false;
			}
			k = find_entry(h, true, names[j]);
			if (c->ipv6 && k < 0) {
				changed = true;
				if (!add_entry(h, true, ADDR6, names[j], strlen(names[j])))
					return false;
			} else if (!c->ipv6 && k >= 0) {
				changed = true;
				drop_entry(h, (size_t)k);
			}
			if (changed)
				report_add(report, report_len, "%s -> %s%s in %s", names[j], ADDR4, c->ipv6 ? ", " ADDR6 : "", shown);
			else
				report_add(report, report_len, "%s: already on in %s", names[j], shown);
		}
	} else if (c->n == 0) {
		for (size_t e = 0; e < h->n_entries; e++)
			if (first_of_name(h, e))
				report_add(report, report_len, "removed %s from %s", h->entries[e].name, shown);
		h->n_entries = 0;
		if (n_before == 0)
			report_add(report, report_len, "already off: %s has no entries from gbca", shown);
	} else {
		for (size_t j = 0; j < c->n; j++) {
			if (!has_entry(h, names[j])) {
				report_add(report, report_len, "%s: already off in %s", names[j], shown);
				continue;
			}
			while ((k = find_entry(h, false, names[j])) >= 0 || (k = find_entry(h, true, names[j])) >= 0)
				drop_entry(h, (size_t)k);
			report_add(report, report_len, "removed %s from %s", names[j], shown);
		}
	}
	return true;
}

/* A line --force disabled comes back once none of its names is gbca's. */
static void
plan_reenable(const struct hosts *h, struct plan *pl, const char *shown, char *report, size_t report_len)
{
	for (size_t i = 0; i < h->n_lines; i++) {
		const char *p = h->data + h->lines[i].off;
		size_t clen = h->lines[i].clen, pl_len = strlen(GBCA_HOSTS_DISABLED);
		struct tok t[MAX_TOKENS];
		size_t nt;
		bool keep = false;

		if (!starts_with(p, clen, GBCA_HOSTS_DISABLED) || in_block(h, i))
			continue;
		nt = tokens(p + pl_len, clen - pl_len, t, MAX_TOKENS);
		for (size_t k = 1; k < nt && !keep; k++) {
			char nm[256];
			if (t[k].len >= sizeof(nm))
				continue;
			for (size_t c = 0; c < t[k].len; c++)
				nm[c] = (char)tolower((unsigned char)t[k].p[c]);
			nm[t[k].len] = '\0';
			keep = has_entry(h, nm);
		}
		if (!keep) {
			pl->enable[i] = 1;
			report_add(report, report_len, "re-enabled line %zu of %s: \"%.*s\"", i + 1, shown,
			           (int)(clen - pl_len), p + pl_len);
		}
	}
}

/* The new file: the block (at the top, or where it was), then every other
 * line as it was, bar the ones disabled or re-enabled. */
static void
render(const struct hosts *h, const struct plan *pl, struct gbca_strbuf *out, const char *shown, char *report,
       size_t report_len)
{
	struct gbca_strbuf block = { 0 };
	size_t dl = strlen(GBCA_HOSTS_DISABLED);

	if (h->n_entries > 0) {
		gbca_strbuf_str(&block, GBCA_HOSTS_BEGIN " added by 'gbca hosts on'; 'gbca hosts off' removes it");
		gbca_strbuf_str(&block, h->eol);
		for (size_t k = 0; k < h->n_entries; k++) {
			const struct entry *e = &h->entries[k];
			gbca_strbuf_str(&block, e->addr);
			gbca_strbuf_str(&block, " ");
			gbca_strbuf_str(&block, e->name);
			if (strcmp(e->addr, e->v6 ? ADDR6 : ADDR4) != 0)
				gbca_strbuf_str(&block, JOIN_MARK);
			gbca_strbuf_str(&block, h->eol);
		}
		gbca_strbuf_str(&block, GBCA_HOSTS_END);
		gbca_strbuf_str(&block, h->eol);
	}
	if (h->begin < 0)
		gbca_strbuf_add(out, block.p, block.len);
	for (size_t i = 0; i < h->n_lines; i++) {
		const struct line *l = &h->lines[i];
		if (in_block(h, i)) {
			if ((ssize_t)i == h->begin)
				gbca_strbuf_add(out, block.p, block.len);
			continue;
		}
		if (pl->disable[i]) {
			gbca_strbuf_str(out, GBCA_HOSTS_DISABLED);
			report_add(report, report_len, "disabled line %zu of %s: \"%.*s\" ('gbca hosts off' re-enables it)",
			           i + 1, shown, (int)l->clen, h->data + l->off);
		}
		if (pl->enable[i])
			gbca_strbuf_add(out, h->data + l->off + dl, l->len - dl);
		else
			gbca_strbuf_add(out, h->data + l->off, l->len);
	}
	gbca_strbuf_add(out, "", 1);
	out->len--;
	out->oom |= block.oom;
	free(block.p);
}

/* Keeps a copy of the file as it was (the first change only), then writes
 * the new content. */
static bool
commit(const char *shown, const char *real, int fd, int rw_errno, const struct hosts *h,
       const struct gbca_strbuf *out, char *report, size_t report_len, struct gbca_err *err)
{
	const struct stat *st = &h->text.st;
	char backup[PATH_MAX + 32];
	struct gbca_save s;
	int e;

	if (snprintf(backup, sizeof(backup), "%s%s", shown, GBCA_HOSTS_BACKUP_SUFFIX) >= (int)sizeof(backup)) {
		errno = ENAMETOOLONG;
		return gbca_fail(err, "path too long: %s%s", shown, GBCA_HOSTS_BACKUP_SUFFIX);
	}
	if (access(backup, F_OK) < 0) {
		if (errno != ENOENT ||
		    !gbca_text_save(backup, h->data, h->len, st->st_mode & 07777, st->st_uid, st->st_gid, &s, true)) {
			e = errno;
			gbca_fail(err, "couldn't keep a copy of %s in %s before changing it: %s%s",
			          shown, backup, strerror(e), why(e));
			errno = e;
			return false;
		}
		report_add(report, report_len, "kept a copy of the original in %s", backup);
	}
	return write_hosts(shown, real, fd, rw_errno, st, out->p, out->len, report, report_len, err);
}

/* The names the user gave, checked and in normal form; NULL on failure. */
static char (*check_names(const struct gbca_hosts_change *c, struct gbca_err *err))[256]
{
	char (*names)[256] = calloc(c->n ? c->n : 1, sizeof(*names));

	if (names == NULL) {
		errno = ENOMEM;
		gbca_fail(err, "out of memory");
		return NULL;
	}
	for (size_t i = 0; i < c->n; i++) {
		if (!gbca_hosts_check_name(c->names[i], names[i], sizeof(names[i]), err)) {
			free(names);
			errno = EINVAL;
			return NULL;
		}
	}
	return names;
}

/* An address given for 'on', in the form inet_ntop gives (the form the
 * block's entries are compared in). */
static bool
normal_address(const char *in, char *out, size_t out_len, struct gbca_err *err)
{
	unsigned char ip[16];
	int family = AF_INET;

	if (inet_pton(AF_INET, in, ip) != 1) {
		family = AF_INET6;
		if (inet_pton(AF_INET6, in, ip) != 1)
			return gbca_fail(err, "\"%s\" is not an IPv4 or IPv6 address", in);
	}
	if (inet_ntop(family, ip, out, (socklen_t)out_len) == NULL)
		return gbca_fail(err, "\"%s\" is not an IPv4 or IPv6 address", in);
	return true;
}

bool
gbca_hosts_apply(const struct gbca_hosts_change *change, char *report, size_t report_len, struct gbca_err *err)
{
	static const char *const default_names[] = { GBCA_HOSTS_DEFAULT_NAME };
	struct gbca_hosts_change c = *change;
	char shown[PATH_MAX], real[PATH_MAX], addr[INET6_ADDRSTRLEN];
	char (*names)[256] = NULL;
	struct hosts h = { 0 };
	struct gbca_strbuf out = { 0 };
	struct plan pl = { NULL, NULL };
	int fd = -1, rw_errno = 0, e = 0;
	bool ok = false;

	if (report_len > 0)
		report[0] = '\0';
	if (!gbca_hosts_path(shown, sizeof(shown), c.path, err))
		return false;
	if (c.on && c.n == 0) {
		c.names = default_names;
		c.n = 1;
	}
	if (c.on && c.address != NULL && !normal_address(c.address, addr, sizeof(addr), err)) {
		errno = EINVAL;
		return false;
	}
	if (c.address != NULL)
		c.address = addr;
	if ((names = check_names(&c, err)) == NULL)
		return false;
	if (!open_locked(shown, real, sizeof(real), &fd, &rw_errno, &h.text.st, err)) {
		e = errno;
		goto out;
	}
	if (!gbca_text_read_fd(&h.text, fd, shown, HOSTS_MAX, err) || !hosts_parse(&h, shown, err)) {
		e = errno ? errno : EINVAL;
		goto out;
	}
	pl.disable = calloc(h.n_lines + 1, 1);
	pl.enable = calloc(h.n_lines + 1, 1);
	if (pl.disable == NULL || pl.enable == NULL)
		goto oom;
	if (c.on && !plan_conflicts(&h, &c, names, &pl, shown, err)) {
		e = errno;
		goto out;
	}
	if (!plan_entries(&h, &c, names, shown, report, report_len))
		goto oom;
	plan_reenable(&h, &pl, shown, report, report_len);
	render(&h, &pl, &out, shown, report, report_len);
	if (out.oom)
		goto oom;
	if (out.len == h.len && memcmp(out.p, h.data, h.len) == 0)
		ok = true;
	else if (!(ok = commit(shown, real, fd, rw_errno, &h, &out, report, report_len, err)))
		e = errno;
	goto out;

oom:
	e = ENOMEM;
	gbca_fail(err, "out of memory");
out:
	if (fd >= 0)
		close(fd);
	free(out.p);
	free(pl.disable);
	free(pl.enable);
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

bool
gbca_hosts_set(const char *path, const char *const *names, size_t n, bool on, bool ipv6, bool force,
               char *report, size_t report_len, struct gbca_err *err)
{
	struct gbca_hosts_change c = { .path = path, .names = names, .n = n, .on = on, .ipv6 = ipv6, .force = force };

	return gbca_hosts_apply(&c, report, report_len, err);
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
	ok = gbca_text_read_fd(&h.text, fd, shown, HOSTS_MAX, err) && hosts_parse(&h, shown, err);
	close(fd);
	if (!ok) {
		hosts_free(&h);
		return false;
	}
	*on = has_entry(&h, name);

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
