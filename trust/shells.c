/* The shell stores: marked blocks in ~/.bashrc, ~/.zshrc and a fish drop-in.
 * node: NODE_EXTRA_CA_CERTS names CAROOT/node-ca.pem. python: SSL_CERT_FILE
 * and REQUESTS_CA_BUNDLE name the system bundle that holds the root (they
 * replace certifi's bundle, so never the root alone). Each store has its own
 * block; the begin marker records anything else gbca did to the file (a
 * newline it added, the file or folders it created), so removal gives back
 * the original bytes, whichever block goes first. */
#include "config.h"
#include <gbca/strbuf.h>
#include <gbca/path.h>
#include <gbca/save.h>
#include <gbca/shells.h>
#include <gbca/store.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define VAR "NODE_EXTRA_CA_CERTS"
#define BEGIN_NOTE "(managed by gbca; remove with: gbca untrust)"
#define PREV_MARK "# gbca: " VAR " was "
#define PREV_NOTE "; node-ca.pem includes its certificates"
#define PEM_BEGIN "-----BEGIN CERTIFICATE-----"
#define FILE_MAX (16u << 20)

/* One store's block: its markers and the variables it sets, all to one value. */
struct kind {
	const char *store;         /* report prefix */
	const char *what;          /* the block's name in messages */
	const char *begin, *end;
	const char *const *vars;   /* NULL-terminated */
};

static const char *const node_vars[] = { VAR, NULL };
/* requests reads REQUESTS_CA_BUNDLE; httpx, urllib, aiohttp and Google's
 * SDKs (through ssl.create_default_context) read SSL_CERT_FILE. */
static const char *const python_vars[] = { "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", NULL };

static const struct kind kinds[] = {
	{ "node", "gbca", "# >>> gbca >>>", "# <<< gbca <<<", node_vars },
	{ "python", "gbca python", "# >>> gbca python >>>", "# <<< gbca python <<<", python_vars },
};
#define N_KINDS (sizeof(kinds) / sizeof(kinds[0]))
static const struct kind *const node_kind = &kinds[0];
static const struct kind *const python_kind = &kinds[1];

/* Begin-marker tags: "[newline-added]" the file did not end in a newline, so
 * one was put before the block; "[file-created]" the file did not exist;
 * "[dirs-created=N]" neither did the last N folders of its path. */
enum {
	FLAG_NEWLINE = 1 << 0,
	FLAG_CREATED = 1 << 1,
};

struct shell {
	unsigned bit;
	const char *name;
};

static const struct shell shell_table[] = {
	{ GBCA_SHELL_BASH, "bash" },
	{ GBCA_SHELL_ZSH, "zsh" },
	{ GBCA_SHELL_FISH, "fish" },
};
#define N_SHELLS (sizeof(shell_table) / sizeof(shell_table[0]))

/* POSIX shells: everything is literal inside '...'; a ' becomes '\''. */
static void
quote_sh(struct gbca_strbuf *b, const char *s)
{
	gbca_strbuf_str(b, "'");
	for (; *s; s++) {
		if (*s == '\'')
			gbca_strbuf_str(b, "'\\''");
		else
			gbca_strbuf_add(b, s, 1);
	}
	gbca_strbuf_str(b, "'");
}

/* fish: inside '...' only \' and \\ are escapes. */
static void
quote_fish(struct gbca_strbuf *b, const char *s)
{
	gbca_strbuf_str(b, "'");
	for (; *s; s++) {
		if (*s == '\'' || *s == '\\')
			gbca_strbuf_str(b, "\\");
		gbca_strbuf_add(b, s, 1);
	}
	gbca_strbuf_str(b, "'");
}

/* Reads back what quote_sh wrote, stopping at an unquoted space or ';'. */
static bool
unquote_sh(const char *s, size_t n, char *out, size_t len)
{
	size_t i = 0, o = 0;

	while (i < n && s[i] != ' ' && s[i] != ';') {
		if (s[i] == '\'') {
			for (i++; i < n && s[i] != '\''; i++) {
				if (o + 1 >= len)
					return false;
				out[o++] = s[i];
			}
			if (i == n)
				return false;
			i++;
		} else {
			if (s[i] == '\\' && i + 1 < n)
				i++;
			if (o + 1 >= len)
				return false;
			out[o++] = s[i++];
		}
	}
	out[o] = '\0';
	return o > 0;
}

static void
set_line(struct gbca_strbuf *b, const char *var, unsigned bit, const char *value)
{
	if (bit == GBCA_SHELL_FISH) {
		gbca_strbuf_str(b, "set -gx ");
		gbca_strbuf_str(b, var);
		gbca_strbuf_str(b, " ");
		quote_fish(b, value);
	} else {
		gbca_strbuf_str(b, "export ");
		gbca_strbuf_str(b, var);
		gbca_strbuf_str(b, "=");
		quote_sh(b, value);
	}
}

/* The lines that set k's variables to value, each ending in a newline. */
static void
set_lines(struct gbca_strbuf *b, const struct kind *k, unsigned bit, const char *value)
{
	for (const char *const *v = k->vars; *v; v++) {
		set_line(b, *v, bit, value);
		gbca_strbuf_str(b, "\n");
	}
}

/* The same, on one line joined with "; " (messages, hints). */
static void
set_lines_joined(struct gbca_strbuf *b, const struct kind *k, unsigned bit, const char *value)
{
	for (const char *const *v = k->vars; *v; v++) {
		if (v != k->vars)
			gbca_strbuf_str(b, "; ");
		set_line(b, *v, bit, value);
	}
}

/* "SSL_CERT_FILE and REQUESTS_CA_BUNDLE" */
static void
var_names(const struct kind *k, char *buf, size_t len)
{
	buf[0] = '\0';
	for (const char *const *v = k->vars; *v; v++)
		snprintf(buf + strlen(buf), len - strlen(buf), "%s%s",
		         v == k->vars ? "" : v[1] ? ", " : " and ", *v);
}

static void
render_tags(struct gbca_strbuf *b, unsigned flags, int dirs)
{
	char tag[32];

	if (flags & FLAG_NEWLINE)
		gbca_strbuf_str(b, " [newline-added]");
	if (flags & FLAG_CREATED)
		gbca_strbuf_str(b, " [file-created]");
	if (dirs > 0) {
		snprintf(tag, sizeof(tag), " [dirs-created=%d]", dirs);
		gbca_strbuf_str(b, tag);
	}
}

static void
render_block(struct gbca_strbuf *b, const struct kind *k, unsigned bit, unsigned flags, int dirs,
             const char *value, const char *prev)
{
	gbca_strbuf_str(b, k->begin);
	render_tags(b, flags, dirs);
	gbca_strbuf_str(b, "  " BEGIN_NOTE "\n");
	if (prev[0] != '\0') {
		gbca_strbuf_str(b, PREV_MARK);
		quote_sh(b, prev);
		gbca_strbuf_str(b, PREV_NOTE "\n");
	}
	set_lines(b, k, bit, value);
	gbca_strbuf_str(b, k->end);
	gbca_strbuf_str(b, "\n");
}

/* Appends to a fixed buffer, truncating quietly (reports and `where`). */
static void GBCA_PRINTF(3, 4)
append(char *buf, size_t len, const char *fmt, ...)
{
	size_t used = strnlen(buf, len);
	va_list ap;

	if (used + 1 >= len)
		return;
	va_start(ap, fmt);
	vsnprintf(buf + used, len - used, fmt, ap);
	va_end(ap);
}

/* Collects one message per failed file, so every file is tried. */
static void
add_error(struct gbca_err *all, const struct gbca_err *one)
{
	append(all->msg, sizeof(all->msg), "%s%s", all->msg[0] ? "; " : "", one->msg);
}

/* Reads a whole regular file, NUL-terminated. A missing file gives *data NULL. */
static bool
read_all(const char *path, const char *show, char **data, size_t *len, struct gbca_err *err)
{
	struct stat st;
	char *p = NULL;
	size_t n = 0;
	int fd, e;

	*data = NULL;
	*len = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		if (errno == ENOENT)
			return true;
		e = errno;
		return gbca_fail(err, "couldn't read %s: %s", show, strerror(e));
	}
	if (fstat(fd, &st) < 0)
		goto fail;
	if (!S_ISREG(st.st_mode) || st.st_size > (off_t)FILE_MAX) {
		close(fd);
		return gbca_fail(err, "%s is not a regular file of a sensible size; leaving it alone", show);
	}
	if ((p = malloc((size_t)st.st_size + 1)) == NULL)
		goto fail;
	while (n < (size_t)st.st_size) {
		ssize_t r = read(fd, p + n, (size_t)st.st_size - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			goto fail;
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	p[n] = '\0';
	*data = p;
	*len = n;
	return true;

fail:
	e = errno;
	free(p);
	close(fd);
	return gbca_fail(err, "couldn't read %s: %s", show, strerror(e));
}

/* "~/.bashrc" for messages. */
static void
tilde(const char *path, char *buf, size_t len)
{
	const char *home = getenv("HOME");
	size_t n = home ? strlen(home) : 0;

	if (n > 1 && strncmp(path, home, n) == 0 && path[n] == '/')
		snprintf(buf, len, "~%s", path + n);
	else
		snprintf(buf, len, "%s", path);
}

/* The file each shell reads at start: ~/.bashrc, ${ZDOTDIR:-~}/.zshrc, and
 * for fish a drop-in in ${XDG_CONFIG_HOME:-~/.config}/fish/conf.d, which fish
 * reads for every shell, interactive or not. */
static bool
rc_path(unsigned bit, char *buf, size_t len, struct gbca_err *err)
{
	const char *home = getenv("HOME");
	const char *dir;
	int n;

	if (home == NULL || home[0] != '/')
		return gbca_fail(err, "HOME is not set to an absolute path; set it to your home directory");
	switch (bit) {
	case GBCA_SHELL_BASH:
		return gbca_path_join(buf, len, home, ".bashrc", err);
	case GBCA_SHELL_ZSH:
		dir = getenv("ZDOTDIR");
		return gbca_path_join(buf, len, dir && dir[0] ? dir : home, ".zshrc", err);
	default:
		/* The XDG spec says to ignore a relative XDG_CONFIG_HOME. */
		dir = getenv("XDG_CONFIG_HOME");
		if (dir && dir[0] == '/')
			n = snprintf(buf, len, "%s/fish/conf.d/gbca.fish", dir);
		else
			n = snprintf(buf, len, "%s/.config/fish/conf.d/gbca.fish", home);
		if (n < 0 || (size_t)n >= len)
			return gbca_fail(err, "path too long: %s", buf);
		return true;
	}
}

/* One shell's rc file, read and parsed. */
struct rc {
	const struct kind *kind;
	const struct shell *sh;
	char path[PATH_MAX];     /* the name the shell reads */
	char real[PATH_MAX];     /* where writes go: a symlink resolved (dotfile managers) */
	char show[PATH_MAX];     /* path with ~ */
	bool exists, is_link;
	struct stat st;          /* of real */
	char *data;
	size_t len;
	bool bad, damaged;       /* couldn't read / hand-edited: err says why; leave it alone */
	struct gbca_err err;
	bool has_block;
	size_t start, end;       /* first byte of the begin line, byte after the end line */
	unsigned flags;
	int dirs;
	char prev[PATH_MAX];     /* the user's own NODE_EXTRA_CA_CERTS, from the block */
};

static bool
starts(const char *l, size_t n, const char *prefix)
{
	size_t p = strlen(prefix);
	return n >= p && memcmp(l, prefix, p) == 0;
}

static bool
is_end(const char *l, size_t n, const char *mark)
{
	while (n > 0 && (l[n - 1] == ' ' || l[n - 1] == '\t' || l[n - 1] == '\r'))
		n--;
	return n == strlen(mark) && memcmp(l, mark, n) == 0;
}

/* The tags after a begin marker; the text from the first non-tag on is a
 * note, which starts at *note. */
static bool
parse_tags(const char *s, size_t n, unsigned *flags, int *dirs, size_t *note)
{
	size_t i = 0;

	*note = 0;
	for (;;) {
		const char *close;
		size_t t;

		while (i < n && s[i] == ' ')
			i++;
		if (i == n || s[i] != '[')
			return true;
		if ((close = memchr(s + i, ']', n - i)) == NULL)
			return false;
		t = (size_t)(close - (s + i)) + 1;
		if (t == 15 && memcmp(s + i, "[newline-added]", t) == 0)
			*flags |= FLAG_NEWLINE;
		else if (t == 14 && memcmp(s + i, "[file-created]", t) == 0)
			*flags |= FLAG_CREATED;
		else if (t == 16 && memcmp(s + i, "[dirs-created=", 14) == 0 &&
		         s[i + 14] >= '1' && s[i + 14] <= '9')
			*dirs = s[i + 14] - '0';
		else
			return false;
		i += t;
		*note = i;
	}
}

/* Lines gbca writes inside a block: blank lines, comments (one may note the
 * user's earlier NODE_EXTRA_CA_CERTS), and the settings themselves. Anything
 * else was added by hand and must not be deleted with the block. */
static bool
parse_body_line(struct rc *rc, const char *l, size_t n)
{
	size_t i = 0;

	while (i < n && (l[i] == ' ' || l[i] == '\t' || l[i] == '\r'))
		i++;
	if (i == n)
		return true;
	if (starts(l, n, PREV_MARK))
		return unquote_sh(l + strlen(PREV_MARK), n - strlen(PREV_MARK), rc->prev, sizeof(rc->prev));
	if (l[0] == '#')
		return true;
	for (const char *const *v = rc->kind->vars; *v; v++) {
		size_t vl = strlen(*v);
		if (starts(l, n, "export ") && n > 7 + vl && memcmp(l + 7, *v, vl) == 0 && l[7 + vl] == '=')
			return true;
		if (starts(l, n, "set -gx ") && n > 8 + vl && memcmp(l + 8, *v, vl) == 0 && l[8 + vl] == ' ')
			return true;
	}
	return false;
}

#define FIX_HINT "fix or delete the block by hand, then run gbca again"

/* Finds the one block of rc->kind; a damaged one sets rc->damaged and err. */
static bool
rc_parse(struct rc *rc, struct gbca_err *err)
{
	const struct kind *k = rc->kind;
	size_t pos = 0, line = 0, begin_line = 0, block_line = 0, foreign_line = 0, note;
	bool in = false;

	while (pos < rc->len) {
		const char *l = rc->data + pos;
		const char *nl = memchr(l, '\n', rc->len - pos);
		size_t n = nl ? (size_t)(nl - l) : rc->len - pos;
		size_t next = nl ? pos + n + 1 : rc->len;

		line++;
		if (starts(l, n, k->begin)) {
			if (in)
				return gbca_fail(err, "%s line %zu: a second %s begin marker inside the block "
				                 "of line %zu; " FIX_HINT, rc->show, line, k->what, begin_line);
			if (rc->has_block)
				return gbca_fail(err, "%s line %zu: a second %s block (the first is at line %zu); "
				                 FIX_HINT, rc->show, line, k->what, block_line);
			if (!parse_tags(l + strlen(k->begin), n - strlen(k->begin), &rc->flags, &rc->dirs, &note))
				return gbca_fail(err, "%s line %zu: the %s begin marker has a tag gbca didn't write; "
				                 FIX_HINT, rc->show, line, k->what);
			in = true;
			begin_line = line;
			rc->start = pos;
		} else if (is_end(l, n, k->end)) {
			if (!in)
				return gbca_fail(err, "%s line %zu: a %s end marker without a begin marker; "
				                 FIX_HINT, rc->show, line, k->what);
			if (foreign_line != 0)
				return gbca_fail(err, "%s line %zu: a line inside the %s block (line %zu) that gbca "
				                 "didn't write; move it out of the block or " FIX_HINT,
				                 rc->show, foreign_line, k->what, begin_line);
			in = false;
			rc->has_block = true;
			block_line = begin_line;
			rc->end = next;
		} else if (in && foreign_line == 0 && !parse_body_line(rc, l, n)) {
			/* An error either way; which one depends on an end marker later. */
			foreign_line = line;
		}
		pos = next;
	}
	if (in)
		return gbca_fail(err, "%s line %zu: the %s block has no end marker (%s); "
		                 FIX_HINT, rc->show, begin_line, k->what, k->end);
	return true;
}

static bool
rc_load(struct rc *rc, const struct kind *k, const struct shell *sh, struct gbca_err *err)
{
	struct stat lst;
	int e;

	memset(rc, 0, sizeof(*rc));
	rc->kind = k;
	rc->sh = sh;
	if (!rc_path(sh->bit, rc->path, sizeof(rc->path), err))
		return false;
	tilde(rc->path, rc->show, sizeof(rc->show));
	snprintf(rc->real, sizeof(rc->real), "%s", rc->path);
	if (lstat(rc->path, &lst) < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return true;
		e = errno;
		return gbca_fail(err, "couldn't read %s: %s", rc->show, strerror(e));
	}
	if (S_ISLNK(lst.st_mode)) {
		rc->is_link = true;
		if (realpath(rc->path, rc->real) == NULL) {
			e = errno;
			return gbca_fail(err, "%s is a symbolic link gbca can't follow (%s); fix the link, "
			                 "then run gbca again", rc->show, strerror(e));
		}
	}
	if (stat(rc->real, &rc->st) < 0) {
		e = errno;
		return gbca_fail(err, "couldn't read %s: %s", rc->show, strerror(e));
	}
	if (!read_all(rc->real, rc->show, &rc->data, &rc->len, err))
		return false;
	rc->exists = rc->data != NULL;
	if (rc->exists && !rc_parse(rc, err)) {
		rc->damaged = true;
		return false;
	}
	return true;
}

/* Loads every shell's file for k's block; the ones that fail are marked
 * bad, not fatal. */
static void
rcs_load(const struct kind *k, struct rc *rcs)
{
	for (size_t i = 0; i < N_SHELLS; i++) {
		struct gbca_err e = { "" };
		bool ok = rc_load(&rcs[i], k, &shell_table[i], &e);
		if (!ok) {
			rcs[i].bad = true;
			rcs[i].err = e;
		}
	}
}

static void
rcs_free(struct rc *rcs)
{
	for (size_t i = 0; i < N_SHELLS; i++) {
		free(rcs[i].data);
		rcs[i].data = NULL;
	}
}

/* The last folders of path's parent that don't exist yet, and the owner of
 * the deepest one that does. */
static int
missing_dirs(const char *path, struct stat *parent)
{
	char d[PATH_MAX];
	int n = 0;

	snprintf(d, sizeof(d), "%s", path);
	for (;;) {
		char *slash = strrchr(d, '/');
		if (slash == NULL)
			return n;
		if (slash == d) {
			stat("/", parent);
			return n;
		}
		*slash = '\0';
		if (stat(d, parent) == 0)
			return n;
		n++;
	}
}

/* Removes the last n folders of path's parent while they are empty. */
static void
remove_dirs(const char *path, int n)
{
	char d[PATH_MAX];

	snprintf(d, sizeof(d), "%s", path);
	for (; n > 0; n--) {
		char *slash = strrchr(d, '/');
		if (slash == NULL || slash == d)
			return;
		*slash = '\0';
		if (rmdir(d) < 0 && errno != ENOENT)
			return;
	}
}

/* gbca_save with the owner kept: root writing a user's ~/.bashrc (sudo -E)
 * must not leave it owned by root. On failure errno says why. */
static bool
save_owned(const char *path, const char *data, size_t len, mode_t mode, uid_t uid, gid_t gid)
{
	struct gbca_save s;
	int e;

	if (!gbca_save_begin(&s, path, mode, NULL))
		return false;
	if (!gbca_save_write(&s, data, len, NULL) ||
	    (geteuid() == 0 && (uid != 0 || gid != getegid()) && fchown(s.fd, uid, gid) < 0) ||
	    !gbca_save_finish(&s, NULL) || !gbca_save_commit(&s, NULL)) {
		e = errno;
		gbca_save_abort(&s);
		errno = e;
		return false;
	}
	return true;
}

/* "couldn't write ~/.bashrc: why; fix, or <do it by hand>". */
static bool
rc_fail(const struct rc *rc, const char *pem, bool adding, const char *why, const char *fix,
        struct gbca_err *err)
{
	const struct kind *k = rc->kind;
	struct gbca_strbuf line = { 0 };

	set_lines_joined(&line, k, rc->sh->bit, pem);
	if (adding)
		gbca_fail(err, "couldn't write %s: %s; %s, or add %s to it yourself: %s",
		          rc->show, why, fix, k->vars[1] ? "these lines" : "this line",
		          line.oom || line.p == NULL ? "..." : line.p);
	else
		gbca_fail(err, "couldn't write %s: %s; %s, or delete the %s block from it yourself",
		          rc->show, why, fix, k->what);
	free(line.p);
	return false;
}

static bool
rc_writable(const struct rc *rc, const char *pem, bool adding, struct gbca_err *err)
{
	char fix[PATH_MAX + 64];
	bool ro;

	/* root may write anything, so honour the mode bits the user set. */
	if (geteuid() == 0)
		ro = (rc->st.st_mode & 0222) == 0;
	else
		ro = access(rc->real, W_OK) < 0;
	if (!ro)
		return true;
	snprintf(fix, sizeof(fix), "make it writable (chmod u+w %s) and run gbca again", rc->show);
	return rc_fail(rc, pem, adding, "it is read-only", fix, err);
}

static bool
rc_save_failed(const struct rc *rc, const char *pem, bool adding, struct gbca_err *err)
{
	int e = errno;
	const char *fix = "let gbca write there and run it again";

	if (e == EACCES || e == EPERM)
		fix = "make its folder writable by you and run gbca again";
	else if (e == ENOSPC || e == EDQUOT)
		fix = "free some disk space and run gbca again";
	return rc_fail(rc, pem, adding, strerror(e), fix, err);
}

/* Writes new contents of an existing file, or creates it (and its folders,
 * which dirs counts). */
static bool
rc_write(const struct rc *rc, const struct gbca_strbuf *b, int dirs, const char *pem, bool adding,
         struct gbca_err *err)
{
	struct stat parent = { 0 };
	char dir[PATH_MAX];
	char *slash;

	if (b->oom)
		return gbca_fail(err, "out of memory writing %s", rc->show);
	if (rc->exists) {
		if (!rc_writable(rc, pem, adding, err))
			return false;
		if (!save_owned(rc->real, b->p, b->len, rc->st.st_mode & 07777, rc->st.st_uid, rc->st.st_gid))
			return rc_save_failed(rc, pem, adding, err);
		return true;
	}
	missing_dirs(rc->path, &parent);
	snprintf(dir, sizeof(dir), "%s", rc->path);
	if ((slash = strrchr(dir, '/')) != NULL && slash != dir) {
		*slash = '\0';
		if (dirs > 0 && !gbca_mkdir_p(dir, 0755, err)) {
			remove_dirs(rc->path, dirs);
			return gbca_fail_prefix(err, "couldn't write %s", rc->show);
		}
		/* Hand the new folders to the owner of their parent too. */
		if (geteuid() == 0 && parent.st_uid != 0) {
			char d[PATH_MAX];
			snprintf(d, sizeof(d), "%s", dir);
			for (int i = 0; i < dirs; i++) {
				if (chown(d, parent.st_uid, parent.st_gid) < 0 || (slash = strrchr(d, '/')) == NULL)
					break;
				*slash = '\0';
			}
		}
	}
	if (!save_owned(rc->real, b->p, b->len, 0644, parent.st_uid, parent.st_gid)) {
		rc_save_failed(rc, pem, adding, err);
		remove_dirs(rc->path, dirs);
		return false;
	}
	return true;
}

/* Puts the current block in rc: replaced in place, or appended. */
static bool
rc_install(const struct rc *rc, const char *pem, const char *prev, bool *changed, struct gbca_err *err)
{
	struct gbca_strbuf b = { 0 };
	struct stat parent;
	unsigned flags = 0;
	int dirs = 0;
	bool ok = true;

	*changed = false;
	if (rc->has_block) {
		gbca_strbuf_add(&b, rc->data, rc->start);
		render_block(&b, rc->kind, rc->sh->bit, rc->flags, rc->dirs, pem, prev);
		gbca_strbuf_add(&b, rc->data + rc->end, rc->len - rc->end);
	} else {
		if (!rc->exists) {
			flags = FLAG_CREATED;
			dirs = missing_dirs(rc->path, &parent);
			if (dirs > 9)
				return gbca_fail(err, "couldn't write %s: too many of its folders are missing", rc->show);
		} else if (rc->len > 0 && rc->data[rc->len - 1] != '\n') {
			flags = FLAG_NEWLINE;
		}
		gbca_strbuf_add(&b, rc->data, rc->len);
		if (flags & FLAG_NEWLINE)
			gbca_strbuf_str(&b, "\n");
		render_block(&b, rc->kind, rc->sh->bit, flags, dirs, pem, prev);
	}
	if (!(rc->exists && !b.oom && b.len == rc->len && memcmp(b.p, rc->data, b.len) == 0)) {
		ok = rc_write(rc, &b, dirs, pem, true, err);
		*changed = ok;
	}
	free(b.p);
	return ok;
}

/* Another store's begin marker on the line right after rc's block: its
 * kind, where its tags end (*note) and where the line ends. */
static const struct kind *
next_block(const struct rc *rc, size_t *note, size_t *line_end, unsigned *flags, int *dirs)
{
	const char *l = rc->data + rc->end;
	size_t rest = rc->len - rc->end;
	const char *nl = memchr(l, '\n', rest);
	size_t n = nl ? (size_t)(nl - l) : rest;

	for (size_t i = 0; i < N_KINDS; i++) {
		const struct kind *k = &kinds[i];
		size_t bl = strlen(k->begin);
		if (k == rc->kind || !starts(l, n, k->begin))
			continue;
		*flags = 0;
		*dirs = 0;
		if (!parse_tags(l + bl, n - bl, flags, dirs, note))
			return NULL;
		*note += rc->end + bl;
		*line_end = rc->end + n;
		return k;
	}
	return NULL;
}

/* Takes the block out, and with it whatever its tags say gbca added. When
 * another store's block follows right after, the tags move to it instead,
 * so the file comes back byte for byte whichever block goes last. */
static bool
rc_remove(const struct rc *rc, const char *pem, bool *changed, struct gbca_err *err)
{
	const struct kind *next = NULL;
	struct gbca_strbuf b = { 0 };
	size_t start = rc->start, note = 0, line_end = 0;
	unsigned next_flags = 0;
	int next_dirs = 0;
	bool ok;
	int e;

	*changed = false;
	if (!rc->has_block)
		return true;
	if (rc->flags != 0 || rc->dirs != 0)
		next = next_block(rc, &note, &line_end, &next_flags, &next_dirs);
	/* The added newline goes only while the block is still last: if lines were
	 * added after it, the newline now ends the user's own line. */
	if ((rc->flags & FLAG_NEWLINE) && rc->end == rc->len && start > 0 && rc->data[start - 1] == '\n')
		start--;
	if (!rc_writable(rc, pem, false, err))
		return false;
	if ((rc->flags & FLAG_CREATED) && !rc->is_link && start == 0 && rc->end == rc->len) {
		if (unlink(rc->real) < 0) {
			e = errno;
			return gbca_fail(err, "couldn't remove %s: %s", rc->show, strerror(e));
		}
		remove_dirs(rc->path, rc->dirs);
		*changed = true;
		return true;
	}
	gbca_strbuf_add(&b, rc->data, start);
	if (next != NULL) {
		gbca_strbuf_str(&b, next->begin);
		render_tags(&b, rc->flags | next_flags, rc->dirs > next_dirs ? rc->dirs : next_dirs);
		gbca_strbuf_add(&b, rc->data + note, line_end - note);
		gbca_strbuf_add(&b, rc->data + line_end, rc->len - line_end);
	} else {
		gbca_strbuf_add(&b, rc->data + rc->end, rc->len - rc->end);
	}
	if (b.p == NULL && !b.oom)
		b.p = calloc(1, 1);
	ok = b.p != NULL && rc_write(rc, &b, 0, pem, false, err);
	if (b.p == NULL)
		gbca_fail(err, "out of memory writing %s", rc->show);
	free(b.p);
	*changed = ok;
	return ok;
}

bool
gbca_shells_node_pem(const char *caroot, char *buf, size_t len, struct gbca_err *err)
{
	if (strpbrk(caroot, "\n\r") != NULL)
		return gbca_fail(err, "CAROOT %s has a line break in its name, which no shell file can hold; "
		                 "choose another with GBCA_CAROOT", caroot);
	return gbca_path_join(buf, len, caroot, GBCA_NODE_PEM_FILE, err);
}

static bool
env_lines(const struct kind *k, const char *value, const char *shell, char *buf, size_t len,
          struct gbca_err *err)
{
	struct gbca_strbuf b = { 0 };
	unsigned bit;
	bool ok;

	if (shell == NULL || strcmp(shell, "bash") == 0 || strcmp(shell, "zsh") == 0 || strcmp(shell, "sh") == 0)
		bit = GBCA_SHELL_BASH;
	else if (strcmp(shell, "fish") == 0)
		bit = GBCA_SHELL_FISH;
	else
		return gbca_fail(err, "gbca doesn't know the shell %s; use bash, zsh, sh or fish", shell);
	set_lines(&b, k, bit, value);
	ok = !b.oom && b.len < len;
	if (ok)
		memcpy(buf, b.p, b.len + 1);
	else
		gbca_fail(err, "path too long: %s", value);
	free(b.p);
	return ok;
}

bool
gbca_shells_env_lines(const char *caroot, const char *shell, char *buf, size_t len, struct gbca_err *err)
{
	char pem[PATH_MAX];

	if (!gbca_shells_node_pem(caroot, pem, sizeof(pem), err))
		return false;
	return env_lines(node_kind, pem, shell, buf, len, err);
}

bool
gbca_shells_python_bundle(char *buf, size_t len, struct gbca_err *err)
{
	if (!gbca_system_bundle(buf, len))
		return gbca_fail(err, "no system trust store found, so no CA bundle for SSL_CERT_FILE; "
		                 "python needs the system bundle with the gbca root in it");
	if (strpbrk(buf, "\n\r") != NULL)
		return gbca_fail(err, "the system bundle %s has a line break in its name, which no shell "
		                 "file can hold", buf);
	return true;
}

bool
gbca_shells_env_lines_python(const char *shell, char *buf, size_t len, struct gbca_err *err)
{
	char bundle[PATH_MAX];

	if (!gbca_shells_python_bundle(bundle, sizeof(bundle), err))
		return false;
	return env_lines(python_kind, bundle, shell, buf, len, err);
}

static bool
same_file(const char *a, const char *b)
{
	struct stat sa, sb;

	if (strcmp(a, b) == 0)
		return true;
	return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* The user's own NODE_EXTRA_CA_CERTS, whose certificates node-ca.pem keeps:
 * from the environment, or, once a shell has run our block and the variable
 * names our file, from the note in the block. "" if none. */
static void
find_prev(const char *pem, const struct rc *rcs, char *prev, size_t len)
{
	const char *env = getenv(VAR);

	prev[0] = '\0';
	if (env != NULL && env[0] != '\0' && !same_file(env, pem)) {
		/* node resolves a relative name against its working directory;
		 * the block must not. */
		char abs[PATH_MAX];
		if (env[0] != '/' && realpath(env, abs) != NULL)
			env = abs;
		snprintf(prev, len, "%s", env);
		return;
	}
	for (size_t i = 0; i < N_SHELLS; i++) {
		if (rcs[i].has_block && rcs[i].prev[0] != '\0') {
			snprintf(prev, len, "%s", rcs[i].prev);
			return;
		}
	}
}

/* node-ca.pem: the user's own file first (node takes only one), then the root. */
static bool
write_bundle(const struct gbca_trust_ctx *ctx, const char *pem, const char *prev, struct gbca_err *err)
{
	struct gbca_strbuf b = { 0 };
	char *old = NULL, *theirs = NULL;
	size_t old_len, theirs_len;
	bool ok = false;

	if (prev[0] != '\0') {
		if (strpbrk(prev, "\n\r") != NULL) {
			gbca_fail(err, VAR " (%s) has a line break in it; unset it and run gbca again", prev);
			goto out;
		}
		if (!read_all(prev, prev, &theirs, &theirs_len, err))
			goto out;
		if (theirs == NULL || strstr(theirs, PEM_BEGIN) == NULL) {
			gbca_fail(err, "your " VAR " names %s, which %s; node-ca.pem would lose it: point "
			          VAR " at a PEM file or unset it, then run gbca again",
			          prev, theirs ? "holds no PEM certificate" : "doesn't exist");
			goto out;
		}
		gbca_strbuf_add(&b, theirs, theirs_len);
		if (theirs_len > 0 && theirs[theirs_len - 1] != '\n')
			gbca_strbuf_str(&b, "\n");
	}
	gbca_strbuf_add(&b, ctx->root_pem.data, ctx->root_pem.size);
	if (b.oom) {
		gbca_fail(err, "out of memory writing %s", pem);
		goto out;
	}
	if (!read_all(pem, pem, &old, &old_len, err))
		goto out;
	if (old != NULL && old_len == b.len && memcmp(old, b.p, b.len) == 0)
		ok = true;
	else
		ok = gbca_save_file(pem, b.p, b.len, 0644, err);
out:
	free(old);
	free(theirs);
	free(b.p);
	return ok;
}

static bool
pem_has_root(const struct gbca_trust_ctx *ctx, const char *pem, bool *exists)
{
	char *data;
	size_t len;
	bool has;

	*exists = false;
	if (!read_all(pem, pem, &data, &len, NULL) || data == NULL)
		return false;
	*exists = true;
	has = memmem(data, len, ctx->root_pem.data, ctx->root_pem.size) != NULL;
	free(data);
	return has;
}

/* Whether rc holds exactly the block install would write now. */
static bool
rc_current(const struct rc *rc, const char *pem, const char *prev)
{
	struct gbca_strbuf b = { 0 };
	bool same;

	if (!rc->has_block)
		return false;
	render_block(&b, rc->kind, rc->sh->bit, rc->flags, rc->dirs, pem, prev);
	same = !b.oom && b.len == rc->end - rc->start && memcmp(b.p, rc->data + rc->start, b.len) == 0;
	free(b.p);
	return same;
}

/* "apply now with: ..." for the shell the user is in. */
static void
apply_hint(const struct kind *k, const char *value, char *buf, size_t len)
{
	const char *sh = getenv("SHELL");
	const char *base = sh ? strrchr(sh, '/') : NULL;
	struct gbca_strbuf b = { 0 };

	base = base ? base + 1 : sh;
	set_lines_joined(&b, k, base && strcmp(base, "fish") == 0 ? GBCA_SHELL_FISH : GBCA_SHELL_BASH, value);
	if (!b.oom && b.len > 0)
		append(buf, len, "; apply now with: %s", b.p);
	free(b.p);
}

/* Each selected shell's file in where, with a note unless its block is the
 * one install would write now. */
static void
blocks_check(const struct gbca_trust_ctx *ctx, const struct rc *rcs, const char *value,
             const char *prev, char *where, size_t where_len, bool *any_block, bool *all_current)
{
	*any_block = false;
	*all_current = true;
	for (size_t i = 0; i < N_SHELLS; i++) {
		const struct rc *rc = &rcs[i];
		const char *note = "";

		if (!(ctx->shells & rc->sh->bit))
			continue;
		*any_block |= rc->has_block;
		if (rc->bad)
			note = rc->damaged ? " (damaged block)" : " (unreadable)";
		else if (!rc->has_block)
			note = " (not set)";
		else if (!rc_current(rc, value, prev))
			note = " (outdated)";
		*all_current &= note[0] == '\0';
		append(where, where_len, "%s%s%s", where[0] ? ", " : "",
		       rc->show[0] ? rc->show : rc->sh->name, note);
	}
}

/* Puts the block in every selected shell's file; done lists them. Errors
 * are collected in all, so every file is tried. */
static void
blocks_install(const struct gbca_trust_ctx *ctx, struct rc *rcs, const char *value, const char *prev,
               char *done, size_t done_len, bool *changed_any, struct gbca_err *all)
{
	*changed_any = false;
	for (size_t i = 0; i < N_SHELLS; i++) {
		struct rc *rc = &rcs[i];
		struct gbca_err one = { "" };
		bool changed;

		if (!(ctx->shells & rc->sh->bit))
			continue;
		if (rc->bad) {
			add_error(all, &rc->err);
			continue;
		}
		if (!rc_install(rc, value, prev, &changed, &one)) {
			add_error(all, &one);
			continue;
		}
		*changed_any |= changed;
		append(done, done_len, "%s%s", done[0] ? ", " : "", rc->show);
	}
}

/* Takes the block out of every selected shell's file; done lists the ones
 * changed. *in_use: a block may still be in some file (unselected, or one
 * gbca couldn't change). */
static void
blocks_remove(const struct gbca_trust_ctx *ctx, struct rc *rcs, const char *value,
              char *done, size_t done_len, bool *in_use, struct gbca_err *all)
{
	*in_use = false;
	for (size_t i = 0; i < N_SHELLS; i++) {
		struct rc *rc = &rcs[i];
		struct gbca_err one = { "" };
		bool changed;

		if (!(ctx->shells & rc->sh->bit)) {
			*in_use |= rc->has_block || rc->bad;
			continue;
		}
		if (rc->bad) {
			/* A block we can't parse may still name the file. */
			*in_use |= rc->damaged;
			add_error(all, &rc->err);
			continue;
		}
		if (!rc_remove(rc, value, &changed, &one)) {
			*in_use = true;
			add_error(all, &one);
			continue;
		}
		if (changed)
			append(done, done_len, "%s%s", done[0] ? ", " : "", rc->show);
	}
}

static enum gbca_trust_state
node_check(const struct gbca_trust_ctx *ctx, char *where, size_t where_len)
{
	struct rc rcs[N_SHELLS];
	char pem[PATH_MAX], prev[PATH_MAX];
	bool any_block, all_current, pem_exists, has_root;

	where[0] = '\0';
	if (!gbca_shells_node_pem(ctx->caroot, pem, sizeof(pem), NULL)) {
		snprintf(where, where_len, "CAROOT can't be named in a shell file");
		return GBCA_TRUST_MISSING;
	}
	rcs_load(node_kind, rcs);
	find_prev(pem, rcs, prev, sizeof(prev));
	blocks_check(ctx, rcs, pem, prev, where, where_len, &any_block, &all_current);
	rcs_free(rcs);
	has_root = pem_has_root(ctx, pem, &pem_exists);
	if (ctx->shells == 0)
		snprintf(where, where_len, "no shells selected");
	if (any_block && pem_exists && !has_root)
		return GBCA_TRUST_STALE;
	if (ctx->shells != 0 && all_current && has_root)
		return GBCA_TRUST_INSTALLED;
	return GBCA_TRUST_MISSING;
}

static bool
node_install(const struct gbca_trust_ctx *ctx, char *report, size_t report_len, struct gbca_err *err)
{
	struct rc rcs[N_SHELLS];
	struct gbca_err all = { "" };
	char pem[PATH_MAX], prev[PATH_MAX], done[2048] = "";
	bool changed_any;

	report[0] = '\0';
	if (ctx->shells == 0) {
		snprintf(report, report_len, "node: no shells selected; nothing to do");
		return true;
	}
	if (!gbca_shells_node_pem(ctx->caroot, pem, sizeof(pem), err))
		return false;
	rcs_load(node_kind, rcs);
	find_prev(pem, rcs, prev, sizeof(prev));
	/* The file first: a block naming a missing file would make node warn. */
	if (!write_bundle(ctx, pem, prev, err)) {
		rcs_free(rcs);
		return false;
	}
	blocks_install(ctx, rcs, pem, prev, done, sizeof(done), &changed_any, &all);
	rcs_free(rcs);
	if (done[0] == '\0')
		snprintf(report, report_len, "node: " VAR " not set in any shell file");
	else
		snprintf(report, report_len, "node: " VAR " %sset in %s", changed_any ? "" : "already ", done);
	if (prev[0] != '\0')
		append(report, report_len, "; node-ca.pem holds the certificates of your " VAR " (%s) "
		       "and the gbca root", prev);
	if (done[0] != '\0')
		apply_hint(node_kind, pem, report, report_len);
	if (all.msg[0] != '\0')
		return gbca_fail(err, "%s", all.msg);
	return true;
}

static bool
node_uninstall(const struct gbca_trust_ctx *ctx, char *report, size_t report_len, struct gbca_err *err)
{
	struct rc rcs[N_SHELLS];
	struct gbca_err all = { "" };
	char pem[PATH_MAX], prev[PATH_MAX] = "", done[2048] = "";
	const char *env = getenv(VAR);
	bool in_use, env_ours;

	report[0] = '\0';
	if (!gbca_shells_node_pem(ctx->caroot, pem, sizeof(pem), err))
		return false;
	env_ours = env != NULL && same_file(env, pem);
	rcs_load(node_kind, rcs);
	for (size_t i = 0; i < N_SHELLS && prev[0] == '\0'; i++)
		if (rcs[i].has_block && rcs[i].prev[0] != '\0')
			snprintf(prev, sizeof(prev), "%s", rcs[i].prev);
	blocks_remove(ctx, rcs, pem, done, sizeof(done), &in_use, &all);
	rcs_free(rcs);
	/* node-ca.pem goes with the last block that names it. */
	if (!in_use && unlink(pem) < 0 && errno != ENOENT) {
		struct gbca_err one;
		int e = errno;
		gbca_fail(&one, "couldn't remove %s: %s", pem, strerror(e));
		add_error(&all, &one);
	}
	if (done[0] == '\0') {
		snprintf(report, report_len, "node: " VAR " was not set by gbca in any shell file");
	} else {
		snprintf(report, report_len, "node: removed " VAR " from %s", done);
		if (env_ours && prev[0] != '\0') {
			struct gbca_strbuf b = { 0 };
			quote_sh(&b, prev);
			append(report, report_len, "; in open shells run: export " VAR "=%s", b.oom ? "..." : b.p);
			free(b.p);
		} else if (env_ours) {
			append(report, report_len, "; in open shells run: unset " VAR);
		}
	}
	if (all.msg[0] != '\0')
		return gbca_fail(err, "%s", all.msg);
	return true;
}

const struct gbca_store gbca_store_node = { "node", false, node_check, node_install, node_uninstall };

/* Whether the bundle file holds the current root (parsed, compared as DER). */
static bool
bundle_has_root(const struct gbca_trust_ctx *ctx, const char *bundle)
{
	gnutls_datum_t d = { NULL, 0 };
	gnutls_x509_crt_t *list = NULL;
	unsigned n = 0;
	bool found = false;

	if (gnutls_load_file(bundle, &d) < 0)
		return false;
	if (gnutls_x509_crt_list_import2(&list, &n, &d, GNUTLS_X509_FMT_PEM, 0) < 0)
		n = 0;
	for (unsigned i = 0; i < n; i++) {
		found |= gnutls_x509_crt_equals2(list[i], &ctx->root_der) != 0;
		gnutls_x509_crt_deinit(list[i]);
	}
	gnutls_free(list);
	gnutls_free(d.data);
	return found;
}

static enum gbca_trust_state
python_check(const struct gbca_trust_ctx *ctx, char *where, size_t where_len)
{
	struct rc rcs[N_SHELLS];
	char bundle[PATH_MAX];
	bool found, has_root, any_block, all_current;

	where[0] = '\0';
	found = gbca_shells_python_bundle(bundle, sizeof(bundle), NULL);
	has_root = found && bundle_has_root(ctx, bundle);
	rcs_load(python_kind, rcs);
	blocks_check(ctx, rcs, found ? bundle : "", "", where, where_len, &any_block, &all_current);
	rcs_free(rcs);
	if (ctx->shells == 0)
		snprintf(where, where_len, "no shells selected");
	if (!found)
		append(where, where_len, "; no system CA bundle");
	else if (!has_root)
		append(where, where_len, "; %s lacks the root (gbca trust --stores system)", bundle);
	if (any_block && !has_root)
		return GBCA_TRUST_STALE;
	if (ctx->shells != 0 && all_current && has_root)
		return GBCA_TRUST_INSTALLED;
	return GBCA_TRUST_MISSING;
}

static bool
python_install(const struct gbca_trust_ctx *ctx, char *report, size_t report_len, struct gbca_err *err)
{
	struct rc rcs[N_SHELLS];
	struct gbca_err all = { "" };
	char bundle[PATH_MAX], vars[128], done[2048] = "";
	bool changed_any;

	report[0] = '\0';
	if (ctx->shells == 0) {
		snprintf(report, report_len, "python: no shells selected; nothing to do");
		return true;
	}
	if (!gbca_shells_python_bundle(bundle, sizeof(bundle), err))
		return false;
	/* The variables replace certifi's whole bundle: one without the root
	 * would only break things. */
	if (!bundle_has_root(ctx, bundle))
		return gbca_fail(err, "the system bundle %s does not contain the gbca root; "
		                 "run gbca trust --stores system first (needs root)", bundle);
	var_names(python_kind, vars, sizeof(vars));
	rcs_load(python_kind, rcs);
	blocks_install(ctx, rcs, bundle, "", done, sizeof(done), &changed_any, &all);
	rcs_free(rcs);
	if (done[0] == '\0')
		snprintf(report, report_len, "python: %s not set in any shell file", vars);
	else
		snprintf(report, report_len, "python: %s %sset to %s in %s", vars,
		         changed_any ? "" : "already ", bundle, done);
	for (const char *const *v = python_kind->vars; done[0] && *v; v++) {
		const char *env = getenv(*v);
		if (env != NULL && env[0] != '\0' && !same_file(env, bundle))
			append(report, report_len, "; this replaces your %s (%s) in new shells", *v, env);
	}
	if (done[0] != '\0')
		apply_hint(python_kind, bundle, report, report_len);
	if (all.msg[0] != '\0')
		return gbca_fail(err, "%s", all.msg);
	return true;
}

/* Open shells keep the variables: they name the system bundle, which stays
 * a complete bundle without the root, so nothing breaks there. */
static bool
python_uninstall(const struct gbca_trust_ctx *ctx, char *report, size_t report_len, struct gbca_err *err)
{
	struct rc rcs[N_SHELLS];
	struct gbca_err all = { "" };
	char vars[128], done[2048] = "";
	bool in_use;

	report[0] = '\0';
	var_names(python_kind, vars, sizeof(vars));
	rcs_load(python_kind, rcs);
	blocks_remove(ctx, rcs, "", done, sizeof(done), &in_use, &all);
	rcs_free(rcs);
	if (done[0] == '\0')
		snprintf(report, report_len, "python: %s were not set by gbca in any shell file", vars);
	else
		snprintf(report, report_len, "python: removed %s from %s", vars, done);
	if (all.msg[0] != '\0')
		return gbca_fail(err, "%s", all.msg);
	return true;
}

const struct gbca_store gbca_store_python = {
	"python", false, python_check, python_install, python_uninstall,
};
