/* Unit tests: the node and python stores' blocks in ~/.bashrc, ~/.zshrc and
 * the fish drop-in, read back by the real shells, by node and by python
 * requests. */
#include "config.h"
#include "tap.h"
#include <gbca/ca.h>
#include <gbca/issue.h>
#include <gbca/path.h>
#include <gbca/save.h>
#include <gbca/shells.h>
#include <gbca/store.h>

#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static struct gbca_err err;
static char home[512], caroot[512], pem[600];
static struct gbca_trust_ctx ctx;
static struct gbca_ca ca;
static char report[GBCA_REPORT_MAX];
/* The store the do_* helpers drive; setup() picks node. */
static const struct gbca_store *store;

/* Variables that would let a trust test pass for the wrong reason. */
static const char *const foreign_env[] = {
	"NODE_EXTRA_CA_CERTS", "SSL_CERT_FILE", "SSL_CERT_DIR", "CURL_CA_BUNDLE",
	"REQUESTS_CA_BUNDLE", "NODE_OPTIONS", "XDG_CONFIG_HOME", "ZDOTDIR",
	"BASH_ENV", "ENV",
};

static bool exists(const char *p);

static const char *
hpath(const char *rel)
{
	static char buf[4][700];
	static int i;
	i = (i + 1) % 4;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", home, rel);
	return buf[i];
}

static void
make_ca(const char *dir, bool force, struct gbca_ca *out)
{
	struct gbca_ca_options o = { .key_type = GBCA_KEY_P256, .constrained = true, .force = force };
	char backup[1024];

	mkdir(dir, 0700);
	if (!gbca_ca_create(dir, &o, out, backup, sizeof(backup), &err))
		tap_fail(__FILE__, __LINE__, "gbca_ca_create: %s", err.msg);
}

/* A fresh HOME and CAROOT (named caname, to test quoting) for one case. */
static void
setup_named(const char *caname)
{
	gbca_trust_ctx_free(&ctx);
	gbca_ca_free(&ca);
	for (size_t i = 0; i < sizeof(foreign_env) / sizeof(foreign_env[0]); i++)
		unsetenv(foreign_env[i]);
	unsetenv("GBCA_SYSROOT");
	store = &gbca_store_node;
	snprintf(home, sizeof(home), "%s/home", tap_tmpdir());
	snprintf(caroot, sizeof(caroot), "%s/%s", tap_tmpdir(), caname);
	/* a case may set up more than once: fresh folders each time */
	for (int i = 2; exists(home) || exists(caroot); i++) {
		snprintf(home, sizeof(home), "%s/home%d", tap_tmpdir(), i);
		snprintf(caroot, sizeof(caroot), "%s/%s%d", tap_tmpdir(), caname, i);
	}
	assert_int_eq(mkdir(home, 0755), 0);
	setenv("HOME", home, 1);
	make_ca(caroot, false, &ca);
	if (!gbca_trust_ctx_init(&ctx, caroot, &err))
		tap_fail(__FILE__, __LINE__, "gbca_trust_ctx_init: %s", err.msg);
	snprintf(pem, sizeof(pem), "%s/node-ca.pem", caroot);
	memset(&err, 0, sizeof(err));
}

static void
setup(void)
{
	setup_named("ca");
}

/* Whole files, kept until a few more are read (and freed at exit). */
static char *slurped[8];
static size_t slurped_len[8];
static int slurp_i;

static char *
slurp(const char *p)
{
	FILE *f = fopen(p, "rb");
	char *buf;
	size_t n = 0, cap = 4096;

	if (f == NULL)
		return NULL;
	slurp_i = (slurp_i + 1) % 8;
	free(slurped[slurp_i]);
	buf = slurped[slurp_i] = malloc(cap);
	assert_true(buf != NULL);
	for (;;) {
		n += fread(buf + n, 1, cap - n - 1, f);
		if (n < cap - 1)
			break;
		cap *= 2;
		buf = slurped[slurp_i] = realloc(buf, cap);
		assert_true(buf != NULL);
	}
	buf[n] = '\0';
	slurped_len[slurp_i] = n;
	fclose(f);
	return buf;
}

static void
spew(const char *p, const char *data, mode_t mode)
{
	if (!gbca_save_file(p, data, strlen(data), mode, &err))
		tap_fail(__FILE__, __LINE__, "%s", err.msg);
}

static bool
exists(const char *p)
{
	struct stat st;
	return lstat(p, &st) == 0;
}

static bool
do_install(void)
{
	memset(&err, 0, sizeof(err));
	report[0] = '\0';
	return store->install(&ctx, report, sizeof(report), &err);
}

static bool
do_uninstall(void)
{
	memset(&err, 0, sizeof(err));
	report[0] = '\0';
	return store->uninstall(&ctx, report, sizeof(report), &err);
}

#define assert_install() \
	do { if (!do_install()) tap_fail(__FILE__, __LINE__, "install: %s", err.msg); } while (0)
#define assert_uninstall() \
	do { if (!do_uninstall()) tap_fail(__FILE__, __LINE__, "uninstall: %s", err.msg); } while (0)

static enum gbca_trust_state
do_check(char *where, size_t len)
{
	return store->check(&ctx, where, len);
}

/* Every file and folder under HOME with its mode and bytes, sorted. */
static char *snap_items[64];
static int snap_n;

static int
snap_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	char *item, *data = NULL;
	size_t len;
	(void)flag; (void)ftw;

	if (snap_n == 64)
		return 1;
	if (S_ISREG(st->st_mode))
		data = slurp(p);
	len = strlen(p) + 32 + (data ? slurped_len[slurp_i] : 0);
	item = malloc(len);
	if (item == NULL)
		return 1;
	snprintf(item, len, "%s %o\n%s", p, (unsigned)st->st_mode, data ? data : "");
	snap_items[snap_n++] = item;
	return 0;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *
snapshot(void)
{
	size_t len = 1;
	char *out;

	snap_n = 0;
	assert_int_eq(nftw(home, snap_one, 16, FTW_PHYS), 0);
	qsort(snap_items, (size_t)snap_n, sizeof(char *), cmp_str);
	for (int i = 0; i < snap_n; i++)
		len += strlen(snap_items[i]) + 1;
	out = malloc(len);
	assert_true(out != NULL);
	out[0] = '\0';
	for (int i = 0; i < snap_n; i++) {
		strcat(out, snap_items[i]);
		strcat(out, "\n");
		free(snap_items[i]);
	}
	snap_n = 0;
	return out;
}

static bool
have(const char *prog)
{
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", prog);
	return system(cmd) == 0;
}

/* Output of a shell command (stderr dropped: bash -i complains without a tty). */
static const char *
run(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return tap_capture(NULL, "%s </dev/null 2>/dev/null", cmd);
}

static const char expected_bashrc_fmt[] =
	"# >>> gbca >>> [file-created]  (managed by gbca; remove with: gbca untrust)\n"
	"export NODE_EXTRA_CA_CERTS='%s'\n"
	"# <<< gbca <<<\n";

static void
test_install_writes_three(void)
{
	char want[2048];
	const char *fish;

	setup();
	assert_install();
	snprintf(want, sizeof(want), expected_bashrc_fmt, pem);
	assert_str_eq(slurp(hpath(".bashrc")), want);
	assert_str_contains(slurp(hpath(".zshrc")), "export NODE_EXTRA_CA_CERTS='");
	fish = slurp(hpath(".config/fish/conf.d/gbca.fish"));
	assert_str_contains(fish, "# >>> gbca >>> [file-created] [dirs-created=3]  (managed by gbca");
	assert_str_contains(fish, "set -gx NODE_EXTRA_CA_CERTS '");
	assert_str_contains(fish, pem);
	/* node-ca.pem is the root, readable by node run as anyone */
	assert_true(slurp(pem) != NULL);
	assert_int_eq(slurped_len[slurp_i], ctx.root_pem.size);
	assert_true(memcmp(slurp(pem), ctx.root_pem.data, ctx.root_pem.size) == 0);
	{
		struct stat st;
		assert_int_eq(stat(pem, &st), 0);
		assert_int_eq(st.st_mode & 07777, 0644);
		assert_int_eq(stat(hpath(".bashrc"), &st), 0);
		assert_int_eq(st.st_mode & 07777, 0644);
	}
	assert_str_contains(report, "node: NODE_EXTRA_CA_CERTS set in ~/.bashrc, ~/.zshrc, "
	                    "~/.config/fish/conf.d/gbca.fish; apply now with: ");
}

static void
test_idempotent(void)
{
	static const char *const names[] = { ".bashrc", ".zshrc", ".config/fish/conf.d/gbca.fish", NULL };
	struct stat before[4], after[4];
	char *snap;

	setup();
	spew(hpath(".bashrc"), "alias ll='ls -l'\n", 0644);
	assert_install();
	for (int i = 0; i < 4; i++)
		assert_int_eq(stat(names[i] ? hpath(names[i]) : pem, &before[i]), 0);
	snap = snapshot();
	/* long enough for a rewrite to show in the nanosecond mtime */
	nanosleep(&(struct timespec){ 0, 20 * 1000 * 1000 }, NULL);
	assert_install();
	assert_str_contains(report, "already set in ~/.bashrc");
	for (int i = 0; i < 4; i++) {
		assert_int_eq(stat(names[i] ? hpath(names[i]) : pem, &after[i]), 0);
		assert_int_eq(after[i].st_mtim.tv_sec, before[i].st_mtim.tv_sec);
		assert_int_eq(after[i].st_mtim.tv_nsec, before[i].st_mtim.tv_nsec);
		assert_int_eq(after[i].st_ino, before[i].st_ino);
	}
	{
		char *again = snapshot();
		assert_str_eq(again, snap);
		free(again);
	}
	free(snap);
}

/* A CAROOT whose name needs quoting in every shell. */
#define AWKWARD_CA "ca dir's $HOME \\n `x`"

static void
real_shell(const char *cmd)
{
	setup_named(AWKWARD_CA);
	assert_true(strchr(pem, '\'') != NULL);
	assert_install();
	assert_str_eq(run("%s", cmd), pem);
	assert_uninstall();
	assert_str_eq(run("%s", cmd), "");
}

static void
test_real_bash(void)
{
	real_shell("bash -ic 'printf %s \"$NODE_EXTRA_CA_CERTS\"'");
}

static void
test_real_zsh(void)
{
	real_shell("zsh -ic 'printf %s \"$NODE_EXTRA_CA_CERTS\"'");
}

static void
test_real_fish(void)
{
	real_shell("fish -c 'printf %s $NODE_EXTRA_CA_CERTS'");
}

static void
test_no_newline_roundtrip(void)
{
	static const char orig[] = "alias ll='ls -l'\n\n# mine\nexport FOO=1";
	char *before, *after;
	struct stat st;

	setup();
	spew(hpath(".bashrc"), orig, 0640);
	before = snapshot();
	assert_install();
	assert_str_contains(slurp(hpath(".bashrc")), "export FOO=1\n# >>> gbca >>> [newline-added]  (managed");
	assert_true(strncmp(slurp(hpath(".bashrc")), orig, sizeof(orig) - 1) == 0);
	assert_uninstall();
	assert_str_contains(report, "node: removed NODE_EXTRA_CA_CERTS from ~/.bashrc, ~/.zshrc, "
	                    "~/.config/fish/conf.d/gbca.fish");
	assert_str_eq(slurp(hpath(".bashrc")), orig);
	assert_int_eq(stat(hpath(".bashrc"), &st), 0);
	assert_int_eq(st.st_mode & 07777, 0640);
	/* files and folders gbca created are gone: HOME is as it was */
	assert_false(exists(hpath(".zshrc")));
	assert_false(exists(hpath(".config")));
	assert_false(exists(pem));
	after = snapshot();
	assert_str_eq(after, before);
	free(before);
	free(after);
	/* a second uninstall has nothing to do */
	assert_uninstall();
	assert_str_contains(report, "was not set by gbca");
}

static void
test_lines_after_block(void)
{
	setup();
	spew(hpath(".bashrc"), "export FOO=1", 0644);
	assert_install();
	{
		FILE *f = fopen(hpath(".bashrc"), "a");
		assert_true(f != NULL);
		fputs("echo later\n", f);
		fclose(f);
	}
	assert_uninstall();
	/* the newline gbca added now ends the user's line, so it stays */
	assert_str_eq(slurp(hpath(".bashrc")), "export FOO=1\necho later\n");
}

static void
test_existing_dirs_kept(void)
{
	setup();
	assert_int_eq(mkdir(hpath(".config"), 0700), 0);
	spew(hpath(".zshrc"), "", 0600);
	assert_install();
	assert_str_contains(slurp(hpath(".config/fish/conf.d/gbca.fish")), "[file-created] [dirs-created=2]  (");
	/* an empty file that existed is not "created" */
	assert_str_contains(slurp(hpath(".zshrc")), "# >>> gbca >>>  (managed");
	assert_uninstall();
	assert_true(exists(hpath(".config")));
	assert_false(exists(hpath(".config/fish")));
	assert_true(exists(hpath(".zshrc")));
	assert_str_eq(slurp(hpath(".zshrc")), "");
}

static void
test_replace_in_place(void)
{
	char want[2048];

	setup();
	spew(hpath(".bashrc"),
	     "before\n"
	     "# >>> gbca >>>  (managed by gbca; remove with: gbca untrust)\n"
	     "export NODE_EXTRA_CA_CERTS='/old/caroot/node-ca.pem'\n"
	     "# <<< gbca <<<\n"
	     "after\n", 0644);
	assert_install();
	snprintf(want, sizeof(want),
	         "before\n"
	         "# >>> gbca >>>  (managed by gbca; remove with: gbca untrust)\n"
	         "export NODE_EXTRA_CA_CERTS='%s'\n"
	         "# <<< gbca <<<\n"
	         "after\n", pem);
	assert_str_eq(slurp(hpath(".bashrc")), want);
	assert_uninstall();
	assert_str_eq(slurp(hpath(".bashrc")), "before\nafter\n");
}

static void
test_symlink(void)
{
	struct stat st;

	setup();
	assert_int_eq(mkdir(hpath("dotfiles"), 0755), 0);
	spew(hpath("dotfiles/zshrc"), "setopt autocd\n", 0644);
	assert_int_eq(symlink("dotfiles/zshrc", hpath(".zshrc")), 0);
	assert_install();
	assert_int_eq(lstat(hpath(".zshrc"), &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	assert_str_contains(slurp(hpath("dotfiles/zshrc")), "setopt autocd\n# >>> gbca >>>  (");
	assert_uninstall();
	assert_int_eq(lstat(hpath(".zshrc"), &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	assert_str_eq(slurp(hpath("dotfiles/zshrc")), "setopt autocd\n");
}

static void
test_dangling_symlink(void)
{
	setup();
	assert_int_eq(symlink("dotfiles/missing", hpath(".bashrc")), 0);
	assert_false(do_install());
	assert_str_contains(err.msg, "~/.bashrc is a symbolic link");
	assert_true(exists(hpath(".zshrc")));
}

static void
test_read_only(void)
{
	static const char orig[] = "export FOO=1\n";
	struct stat st;

	setup();
	spew(hpath(".bashrc"), orig, 0444);
	assert_false(do_install());
	assert_str_contains(err.msg, "couldn't write ~/.bashrc: it is read-only; make it writable");
	assert_str_contains(err.msg, "export NODE_EXTRA_CA_CERTS=");
	assert_str_eq(slurp(hpath(".bashrc")), orig);
	assert_int_eq(stat(hpath(".bashrc"), &st), 0);
	assert_int_eq(st.st_mode & 07777, 0444);
	/* the other shells are still done, and said so */
	assert_str_contains(slurp(hpath(".zshrc")), "export NODE_EXTRA_CA_CERTS=");
	assert_str_contains(slurp(hpath(".config/fish/conf.d/gbca.fish")), "set -gx NODE_EXTRA_CA_CERTS");
	assert_str_contains(report, "set in ~/.zshrc, ~/.config/fish/conf.d/gbca.fish");
	assert_false(strstr(report, ".bashrc") != NULL);
}

static void
test_rename_fails(void)
{
	/* Folders gbca can't write in: no temp file, no rename. As root only a
	 * read-only mount would do that, so this runs for other users. */
	char zdot[700], zshrc[720];

	if (geteuid() == 0)
		return;
	setup();
	snprintf(zdot, sizeof(zdot), "%s/zdot", tap_tmpdir());
	snprintf(zshrc, sizeof(zshrc), "%s/.zshrc", zdot);
	assert_int_eq(mkdir(zdot, 0755), 0);
	spew(zshrc, "setopt autocd\n", 0644);
	assert_int_eq(chmod(zdot, 0555), 0);
	setenv("ZDOTDIR", zdot, 1);
	assert_int_eq(mkdir(hpath(".config"), 0555), 0);
	assert_false(do_install());
	unsetenv("ZDOTDIR");
	chmod(zdot, 0755);
	chmod(hpath(".config"), 0755);
	assert_str_contains(err.msg, "/zdot/.zshrc: Permission denied; make its folder writable");
	assert_str_contains(err.msg, "; couldn't write ~/.config/fish/conf.d/gbca.fish: couldn't create");
	assert_str_eq(slurp(zshrc), "setopt autocd\n");
	assert_str_contains(slurp(hpath(".bashrc")), "export NODE_EXTRA_CA_CERTS=");
	assert_false(exists(hpath(".config/fish")));
}

/* A block changed by hand: the store refuses, names file and line, and
 * leaves the file alone, for install and uninstall alike. Call setup() first. */
static void
hand_edited(const char *contents, const char *msg)
{
	struct stat before, after;

	spew(hpath(".bashrc"), contents, 0644);
	assert_int_eq(stat(hpath(".bashrc"), &before), 0);
	assert_false(do_install());
	assert_str_contains(err.msg, msg);
	assert_str_eq(slurp(hpath(".bashrc")), contents);
	assert_true(exists(hpath(".zshrc")));
	assert_false(do_uninstall());
	assert_str_contains(err.msg, msg);
	assert_str_eq(slurp(hpath(".bashrc")), contents);
	assert_int_eq(stat(hpath(".bashrc"), &after), 0);
	assert_int_eq(after.st_ino, before.st_ino);
	assert_int_eq(after.st_mtim.tv_nsec, before.st_mtim.tv_nsec);
	/* the other shells' blocks went; node-ca.pem stays for the one left */
	assert_false(exists(hpath(".zshrc")));
	assert_true(exists(pem));
}

static void
test_hand_edited_no_end(void)
{
	char contents[2048], *end;

	setup();
	assert_install();
	snprintf(contents, sizeof(contents), "one\n%s", slurp(hpath(".bashrc")));
	end = strstr(contents, "# <<< gbca <<<\n");
	assert_true(end != NULL);
	strcpy(end, "two\n");
	assert_uninstall();
	hand_edited(contents, "~/.bashrc line 2: the gbca block has no end marker");
}

static void
test_hand_edited_two_begins(void)
{
	setup();
	hand_edited("# >>> gbca >>>\n"
	            "# >>> gbca >>>\n"
	            "export NODE_EXTRA_CA_CERTS=/x.pem\n"
	            "# <<< gbca <<<\n",
	            "~/.bashrc line 2: a second gbca begin marker");
}

static void
test_hand_edited_two_blocks(void)
{
	setup();
	hand_edited("# >>> gbca >>>\n# <<< gbca <<<\nx\n# >>> gbca >>>\n# <<< gbca <<<\n",
	            "~/.bashrc line 4: a second gbca block (the first is at line 1)");
}

static void
test_hand_edited_foreign_line(void)
{
	setup();
	hand_edited("# >>> gbca >>>\n"
	            "export NODE_EXTRA_CA_CERTS=/x.pem\n"
	            "alias gs='git status'\n"
	            "# <<< gbca <<<\n",
	            "~/.bashrc line 3: a line inside the gbca block (line 1) that gbca didn't write");
}

static void
test_hand_edited_stray_end(void)
{
	setup();
	hand_edited("x\n# <<< gbca <<<\n", "~/.bashrc line 2: a gbca end marker without a begin marker");
}

static void
test_existing_var(void)
{
	char other_dir[600], other[700], *bundle;
	struct gbca_ca other_ca;
	char *other_pem;
	size_t other_len;

	setup();
	snprintf(other_dir, sizeof(other_dir), "%s/other", tap_tmpdir());
	make_ca(other_dir, false, &other_ca);
	gbca_ca_free(&other_ca);
	snprintf(other, sizeof(other), "%s/rootCA.pem", other_dir);
	other_pem = strdup(slurp(other));
	other_len = strlen(other_pem);
	setenv("NODE_EXTRA_CA_CERTS", other, 1);
	assert_install();
	unsetenv("NODE_EXTRA_CA_CERTS");
	bundle = slurp(pem);
	/* theirs first, then ours: both certificates, one file */
	assert_true(strncmp(bundle, other_pem, other_len) == 0);
	assert_true(memcmp(bundle + other_len, ctx.root_pem.data, ctx.root_pem.size) == 0);
	assert_int_eq(slurped_len[slurp_i], other_len + ctx.root_pem.size);
	assert_str_contains(report, "node-ca.pem holds the certificates of your NODE_EXTRA_CA_CERTS (");
	assert_str_contains(report, other);
	assert_str_contains(slurp(hpath(".bashrc")), "# gbca: NODE_EXTRA_CA_CERTS was '");
	{
		char where[512];
		setenv("NODE_EXTRA_CA_CERTS", other, 1);
		assert_int_eq(do_check(where, sizeof(where)), GBCA_TRUST_INSTALLED);
		/* in a new shell the variable names our file; the note keeps theirs */
		setenv("NODE_EXTRA_CA_CERTS", pem, 1);
		assert_int_eq(do_check(where, sizeof(where)), GBCA_TRUST_INSTALLED);
	}
	assert_install();
	assert_str_contains(report, "already set");
	assert_str_contains(report, other);
	assert_true(strncmp(slurp(pem), other_pem, other_len) == 0);
	assert_uninstall();
	assert_str_contains(report, "in open shells run: export NODE_EXTRA_CA_CERTS='");
	assert_str_contains(report, other);
	/* their file is untouched */
	assert_str_eq(slurp(other), other_pem);
	assert_false(exists(pem));
	free(other_pem);
	unsetenv("NODE_EXTRA_CA_CERTS");
}

static void
test_existing_var_missing_file(void)
{
	setup();
	setenv("NODE_EXTRA_CA_CERTS", "/nonexistent/extra.pem", 1);
	assert_false(do_install());
	unsetenv("NODE_EXTRA_CA_CERTS");
	assert_str_contains(err.msg, "/nonexistent/extra.pem, which doesn't exist");
	assert_false(exists(hpath(".bashrc")));
	assert_false(exists(pem));
}

static void
test_check_states(void)
{
	char where[512];
	struct gbca_ca newer;

	setup();
	assert_int_eq(do_check(where, sizeof(where)), GBCA_TRUST_MISSING);
	assert_str_eq(where, "~/.bashrc (not set), ~/.zshrc (not set), ~/.config/fish/conf.d/gbca.fish (not set)");
	assert_install();
	assert_int_eq(do_check(where, sizeof(where)), GBCA_TRUST_INSTALLED);
	assert_str_eq(where, "~/.bashrc, ~/.zshrc, ~/.config/fish/conf.d/gbca.fish");
	/* one shell's block gone: not installed everywhere */
	unlink(hpath(".zshrc"));
	assert_int_eq(do_check(where, sizeof(where)), GBCA_TRUST_MISSING);
	assert_str_contains(where, "~/.zshrc (not set)");
	assert_install();
	assert_uninstall();
	assert_int_eq(do_check(where, sizeof(where)), GBCA_TRUST_MISSING);
	/* a new root in CAROOT: the blocks stay, node-ca.pem holds the old one */
	assert_install();
	make_ca(caroot, true, &newer);
	gbca_ca_free(&newer);
	gbca_trust_ctx_free(&ctx);
	if (!gbca_trust_ctx_init(&ctx, caroot, &err))
		tap_fail(__FILE__, __LINE__, "%s", err.msg);
	assert_int_eq(do_check(where, sizeof(where)), GBCA_TRUST_STALE);
	assert_install();
	assert_int_eq(do_check(where, sizeof(where)), GBCA_TRUST_INSTALLED);
	/* a damaged block shows in where */
	spew(hpath(".bashrc"), "# >>> gbca >>>\n", 0644);
	assert_int_eq(do_check(where, sizeof(where)), GBCA_TRUST_MISSING);
	assert_str_contains(where, "~/.bashrc (damaged block)");
}

static void
test_select_shells(void)
{
	setup();
	ctx.shells = GBCA_SHELL_BASH;
	assert_install();
	assert_true(exists(hpath(".bashrc")));
	assert_false(exists(hpath(".zshrc")));
	assert_false(exists(hpath(".config")));
	assert_str_contains(report, "set in ~/.bashrc;");
	ctx.shells = GBCA_SHELL_ALL;
	assert_install();
	/* uninstall of one shell keeps node-ca.pem for the others */
	ctx.shells = GBCA_SHELL_ZSH;
	assert_uninstall();
	assert_false(exists(hpath(".zshrc")));
	assert_true(exists(pem));
	ctx.shells = GBCA_SHELL_ALL;
	assert_uninstall();
	assert_false(exists(pem));
}

static void
test_xdg_and_zdotdir(void)
{
	char xdg[700], zdot[700];

	setup();
	snprintf(xdg, sizeof(xdg), "%s/xdg", tap_tmpdir());
	snprintf(zdot, sizeof(zdot), "%s/zdot", tap_tmpdir());
	assert_int_eq(mkdir(zdot, 0755), 0);
	setenv("XDG_CONFIG_HOME", xdg, 1);
	setenv("ZDOTDIR", zdot, 1);
	assert_install();
	strncat(xdg, "/fish/conf.d/gbca.fish", sizeof(xdg) - strlen(xdg) - 1);
	strncat(zdot, "/.zshrc", sizeof(zdot) - strlen(zdot) - 1);
	assert_str_contains(slurp(xdg), "[file-created] [dirs-created=3]");
	assert_str_contains(slurp(zdot), "export NODE_EXTRA_CA_CERTS=");
	assert_false(exists(hpath(".zshrc")));
	assert_uninstall();
	*strstr(xdg, "/fish/") = '\0';
	assert_false(exists(xdg));
	assert_false(exists(zdot));
	unsetenv("XDG_CONFIG_HOME");
	unsetenv("ZDOTDIR");
}

static void
test_env_lines(void)
{
	char buf[1024], want[1024];

	setup_named(AWKWARD_CA);
	assert_true(gbca_shells_env_lines(caroot, "bash", buf, sizeof(buf), &err));
	snprintf(want, sizeof(want), "export NODE_EXTRA_CA_CERTS='%s/ca dir'\\''s $HOME \\n `x`/node-ca.pem'\n",
	         tap_tmpdir());
	assert_str_eq(buf, want);
	assert_true(gbca_shells_env_lines(caroot, "fish", buf, sizeof(buf), &err));
	snprintf(want, sizeof(want), "set -gx NODE_EXTRA_CA_CERTS '%s/ca dir\\'s $HOME \\\\n `x`/node-ca.pem'\n",
	         tap_tmpdir());
	assert_str_eq(buf, want);
	/* the lines are the ones in the blocks */
	assert_install();
	assert_str_contains(slurp(hpath(".config/fish/conf.d/gbca.fish")), want);
	assert_false(gbca_shells_env_lines(caroot, "csh", buf, sizeof(buf), &err));
	assert_str_contains(err.msg, "use bash, zsh, sh or fish");
	assert_false(gbca_shells_env_lines(caroot, "bash", buf, 10, &err));
	assert_false(gbca_shells_env_lines("/a\nb", "bash", buf, sizeof(buf), &err));
	assert_str_contains(err.msg, "line break");
}

/* A TLS server with a gbca leaf and a client without `ca:`: node trusts the
 * root only through NODE_EXTRA_CA_CERTS, which only ~/.bashrc sets. */
static const char node_script[] =
	"const tls = require('tls'), fs = require('fs');\n"
	"const [cert, key] = process.argv.slice(2);\n"
	"const srv = tls.createServer({ cert: fs.readFileSync(cert), key: fs.readFileSync(key) },\n"
	"  s => s.end('hi'));\n"
	"srv.listen(0, '127.0.0.1', () => {\n"
	"  const c = tls.connect({ port: srv.address().port, host: '127.0.0.1', servername: 'localhost' }, () => {\n"
	"    process.stdout.write(c.authorized ? 'authorized' : 'rejected ' + c.authorizationError);\n"
	"    c.destroy(); srv.close();\n"
	"  });\n"
	"  c.on('error', e => { process.stdout.write('rejected ' + e.code); srv.close(); });\n"
	"});\n";

/* dir = TMP/srv with cert.pem and key.pem: a gbca leaf for localhost. */
static void
make_server(char *dir, size_t dir_len)
{
	struct gbca_name name;
	struct gbca_leaf leaf = { 0 };
	struct gbca_leaf_request r = { .names = &name, .n_names = 1, .key_type = GBCA_KEY_P256, .days = 30 };
	gnutls_datum_t cert = { 0 }, key = { 0 };
	bool ok;

	assert_true(gbca_name_parse("localhost", &name, &err));
	if (!gbca_issue_leaf(&ca, &r, &leaf, &err))
		tap_fail(__FILE__, __LINE__, "gbca_issue_leaf: %s", err.msg);
	ok = gnutls_x509_crt_export2(leaf.crt, GNUTLS_X509_FMT_PEM, &cert) >= 0 &&
	     gbca_key_export_pem(leaf.key, &key, &err);
	gbca_leaf_free(&leaf);
	snprintf(dir, dir_len, "%s/srv", tap_tmpdir());
	mkdir(dir, 0700);
	if (ok) {
		ok = gbca_save_file(hpath("../srv/cert.pem"), cert.data, cert.size, 0644, &err) &&
		     gbca_save_file(hpath("../srv/key.pem"), key.data, key.size, 0600, &err);
	}
	gnutls_free(cert.data);
	gnutls_free(key.data);
	assert_true(ok);
}

static void
test_node(void)
{
	char dir[600], cmd[2048];

	setup();
	make_server(dir, sizeof(dir));
	spew(hpath("../srv/tls.js"), node_script, 0644);
	snprintf(cmd, sizeof(cmd), "bash -ic 'node %s/tls.js %s/cert.pem %s/key.pem'", dir, dir, dir);
	assert_str_contains(run("%s", cmd), "rejected ");
	assert_install();
	assert_str_eq(run("%s", cmd), "authorized");
	assert_uninstall();
	assert_str_contains(run("%s", cmd), "rejected ");
}


/* The python store. A re-rooted Debian layout whose bundle holds another
 * CA, and the root too when with_root. */
static char sysroot[600], bundle[700];

static void
write_sys_bundle(bool with_root)
{
	char other_dir[700], other[800];
	struct gbca_ca other_ca;
	char *data;
	size_t len;

	snprintf(other_dir, sizeof(other_dir), "%s/other-ca", tap_tmpdir());
	snprintf(other, sizeof(other), "%s/rootCA.pem", other_dir);
	if (!exists(other)) {
		make_ca(other_dir, false, &other_ca);
		gbca_ca_free(&other_ca);
	}
	data = slurp(other);
	assert_true(data != NULL);
	len = strlen(data);
	data = realloc(strdup(data), len + ctx.root_pem.size + 1);
	assert_true(data != NULL);
	if (with_root) {
		memcpy(data + len, ctx.root_pem.data, ctx.root_pem.size);
		len += ctx.root_pem.size;
	}
	if (!gbca_save_file(bundle, data, len, 0644, &err))
		tap_fail(__FILE__, __LINE__, "%s", err.msg);
	free(data);
}

static void
setup_python_named(const char *sysname, bool with_root)
{
	char d[800];

	setup();
	store = &gbca_store_python;
	snprintf(sysroot, sizeof(sysroot), "%s/%s", tap_tmpdir(), sysname);
	snprintf(d, sizeof(d), "%s/usr/local/share/ca-certificates", sysroot);
	assert_true(gbca_mkdir_p(d, 0755, &err));
	snprintf(d, sizeof(d), "%s/etc/ssl/certs", sysroot);
	assert_true(gbca_mkdir_p(d, 0755, &err));
	snprintf(bundle, sizeof(bundle), "%s/etc/ssl/certs/ca-certificates.crt", sysroot);
	setenv("GBCA_SYSROOT", sysroot, 1);
	write_sys_bundle(with_root);
}

static void
setup_python(bool with_root)
{
	setup_python_named("sys", with_root);
}

static const char expected_python_fmt[] =
	"# >>> gbca python >>> [file-created]  (managed by gbca; remove with: gbca untrust)\n"
	"export SSL_CERT_FILE='%s'\n"
	"export REQUESTS_CA_BUNDLE='%s'\n"
	"# <<< gbca python <<<\n";

static void
test_python_install(void)
{
	char want[2048], where[1024], *before, *snap;
	const char *fish;

	setup_python(true);
	before = snapshot();
	assert_int_eq(do_check(where, sizeof(where)), GBCA_TRUST_MISSING);
	assert_install();
	snprintf(want, sizeof(want), expected_python_fmt, bundle, bundle);
	assert_str_eq(slurp(hpath(".bashrc")), want);
	assert_str_contains(slurp(hpath(".zshrc")), "export REQUESTS_CA_BUNDLE='");
	fish = slurp(hpath(".config/fish/conf.d/gbca.fish"));
	assert_str_contains(fish, "# >>> gbca python >>> [file-created] [dirs-created=3]  (managed by gbca");
	assert_str_contains(fish, "set -gx SSL_CERT_FILE '");
	assert_str_contains(fish, "set -gx REQUESTS_CA_BUNDLE '");
	assert_str_contains(report, "python: SSL_CERT_FILE and REQUESTS_CA_BUNDLE set to ");
	assert_str_contains(report, "ca-certificates.crt in ~/.bashrc, ~/.zshrc, ~/.config/fish/conf.d/gbca.fish; "
	                    "apply now with: ");
	/* node's store knows nothing of it */
	assert_false(exists(pem));
	assert_int_eq(gbca_store_node.check(&ctx, where, sizeof(where)), GBCA_TRUST_MISSING);
	assert_int_eq(do_check(where, sizeof(where)), GBCA_TRUST_INSTALLED);
	assert_str_eq(where, "~/.bashrc, ~/.zshrc, ~/.config/fish/conf.d/gbca.fish");
	/* twice: nothing changes */
	snap = snapshot();
	assert_install();
	assert_str_contains(report, "already set to");
	{
		char *again = snapshot();
		assert_str_eq(again, snap);
		free(again);
	}
	free(snap);
	assert_uninstall();
	assert_str_contains(report, "python: removed SSL_CERT_FILE and REQUESTS_CA_BUNDLE from ~/.bashrc, "
	                    "~/.zshrc, ~/.config/fish/conf.d/gbca.fish");
	{
		char *after = snapshot();
		assert_str_eq(after, before);
		free(after);
	}
	free(before);
	assert_uninstall();
	assert_str_contains(report, "were not set by gbca");
}

static void
test_python_refuses(void)
{
	char *before, *after;

	/* the bundle lacks the root: nothing is written */
	setup_python(false);
	spew(hpath(".bashrc"), "export FOO=1\n", 0644);
	before = snapshot();
	assert_false(do_install());
	assert_str_contains(err.msg, "does not contain the gbca root; run gbca trust --stores system first (needs root)");
	assert_str_contains(err.msg, bundle);
	after = snapshot();
	assert_str_eq(after, before);
	free(after);
	/* no system store at all */
	setenv("GBCA_SYSROOT", home, 1);
	assert_false(do_install());
	assert_str_contains(err.msg, "no system trust store found");
	after = snapshot();
	assert_str_eq(after, before);
	free(after);
	free(before);
}

static void
test_python_check_states(void)
{
	char where[1024];

	setup_python(true);
	assert_int_eq(do_check(where, sizeof(where)), GBCA_TRUST_MISSING);
	assert_install();
	assert_int_eq(do_check(where, sizeof(where)), GBCA_TRUST_INSTALLED);
	/* the system store lost the root: the blocks now name a bundle without it */
	write_sys_bundle(false);
	assert_int_eq(do_check(where, sizeof(where)), GBCA_TRUST_STALE);
	assert_str_contains(where, "lacks the root (gbca trust --stores system)");
	write_sys_bundle(true);
	unlink(hpath(".zshrc"));
	assert_int_eq(do_check(where, sizeof(where)), GBCA_TRUST_MISSING);
	assert_str_contains(where, "~/.zshrc (not set)");
	assert_uninstall();
	write_sys_bundle(false);
	assert_int_eq(do_check(where, sizeof(where)), GBCA_TRUST_MISSING);
	/* a block pointing at another file is outdated */
	spew(hpath(".bashrc"), "# >>> gbca python >>>\nexport SSL_CERT_FILE=/x\n# <<< gbca python <<<\n", 0644);
	write_sys_bundle(true);
	ctx.shells = GBCA_SHELL_BASH;
	assert_int_eq(do_check(where, sizeof(where)), GBCA_TRUST_MISSING);
	assert_str_eq(where, "~/.bashrc (outdated)");
	assert_install();
	assert_int_eq(do_check(where, sizeof(where)), GBCA_TRUST_INSTALLED);
}

/* Node and python blocks in the same files: either can go first, and the
 * files come back byte for byte, tags and all. */
static void
both_stores(bool node_first_in, bool node_first_out, const char *bashrc)
{
	const struct gbca_store *in[2] = { &gbca_store_node, &gbca_store_python };
	const struct gbca_store *out[2] = { &gbca_store_node, &gbca_store_python };
	char *before, *after;

	setup_python(true);
	if (bashrc)
		spew(hpath(".bashrc"), bashrc, 0600);
	before = snapshot();
	if (!node_first_in) {
		in[0] = &gbca_store_python;
		in[1] = &gbca_store_node;
	}
	if (!node_first_out) {
		out[0] = &gbca_store_python;
		out[1] = &gbca_store_node;
	}
	for (int i = 0; i < 2; i++) {
		store = in[i];
		assert_install();
	}
	assert_str_contains(slurp(hpath(".bashrc")), "# <<< gbca <<<\n");
	assert_str_contains(slurp(hpath(".bashrc")), "# <<< gbca python <<<\n");
	store = out[0];
	assert_uninstall();
	/* the other store's block is still whole and current */
	{
		char where[1024];
		assert_int_eq(out[1]->check(&ctx, where, sizeof(where)), GBCA_TRUST_INSTALLED);
	}
	store = out[1];
	assert_uninstall();
	after = snapshot();
	assert_str_eq(after, before);
	free(after);
	free(before);
}

static void
test_python_with_node(void)
{
	both_stores(true, true, NULL);
	both_stores(true, false, NULL);
	both_stores(false, true, NULL);
	both_stores(false, false, NULL);
	both_stores(true, true, "export FOO=1");
	both_stores(false, true, "export FOO=1");
	both_stores(true, false, "# mine\n");
}

static void
test_python_hand_edited(void)
{
	static const char damaged[] =
		"# >>> gbca python >>>\n"
		"export SSL_CERT_FILE=/x\n"
		"export NODE_EXTRA_CA_CERTS=/y\n"
		"# <<< gbca python <<<\n";
	char contents[1024];

	setup_python(true);
	spew(hpath(".bashrc"), damaged, 0644);
	assert_false(do_install());
	assert_str_contains(err.msg, "~/.bashrc line 3: a line inside the gbca python block (line 1) that gbca didn't write");
	assert_str_eq(slurp(hpath(".bashrc")), damaged);
	/* node's block goes in beside it; the damaged python block stays as it was */
	store = &gbca_store_node;
	assert_install();
	snprintf(contents, sizeof(contents), "%s# >>> gbca >>>  (managed", damaged);
	assert_str_contains(slurp(hpath(".bashrc")), contents);
	assert_uninstall();
	assert_str_eq(slurp(hpath(".bashrc")), damaged);
	store = &gbca_store_python;
	assert_false(do_uninstall());
	assert_str_contains(err.msg, "the gbca python block");
	assert_str_eq(slurp(hpath(".bashrc")), damaged);
}

static void
test_python_read_only_and_symlink(void)
{
	struct stat st;

	setup_python(true);
	spew(hpath(".bashrc"), "export FOO=1\n", 0444);
	assert_int_eq(mkdir(hpath("dotfiles"), 0755), 0);
	spew(hpath("dotfiles/zshrc"), "setopt autocd\n", 0644);
	assert_int_eq(symlink("dotfiles/zshrc", hpath(".zshrc")), 0);
	assert_false(do_install());
	assert_str_contains(err.msg, "couldn't write ~/.bashrc: it is read-only; make it writable");
	assert_str_contains(err.msg, "or add these lines to it yourself: export SSL_CERT_FILE='");
	assert_str_contains(err.msg, "'; export REQUESTS_CA_BUNDLE='");
	assert_str_eq(slurp(hpath(".bashrc")), "export FOO=1\n");
	assert_str_contains(report, "set to");
	assert_str_contains(report, "in ~/.zshrc, ~/.config/fish/conf.d/gbca.fish");
	assert_int_eq(lstat(hpath(".zshrc"), &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	assert_str_contains(slurp(hpath("dotfiles/zshrc")), "setopt autocd\n# >>> gbca python >>>  (");
	assert_uninstall();
	assert_int_eq(lstat(hpath(".zshrc"), &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	assert_str_eq(slurp(hpath("dotfiles/zshrc")), "setopt autocd\n");
}

static void
test_python_env_lines(void)
{
	char buf[2048], want[2048];

	setup_python_named("sys dir's $x", true);
	assert_true(gbca_shells_env_lines_python("bash", buf, sizeof(buf), &err));
	snprintf(want, sizeof(want),
	         "export SSL_CERT_FILE='%s/sys dir'\\''s $x/etc/ssl/certs/ca-certificates.crt'\n"
	         "export REQUESTS_CA_BUNDLE='%s/sys dir'\\''s $x/etc/ssl/certs/ca-certificates.crt'\n",
	         tap_tmpdir(), tap_tmpdir());
	assert_str_eq(buf, want);
	assert_install();
	assert_str_contains(slurp(hpath(".bashrc")), want);
	assert_true(gbca_shells_env_lines_python("fish", buf, sizeof(buf), &err));
	assert_str_contains(slurp(hpath(".config/fish/conf.d/gbca.fish")), buf);
	assert_str_contains(buf, "set -gx SSL_CERT_FILE '");
	assert_false(gbca_shells_env_lines_python("tcsh", buf, sizeof(buf), &err));
	assert_false(gbca_shells_env_lines_python("bash", buf, 20, &err));
	setenv("GBCA_SYSROOT", home, 1);
	assert_false(gbca_shells_env_lines_python("bash", buf, sizeof(buf), &err));
	assert_str_contains(err.msg, "no system trust store");
}

static void
python_real_shell(const char *fmt)
{
	char want[1400];

	setup_python_named("sys dir's $x", true);
	assert_install();
	snprintf(want, sizeof(want), "%s|%s", bundle, bundle);
	assert_str_eq(run(fmt, "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"), want);
	assert_uninstall();
	assert_str_eq(run(fmt, "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"), "|");
}

static void
test_python_real_bash(void)
{
	python_real_shell("bash -ic 'printf %%s \"$%s|$%s\"'");
}

static void
test_python_real_zsh(void)
{
	python_real_shell("zsh -ic 'printf %%s \"$%s|$%s\"'");
}

static void
test_python_real_fish(void)
{
	python_real_shell("fish -c 'printf %%s \"$%s|$%s\"'");
}

/* An HTTPS server with a gbca leaf in a thread, and requests.get() with no
 * verify= argument: it trusts what REQUESTS_CA_BUNDLE names. */
static const char python_script[] =
	"import http.server, ssl, sys, threading, requests\n"
	"class H(http.server.BaseHTTPRequestHandler):\n"
	"    def do_GET(self):\n"
	"        self.send_response(200); self.end_headers(); self.wfile.write(b'hi')\n"
	"    def log_message(self, *a): pass\n"
	"srv = http.server.HTTPServer(('127.0.0.1', 0), H)\n"
	"c = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); c.load_cert_chain(sys.argv[1], sys.argv[2])\n"
	"srv.socket = c.wrap_socket(srv.socket, server_side=True)\n"
	"threading.Thread(target=srv.serve_forever, daemon=True).start()\n"
	"try:\n"
	"    r = requests.get('https://localhost:%d/' % srv.server_address[1], timeout=10)\n"
	"    print('ok', r.status_code, r.text, end='')\n"
	"except requests.exceptions.SSLError:\n"
	"    print('rejected', end='')\n"
	"except Exception as e:\n"
	"    print('error', type(e).__name__, e, end='')\n";

/* A python with requests: Debian's (it reads the system bundle) or the one
 * on PATH (pip's, with certifi). NULL if none. */
static const char *
python_with_requests(void)
{
	static const char *const candidates[] = { "/usr/bin/python3", "python3" };

	for (size_t i = 0; i < 2; i++) {
		char cmd[256];
		snprintf(cmd, sizeof(cmd), "%s -c 'import requests' >/dev/null 2>&1", candidates[i]);
		if (system(cmd) == 0)
			return candidates[i];
	}
	return NULL;
}

static bool
have_requests(void)
{
	return python_with_requests() != NULL;
}

static void
test_python_requests(void)
{
	const char *py = python_with_requests();
	char dir[600], cmd[2048], without[800];

	if (py == NULL)
		tap_fail(__FILE__, __LINE__, "no python3 with requests (apt-get install python3-requests)");
	setup_python(true);
	make_server(dir, sizeof(dir));
	spew(hpath("../srv/get.py"), python_script, 0644);
	/* a full bundle without the root */
	snprintf(without, sizeof(without), "%s/without.crt", dir);
	{
		char *with = strdup(slurp(bundle));
		assert_true(with != NULL);
		write_sys_bundle(false);
		assert_int_eq(rename(bundle, without), 0);
		spew(bundle, with, 0644);
		free(with);
	}
	snprintf(cmd, sizeof(cmd), "bash -ic '%s %s/get.py %s/cert.pem %s/key.pem'", py, dir, dir, dir);
	/* nothing set: certifi's bundle, or Debian's system one, lacks the root */
	assert_str_eq(run("%s", cmd), "rejected");
	assert_str_eq(run("REQUESTS_CA_BUNDLE='%s' %s", without, cmd), "rejected");
	assert_install();
	assert_str_eq(run("%s", cmd), "ok 200 hi");
	assert_uninstall();
	assert_str_eq(run("%s", cmd), "rejected");
}

static void
skipped_case(void)
{
}

/* A case that needs prog: a TAP skip when it is missing, except in CI,
 * where a missing tool must fail. */
static void
add_needing(const char *name, const char *prog, tap_fn fn)
{
	static char names[8][128];
	static int n;

	if (have(prog) || getenv("CI") != NULL || n == 8) {
		tap_add(name, fn);
		return;
	}
	snprintf(names[n], sizeof(names[n]), "%s # SKIP %s is not installed", name, prog);
	tap_add(names[n++], skipped_case);
}

/* The user's own SSL_CERT_FILE (not the system bundle) is kept: python-ca.pem
 * holds it and the root, the variables name that file, and untrust gives the
 * rc files back byte for byte and removes python-ca.pem. */
static void
test_python_existing_var(void)
{
	char other_dir[600], other[700], own[700], where[1024], *before, *other_pem, *b;
	struct gbca_ca other_ca;
	size_t other_len;

	setup_python(false);   /* no root in the system bundle: not needed here */
	snprintf(other_dir, sizeof(other_dir), "%s/pyother", tap_tmpdir());
	make_ca(other_dir, false, &other_ca);
	gbca_ca_free(&other_ca);
	snprintf(other, sizeof(other), "%s/rootCA.pem", other_dir);
	snprintf(own, sizeof(own), "%s/python-ca.pem", caroot);
	other_pem = strdup(slurp(other));
	other_len = strlen(other_pem);
	before = snapshot();
	setenv("SSL_CERT_FILE", other, 1);
	assert_install();
	b = slurp(own);
	assert_true(strncmp(b, other_pem, other_len) == 0);
	assert_true(memcmp(b + other_len, ctx.root_pem.data, ctx.root_pem.size) == 0);
	assert_str_contains(report, "python-ca.pem holds the certificates of your SSL_CERT_FILE (");
	assert_str_contains(slurp(hpath(".bashrc")), "# gbca: SSL_CERT_FILE was '");
	assert_str_contains(slurp(hpath(".bashrc")), "export REQUESTS_CA_BUNDLE='");
	assert_str_contains(slurp(hpath(".bashrc")), "python-ca.pem'\n");
	assert_int_eq(do_check(where, sizeof(where)), GBCA_TRUST_INSTALLED);
	/* a new shell: the variable names our file; the note keeps theirs */
	setenv("SSL_CERT_FILE", own, 1);
	setenv("REQUESTS_CA_BUNDLE", own, 1);
	assert_int_eq(do_check(where, sizeof(where)), GBCA_TRUST_INSTALLED);
	assert_install();
	assert_str_contains(report, "already set");
	assert_uninstall();
	assert_str_contains(report, "in open shells run: export SSL_CERT_FILE='");
	assert_str_contains(report, "unset REQUESTS_CA_BUNDLE");
	unsetenv("SSL_CERT_FILE");
	unsetenv("REQUESTS_CA_BUNDLE");
	assert_false(exists(own));
	assert_str_eq(slurp(other), other_pem);
	{
		char *after = snapshot();
		assert_str_eq(after, before);
		free(after);
	}
	free(before);
	free(other_pem);
}

int
main(void)
{
	int ret;

	tap_add("/shells/install-writes-three", test_install_writes_three);
	tap_add("/shells/install-twice-changes-nothing", test_idempotent);
	add_needing("/shells/real-bash", "bash", test_real_bash);
	add_needing("/shells/real-zsh", "zsh", test_real_zsh);
	add_needing("/shells/real-fish", "fish", test_real_fish);
	tap_add("/shells/no-newline-roundtrip", test_no_newline_roundtrip);
	tap_add("/shells/lines-after-block", test_lines_after_block);
	tap_add("/shells/existing-dirs-kept", test_existing_dirs_kept);
	tap_add("/shells/replace-in-place", test_replace_in_place);
	tap_add("/shells/symlink-kept", test_symlink);
	tap_add("/shells/dangling-symlink", test_dangling_symlink);
	tap_add("/shells/read-only", test_read_only);
	tap_add("/shells/unwritable-dir", test_rename_fails);
	tap_add("/shells/hand-edited-no-end", test_hand_edited_no_end);
	tap_add("/shells/hand-edited-two-begins", test_hand_edited_two_begins);
	tap_add("/shells/hand-edited-two-blocks", test_hand_edited_two_blocks);
	tap_add("/shells/hand-edited-foreign-line", test_hand_edited_foreign_line);
	tap_add("/shells/hand-edited-stray-end", test_hand_edited_stray_end);
	tap_add("/shells/existing-var-bundled", test_existing_var);
	tap_add("/shells/existing-var-missing-file", test_existing_var_missing_file);
	tap_add("/shells/check-states", test_check_states);
	tap_add("/shells/select-shells", test_select_shells);
	tap_add("/shells/xdg-and-zdotdir", test_xdg_and_zdotdir);
	tap_add("/shells/env-lines", test_env_lines);
	add_needing("/shells/node-trusts-root", "node", test_node);
	tap_add("/shells/python/install-uninstall", test_python_install);
	tap_add("/shells/python/refuses-without-root", test_python_refuses);
	tap_add("/shells/python/check-states", test_python_check_states);
	tap_add("/shells/python/beside-node", test_python_with_node);
	tap_add("/shells/python/hand-edited", test_python_hand_edited);
	tap_add("/shells/python/read-only-and-symlink", test_python_read_only_and_symlink);
	tap_add("/shells/python/env-lines", test_python_env_lines);
	tap_add("/shells/python/existing-var-bundled", test_python_existing_var);
	add_needing("/shells/python/real-bash", "bash", test_python_real_bash);
	add_needing("/shells/python/real-zsh", "zsh", test_python_real_zsh);
	add_needing("/shells/python/real-fish", "fish", test_python_real_fish);
	if (have_requests() || getenv("CI") != NULL)
		tap_add("/shells/python/requests-trusts-root", test_python_requests);
	else
		tap_add("/shells/python/requests-trusts-root # SKIP no python3 with requests", skipped_case);
	ret = tap_run();
	gbca_trust_ctx_free(&ctx);
	gbca_ca_free(&ca);
	for (int i = 0; i < 8; i++)
		free(slurped[i]);
	return ret;
}
