/* gbca ci: trust on an ephemeral CI runner, with no questions asked: a CA from
 * the environment (or a fresh short-lived one), a leaf, the system store and
 * NSS, node-ca.pem, and the variables later steps need, in the runner's format. */
#include "config.h"
#include <gbca/strbuf.h>
#include <gbca/ca.h>
#include <gbca/cmd.h>
#include <gbca/issue.h>
#include <gbca/ledger.h>
#include <gbca/path.h>
#include <gbca/block.h>
#include <gbca/save.h>
#include <gbca/shells.h>
#include <gbca/store.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <gnutls/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_NAMES 100
#define CI_DAYS 7
#define N_VARS 6

static const char usage[] =
	"usage: gbca ci [--format github|gitlab|sh|json] [--output FILE] [--out-dir DIR]\n"
	"               [--days N] [-q] [NAME...]\n"
	"\n"
	"Sets up TLS trust on a CI runner in one step, without questions:\n"
	"  - the CA: GBCA_CA_CERT and GBCA_CA_KEY (PEM contents, e.g. from CI secrets,\n"
	"    or paths of files) are imported into CAROOT; without them the CA already\n"
	"    in CAROOT is used, or a fresh name-constrained one valid --days is made;\n"
	"  - a certificate for the NAMEs (default: generativelanguage.googleapis.com)\n"
	"    in CAROOT/ci/;\n"
	"  - the system store (as root; otherwise skipped with a note) and NSS\n"
	"    databases trust the CA; CAROOT/node-ca.pem holds it for Node;\n"
	"  - NODE_EXTRA_CA_CERTS, SSL_CERT_FILE, REQUESTS_CA_BUNDLE, GBCA_CAROOT,\n"
	"    GBCA_CERT_FILE and GBCA_KEY_FILE are exported for later steps.\n"
	"Safe to run again.\n"
	"\n"
	"options:\n"
	"  --format F      github: append to $GITHUB_ENV; gitlab: a dotenv file for\n"
	"                  artifacts:reports:dotenv; sh: export lines for eval; json.\n"
	"                  Default: github if GITHUB_ACTIONS=true, gitlab if\n"
	"                  GITLAB_CI=true, else sh\n"
	"  --output FILE   write there instead (github: $GITHUB_ENV, appended;\n"
	"                  gitlab: gbca.env; sh, json: standard output)\n"
	"  --out-dir DIR   where the certificate and key go (default CAROOT/ci)\n"
	"  --days N        validity of the certificate, and of a fresh CA, 1..825\n"
	"                  (default 7)\n"
	"  -q, --quiet     print nothing but errors and warnings\n"
	"  -h, --help      show this help\n";

enum format { FMT_GITHUB, FMT_GITLAB, FMT_SH, FMT_JSON };

static const char *const format_names[] = { "github", "gitlab", "sh", "json" };

struct ci_opts {
	enum format format;
	const char *output, *out_dir;
	unsigned days;
};

struct var {
	const char *name;
	char value[PATH_MAX];
};

/* Where a CA from the environment is checked before CAROOT sees it. */
struct stage {
	char dir[PATH_MAX];        /* mkdtemp; "" when not made */
	char cert_in[PATH_MAX], key_in[PATH_MAX];
	char ca[PATH_MAX];         /* dir/ca: a CAROOT holding the imported pair */
};

static bool
is_true(const char *name)
{
	const char *v = getenv(name);
	return v != NULL && strcmp(v, "true") == 0;
}

/* Empty counts as unset: CI systems pass a missing secret as "". */
static const char *
env_value(const char *name)
{
	const char *v = getenv(name);
	return v != NULL && v[0] != '\0' ? v : NULL;
}

static bool
exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

/* Removes every occurrence of prefix from msg, so messages about staged files
 * name the variable ("GBCA_CA_CERT is not ...") and not a temp path. */
static void
strip_prefix(char *msg, const char *prefix)
{
	size_t n = strlen(prefix);
	char *p;

	while (n > 0 && (p = strstr(msg, prefix)) != NULL)
		memmove(p, p + n, strlen(p + n) + 1);
}

static void
stage_cleanup(struct stage *s)
{
	static const char *const files[] = { "GBCA_CA_CERT", "GBCA_CA_KEY" };
	char p[PATH_MAX];

	if (s->dir[0] == '\0')
		return;
	if (gbca_path_join(p, sizeof(p), s->ca, GBCA_CA_CERT_FILE, NULL))
		unlink(p);
	if (gbca_path_join(p, sizeof(p), s->ca, GBCA_CA_KEY_FILE, NULL))
		unlink(p);
	if (gbca_path_join(p, sizeof(p), s->ca, GBCA_LEDGER_FILE, NULL))
		unlink(p);
	rmdir(s->ca);
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		if (gbca_path_join(p, sizeof(p), s->dir, files[i], NULL))
			unlink(p);
	rmdir(s->dir);
	s->dir[0] = '\0';
}

/* One of GBCA_CA_CERT / GBCA_CA_KEY: a path to an existing file is used as
 * it is; PEM contents go to a 0600 file in the stage. */
static bool
stage_input(struct stage *s, const char *var, const char *value, char *path, size_t len,
            struct gbca_err *err)
{
	struct stat st;

	if (strstr(value, "-----BEGIN ") == NULL) {
		if (stat(value, &st) == 0 && S_ISREG(st.st_mode)) {
			if (snprintf(path, len, "%s", value) >= (int)len)
				return gbca_fail(err, "%s: path too long", var);
			return true;
		}
		return gbca_fail(err, "%s is neither PEM (\"-----BEGIN ...\") nor the path of an existing file; "
		                 "put the PEM text of the CA %s in it", var,
		                 strcmp(var, "GBCA_CA_KEY") == 0 ? "key" : "certificate");
	}
	if (!gbca_path_join(path, len, s->dir, var, err))
		return false;
	return gbca_save_file(path, value, strlen(value), 0600, err);
}

/* Checks the CA from the environment completely (parse, CA flags, validity,
 * key match) by importing it into a private temp CAROOT, before anything
 * else is touched. */
static bool
stage_ca(struct stage *s, const char *cert, const char *key, struct gbca_ca *ca, struct gbca_err *err)
{
	const char *tmp = getenv("TMPDIR");
	struct gbca_ca_options o = { .key_type = GBCA_KEY_P256, .constrained = true };
	char backup[PATH_MAX], prefix[PATH_MAX + 1];
	bool ok;

	if (tmp == NULL || tmp[0] != '/')
		tmp = "/tmp";
	if (snprintf(s->dir, sizeof(s->dir), "%s/gbca-ci.XXXXXX", tmp) >= (int)sizeof(s->dir) ||
	    mkdtemp(s->dir) == NULL) {
		int e = errno;
		s->dir[0] = '\0';
		return gbca_fail(err, "couldn't make a temporary folder in %s: %s; set TMPDIR to a writable folder",
		                 tmp, strerror(e));
	}
	if (!gbca_path_join(s->ca, sizeof(s->ca), s->dir, "ca", err))
		return false;
	if (mkdir(s->ca, 0700) < 0) {
		int e = errno;
		return gbca_fail(err, "couldn't create %s: %s", s->ca, strerror(e));
	}
	ok = stage_input(s, "GBCA_CA_CERT", cert, s->cert_in, sizeof(s->cert_in), err) &&
	     stage_input(s, "GBCA_CA_KEY", key, s->key_in, sizeof(s->key_in), err);
	if (ok) {
		o.import_cert = s->cert_in;
		o.import_key = s->key_in;
		ok = gbca_ca_create(s->ca, &o, ca, backup, sizeof(backup), err);
	}
	snprintf(prefix, sizeof(prefix), "%s/", s->dir);
	strip_prefix(err->msg, prefix);
	return ok;
}

static bool
same_cert(const char *path, gnutls_x509_crt_t crt)
{
	gnutls_datum_t file = { NULL, 0 }, der = { NULL, 0 };
	gnutls_x509_crt_t other;
	bool same = false;

	if (gnutls_load_file(path, &file) < 0)
		return false;
	if (gnutls_x509_crt_init(&other) >= 0) {
		same = gnutls_x509_crt_import(other, &file, GNUTLS_X509_FMT_PEM) >= 0 &&
		       gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, &der) >= 0 &&
		       gnutls_x509_crt_equals2(other, &der) != 0;
		gnutls_x509_crt_deinit(other);
	}
	gnutls_free(der.data);
	gnutls_free(file.data);
	return same;
}

static bool
names_allowed(const struct gbca_ca *ca, const struct gbca_name *names, size_t n, struct gbca_err *err)
{
	for (size_t i = 0; i < n; i++)
		if (!gbca_ca_allows(ca, &names[i], err))
			return false;
	return true;
}

/* A fresh root permits the defaults plus whatever NAMEs they don't cover. */
static bool
fresh_permits(const struct gbca_name *names, size_t n, struct gbca_subtree *permit, size_t *n_permit,
              struct gbca_err *err)
{
	struct gbca_ca defaults = { .constrained = true };
	char text[GBCA_NAME_MAX + 2];

	defaults.n_permitted = gbca_ca_default_subtrees(defaults.permitted, GBCA_SUBTREES_MAX);
	*n_permit = 0;
	for (size_t i = 0; i < n; i++) {
		if (gbca_ca_allows(&defaults, &names[i], NULL))
			continue;
		if (*n_permit == GBCA_SUBTREES_MAX)
			return gbca_fail(err, "too many names for one CA (at most %d)", GBCA_SUBTREES_MAX);
		if (names[i].type == GBCA_NAME_WILDCARD)
			snprintf(text, sizeof(text), "%s", names[i].text + 1);   /* "*.x" -> ".x" */
		else if (names[i].type == GBCA_NAME_URI)
			snprintf(text, sizeof(text), "%s", names[i].host);
		else
			snprintf(text, sizeof(text), "%s", names[i].text);
		if (!gbca_subtree_parse(text, &permit[*n_permit], err))
			return gbca_fail_prefix(err, "%s can't be put in the CA's name constraints", names[i].text);
		(*n_permit)++;
	}
	return true;
}

/* The CA in caroot (locked): the one from the environment, else the one
 * there, else a fresh one. *what says which, for the summary. */
static bool
setup_ca(const char *caroot, const struct stage *staged, const struct gbca_ca *env_ca,
         const struct gbca_name *names, size_t n, unsigned days, struct gbca_ca *ca,
         const char **what, struct gbca_err *err)
{
	struct gbca_subtree permit[GBCA_SUBTREES_MAX];
	struct gbca_ca_options o = { .key_type = GBCA_KEY_P256, .constrained = true, .permit = permit, .days = days };
	char cert_path[PATH_MAX], key_path[PATH_MAX], backup[PATH_MAX];
	bool have;

	if (!gbca_path_join(cert_path, sizeof(cert_path), caroot, GBCA_CA_CERT_FILE, err) ||
	    !gbca_path_join(key_path, sizeof(key_path), caroot, GBCA_CA_KEY_FILE, err))
		return false;
	have = exists(cert_path) || exists(key_path);
	if (env_ca != NULL) {
		if (have && same_cert(cert_path, env_ca->crt)) {
			*what = "using the CA from GBCA_CA_CERT (already in CAROOT)";
			return gbca_ca_load(caroot, true, ca, err);
		}
		if (!gbca_path_join(cert_path, sizeof(cert_path), staged->ca, GBCA_CA_CERT_FILE, err) ||
		    !gbca_path_join(key_path, sizeof(key_path), staged->ca, GBCA_CA_KEY_FILE, err))
			return false;
		o.import_cert = cert_path;
		o.import_key = key_path;
		o.force = have;
		if (!gbca_ca_create(caroot, &o, ca, backup, sizeof(backup), err))
			return false;
		if (backup[0])
			gbca_print_note("replaced the CA in %s with the one from GBCA_CA_CERT; the old one is in %s",
			                caroot, backup);
		*what = "imported the CA from GBCA_CA_CERT and GBCA_CA_KEY";
		return true;
	}
	if (have) {
		*what = "using the CA already in CAROOT";
		return gbca_ca_load(caroot, true, ca, err);
	}
	if (!fresh_permits(names, n, permit, &o.n_permit, err))
		return false;
	*what = "made a fresh name-constrained CA";
	return gbca_ca_create(caroot, &o, ca, backup, sizeof(backup), err);
}

/* The leaf, written atomically into dir and logged in CAROOT/issued.log. */
static bool
issue_leaf(const struct gbca_ca *ca, const struct gbca_name *names, size_t n, unsigned days,
           const char *dir, char *cert_path, char *key_path, struct gbca_err *err)
{
	struct gbca_leaf_request req = { .names = names, .n_names = n, .key_type = GBCA_KEY_P256, .days = days };
	struct gbca_leaf leaf;
	char first[PATH_MAX], stem[PATH_MAX], name[PATH_MAX];
	bool ok;

	gbca_name_file_stem(names[0].text, first, sizeof(first));
	if (n > 1)
		snprintf(stem, sizeof(stem), "%.1000s+%zu", first, n - 1);
	else
		snprintf(stem, sizeof(stem), "%.1000s", first);
	snprintf(name, sizeof(name), "%.1000s.pem", stem);
	if (!gbca_path_join(cert_path, PATH_MAX, dir, name, err))
		return false;
	snprintf(name, sizeof(name), "%.1000s-key.pem", stem);
	if (!gbca_path_join(key_path, PATH_MAX, dir, name, err))
		return false;
	ok = gbca_issue_pem_pair(ca, &req, cert_path, key_path, false, &leaf, err);
	gbca_leaf_free(&leaf);
	return ok;
}

/* node-ca.pem: the runner's own NODE_EXTRA_CA_CERTS first (node reads only
 * one file, and replacing it would drop those certificates), then the root. */
static bool
write_node_pem(const struct gbca_trust_ctx *ctx, const char *pem, struct gbca_err *err)
{
	const char *prev = env_value("NODE_EXTRA_CA_CERTS");
	gnutls_datum_t theirs = { NULL, 0 };
	bool has_root = false, ok;
	unsigned char *buf;
	size_t len = 0;

	if (prev != NULL && !gbca_same_file(prev, pem)) {
		if (gnutls_load_file(prev, &theirs) < 0 || memmem(theirs.data, theirs.size, "-----BEGIN", 10) == NULL) {
			gbca_print_warning("NODE_EXTRA_CA_CERTS names %s, which holds no PEM certificate; "
			                   "node-ca.pem holds the root alone", prev);
			gnutls_free(theirs.data);
			theirs = (gnutls_datum_t){ NULL, 0 };
		} else {
			has_root = memmem(theirs.data, theirs.size, ctx->root_pem.data, ctx->root_pem.size) != NULL;
		}
	}
	buf = malloc(theirs.size + 1 + ctx->root_pem.size);
	if (buf == NULL) {
		gnutls_free(theirs.data);
		return gbca_fail(err, "out of memory");
	}
	if (theirs.size > 0) {
		memcpy(buf, theirs.data, theirs.size);
		len = theirs.size;
		if (buf[len - 1] != '\n')
			buf[len++] = '\n';
	}
	if (!has_root) {
		memcpy(buf + len, ctx->root_pem.data, ctx->root_pem.size);
		len += ctx->root_pem.size;
	}
	ok = gbca_save_file(pem, buf, len, 0644, err);
	free(buf);
	gnutls_free(theirs.data);
	return ok;
}

/* The system store (as root) and NSS, as 'gbca trust' runs them; reports to stderr. */
static bool
trust_stores(const struct gbca_trust_ctx *ctx, struct gbca_err *err)
{
	const struct gbca_store *stores[] = { &gbca_store_system, &gbca_store_nss };

	for (size_t i = 0; i < sizeof(stores) / sizeof(stores[0]); i++) {
		char report[GBCA_REPORT_MAX] = "";

		if (stores[i]->needs_root && !ctx->is_root) {
			gbca_print_warning("skipped the %s store: it needs root. curl and python won't trust the CA; "
			                   "CI runners are usually root or have passwordless sudo: run sudo -E gbca ci",
			                   stores[i]->name);
			continue;
		}
		if (!stores[i]->install(ctx, report, sizeof(report), err)) {
			if (report[0])
				gbca_print_note("%s", report);
			return gbca_fail_prefix(err, "%s", stores[i]->name);
		}
		if (report[0])
			gbca_print_note("%s", report);
	}
	return true;
}

/* export NAME='value'; false when out of memory. */
static bool
put_sh(FILE *f, const char *name, const char *value)
{
	struct gbca_strbuf b = { 0 };
	bool ok;

	gbca_quote_sh(&b, value);
	if ((ok = !b.oom))
		fprintf(f, "export %s=%s\n", name, b.p);
	free(b.p);
	return ok;
}

/* The text of the output in memory, so it is written with one write (github)
 * or one atomic save. */
static bool
render(enum format fmt, const struct var *vars, size_t n, char **text, size_t *len, struct gbca_err *err)
{
	FILE *f = open_memstream(text, len);

	if (f == NULL)
		return gbca_fail(err, "out of memory");
	if (fmt == FMT_JSON)
		fputc('{', f);
	for (size_t i = 0; i < n; i++) {
		const char *v = vars[i].value;
		switch (fmt) {
		case FMT_GITHUB:
			if (strpbrk(v, "\r\n") != NULL) {
				/* GitHub's multi-line syntax; the delimiter must not occur in the value. */
				unsigned char r[12];
				char delim[48];
				gnutls_rnd(GNUTLS_RND_NONCE, r, sizeof(r));
				snprintf(delim, sizeof(delim), "ghadelimiter_");
				for (size_t j = 0; j < sizeof(r); j++)
					snprintf(delim + strlen(delim), 3, "%02x", r[j]);
				fprintf(f, "%s<<%s\n%s\n%s\n", vars[i].name, delim, v, delim);
			} else {
				fprintf(f, "%s=%s\n", vars[i].name, v);
			}
			break;
		case FMT_GITLAB:
			if (strpbrk(v, "\r\n") != NULL) {
				fclose(f);
				free(*text);
				*text = NULL;
				return gbca_fail(err, "%s (%s) has a line break, which a dotenv file can't hold",
				                 vars[i].name, v);
			}
			fprintf(f, "%s=%s\n", vars[i].name, v);
			break;
		case FMT_SH:
			if (!put_sh(f, vars[i].name, v)) {
				fclose(f);
				free(*text);
				*text = NULL;
				return gbca_fail(err, "out of memory");
			}
			break;
		case FMT_JSON:
			fprintf(f, "%s", i ? "," : "");
			gbca_json_string(f, vars[i].name);
			fputc(':', f);
			gbca_json_string(f, v);
			break;
		}
	}
	if (fmt == FMT_JSON)
		fputs("}\n", f);
	if (fclose(f) != 0) {
		free(*text);
		*text = NULL;
		return gbca_fail(err, "out of memory");
	}
	return true;
}

static bool
append_file(const char *path, const char *text, size_t len, struct gbca_err *err)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	ssize_t w;

	if (fd < 0) {
		int e = errno;
		return gbca_fail(err, "couldn't open %s to append: %s", path, strerror(e));
	}
	w = write(fd, text, len);
	if (w != (ssize_t)len || close(fd) != 0) {
		int e = errno;
		if (w == (ssize_t)len)
			fd = -1;
		else
			close(fd);
		return gbca_fail(err, "couldn't append to %s: %s", path, w < 0 || fd < 0 ? strerror(e) : "short write");
	}
	return true;
}

/* Fails early (before anything is made) when the output can't be written. */
static bool
output_target(const struct ci_opts *o, const char **target, struct gbca_err *err)
{
	char dir[PATH_MAX], *slash;

	*target = o->output;
	if (o->format == FMT_GITHUB && *target == NULL) {
		*target = env_value("GITHUB_ENV");
		if (*target == NULL)
			return gbca_fail(err, "GITHUB_ENV is not set: --format github appends to the file GitHub Actions "
			                 "names there; outside GitHub Actions use --format sh (or --output FILE)");
	}
	if (o->format == FMT_GITLAB && *target == NULL)
		*target = "gbca.env";
	if (*target == NULL)
		return true;
	if (snprintf(dir, sizeof(dir), "%s", *target) >= (int)sizeof(dir))
		return gbca_fail(err, "path too long: %s", *target);
	slash = strrchr(dir, '/');
	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	if (access(dir, W_OK | X_OK) != 0) {
		int e = errno;
		return gbca_fail(err, "can't write %s: folder %s: %s", *target, dir, strerror(e));
	}
	return true;
}

static bool
emit(const struct ci_opts *o, const char *target, const struct var *vars, size_t n, struct gbca_err *err)
{
	char *text = NULL;
	size_t len = 0;
	bool ok;

	if (!render(o->format, vars, n, &text, &len, err))
		return false;
	if (target == NULL) {
		ok = fwrite(text, 1, len, stdout) == len && fflush(stdout) == 0;
		if (!ok)
			gbca_fail(err, "couldn't write to standard output: %s", strerror(errno));
	} else if (o->format == FMT_GITHUB)
		ok = append_file(target, text, len, err);
	else
		ok = gbca_save_file(target, text, len, 0644, err);
	free(text);
	return ok;
}

/* Absolute, so later steps that run elsewhere find it. */
static void
absolute(const char *path, char *buf, size_t len)
{
	char real[PATH_MAX];

	if (realpath(path, real) != NULL)
		snprintf(buf, len, "%s", real);
	else
		snprintf(buf, len, "%s", path);
}

static int
ci(const struct ci_opts *o, const struct gbca_name *names, size_t n)
{
	const char *cert_env = env_value("GBCA_CA_CERT"), *key_env = env_value("GBCA_CA_KEY");
	const char *target = NULL, *what = "";
	struct stage stage = { "", "", "", "" };
	struct gbca_ca env_ca = { 0 }, ca = { 0 };
	struct gbca_trust_ctx ctx;
	struct gbca_err err = { "" };
	struct var vars[N_VARS] = {
		{ "GBCA_CAROOT", "" }, { "GBCA_CERT_FILE", "" }, { "GBCA_KEY_FILE", "" },
		{ "NODE_EXTRA_CA_CERTS", "" }, { "SSL_CERT_FILE", "" }, { "REQUESTS_CA_BUNDLE", "" },
	};
	char caroot[PATH_MAX], dir[PATH_MAX], out_dir[PATH_MAX], cert_path[PATH_MAX], key_path[PATH_MAX];
	char pem[PATH_MAX], bundle[PATH_MAX];
	bool made_caroot = false, have_ctx = false, have_bundle;
	size_t n_vars = N_VARS;
	int lock_fd = -1, rc = GBCA_EXIT_FAIL;

	/* Everything that can be checked is checked before anything is written. */
	if (!output_target(o, &target, &err))
		goto fail;
	if ((cert_env == NULL) != (key_env == NULL)) {
		gbca_fail(&err, "%s is set but %s is not; set both (the CA certificate and its key) or neither",
		          cert_env ? "GBCA_CA_CERT" : "GBCA_CA_KEY", cert_env ? "GBCA_CA_KEY" : "GBCA_CA_CERT");
		goto fail;
	}
	if (cert_env != NULL) {
		if (!stage_ca(&stage, cert_env, key_env, &env_ca, &err))
			goto fail;
		if (!names_allowed(&env_ca, names, n, &err)) {
			gbca_fail_prefix(&err, "the CA in GBCA_CA_CERT can't certify these names");
			goto fail;
		}
	}
	if (!gbca_caroot(caroot, sizeof(caroot), &err) ||
	    !gbca_shells_node_pem(caroot, pem, sizeof(pem), &err))
		goto fail;
	have_bundle = gbca_shells_python_bundle(bundle, sizeof(bundle), &err);
	if (!have_bundle)
		gbca_print_warning("%s; SSL_CERT_FILE and REQUESTS_CA_BUNDLE are left out", err.msg);

	if (!exists(caroot)) {
		if (!gbca_mkdir_p(caroot, 0700, &err)) {
			gbca_fail_prefix(&err, "set GBCA_CAROOT to a folder you can write");
			goto fail;
		}
		made_caroot = true;
	}
	if (!gbca_ca_lock(caroot, true, &lock_fd, &err))
		goto fail;
	if (!setup_ca(caroot, &stage, cert_env ? &env_ca : NULL, names, n, o->days, &ca, &what, &err))
		goto fail;
	made_caroot = false;   /* it holds a CA now: keep it whatever happens next */
	if (o->out_dir)
		snprintf(dir, sizeof(dir), "%s", o->out_dir);
	else if (!gbca_path_join(dir, sizeof(dir), caroot, "ci", &err))
		goto fail;
	if (!gbca_mkdir_p(dir, 0755, &err))
		goto fail;
	absolute(dir, out_dir, sizeof(out_dir));
	if (!issue_leaf(&ca, names, n, o->days, out_dir, cert_path, key_path, &err))
		goto fail;
	gbca_print_note("%s; issued %s for %s%s", what, cert_path, names[0].text, n > 1 ? " and more" : "");
	if (!gbca_trust_ctx_init(&ctx, caroot, &err))
		goto fail;
	have_ctx = true;
	if (!write_node_pem(&ctx, pem, &err) || !trust_stores(&ctx, &err))
		goto fail;

	absolute(caroot, vars[0].value, sizeof(vars[0].value));
	snprintf(vars[1].value, sizeof(vars[1].value), "%s", cert_path);
	snprintf(vars[2].value, sizeof(vars[2].value), "%s", key_path);
	absolute(pem, vars[3].value, sizeof(vars[3].value));
	if (have_bundle) {
		snprintf(vars[4].value, sizeof(vars[4].value), "%s", bundle);
		snprintf(vars[5].value, sizeof(vars[5].value), "%s", bundle);
	} else {
		n_vars = 4;
	}
	if (!emit(o, target, vars, n_vars, &err))
		goto fail;
	if (target)
		gbca_print_note("wrote %zu variables to %s (%s format)", n_vars, target, format_names[o->format]);
	rc = GBCA_EXIT_OK;
	goto out;
fail:
	gbca_print_error("%s", err.msg);
out:
	if (have_ctx)
		gbca_trust_ctx_free(&ctx);
	gbca_ca_free(&ca);
	gbca_ca_free(&env_ca);
	stage_cleanup(&stage);
	gbca_ca_unlock(lock_fd);
	if (made_caroot)
		rmdir(caroot);   /* only if still empty: nothing half-made is left */
	return rc;
}

int
gbca_cmd_ci(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "format", required_argument, NULL, 'f' },
		{ "output", required_argument, NULL, 'o' },
		{ "out-dir", required_argument, NULL, 'O' },
		{ "days", required_argument, NULL, 'd' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct ci_opts o = { .format = FMT_SH, .days = CI_DAYS };
	struct gbca_name *names;
	struct gbca_err err;
	bool format_set = false;
	size_t n = 0;
	int c, rc;

	if (is_true("GITHUB_ACTIONS"))
		o.format = FMT_GITHUB;
	else if (is_true("GITLAB_CI"))
		o.format = FMT_GITLAB;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":qh", longopts, NULL)) != -1) {
		switch (c) {
		case 'f':
			format_set = false;
			for (size_t i = 0; i < sizeof(format_names) / sizeof(format_names[0]); i++) {
				if (strcmp(optarg, format_names[i]) == 0) {
					o.format = (enum format)i;
					format_set = true;
				}
			}
			if (!format_set)
				return gbca_usage_error("ci", "unknown format \"%s\"; choose github, gitlab, sh or json", optarg);
			break;
		case 'o': o.output = optarg; break;
		case 'O': o.out_dir = optarg; break;
		case 'd':
			if (!gbca_parse_uint(optarg, 1, GBCA_LEAF_DAYS_MAX, &o.days))
				return gbca_usage_error("ci", "--days must be a whole number from 1 to %d, not \"%s\"",
				                        GBCA_LEAF_DAYS_MAX, optarg);
			break;
		case 'q': gbca_quiet = true; break;
		case 'h':
			fputs(usage, stdout);
			return GBCA_EXIT_OK;
		default:
			return gbca_bad_option("ci", argv, c);
		}
	}
	if (argc - optind > MAX_NAMES)
		return gbca_usage_error("ci", "too many names (at most %d)", MAX_NAMES);
	if (!gbca_names_from_args(argv + optind, argc - optind, GBCA_DEFAULT_NAME, &names, &n, &err))
		return gbca_usage_error("ci", "%s", err.msg);
	rc = ci(&o, names, n);
	free(names);
	return rc;
}
