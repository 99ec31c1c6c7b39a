/* The shell stores' engine: a block per store in ~/.bashrc, ~/.zshrc and a
 * fish drop-in (trust/node.c and trust/python.c say what goes in it). The
 * begin marker records anything else gbca did to the file (a newline it
 * added, the file or folders it created), so removal gives back the original
 * bytes, whichever block goes first. */
#include "config.h"
#include <gbca/block.h>
#include <gbca/drop.h>
#include <gbca/path.h>
#include <gbca/shells.h>
#include <gbca/store.h>
#include <gbca/strbuf.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BEGIN_NOTE "(managed by gbca; remove with: gbca untrust)"
#define PREV_MARK "# gbca: "
#define PEM_BEGIN "-----BEGIN CERTIFICATE-----"
#define FILE_MAX (16u << 20)
#define FIX_HINT "fix or delete the block by hand, then run gbca again"

static const struct gbca_shells_kind *const kinds[] = { &gbca_shells_node, &gbca_shells_python };
#define N_KINDS (sizeof(kinds) / sizeof(kinds[0]))

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

/* Reads back what gbca_quote_sh wrote, stopping at an unquoted space or ';'. */
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
		gbca_quote_fish(b, value);
	} else {
		gbca_strbuf_str(b, "export ");
		gbca_strbuf_str(b, var);
		gbca_strbuf_str(b, "=");
		gbca_quote_sh(b, value);
	}
}

/* The lines that set k's variables to value, each ending in a newline. */
static void
set_lines(struct gbca_strbuf *b, const struct gbca_shells_kind *k, unsigned bit, const char *value)
{
	for (const char *const *v = k->vars; *v; v++) {
		set_line(b, *v, bit, value);
		gbca_strbuf_str(b, "\n");
	}
}

/* The same, on one line joined with "; " (messages, hints). */
static void
set_lines_joined(struct gbca_strbuf *b, const struct gbca_shells_kind *k, unsigned bit, const char *value)
{
	for (const char *const *v = k->vars; *v; v++) {
		if (v != k->vars)
			gbca_strbuf_str(b, "; ");
		set_line(b, *v, bit, value);
	}
}

void
gbca_shells_var_names(const struct gbca_shells_kind *k, char *buf, size_t len)
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

/* "# gbca: VAR was 'old'; bundle includes its certificates" */
static void
render_block(struct gbca_strbuf *b, const struct gbca_shells_kind *k, unsigned bit, unsigned flags, int dirs,
             const char *value, const struct gbca_shells_prev *prev)
{
	gbca_strbuf_str(b, k->begin);
	render_tags(b, flags, dirs);
	gbca_strbuf_str(b, "  " BEGIN_NOTE "\n");
	for (size_t i = 0; prev && k->vars[i]; i++) {
		if (prev->v[i][0] == '\0')
			continue;
		gbca_strbuf_str(b, PREV_MARK);
		gbca_strbuf_str(b, k->vars[i]);
		gbca_strbuf_str(b, " was ");
		gbca_quote_sh(b, prev->v[i]);
		gbca_strbuf_str(b, "; ");
		gbca_strbuf_str(b, k->bundle);
		gbca_strbuf_str(b, " includes its certificates\n");
	}
	set_lines(b, k, bit, value);
	gbca_strbuf_str(b, k->end);
	gbca_strbuf_str(b, "\n");
}

/* Collects one message per failed file, so every file is tried. */
static void
add_error(struct gbca_err *all, const struct gbca_err *one)
{
	gbca_report_add(all->msg, sizeof(all->msg), "; ", "%s", one->msg);
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
	const struct gbca_shells_kind *kind;
	const struct shell *sh;
	char path[PATH_MAX];     /* the name the shell reads */
	char real[PATH_MAX];     /* where writes go: a symlink resolved (dotfile managers) */
	char show[PATH_MAX];     /* path with ~ */
	bool exists, is_link;
	uid_t uid;               /* who writes it: the owner of HOME (root acting for a user) */
	gid_t gid;
	struct gbca_text text;   /* of real */
	bool bad, damaged;       /* couldn't read / hand-edited: err says why; leave it alone */
	struct gbca_err err;
	struct gbca_block block;
	unsigned flags;
	int dirs;
	struct gbca_shells_prev prev;   /* the user's own values, noted in the block */
};

struct gbca_rcs {
	struct rc rc[N_SHELLS];
};

static bool
starts(const char *l, size_t n, const char *prefix)
{
	size_t p = strlen(prefix);
	return n >= p && memcmp(l, prefix, p) == 0;
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

static bool
begin_ok(void *arg, const char *rest, size_t n)
{
	struct rc *rc = arg;
	size_t note;

	return parse_tags(rest, n, &rc->flags, &rc->dirs, &note);
}

/* Lines gbca writes inside a block: blank lines, comments (some note the
 * user's earlier values), and the settings themselves. Anything else was
 * added by hand and must not be deleted with the block. */
static bool
body_ok(void *arg, const char *l, size_t n)
{
	struct rc *rc = arg;
	const char *const *vars = rc->kind->vars;
	size_t i = 0;

	while (i < n && (l[i] == ' ' || l[i] == '\t' || l[i] == '\r'))
		i++;
	if (i == n)
		return true;
	for (size_t v = 0; vars[v]; v++) {
		size_t vl = strlen(vars[v]), pl = strlen(PREV_MARK);
		if (starts(l, n, PREV_MARK) && n > pl + vl + 5 && memcmp(l + pl, vars[v], vl) == 0 &&
		    memcmp(l + pl + vl, " was ", 5) == 0)
			return unquote_sh(l + pl + vl + 5, n - pl - vl - 5, rc->prev.v[v], sizeof(rc->prev.v[v]));
	}
	if (l[0] == '#')
		return true;
	for (size_t v = 0; vars[v]; v++) {
		size_t vl = strlen(vars[v]);
		if (starts(l, n, "export ") && n > 7 + vl && memcmp(l + 7, vars[v], vl) == 0 && l[7 + vl] == '=')
			return true;
		if (starts(l, n, "set -gx ") && n > 8 + vl && memcmp(l + 8, vars[v], vl) == 0 && l[8 + vl] == ' ')
			return true;
	}
	return false;
}

/* Finds the one block of rc->kind; a damaged one sets err. */
static bool
rc_parse(struct rc *rc, struct gbca_err *err)
{
	const struct gbca_shells_kind *k = rc->kind;
	struct gbca_block_marks m = { k->begin, k->end, begin_ok, body_ok, rc };
	struct gbca_block *b = &rc->block;

	switch (gbca_block_find(rc->text.data, rc->text.len, &m, b)) {
	case GBCA_BLOCK_OK:
		return true;
	case GBCA_BLOCK_NESTED:
		return gbca_fail(err, "%s line %zu: a second %s begin marker inside the block of line %zu; "
		                 FIX_HINT, rc->show, b->problem_line, k->what, b->begin_line);
	case GBCA_BLOCK_TWICE:
		return gbca_fail(err, "%s line %zu: a second %s block (the first is at line %zu); " FIX_HINT,
		                 rc->show, b->problem_line, k->what, b->begin_line);
	case GBCA_BLOCK_BAD_BEGIN:
		return gbca_fail(err, "%s line %zu: the %s begin marker has a tag gbca didn't write; " FIX_HINT,
		                 rc->show, b->problem_line, k->what);
	case GBCA_BLOCK_STRAY_END:
		return gbca_fail(err, "%s line %zu: a %s end marker without a begin marker; " FIX_HINT,
		                 rc->show, b->problem_line, k->what);
	case GBCA_BLOCK_FOREIGN:
		return gbca_fail(err, "%s line %zu: a line inside the %s block (line %zu) that gbca didn't "
		                 "write; move it out of the block or " FIX_HINT,
		                 rc->show, b->problem_line, k->what, b->begin_line);
	case GBCA_BLOCK_NO_END:
	default:
		return gbca_fail(err, "%s line %zu: the %s block has no end marker (%s); " FIX_HINT,
		                 rc->show, b->begin_line, k->what, k->end);
	}
}

/* Whether the resolved path real lies inside the (resolved) HOME. */
static bool
inside_home(const char *real)
{
	const char *home = getenv("HOME");
	char h[PATH_MAX];
	size_t n;

	if (home == NULL || realpath(home, h) == NULL)
		return false;
	n = strlen(h);
	return strncmp(real, h, n) == 0 && (real[n] == '/' || (n == 1 && h[0] == '/'));
}

static bool
rc_load(struct rc *rc, const struct gbca_shells_kind *k, const struct shell *sh, struct gbca_err *err)
{
	struct stat lst;
	int e;

	memset(rc, 0, sizeof(*rc));
	rc->kind = k;
	rc->sh = sh;
	if (!rc_path(sh->bit, rc->path, sizeof(rc->path), err) ||
	    !gbca_owner_of(getenv("HOME"), &rc->uid, &rc->gid, err))
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
		if (!inside_home(rc->real))
			return gbca_fail(err, "%s links to %s, outside your home folder; gbca writes through "
			                 "links only inside it: move the file into your home or add the lines yourself",
			                 rc->show, rc->real);
	}
	/* real has no links left: one swapped in since (root reading for a
	 * user) is refused rather than followed. */
	if (!gbca_text_read_nofollow(&rc->text, rc->real, rc->show, FILE_MAX, err))
		return false;
	rc->exists = rc->text.data != NULL;
	if (rc->exists && !rc_parse(rc, err)) {
		rc->damaged = true;
		return false;
	}
	return true;
}

struct gbca_rcs *
gbca_shells_load(const struct gbca_shells_kind *k)
{
	struct gbca_rcs *rcs = calloc(1, sizeof(*rcs));

	for (size_t i = 0; rcs && i < N_SHELLS; i++) {
		struct gbca_err e = { "" };
		if (!rc_load(&rcs->rc[i], k, &shell_table[i], &e)) {
			rcs->rc[i].bad = true;
			rcs->rc[i].err = e;
		}
	}
	return rcs;
}

void
gbca_shells_free(struct gbca_rcs *rcs)
{
	for (size_t i = 0; rcs && i < N_SHELLS; i++)
		gbca_text_free(&rcs->rc[i].text);
	free(rcs);
}

void
gbca_shells_noted(const struct gbca_rcs *rcs, struct gbca_shells_prev *prev)
{
	memset(prev, 0, sizeof(*prev));
	for (size_t i = 0; rcs && i < N_SHELLS; i++) {
		const struct rc *rc = &rcs->rc[i];
		for (size_t v = 0; rc->block.found && v < GBCA_SHELLS_MAX_VARS; v++)
			if (prev->v[v][0] == '\0' && rc->prev.v[v][0] != '\0')
				memcpy(prev->v[v], rc->prev.v[v], sizeof(prev->v[v]));
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

/* "couldn't write ~/.bashrc: why; fix, or <do it by hand>". */
static bool
rc_fail(const struct rc *rc, const char *value, bool adding, const char *why, const char *fix,
        struct gbca_err *err)
{
	const struct gbca_shells_kind *k = rc->kind;
	struct gbca_strbuf line = { 0 };

	set_lines_joined(&line, k, rc->sh->bit, value);
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
rc_writable(const struct rc *rc, const char *value, bool adding, struct gbca_err *err)
{
	char fix[PATH_MAX + 64];
	bool ro;

	/* root may write anything, so honour the mode bits the user set. */
	if (geteuid() == 0)
		ro = (rc->text.st.st_mode & 0222) == 0;
	else
		ro = access(rc->real, W_OK) < 0;
	if (!ro)
		return true;
	snprintf(fix, sizeof(fix), "make it writable (chmod u+w %s) and run gbca again", rc->show);
	return rc_fail(rc, value, adding, "it is read-only", fix, err);
}

static bool
rc_save_failed(const struct rc *rc, const char *value, bool adding, struct gbca_err *err)
{
	int e = errno;
	const char *fix = "let gbca write there and run it again";

	if (e == EACCES || e == EPERM)
		fix = "make its folder writable by you and run gbca again";
	else if (e == ENOSPC || e == EDQUOT)
		fix = "free some disk space and run gbca again";
	return rc_fail(rc, value, adding, strerror(e), fix, err);
}

/* One change to a user's rc file, run as the owner of HOME: as root acting
 * for a user (sudo -E), the kernel then refuses whatever the user could not
 * do (a link or ZDOTDIR into root's files). */
struct rc_job {
	const struct rc *rc;
	const struct gbca_strbuf *b;   /* NULL: unlink the file (gbca created it) */
	int dirs;
	const char *value;
	bool adding;
};

static bool
rc_unlink_job(const struct rc *rc, struct gbca_err *err)
{
	int e;

	if (unlink(rc->real) < 0) {
		e = errno;
		return gbca_fail(err, "couldn't remove %s: %s", rc->show, strerror(e));
	}
	remove_dirs(rc->path, rc->dirs);
	return true;
}

/* Writes new contents of an existing file, or creates it (and its folders,
 * which dirs counts). */
static bool
rc_write_job(void *arg, struct gbca_err *err)
{
	const struct rc_job *job = arg;
	const struct rc *rc = job->rc;
	const struct gbca_strbuf *b = job->b;
	const char *value = job->value;
	bool adding = job->adding;
	int dirs = job->dirs;
	const struct stat *st = &rc->text.st;
	struct stat parent = { 0 };
	struct gbca_save s;
	char dir[PATH_MAX];
	char *slash;

	if (b == NULL)
		return rc_unlink_job(rc, err);
	if (b->oom)
		return gbca_fail(err, "out of memory writing %s", rc->show);
	if (rc->exists) {
		if (!rc_writable(rc, value, adding, err))
			return false;
		if (!gbca_text_save(rc->real, b->p, b->len, st->st_mode & 07777, st->st_uid, st->st_gid, &s, true))
			return rc_save_failed(rc, value, adding, err);
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
	if (!gbca_text_save(rc->real, b->p, b->len, 0644, parent.st_uid, parent.st_gid, &s, true)) {
		rc_save_failed(rc, value, adding, err);
		remove_dirs(rc->path, dirs);
		return false;
	}
	return true;
}

static bool
rc_write(const struct rc *rc, const struct gbca_strbuf *b, int dirs, const char *value, bool adding,
         struct gbca_err *err)
{
	struct rc_job job = { rc, b, dirs, value, adding };

	return gbca_as_owner(rc->uid, rc->gid, rc_write_job, &job, err);
}

/* Puts the current block in rc: replaced in place, or appended. */
static bool
rc_install(const struct rc *rc, const char *value, const struct gbca_shells_prev *prev, bool *changed,
           struct gbca_err *err)
{
	const struct gbca_text *t = &rc->text;
	struct gbca_strbuf block = { 0 }, b = { 0 };
	struct stat parent;
	unsigned flags = rc->flags;
	int dirs = rc->dirs;
	size_t at = t->len;
	bool ok = true;

	*changed = false;
	if (rc->block.found) {
		at = rc->block.start;
	} else {
		flags = 0;
		dirs = 0;
		if (!rc->exists) {
			flags = FLAG_CREATED;
			dirs = missing_dirs(rc->path, &parent);
			if (dirs > 9)
				return gbca_fail(err, "couldn't write %s: too many of its folders are missing", rc->show);
		} else if (t->len > 0 && t->data[t->len - 1] != '\n') {
			flags = FLAG_NEWLINE;
			gbca_strbuf_str(&block, "\n");
		}
	}
	render_block(&block, rc->kind, rc->sh->bit, flags, dirs, value, prev);
	gbca_block_splice(&b, t->data ? t->data : "", t->len, at, rc->block.found ? rc->block.end : at,
	                  block.p, block.len);
	if (!(rc->exists && !b.oom && !block.oom && b.len == t->len && (b.len == 0 || (t->data != NULL && memcmp(b.p, t->data, b.len) == 0)))) {
		b.oom |= block.oom;
		ok = rc_write(rc, &b, dirs, value, true, err);
		*changed = ok;
	}
	free(block.p);
	free(b.p);
	return ok;
}

/* Another store's begin marker on the line right after rc's block: its
 * kind, where its tags end (*note) and where the line ends. */
static const struct gbca_shells_kind *
next_block(const struct rc *rc, size_t *note, size_t *line_end, unsigned *flags, int *dirs)
{
	const struct gbca_text *t = &rc->text;
	size_t pos = rc->block.end, n;
	const char *l;

	if (!gbca_text_line(t->data, t->len, &pos, &l, &n))
		return NULL;
	for (size_t i = 0; i < N_KINDS; i++) {
		const struct gbca_shells_kind *k = kinds[i];
		size_t bl = strlen(k->begin);
		if (k == rc->kind || !starts(l, n, k->begin))
			continue;
		*flags = 0;
		*dirs = 0;
		if (!parse_tags(l + bl, n - bl, flags, dirs, note))
			return NULL;
		*note += rc->block.end + bl;
		*line_end = rc->block.end + n;
		return k;
	}
	return NULL;
}

/* Takes the block out, and with it whatever its tags say gbca added. When
 * another store's block follows right after, the tags move to it instead,
 * so the file comes back byte for byte whichever block goes last. */
static bool
rc_remove(const struct rc *rc, const char *value, bool *changed, struct gbca_err *err)
{
	const struct gbca_text *t = &rc->text;
	const struct gbca_shells_kind *next = NULL;
	struct gbca_strbuf b = { 0 };
	size_t start = rc->block.start, end = rc->block.end, note = 0, line_end = 0;
	unsigned next_flags = 0;
	int next_dirs = 0;
	bool ok;

	*changed = false;
	if (!rc->block.found)
		return true;
	if (rc->flags != 0 || rc->dirs != 0)
		next = next_block(rc, &note, &line_end, &next_flags, &next_dirs);
	/* The added newline goes only while the block is still last: if lines were
	 * added after it, the newline now ends the user's own line. */
	if ((rc->flags & FLAG_NEWLINE) && end == t->len && start > 0 && t->data[start - 1] == '\n')
		start--;
	if (!rc_writable(rc, value, false, err))
		return false;
	if ((rc->flags & FLAG_CREATED) && !rc->is_link && start == 0 && end == t->len)
		return (*changed = rc_write(rc, NULL, 0, value, false, err));
	if (next != NULL) {
		/* The next block's begin line, with both blocks' tags. */
		struct gbca_strbuf line = { 0 };
		gbca_strbuf_str(&line, next->begin);
		render_tags(&line, rc->flags | next_flags, rc->dirs > next_dirs ? rc->dirs : next_dirs);
		gbca_strbuf_add(&line, t->data + note, line_end - note);
		gbca_block_splice(&b, t->data, t->len, start, line_end, line.p, line.len);
		b.oom |= line.oom;
		free(line.p);
	} else {
		gbca_block_splice(&b, t->data, t->len, start, end, NULL, 0);
	}
	ok = rc_write(rc, &b, 0, value, false, err);
	free(b.p);
	*changed = ok;
	return ok;
}

/* Whether rc holds exactly the block install would write now. */
static bool
rc_current(const struct rc *rc, const char *value, const struct gbca_shells_prev *prev)
{
	struct gbca_strbuf b = { 0 };
	bool same;

	if (!rc->block.found)
		return false;
	render_block(&b, rc->kind, rc->sh->bit, rc->flags, rc->dirs, value, prev);
	same = !b.oom && b.len == rc->block.end - rc->block.start &&
	       memcmp(b.p, rc->text.data + rc->block.start, b.len) == 0;
	free(b.p);
	return same;
}

void
gbca_shells_apply_hint(const struct gbca_shells_kind *k, const char *value, char *buf, size_t len)
{
	const char *sh = getenv("SHELL");
	const char *base = sh ? strrchr(sh, '/') : NULL;
	struct gbca_strbuf b = { 0 };

	base = base ? base + 1 : sh;
	set_lines_joined(&b, k, base && strcmp(base, "fish") == 0 ? GBCA_SHELL_FISH : GBCA_SHELL_BASH, value);
	if (!b.oom && b.len > 0)
		gbca_report_add(buf, len, "", "; apply now with: %s", b.p);
	free(b.p);
}

void
gbca_shells_check(const struct gbca_trust_ctx *ctx, const struct gbca_rcs *rcs, const char *value,
                  const struct gbca_shells_prev *prev, char *where, size_t where_len, bool *any_block,
                  bool *all_current)
{
	*any_block = false;
	*all_current = true;
	for (size_t i = 0; i < N_SHELLS; i++) {
		const struct rc *rc = &rcs->rc[i];
		const char *note = "";

		if (!(ctx->shells & rc->sh->bit))
			continue;
		*any_block |= rc->block.found;
		if (rc->bad)
			note = rc->damaged ? " (damaged block)" : " (unreadable)";
		else if (!rc->block.found)
			note = " (not set)";
		else if (!rc_current(rc, value, prev))
			note = " (outdated)";
		*all_current &= note[0] == '\0';
		gbca_report_add(where, where_len, ", ", "%s%s", rc->show[0] ? rc->show : rc->sh->name, note);
	}
}

void
gbca_shells_install(const struct gbca_trust_ctx *ctx, struct gbca_rcs *rcs, const char *value,
                    const struct gbca_shells_prev *prev, char *done, size_t done_len, bool *changed_any,
                    struct gbca_err *all)
{
	*changed_any = false;
	for (size_t i = 0; i < N_SHELLS; i++) {
		struct rc *rc = &rcs->rc[i];
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
		gbca_report_add(done, done_len, ", ", "%s", rc->show);
	}
}

void
gbca_shells_remove(const struct gbca_trust_ctx *ctx, struct gbca_rcs *rcs, const char *value, char *done,
                   size_t done_len, bool *in_use, struct gbca_err *all)
{
	*in_use = false;
	for (size_t i = 0; i < N_SHELLS; i++) {
		struct rc *rc = &rcs->rc[i];
		struct gbca_err one = { "" };
		bool changed;

		if (!(ctx->shells & rc->sh->bit)) {
			*in_use |= rc->block.found || rc->bad;
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
			gbca_report_add(done, done_len, ", ", "%s", rc->show);
	}
}

void
gbca_shells_find_prev(const struct gbca_shells_kind *k, const char *target, const struct gbca_rcs *rcs,
                      struct gbca_shells_prev *prev)
{
	struct gbca_shells_prev noted;
	char abs[PATH_MAX];

	gbca_shells_noted(rcs, &noted);
	memset(prev, 0, sizeof(*prev));
	for (size_t v = 0; k->vars[v]; v++) {
		const char *env = getenv(k->vars[v]);
		if (env != NULL && env[0] != '\0' && !gbca_same_file(env, target)) {
			/* A relative name resolves against the working directory;
			 * the block must not. */
			if (env[0] != '/' && realpath(env, abs) != NULL)
				env = abs;
			snprintf(prev->v[v], sizeof(prev->v[v]), "%s", env);
		} else {
			memcpy(prev->v[v], noted.v[v], sizeof(prev->v[v]));
		}
	}
}

struct bundle_job {
	const struct gbca_shells_kind *k;
	const struct gbca_trust_ctx *ctx;
	const char *file;
	const struct gbca_shells_prev *prev;
};

static bool
write_bundle_job(void *arg, struct gbca_err *err)
{
	const struct bundle_job *job = arg;
	const struct gbca_shells_kind *k = job->k;
	const struct gbca_trust_ctx *ctx = job->ctx;
	const struct gbca_shells_prev *prev = job->prev;
	const char *file = job->file;
	struct gbca_strbuf b = { 0 };
	struct gbca_text old, theirs;
	bool ok = false;

	for (size_t v = 0; k->vars[v]; v++) {
		const char *p = prev->v[v];
		bool seen = false;

		if (p[0] == '\0')
			continue;
		for (size_t w = 0; w < v; w++)
			seen |= prev->v[w][0] != '\0' && gbca_same_file(prev->v[w], p);
		if (seen)
			continue;
		if (strpbrk(p, "\n\r") != NULL) {
			gbca_fail(err, "%s (%s) has a line break in it; unset it and run gbca again", k->vars[v], p);
			goto out;
		}
		if (!gbca_text_read(&theirs, p, p, FILE_MAX, err))
			goto out;
		if (theirs.data == NULL || strstr(theirs.data, PEM_BEGIN) == NULL) {
			gbca_fail(err, "your %s names %s, which %s; %s would lose it: point %s at a PEM file or "
			          "unset it, then run gbca again", k->vars[v], p,
			          theirs.data ? "holds no PEM certificate" : "doesn't exist", k->bundle, k->vars[v]);
			gbca_text_free(&theirs);
			goto out;
		}
		gbca_strbuf_add(&b, theirs.data, theirs.len);
		if (theirs.len > 0 && theirs.data[theirs.len - 1] != '\n')
			gbca_strbuf_str(&b, "\n");
		gbca_text_free(&theirs);
	}
	gbca_strbuf_add(&b, ctx->root_pem.data, ctx->root_pem.size);
	if (b.oom) {
		gbca_fail(err, "out of memory writing %s", file);
		goto out;
	}
	if (!gbca_text_read(&old, file, file, FILE_MAX, err))
		goto out;
	if (old.data != NULL && old.len == b.len && memcmp(old.data, b.p, b.len) == 0)
		ok = true;
	else
		ok = gbca_save_file(file, b.p, b.len, 0644, err);
	gbca_text_free(&old);
out:
	free(b.p);
	return ok;
}

/* As the owner of the file's folder (CAROOT): root acting for a user reads
 * the user's own bundles with the user's rights, so it never copies a file
 * only root may read into a world-readable one, and writes as the user. */
bool
gbca_shells_write_bundle(const struct gbca_shells_kind *k, const struct gbca_trust_ctx *ctx, const char *file,
                         const struct gbca_shells_prev *prev, struct gbca_err *err)
{
	struct bundle_job job = { k, ctx, file, prev };
	char dir[PATH_MAX];
	char *slash;
	uid_t uid;
	gid_t gid;

	snprintf(dir, sizeof(dir), "%s", file);
	slash = strrchr(dir, '/');
	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else
		slash[slash == dir] = '\0';
	if (!gbca_owner_of(dir, &uid, &gid, err))
		return false;
	return gbca_as_owner(uid, gid, write_bundle_job, &job, err);
}

void
gbca_shells_restore_hint(const struct gbca_shells_kind *k, const char *file, const struct gbca_shells_prev *prev,
                         char *buf, size_t len)
{
	const char *sep = "; in open shells run: ";

	for (size_t v = 0; k->vars[v]; v++) {
		const char *env = getenv(k->vars[v]);
		if (env == NULL || !gbca_same_file(env, file))
			continue;
		if (prev->v[v][0] != '\0') {
			struct gbca_strbuf b = { 0 };
			gbca_quote_sh(&b, prev->v[v]);
			gbca_report_add(buf, len, "", "%sexport %s=%s", sep, k->vars[v], b.oom ? "..." : b.p);
			free(b.p);
		} else {
			gbca_report_add(buf, len, "", "%sunset %s", sep, k->vars[v]);
		}
		sep = "; ";
	}
}

bool
gbca_shells_env_lines_for(const struct gbca_shells_kind *k, const char *value, const char *shell, char *buf,
                          size_t len, struct gbca_err *err)
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
		memcpy(buf, b.p ? b.p : "", b.len + 1);
	else
		gbca_fail(err, "path too long: %s", value);
	free(b.p);
	return ok;
}
