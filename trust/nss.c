/* The NSS trust store: every NSS database of the user (Chrome and Chromium's
 * ~/.pki/nssdb, Firefox profiles, their snap and flatpak variants) and, as
 * root, /etc/pki/nssdb, written through NSS's soft token loaded by p11-kit. */
#include "config.h"
#include <gbca/block.h>
#include <gbca/der.h>
#include <gbca/drop.h>
#include <gbca/p11.h>
#include <gbca/store.h>

#include <errno.h>
#include <fcntl.h>
#include <gnutls/crypto.h>
#include <p11-kit/pkcs11x.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define SOFTOKN "libsoftokn3.so"
#define SOFTOKN_ENV "GBCA_SOFTOKN"
#define NSS_TOKEN "NSS Certificate DB"
#define INSTALL_HINT "install libnss3 (apt install libnss3, dnf install nss)"

/* One process, many databases. softokn keeps one state per process: a
 * second p11_kit_module_load returns the same function list and a second
 * C_Initialize gives CKR_CRYPTOKI_ALREADY_INITIALIZED, so two configdirs can't
 * be open at once. So each database gets its own round: load (unmanaged, so
 * our pReserved reaches softokn), C_Initialize with its configdir, work,
 * C_Finalize, p11_kit_module_release; the next database loads it again.
 * Checked with NSS 3.87: objects land in the right database, and a failed
 * C_Initialize (locked or corrupt database) does not spoil the next round.
 * NSS's multi-database forms (tokens=<...> in the init string, or
 * CKO_NSS_NEWSLOT objects) would keep them all open, but tie every
 * database's failure to the one C_Initialize, and one bad profile must not
 * stop the others. */

struct nssdb {
	char dir[PATH_MAX];
	char real[PATH_MAX];   /* for spotting one database reached twice */
	char shown[PATH_MAX];  /* for messages: ~ for $HOME */
};

struct nssdb_list {
	struct nssdb *v;
	size_t n, cap;
};

static void
add_db(struct nssdb_list *l, const char *home, const char *dir)
{
	char cert9[PATH_MAX + 16], real[PATH_MAX];
	struct stat st;
	size_t hl = home ? strlen(home) : 0;
	struct nssdb *d;

	/* sql: databases only; a profile with cert8.db alone is in the old
	 * dbm format, which is not shared and which current browsers migrate. */
	snprintf(cert9, sizeof(cert9), "%s/cert9.db", dir);
	if (stat(cert9, &st) != 0 || !S_ISREG(st.st_mode) || realpath(dir, real) == NULL)
		return;
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i].real, real) == 0)
			return;
	if (l->n == l->cap) {
		size_t ncap = l->cap ? l->cap * 2 : 8;
		struct nssdb *grown = realloc(l->v, ncap * sizeof(*grown));
		if (grown == NULL)
			return;
		l->v = grown;
		l->cap = ncap;
	}
	d = &l->v[l->n++];
	snprintf(d->dir, sizeof(d->dir), "%s", dir);
	snprintf(d->real, sizeof(d->real), "%s", real);
	if (hl > 1 && strncmp(dir, home, hl) == 0 && dir[hl] == '/')
		snprintf(d->shown, sizeof(d->shown), "~%s", dir + hl);
	else
		snprintf(d->shown, sizeof(d->shown), "%s", dir);
}

static void
add_profile(struct nssdb_list *l, const char *home, const char *base, const char *path, int relative)
{
	char dir[PATH_MAX];

	if (path[0] == '\0')
		return;
	/* IsRelative=1 is what Firefox writes; without it, go by the path */
	if (relative == 1 || (relative < 0 && path[0] != '/'))
		snprintf(dir, sizeof(dir), "%s/%s", base, path);
	else
		snprintf(dir, sizeof(dir), "%s", path);
	add_db(l, home, dir);
}

static char *
trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == '\n' || e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t'))
		*--e = '\0';
	return s;
}

/* The [Profile*] sections of a Firefox profiles.ini (base is its folder). */
static void
add_firefox(struct nssdb_list *l, const char *home, const char *base)
{
	char ini[PATH_MAX + 16], line[PATH_MAX + 64], path[PATH_MAX] = "";
	bool in_profile = false;
	int relative = -1;
	FILE *f;

	snprintf(ini, sizeof(ini), "%s/profiles.ini", base);
	if ((f = fopen(ini, "r")) == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		char *s = trim(line), *eq;

		if (s[0] == '[') {
			if (in_profile)
				add_profile(l, home, base, path, relative);
			in_profile = strncasecmp(s, "[Profile", 8) == 0;
			path[0] = '\0';
			relative = -1;
		} else if (in_profile && (eq = strchr(s, '=')) != NULL) {
			*eq = '\0';
			if (strcasecmp(trim(s), "Path") == 0)
				snprintf(path, sizeof(path), "%s", trim(eq + 1));
			else if (strcasecmp(trim(s), "IsRelative") == 0)
				relative = atoi(trim(eq + 1)) ? 1 : 0;
		}
	}
	if (in_profile)
		add_profile(l, home, base, path, relative);
	fclose(f);
}

/* Every NSS database this user's browsers use, and /etc/pki/nssdb as root. */
static bool
find_dbs(const struct gbca_trust_ctx *ctx, struct nssdb_list *l, struct gbca_err *err)
{
	static const char *const chromium[] = {
		"/.pki/nssdb",
		"/snap/chromium/current/.pki/nssdb",
	};
	static const char *const firefox[] = {
		"/.mozilla/firefox",
		"/snap/firefox/common/.mozilla/firefox",
		"/.var/app/org.mozilla.firefox/.mozilla/firefox",
	};
	const char *home = getenv("HOME");
	char dir[PATH_MAX];

	memset(l, 0, sizeof(*l));
	if (home != NULL && home[0] == '/') {
		for (size_t i = 0; i < sizeof(chromium) / sizeof(chromium[0]); i++) {
			snprintf(dir, sizeof(dir), "%s%s", home, chromium[i]);
			add_db(l, home, dir);
		}
		for (size_t i = 0; i < sizeof(firefox) / sizeof(firefox[0]); i++) {
			snprintf(dir, sizeof(dir), "%s%s", home, firefox[i]);
			add_firefox(l, home, dir);
		}
	}
	if (ctx->is_root) {
		if (!gbca_sys_path(dir, sizeof(dir), "/etc/pki/nssdb", err)) {
			free(l->v);
			l->v = NULL;
			return false;
		}
		add_db(l, home, dir);
	}
	return true;
}

/* What identifies the root in a database. */
struct root_id {
	gnutls_datum_t subject, issuer;  /* gnutls_free */
	gnutls_datum_t serial;           /* DER INTEGER; free */
	unsigned char sha1[20], md5[16];
};

static void
root_id_free(struct root_id *r)
{
	gnutls_free(r->subject.data);
	gnutls_free(r->issuer.data);
	free(r->serial.data);
	memset(r, 0, sizeof(*r));
}

static bool
root_id_init(const struct gbca_trust_ctx *ctx, struct root_id *r, struct gbca_err *err)
{
	int ret;

	memset(r, 0, sizeof(*r));
	if ((ret = gnutls_x509_crt_get_raw_dn(ctx->root, &r->subject)) < 0 ||
	    (ret = gnutls_x509_crt_get_raw_issuer_dn(ctx->root, &r->issuer)) < 0 ||
	    (ret = gnutls_hash_fast(GNUTLS_DIG_SHA1, ctx->root_der.data, ctx->root_der.size, r->sha1)) < 0 ||
	    (ret = gnutls_hash_fast(GNUTLS_DIG_MD5, ctx->root_der.data, ctx->root_der.size, r->md5)) < 0) {
		root_id_free(r);
		/* NSS trust objects must carry both hashes; MD5 is refused in FIPS mode */
		return gbca_fail(err, "couldn't read the root's names or hashes: %s", gnutls_strerror(ret));
	}
	if (!gbca_der_cert_serial(ctx->root, &r->serial, err)) {
		root_id_free(r);
		return false;
	}
	return true;
}

/* softokn's init string; the path is quoted, with ' and \ escaped as NSS's
 * argument parser (NSSUTIL_ArgFetchValue) expects. */
static bool
init_string(char *buf, size_t len, const char *dir, bool rw)
{
	char quoted[2 * PATH_MAX];
	size_t q = 0;
	int n;

	for (const char *s = dir; *s; s++) {
		if (*s == '\'' || *s == '\\')
			quoted[q++] = '\\';
		quoted[q++] = *s;
	}
	quoted[q] = '\0';
	n = snprintf(buf, len, "configdir='sql:%s' certPrefix='' keyPrefix='' secmod='secmod.db' flags=%s",
	             quoted, rw ? "" : "readOnly");
	return n >= 0 && (size_t)n < len;
}

/* The process holding an SQLite lock on file (its lock bytes start at
 * 0x40000000, SQLite's PENDING_BYTE), or 0. */
static pid_t
lock_holder(const char *file)
{
	struct flock fl;
	int fd = open(file, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return 0;
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	fl.l_start = 0x40000000;
	fl.l_len = 512;
	if (fcntl(fd, F_GETLK, &fl) != 0 || fl.l_type == F_UNLCK)
		fl.l_pid = 0;
	close(fd);
	return fl.l_pid;
}

static bool
is_sqlite(const char *file)
{
	char head[16];
	FILE *f = fopen(file, "rb");
	bool ok;

	if (f == NULL)
		return false;
	ok = fread(head, 1, sizeof(head), f) == sizeof(head) && memcmp(head, "SQLite format 3", 16) == 0;
	fclose(f);
	return ok;
}

enum trouble { TROUBLE_OTHER, TROUBLE_DAMAGED, TROUBLE_LOCKED, TROUBLE_ACCESS };

/* Why db could not be opened or written: detail gets the specifics (which
 * file is damaged, who holds the lock, ...). Called after gbca_p11_close, so
 * our own locks are gone and only another process's show. */
static enum trouble
diagnose(const struct nssdb *db, const struct gbca_p11 *p, bool rw, char *detail, size_t len, long *pid_out)
{
	static const char *const files[] = { "cert9.db", "key4.db" };
	char file[PATH_MAX + 16];

	for (size_t i = 0; i < 2; i++) {
		snprintf(file, sizeof(file), "%s/%s", db->dir, files[i]);
		if (access(file, R_OK) == 0 && !is_sqlite(file)) {   /* unreadable: see below */
			snprintf(detail, len, "%s is not an SQLite database", files[i]);
			return TROUBLE_DAMAGED;
		}
	}
	for (size_t i = 0; i < 2; i++) {
		char comm[64] = "another program";
		pid_t pid;
		FILE *f;

		snprintf(file, sizeof(file), "%s/%s", db->dir, files[i]);
		if ((pid = lock_holder(file)) == 0)
			continue;
		snprintf(file, sizeof(file), "/proc/%ld/comm", (long)pid);
		if ((f = fopen(file, "r")) != NULL) {
			if (fgets(comm, sizeof(comm), f) != NULL)
				comm[strcspn(comm, "\n")] = '\0';
			fclose(f);
		}
		snprintf(detail, len, "%s", comm);
		*pid_out = (long)pid;
		return TROUBLE_LOCKED;
	}
	for (size_t i = 0; i < 2; i++) {
		snprintf(file, sizeof(file), "%s/%s", db->dir, files[i]);
		if (access(file, rw ? R_OK | W_OK : R_OK) != 0) {
			snprintf(detail, len, "%s: %s", files[i], strerror(errno));
			return TROUBLE_ACCESS;
		}
	}
	snprintf(detail, len, "%s: %s", p->failed_call ? p->failed_call : "PKCS#11", gbca_p11_rv_name(p->rv));
	return TROUBLE_OTHER;
}

/* The message for a database that failed, naming it and the next step. */
static void
explain(const struct nssdb *db, const struct gbca_p11 *p, bool opened, const char *cmd,
        const struct gbca_err *e, char *buf, size_t len)
{
	const char *path = db->shown;   /* a name, not the whole story: cut long ones */
	char detail[300];
	long pid = 0;

	switch (diagnose(db, p, true, detail, sizeof(detail), &pid)) {
	case TROUBLE_DAMAGED:
		snprintf(buf, len, "%.300s is damaged (%s); move it aside (the browser makes a new one) "
		         "and run 'gbca %s' again", path, detail, cmd);
		break;
	case TROUBLE_LOCKED:
		snprintf(buf, len, "%.300s is locked by %s (pid %ld); close the browser and run 'gbca %s' again",
		         path, detail, pid, cmd);
		break;
	case TROUBLE_ACCESS:
		snprintf(buf, len, "can't write %.300s (%s); run gbca as the owner of the database", path, detail);
		break;
	case TROUBLE_OTHER:
		if (opened)   /* not the database's fault, as far as we can see */
			snprintf(buf, len, "%.300s: %.300s", path, e->msg);
		else
			snprintf(buf, len, "couldn't open %.300s (%s); if Firefox or Chromium is running, close it "
			         "and run 'gbca %s' again", path, detail, cmd);
		break;
	}
}

/* The same, short, for the WHERE column of trust --check. */
static void
note(const struct nssdb *db, const struct gbca_p11 *p, char *buf, size_t len)
{
	static const char *const what[] = {
		[TROUBLE_OTHER] = "couldn't open", [TROUBLE_DAMAGED] = "damaged",
		[TROUBLE_LOCKED] = "locked by", [TROUBLE_ACCESS] = "unreadable",
	};
	char detail[200];
	long pid = 0;
	enum trouble t = diagnose(db, p, false, detail, sizeof(detail), &pid);

	if (t == TROUBLE_LOCKED)
		snprintf(buf, len, "locked by %s, pid %ld", detail, pid);
	else
		snprintf(buf, len, "%s %s", what[t], detail);
}

static bool
db_open(const char *softokn, const struct nssdb *db, bool rw, struct gbca_p11 *p, struct gbca_err *err)
{
	char init[3 * PATH_MAX];

	if (!init_string(init, sizeof(init), db->dir, rw)) {
		memset(p, 0, sizeof(*p));
		return gbca_fail(err, "path too long: %s", db->dir);
	}
	return gbca_p11_open(p, softokn, init, NSS_TOKEN, rw, err);
}

static bool
module_missing(const struct gbca_p11 *p)
{
	return p->failed_call != NULL && strcmp(p->failed_call, "p11_kit_module_load") == 0;
}

static bool
find_softokn(char *buf, size_t len, struct gbca_err *err)
{
	if (gbca_p11_find_module(SOFTOKN, SOFTOKN_ENV, buf, len))
		return true;
	return gbca_fail(err, "NSS's soft token (" SOFTOKN ") not found; " INSTALL_HINT);
}

/* What one database holds of ours. */
struct found {
	CK_OBJECT_HANDLE cert;      /* the current root, or CK_INVALID_HANDLE */
	CK_OBJECT_HANDLE *trusts;   /* trust objects for its issuer and serial */
	size_t n_trusts;
	bool trust_ok;              /* one of them: server auth, for this very certificate */
	CK_OBJECT_HANDLE *stale;    /* older gbca roots */
	size_t n_stale;
};

static void
found_free(struct found *f)
{
	free(f->trusts);
	free(f->stale);
	memset(f, 0, sizeof(*f));
}

static bool
find_trusts(struct gbca_p11 *p, const void *issuer, size_t issuer_len, const void *serial, size_t serial_len,
            CK_OBJECT_HANDLE **out, size_t *n, struct gbca_err *err)
{
	CK_OBJECT_CLASS cls = CKO_NSS_TRUST;
	CK_ATTRIBUTE t[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_ISSUER, (void *)issuer, issuer_len },
		{ CKA_SERIAL_NUMBER, (void *)serial, serial_len },
	};
	return gbca_p11_find(p, t, 3, out, n, err);
}

static bool
trust_is_ok(struct gbca_p11 *p, CK_OBJECT_HANDLE h, const struct root_id *r)
{
	CK_TRUST server = 0;
	unsigned char sha1[20];
	CK_ATTRIBUTE a[] = {
		{ CKA_TRUST_SERVER_AUTH, &server, sizeof(server) },
		{ CKA_CERT_SHA1_HASH, sha1, sizeof(sha1) },
	};

	return p->module->C_GetAttributeValue(p->session, h, a, 2) == CKR_OK &&
	       a[1].ulValueLen == sizeof(sha1) && memcmp(sha1, r->sha1, sizeof(sha1)) == 0 &&
	       server == CKT_NSS_TRUSTED_DELEGATOR;
}

static bool
is_value(struct gbca_p11 *p, CK_OBJECT_HANDLE h, const gnutls_datum_t *der, bool *is_gbca, struct gbca_err *err)
{
	unsigned char *v;
	size_t len;
	bool same;

	if (!gbca_p11_get(p, h, CKA_VALUE, &v, &len, err))
		return false;
	same = len == der->size && memcmp(v, der->data, len) == 0;
	if (is_gbca != NULL) {
		gnutls_x509_crt_t crt;
		gnutls_datum_t d = { v, (unsigned)len };
		*is_gbca = false;
		if (!same && gnutls_x509_crt_init(&crt) >= 0) {
			if (gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_DER) >= 0)
				*is_gbca = gbca_is_gbca_root(crt);
			gnutls_x509_crt_deinit(crt);
		}
	}
	free(v);
	return same;
}

/* Fills f; with stale, also lists older gbca roots (a walk over every certificate). */
static bool
inspect(struct gbca_p11 *p, const struct gbca_trust_ctx *ctx, const struct root_id *r, bool stale,
        struct found *f, struct gbca_err *err)
{
	CK_OBJECT_CLASS cls = CKO_CERTIFICATE;
	CK_ATTRIBUTE by_id[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_ISSUER, r->issuer.data, r->issuer.size },
		{ CKA_SERIAL_NUMBER, r->serial.data, r->serial.size },
	};
	CK_OBJECT_HANDLE *h = NULL;
	size_t n = 0;
	struct gbca_err ignored;

	memset(f, 0, sizeof(f[0]));
	if (!gbca_p11_find(p, by_id, 3, &h, &n, err))
		return false;
	for (size_t i = 0; i < n && f->cert == CK_INVALID_HANDLE; i++)
		if (is_value(p, h[i], &ctx->root_der, NULL, &ignored))
			f->cert = h[i];
	free(h);
	if (!find_trusts(p, r->issuer.data, r->issuer.size, r->serial.data, r->serial.size,
	                 &f->trusts, &f->n_trusts, err))
		goto fail;
	for (size_t i = 0; i < f->n_trusts; i++)
		f->trust_ok = f->trust_ok || trust_is_ok(p, f->trusts[i], r);
	if (!stale)
		return true;
	if (!gbca_p11_find(p, by_id, 1, &h, &n, err))
		goto fail;
	/* keep the older gbca roots, in place */
	for (size_t i = 0; i < n; i++) {
		bool is_gbca = false;
		if (h[i] != f->cert && !is_value(p, h[i], &ctx->root_der, &is_gbca, &ignored) && is_gbca)
			h[f->n_stale++] = h[i];
	}
	f->stale = h;
	return true;
fail:
	found_free(f);
	return false;
}

static enum gbca_trust_state
found_state(const struct found *f)
{
	if (f->cert != CK_INVALID_HANDLE && f->trust_ok)
		return GBCA_TRUST_INSTALLED;
	return f->n_stale > 0 ? GBCA_TRUST_STALE : GBCA_TRUST_MISSING;
}

static bool
create_cert(struct gbca_p11 *p, const struct gbca_trust_ctx *ctx, const struct root_id *r,
            CK_OBJECT_HANDLE *h, struct gbca_err *err)
{
	CK_OBJECT_CLASS cls = CKO_CERTIFICATE;
	CK_CERTIFICATE_TYPE type = CKC_X_509;
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_ATTRIBUTE t[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_CERTIFICATE_TYPE, &type, sizeof(type) },
		{ CKA_TOKEN, &yes, sizeof(yes) },
		{ CKA_PRIVATE, &no, sizeof(no) },
		{ CKA_LABEL, (void *)ctx->label, strlen(ctx->label) },
		{ CKA_VALUE, ctx->root_der.data, ctx->root_der.size },
		{ CKA_SUBJECT, r->subject.data, r->subject.size },
		{ CKA_ISSUER, r->issuer.data, r->issuer.size },
		{ CKA_SERIAL_NUMBER, r->serial.data, r->serial.size },
	};
	return gbca_p11_create(p, t, sizeof(t) / sizeof(t[0]), h, err);
}

/* The trust `certutil -t C,,` gives: a CA for TLS servers, nothing else. */
static bool
create_trust(struct gbca_p11 *p, const struct gbca_trust_ctx *ctx, const struct root_id *r,
             struct gbca_err *err)
{
	CK_OBJECT_CLASS cls = CKO_NSS_TRUST;
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_TRUST server = CKT_NSS_TRUSTED_DELEGATOR, other = CKT_NSS_MUST_VERIFY_TRUST;
	CK_OBJECT_HANDLE h;
	CK_ATTRIBUTE t[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_TOKEN, &yes, sizeof(yes) },
		{ CKA_PRIVATE, &no, sizeof(no) },
		{ CKA_LABEL, (void *)ctx->label, strlen(ctx->label) },
		{ CKA_ISSUER, r->issuer.data, r->issuer.size },
		{ CKA_SERIAL_NUMBER, r->serial.data, r->serial.size },
		{ CKA_CERT_SHA1_HASH, (void *)r->sha1, sizeof(r->sha1) },
		{ CKA_CERT_MD5_HASH, (void *)r->md5, sizeof(r->md5) },
		{ CKA_TRUST_SERVER_AUTH, &server, sizeof(server) },
		{ CKA_TRUST_CLIENT_AUTH, &other, sizeof(other) },
		{ CKA_TRUST_EMAIL_PROTECTION, &other, sizeof(other) },
		{ CKA_TRUST_CODE_SIGNING, &other, sizeof(other) },
		{ CKA_TRUST_STEP_UP_APPROVED, &no, sizeof(no) },
	};
	return gbca_p11_create(p, t, sizeof(t) / sizeof(t[0]), &h, err);
}

/* Adds the root and its trust unless both are there; *added says whether
 * anything was written. A new certificate is taken out again if its trust
 * can't be written, so a database never holds half of it. */
static bool
install_one(struct gbca_p11 *p, const struct gbca_trust_ctx *ctx, const struct root_id *r,
            bool *added, struct gbca_err *err)
{
	CK_OBJECT_HANDLE created = CK_INVALID_HANDLE;
	struct found f;
	bool ok = false;

	*added = false;
	if (!inspect(p, ctx, r, false, &f, err))
		return false;
	if (f.cert != CK_INVALID_HANDLE && f.trust_ok) {
		found_free(&f);
		return true;
	}
	if (f.cert == CK_INVALID_HANDLE && !create_cert(p, ctx, r, &created, err))
		goto out;
	if (!f.trust_ok) {
		/* a trust object for another certificate with our issuer and
		 * serial, or with other trust bits: replace it */
		for (size_t i = 0; i < f.n_trusts; i++)
			if (!gbca_p11_destroy(p, f.trusts[i], err))
				goto out;
		if (!create_trust(p, ctx, r, err))
			goto out;
	}
	*added = true;
	ok = true;
out:
	if (!ok && created != CK_INVALID_HANDLE) {
		struct gbca_err ignored;
		gbca_p11_destroy(p, created, &ignored);
	}
	found_free(&f);
	return ok;
}

/* Destroys a certificate and the trust objects for its issuer and serial. */
static bool
remove_cert(struct gbca_p11 *p, CK_OBJECT_HANDLE cert, struct gbca_err *err)
{
	unsigned char *issuer = NULL, *serial = NULL;
	size_t issuer_len, serial_len, n = 0;
	CK_OBJECT_HANDLE *trusts = NULL;
	bool ok = gbca_p11_get(p, cert, CKA_ISSUER, &issuer, &issuer_len, err) &&
	          gbca_p11_get(p, cert, CKA_SERIAL_NUMBER, &serial, &serial_len, err) &&
	          find_trusts(p, issuer, issuer_len, serial, serial_len, &trusts, &n, err);

	for (size_t i = 0; ok && i < n; i++)
		ok = gbca_p11_destroy(p, trusts[i], err);
	ok = ok && gbca_p11_destroy(p, cert, err);
	free(trusts);
	free(issuer);
	free(serial);
	return ok;
}

/* Removes the current root (with all, older gbca roots too); *removed
 * counts the certificates taken out. */
static bool
uninstall_one(struct gbca_p11 *p, const struct gbca_trust_ctx *ctx, const struct root_id *r,
              size_t *removed, struct gbca_err *err)
{
	struct found f;
	bool ok = true;

	*removed = 0;
	if (!inspect(p, ctx, r, ctx->all, &f, err))
		return false;
	/* trust first: a certificate without trust is merely unused */
	for (size_t i = 0; ok && i < f.n_trusts; i++)
		ok = gbca_p11_destroy(p, f.trusts[i], err);
	if (ok && f.n_trusts > 0 && f.cert == CK_INVALID_HANDLE)
		(*removed)++;   /* a trust object left behind on its own */
	if (ok && f.cert != CK_INVALID_HANDLE && (ok = gbca_p11_destroy(p, f.cert, err)))
		(*removed)++;
	for (size_t i = 0; ok && i < f.n_stale; i++)
		if ((ok = remove_cert(p, f.stale[i], err)))
			(*removed)++;
	found_free(&f);
	return ok;
}

/* A comma-separated list of database names, for reports. */
struct names {
	char buf[GBCA_REPORT_MAX / 2];
	size_t n;
};

static void
names_add(struct names *l, const char *s)
{
	gbca_report_add(l->buf, sizeof(l->buf), ", ", "%s", s);
	l->n++;
}

static const char *
dbs_word(size_t n)
{
	return n == 1 ? "database" : "databases";
}

enum verb { VERB_INSTALL, VERB_UNINSTALL };

/* "added to 2 databases (...); already in 1 database (...)" */
static void
summarize(enum verb verb, const struct names *done, const struct names *same, size_t roots,
          char *buf, size_t len)
{
	buf[0] = '\0';
	if (done->n > 0 && verb == VERB_INSTALL)
		snprintf(buf, len, "added to %zu %s (%s)", done->n, dbs_word(done->n), done->buf);
	else if (done->n > 0 && roots > done->n)
		snprintf(buf, len, "removed %zu gbca roots from %zu %s (%s)",
		         roots, done->n, dbs_word(done->n), done->buf);
	else if (done->n > 0)
		snprintf(buf, len, "removed from %zu %s (%s)", done->n, dbs_word(done->n), done->buf);
	if (same->n > 0)
		snprintf(buf + strlen(buf), len - strlen(buf), "%s%s %zu %s (%s)",
		         done->n ? "; " : "", verb == VERB_INSTALL ? "already in" : "not in",
		         same->n, dbs_word(same->n), same->buf);
}

/* One database's install or uninstall; its outcome lives in shared memory,
 * since it may run in a child that became the database's owner. */
struct db_job {
	const char *softokn;
	const struct nssdb *db;
	const struct gbca_trust_ctx *ctx;
	const struct root_id *r;
	enum verb verb;
	bool ran, ok, added, module_missing;
	size_t removed;
	char why[1024];
};

static bool
db_work(void *arg, struct gbca_err *err)
{
	struct db_job *j = arg;
	struct gbca_p11 p;
	struct gbca_err e;
	bool opened;

	(void)err;
	j->ran = true;
	opened = db_open(j->softokn, j->db, true, &p, &e);
	if (!opened && module_missing(&p)) {
		j->module_missing = true;
		snprintf(j->why, sizeof(j->why), "%s", e.msg);
		return true;
	}
	j->ok = opened && (j->verb == VERB_INSTALL ? install_one(&p, j->ctx, j->r, &j->added, &e)
	                                           : uninstall_one(&p, j->ctx, j->r, &j->removed, &e));
	gbca_p11_close(&p);
	if (!j->ok)
		explain(j->db, &p, opened, j->verb == VERB_INSTALL ? "trust" : "untrust", &e, j->why, sizeof(j->why));
	return true;
}

static bool
run(const struct gbca_trust_ctx *ctx, enum verb verb, char *report, size_t len, struct gbca_err *err)
{
	struct names done = { "", 0 }, same = { "", 0 };
	char softokn[PATH_MAX], failed[GBCA_REPORT_MAX] = "", part[GBCA_REPORT_MAX] = "";
	struct nssdb_list dbs;
	struct root_id r;
	struct db_job *job;
	size_t n_failed = 0, roots = 0;

	report[0] = '\0';
	if (!find_dbs(ctx, &dbs, err))
		return false;
	if (dbs.n == 0) {
		snprintf(report, len, "nss: no NSS databases found (~/.pki/nssdb, Firefox profiles)");
		free(dbs.v);
		return true;
	}
	if (!find_softokn(softokn, sizeof(softokn), err) || !root_id_init(ctx, &r, err)) {
		free(dbs.v);
		return false;
	}
	job = gbca_shared_alloc(sizeof(*job));
	if (job == NULL) {
		free(dbs.v);
		root_id_free(&r);
		return gbca_fail(err, "out of memory");
	}
	for (size_t i = 0; i < dbs.n; i++) {
		const struct nssdb *db = &dbs.v[i];
		struct gbca_err e;

		memset(job, 0, sizeof(*job));
		job->softokn = softokn;
		job->db = db;
		job->ctx = ctx;
		job->r = &r;
		job->verb = verb;
		/* A database in a user's folder is opened (and written) as that user. */
		if (!gbca_as_owner_of(db->dir, db_work, job, &e) && !job->ran) {
			snprintf(job->why, sizeof(job->why), "%.300s: %.600s", db->shown, e.msg);
			job->ok = false;
		}
		if (job->module_missing) {
			gbca_fail(err, "%s; " INSTALL_HINT, job->why);
			gbca_shared_free(job, sizeof(*job));
			free(dbs.v);
			root_id_free(&r);
			return false;
		}
		if (!job->ok) {
			gbca_report_add(failed, sizeof(failed), "; ", "%s", job->why);
			n_failed++;
		} else if (job->added || job->removed > 0) {
			names_add(&done, db->shown);
			roots += job->removed;
		} else {
			names_add(&same, db->shown);
		}
	}
	gbca_shared_free(job, sizeof(*job));
	free(dbs.v);
	root_id_free(&r);

	summarize(verb, &done, &same, roots, part, sizeof(part));
	snprintf(report, len, "nss: %s", part[0] ? part : "nothing to do");
	if (n_failed > 0)
		return gbca_fail(err, "%zu of %zu NSS %s failed: %s%s%s", n_failed, n_failed + done.n + same.n,
		                 dbs_word(n_failed + done.n + same.n), failed, part[0] ? "; " : "", part);
	return true;
}

static bool
install(const struct gbca_trust_ctx *ctx, char *report, size_t len, struct gbca_err *err)
{
	return run(ctx, VERB_INSTALL, report, len, err);
}

static bool
uninstall(const struct gbca_trust_ctx *ctx, char *report, size_t len, struct gbca_err *err)
{
	return run(ctx, VERB_UNINSTALL, report, len, err);
}

/* Per database: installed (certificate and trust), stale (only older gbca
 * roots), missing; over all of them: installed only if every one is, stale if
 * any is stale, else missing. Databases that can't be read count as missing. */
static enum gbca_trust_state
check(const struct gbca_trust_ctx *ctx, char *where, size_t len)
{
	enum gbca_trust_state *states = NULL, all = GBCA_TRUST_INSTALLED;
	char softokn[PATH_MAX], (*notes)[256] = NULL, module_err[400] = "";
	struct nssdb_list dbs;
	struct root_id r;
	struct gbca_err e;
	bool have_module, have_id, mixed = false;

	where[0] = '\0';
	if (!find_dbs(ctx, &dbs, &e) || dbs.n == 0) {
		snprintf(where, len, "no NSS databases found");
		free(dbs.v);
		return GBCA_TRUST_ABSENT;
	}
	states = calloc(dbs.n, sizeof(*states));
	notes = calloc(dbs.n, sizeof(*notes));
	have_module = find_softokn(softokn, sizeof(softokn), &e);
	if (!have_module)
		snprintf(module_err, sizeof(module_err), "%.300s", e.msg);
	have_id = root_id_init(ctx, &r, &e);
	for (size_t i = 0; states && notes && i < dbs.n; i++) {
		struct gbca_p11 p;
		struct found f;

		states[i] = GBCA_TRUST_MISSING;
		if (!have_module || !have_id)
			continue;
		if (!db_open(softokn, &dbs.v[i], false, &p, &e)) {
			if (module_missing(&p)) {
				snprintf(module_err, sizeof(module_err), "%.300s; " INSTALL_HINT, e.msg);
				have_module = false;
			} else {
				note(&dbs.v[i], &p, notes[i], sizeof(notes[i]));
			}
			continue;
		}
		if (inspect(&p, ctx, &r, true, &f, &e)) {
			states[i] = found_state(&f);
			found_free(&f);
		} else {
			snprintf(notes[i], sizeof(notes[i]), "%.200s", e.msg);
		}
		gbca_p11_close(&p);
	}
	for (size_t i = 0; states && i < dbs.n; i++) {
		if (states[i] == GBCA_TRUST_STALE)
			all = GBCA_TRUST_STALE;
		else if (states[i] != GBCA_TRUST_INSTALLED && all == GBCA_TRUST_INSTALLED)
			all = GBCA_TRUST_MISSING;
	}
	if (states == NULL || notes == NULL || !have_module || !have_id || module_err[0])
		all = GBCA_TRUST_MISSING;
	/* when the databases differ, say which ones lack the root */
	for (size_t i = 1; states && i < dbs.n; i++)
		mixed = mixed || states[i] != states[0];
	for (size_t i = 0; i < dbs.n; i++) {
		size_t used = strlen(where);
		if (used + 1 >= len)
			break;
		if (notes && notes[i][0])
			snprintf(where + used, len - used, "%s%s (%s)", i ? ", " : "", dbs.v[i].shown, notes[i]);
		else if (mixed && states[i] != GBCA_TRUST_INSTALLED)
			snprintf(where + used, len - used, "%s%s (%s)", i ? ", " : "", dbs.v[i].shown,
			         gbca_trust_state_name(states[i]));
		else
			snprintf(where + used, len - used, "%s%s", i ? ", " : "", dbs.v[i].shown);
	}
	if (module_err[0] && strlen(where) + 1 < len)
		snprintf(where + strlen(where), len - strlen(where), " (%s)", module_err);
	if (have_id)
		root_id_free(&r);
	free(states);
	free(notes);
	free(dbs.v);
	return all;
}

const struct gbca_store gbca_store_nss = { .name = "nss", .check = check, .install = install, .uninstall = uninstall };
