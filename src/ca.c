/* The local root CA: creation with name constraints, import, loading with
 * permission and consistency checks, the CAROOT lock, constraint checks. */
#include "config.h"
#include <gbca/ca.h>
#include <gbca/path.h>
#include <gbca/save.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const default_subtrees[] = {
	"generativelanguage.googleapis.com",
	"localhost",
	".localhost",
	"127.0.0.0/8",
	"::1/128",
	/* Without an email subtree RFC 5280 leaves email names unconstrained, so a
	 * leaked key could sign S/MIME certificates for any address. */
	"@localhost",
};

size_t
gbca_ca_default_subtrees(struct gbca_subtree *out, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < sizeof(default_subtrees) / sizeof(default_subtrees[0]) && n < max; i++) {
		bool ok = gbca_subtree_parse(default_subtrees[i], &out[n], NULL);
		if (ok)
			n++;
	}
	return n;
}

bool
gbca_ca_lock(const char *dir, bool exclusive, int *fd, struct gbca_err *err)
{
	/* Locking the directory itself needs no lock file and works on a
	 * read-only CAROOT too. */
	int d = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (d < 0) {
		int e = errno;
		return gbca_fail(err, "couldn't open CAROOT %s: %s", dir, strerror(e));
	}
	while (flock(d, exclusive ? LOCK_EX : LOCK_SH) < 0) {
		if (errno == EINTR)
			continue;
		int e = errno;
		close(d);
		return gbca_fail(err, "couldn't lock CAROOT %s: %s", dir, strerror(e));
	}
	*fd = d;
	return true;
}

void
gbca_ca_unlock(int fd)
{
	if (fd >= 0)
		close(fd);
}

void
gbca_ca_free(struct gbca_ca *ca)
{
	if (ca->crt)
		gnutls_x509_crt_deinit(ca->crt);
	if (ca->key)
		gnutls_x509_privkey_deinit(ca->key);
	ca->crt = NULL;
	ca->key = NULL;
}

static bool
load_datum(const char *path, gnutls_datum_t *d, struct gbca_err *err)
{
	int ret = gnutls_load_file(path, d);

	if (ret < 0) {
		int e = errno;
		if (e == ENOENT || e == EACCES || e == EISDIR)
			return gbca_fail(err, "couldn't read %s: %s", path, strerror(e));
		return gbca_fail(err, "couldn't read %s: %s", path, gnutls_strerror(ret));
	}
	return true;
}

/* Accepts PEM or DER. */
static bool
import_cert_file(const char *path, gnutls_x509_crt_t *out, struct gbca_err *err)
{
	gnutls_datum_t d = { NULL, 0 };
	gnutls_x509_crt_t crt;
	int ret;

	if (!load_datum(path, &d, err))
		return false;
	if ((ret = gnutls_x509_crt_init(&crt)) < 0) {
		gnutls_free(d.data);
		return gbca_fail(err, "couldn't read %s: %s", path, gnutls_strerror(ret));
	}
	ret = gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_PEM);
	if (ret < 0)
		ret = gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_DER);
	gnutls_free(d.data);
	if (ret < 0) {
		gnutls_x509_crt_deinit(crt);
		return gbca_fail(err, "%s is not a valid certificate (%s)", path, gnutls_strerror(ret));
	}
	*out = crt;
	return true;
}

/* Accepts PKCS#8, PKCS#1 and SEC1, PEM or DER, unencrypted. */
static bool
import_key_file(const char *path, gnutls_x509_privkey_t *out, struct gbca_err *err)
{
	gnutls_datum_t d = { NULL, 0 };
	gnutls_x509_privkey_t key;
	int ret;

	if (!load_datum(path, &d, err))
		return false;
	if ((ret = gnutls_x509_privkey_init(&key)) < 0) {
		gnutls_memset(d.data, 0, d.size);
		gnutls_free(d.data);
		return gbca_fail(err, "couldn't read %s: %s", path, gnutls_strerror(ret));
	}
	ret = gnutls_x509_privkey_import2(key, &d, GNUTLS_X509_FMT_PEM, NULL, GNUTLS_PKCS_PLAIN);
	if (ret < 0)
		ret = gnutls_x509_privkey_import2(key, &d, GNUTLS_X509_FMT_DER, NULL, GNUTLS_PKCS_PLAIN);
	gnutls_memset(d.data, 0, d.size);
	gnutls_free(d.data);
	if (ret < 0) {
		gnutls_x509_privkey_deinit(key);
		if (ret == GNUTLS_E_DECRYPTION_FAILED)
			return gbca_fail(err, "%s is encrypted; decrypt it first (e.g. certtool -k --to-p8 --null-password)", path);
		return gbca_fail(err, "%s is not a valid private key (%s)", path, gnutls_strerror(ret));
	}
	*out = key;
	return true;
}

static bool
key_matches_cert(gnutls_x509_crt_t crt, gnutls_x509_privkey_t key)
{
	unsigned char a[64], b[64];
	size_t al = sizeof(a), bl = sizeof(b);

	if (gnutls_x509_crt_get_key_id(crt, GNUTLS_KEYID_USE_SHA256, a, &al) < 0 ||
	    gnutls_x509_privkey_get_key_id(key, GNUTLS_KEYID_USE_SHA256, b, &bl) < 0)
		return false;
	return al == bl && memcmp(a, b, al) == 0;
}

static void
format_date(time_t t, char *buf, size_t len)
{
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%d", &tm);
}

/* CA:TRUE, may sign certificates, currently valid. */
static bool
check_ca_cert(gnutls_x509_crt_t crt, const char *path, struct gbca_err *err)
{
	unsigned critical = 0, usage = 0;
	time_t now = time(NULL);
	char date[32];
	int ret = gnutls_x509_crt_get_basic_constraints(crt, &critical, NULL, NULL);

	if (ret <= 0)
		return gbca_fail(err, "%s is not a CA certificate (no basicConstraints CA:TRUE); it can't sign certificates", path);
	if (gnutls_x509_crt_get_key_usage(crt, &usage, &critical) >= 0 &&
	    !(usage & GNUTLS_KEY_KEY_CERT_SIGN))
		return gbca_fail(err, "%s has no keyCertSign key usage; it can't sign certificates", path);
	if (gnutls_x509_crt_get_expiration_time(crt) < now) {
		format_date(gnutls_x509_crt_get_expiration_time(crt), date, sizeof(date));
		return gbca_fail(err, "the CA in %s expired on %s; make a new one with: gbca init --force", path, date);
	}
	if (gnutls_x509_crt_get_activation_time(crt) > now + 300) {
		format_date(gnutls_x509_crt_get_activation_time(crt), date, sizeof(date));
		return gbca_fail(err, "the CA in %s is not valid before %s; is the clock right?", path, date);
	}
	return true;
}

static bool
subtree_from_gnutls(unsigned type, const gnutls_datum_t *name, struct gbca_subtree *t)
{
	memset(t, 0, sizeof(*t));
	switch (type) {
	case GNUTLS_SAN_DNSNAME:
	case GNUTLS_SAN_RFC822NAME:
		if (name->size >= sizeof(t->text))
			return false;
		memcpy(t->text, name->data, name->size);
		t->text[name->size] = '\0';
		t->type = type == GNUTLS_SAN_DNSNAME ? GBCA_SUBTREE_DNS : GBCA_SUBTREE_EMAIL;
		return true;
	case GNUTLS_SAN_IPADDRESS:
		if (name->size != 8 && name->size != 32)
			return false;
		t->ip_len = name->size / 2;
		memcpy(t->ip, name->data, t->ip_len);
		memcpy(t->mask, name->data + t->ip_len, t->ip_len);
		t->type = GBCA_SUBTREE_IP;
		return true;
	default:
		return false;   /* DN and URI subtrees: we never issue names they govern */
	}
}

bool
gbca_ca_read_constraints(struct gbca_ca *ca, struct gbca_err *err)
{
	gnutls_x509_name_constraints_t nc;
	unsigned critical = 0, type;
	gnutls_datum_t name;
	int ret;

	ca->constrained = false;
	ca->n_permitted = ca->n_excluded = 0;
	if (gnutls_x509_name_constraints_init(&nc) < 0)
		return gbca_fail(err, "out of memory");
	ret = gnutls_x509_crt_get_name_constraints(ca->crt, nc, 0, &critical);
	if (ret == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE) {
		gnutls_x509_name_constraints_deinit(nc);
		return true;
	}
	if (ret < 0) {
		gnutls_x509_name_constraints_deinit(nc);
		return gbca_fail(err, "couldn't read the CA's name constraints: %s", gnutls_strerror(ret));
	}
	ca->constrained = true;
	for (unsigned i = 0; gnutls_x509_name_constraints_get_permitted(nc, i, &type, &name) >= 0; i++)
		if (ca->n_permitted < GBCA_SUBTREES_MAX &&
		    subtree_from_gnutls(type, &name, &ca->permitted[ca->n_permitted]))
			ca->n_permitted++;
	for (unsigned i = 0; gnutls_x509_name_constraints_get_excluded(nc, i, &type, &name) >= 0; i++)
		if (ca->n_excluded < GBCA_SUBTREES_MAX &&
		    subtree_from_gnutls(type, &name, &ca->excluded[ca->n_excluded]))
			ca->n_excluded++;
	gnutls_x509_name_constraints_deinit(nc);
	return true;
}

bool
gbca_ca_load(const char *dir, bool need_key, struct gbca_ca *ca, struct gbca_err *err)
{
	char cert_path[PATH_MAX], key_path[PATH_MAX];
	struct stat st;

	memset(ca, 0, sizeof(*ca));
	if (snprintf(ca->dir, sizeof(ca->dir), "%s", dir) >= (int)sizeof(ca->dir))
		return gbca_fail(err, "CAROOT path is too long");
	if (!gbca_path_join(cert_path, sizeof(cert_path), dir, GBCA_CA_CERT_FILE, err) ||
	    !gbca_path_join(key_path, sizeof(key_path), dir, GBCA_CA_KEY_FILE, err))
		return false;
	if (stat(dir, &st) < 0 || stat(cert_path, &st) < 0) {
		if (errno == ENOENT)
			return gbca_fail(err, "there is no CA in %s; make one with: gbca init (or point GBCA_CAROOT at an existing one)", dir);
		int e = errno;
		return gbca_fail(err, "couldn't read %s: %s", cert_path, strerror(e));
	}
	if (need_key) {
		if (stat(key_path, &st) < 0) {
			int e = errno;
			if (e == ENOENT)
				return gbca_fail(err, "%s has %s but no %s, so it can't sign; restore the key or make a new CA with: gbca init --force", dir, GBCA_CA_CERT_FILE, GBCA_CA_KEY_FILE);
			return gbca_fail(err, "couldn't read %s: %s", key_path, strerror(e));
		}
		if (!S_ISREG(st.st_mode))
			return gbca_fail(err, "%s is not a regular file", key_path);
		if (st.st_mode & 077)
			return gbca_fail(err, "%s is readable or writable by other users (mode %04o), so the CA key may have leaked; fix the mode with: chmod 400 %s (and consider a new CA: gbca init --force)",
			                 key_path, (unsigned)(st.st_mode & 07777), key_path);
	}
	if (!import_cert_file(cert_path, &ca->crt, err))
		return gbca_fail_prefix(err, "the CA in %s is damaged; restore it from a backup or make a new one with gbca init --force", dir);
	if (!check_ca_cert(ca->crt, cert_path, err))
		goto fail;
	if (need_key) {
		if (!import_key_file(key_path, &ca->key, err)) {
			gbca_fail_prefix(err, "the CA in %s is damaged; restore it from a backup or make a new one with gbca init --force", dir);
			goto fail;
		}
		if (!key_matches_cert(ca->crt, ca->key)) {
			gbca_fail(err, "%s does not belong to %s; restore the matching pair or make a new CA with gbca init --force", key_path, cert_path);
			goto fail;
		}
	}
	if (!gbca_ca_read_constraints(ca, err))
		goto fail;
	return true;
fail:
	gbca_ca_free(ca);
	return false;
}

bool
gbca_ca_allows(const struct gbca_ca *ca, const struct gbca_name *n, struct gbca_err *err)
{
	char list[1024] = "", one[300];
	bool governed = false, matched = false;
	size_t used = 0;

	for (size_t i = 0; i < ca->n_excluded; i++) {
		if (gbca_subtree_matches(&ca->excluded[i], n)) {
			gbca_subtree_format(&ca->excluded[i], one, sizeof(one));
			return gbca_fail(err, "%s \"%s\" is excluded by this CA's name constraints (%s); a CA that allows it needs: gbca init --force",
			                 gbca_name_type_label(n->type), n->text, one);
		}
	}
	for (size_t i = 0; i < ca->n_permitted; i++) {
		if (!gbca_subtree_applies(&ca->permitted[i], n))
			continue;
		governed = true;
		if (gbca_subtree_matches(&ca->permitted[i], n))
			matched = true;
	}
	if (matched)
		return true;
	/* A constrained root with no subtree for this kind of name: RFC 5280 would
	 * let it through, but clients disagree and it defeats the point of
	 * constraining the root, so we refuse. */
	if (!ca->constrained)
		return true;
	for (size_t i = 0; i < ca->n_permitted; i++) {
		gbca_subtree_format(&ca->permitted[i], one, sizeof(one));
		int w = snprintf(list + used, sizeof(list) - used, "%s%s", used ? ", " : "", one);
		if (w < 0 || (size_t)w >= sizeof(list) - used)
			break;
		used += (size_t)w;
	}
	const char *permit = n->type == GBCA_NAME_URI ? n->host : n->text;
	char wild[300];
	if (n->type == GBCA_NAME_WILDCARD) {
		snprintf(wild, sizeof(wild), "%s", n->text + 1);   /* "*.x" -> ".x" */
		permit = wild;
	} else if (n->type == GBCA_NAME_EMAIL) {
		snprintf(wild, sizeof(wild), "@%s", n->host);
		permit = wild;
	}
	return gbca_fail(err, "%s \"%s\" is outside this CA's name constraints (%s%s); to allow it, make a new root with: gbca init --force --permit %s (add --permit for each extra name, or --no-constraints for an unconstrained root)",
	                 gbca_name_type_label(n->type), n->text,
	                 governed ? "permitted: " : "no permitted names of this kind; permitted: ", list, permit);
}

/* --- creation --- */

static bool
add_subtree(gnutls_x509_name_constraints_t nc, const struct gbca_subtree *t, struct gbca_err *err)
{
	unsigned char buf[32];
	gnutls_datum_t d;
	unsigned type;
	int ret;

	switch (t->type) {
	case GBCA_SUBTREE_IP:
		memcpy(buf, t->ip, t->ip_len);
		memcpy(buf + t->ip_len, t->mask, t->ip_len);
		d.data = buf;
		d.size = t->ip_len * 2;
		type = GNUTLS_SAN_IPADDRESS;
		break;
	case GBCA_SUBTREE_DNS:
		d.data = (unsigned char *)t->text;
		d.size = (unsigned)strlen(t->text);
		type = GNUTLS_SAN_DNSNAME;
		break;
	case GBCA_SUBTREE_EMAIL:
	default:
		d.data = (unsigned char *)t->text;
		d.size = (unsigned)strlen(t->text);
		type = GNUTLS_SAN_RFC822NAME;
		break;
	}
	ret = gnutls_x509_name_constraints_add_permitted(nc, type, &d);
	if (ret < 0)
		return gbca_fail(err, "couldn't add the name constraint %s: %s", t->text, gnutls_strerror(ret));
	return true;
}

static bool
subtree_equal(const struct gbca_subtree *a, const struct gbca_subtree *b)
{
	return a->type == b->type && strcmp(a->text, b->text) == 0 && a->ip_len == b->ip_len &&
	       memcmp(a->ip, b->ip, a->ip_len) == 0 && memcmp(a->mask, b->mask, a->ip_len) == 0;
}

static bool
set_constraints(gnutls_x509_crt_t crt, const struct gbca_ca_options *o, struct gbca_err *err)
{
	struct gbca_subtree all[GBCA_SUBTREES_MAX];
	size_t n = gbca_ca_default_subtrees(all, GBCA_SUBTREES_MAX);
	gnutls_x509_name_constraints_t nc;
	bool ok = true;
	int ret;

	for (size_t i = 0; i < o->n_permit; i++) {
		bool dup = false;
		for (size_t j = 0; j < n; j++)
			dup = dup || subtree_equal(&all[j], &o->permit[i]);
		if (dup)
			continue;
		if (n == GBCA_SUBTREES_MAX)
			return gbca_fail(err, "too many --permit values (the limit is %d in all)", GBCA_SUBTREES_MAX);
		all[n++] = o->permit[i];
	}
	if (gnutls_x509_name_constraints_init(&nc) < 0)
		return gbca_fail(err, "out of memory");
	for (size_t i = 0; i < n && ok; i++)
		ok = add_subtree(nc, &all[i], err);
	if (ok) {
		ret = gnutls_x509_crt_set_name_constraints(crt, nc, 1);
		if (ret < 0)
			ok = gbca_fail(err, "couldn't set the name constraints: %s", gnutls_strerror(ret));
	}
	gnutls_x509_name_constraints_deinit(nc);
	return ok;
}

static bool
make_root(const struct gbca_ca_options *o, gnutls_x509_crt_t *crt_out, gnutls_x509_privkey_t *key_out,
          struct gbca_err *err)
{
	gnutls_x509_crt_t crt = NULL;
	gnutls_x509_privkey_t key = NULL;
	unsigned char serial[20], keyid[64];
	size_t keyid_len = sizeof(keyid);
	char who[512], cn[600];
	const char *org = "gbca development CA";
	time_t now = time(NULL);
	int ret;

	if (!gbca_key_generate(o->key_type, &key, err))
		return false;
	if (!gbca_random_serial(serial, err))
		goto fail;
	gbca_user_at_host(who, sizeof(who));
	snprintf(cn, sizeof(cn), "gbca %s", who);
	if ((ret = gnutls_x509_crt_init(&crt)) < 0 ||
	    (ret = gnutls_x509_crt_set_version(crt, 3)) < 0 ||
	    (ret = gnutls_x509_crt_set_serial(crt, serial, sizeof(serial))) < 0 ||
	    /* A little back-dating absorbs clock skew between machines. */
	    (ret = gnutls_x509_crt_set_activation_time(crt, now - 3600)) < 0 ||
	    (ret = gnutls_x509_crt_set_expiration_time(crt, now + (time_t)(o->days ? o->days : GBCA_CA_DAYS) * 86400)) < 0 ||
	    (ret = gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_ORGANIZATION_NAME, 0, org, (unsigned)strlen(org))) < 0 ||
	    (ret = gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_ORGANIZATIONAL_UNIT_NAME, 0, who, (unsigned)strlen(who))) < 0 ||
	    (ret = gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, cn, (unsigned)strlen(cn))) < 0 ||
	    (ret = gnutls_x509_crt_set_key(crt, key)) < 0 ||
	    (ret = gnutls_x509_crt_set_basic_constraints(crt, 1, 0)) < 0 ||
	    (ret = gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_KEY_CERT_SIGN | GNUTLS_KEY_CRL_SIGN)) < 0 ||
	    (ret = gnutls_x509_crt_get_key_id(crt, 0, keyid, &keyid_len)) < 0 ||
	    (ret = gnutls_x509_crt_set_subject_key_id(crt, keyid, keyid_len)) < 0) {
		gbca_fail(err, "couldn't build the root certificate: %s", gnutls_strerror(ret));
		goto fail;
	}
	if (o->constrained && !set_constraints(crt, o, err))
		goto fail;
	ret = gnutls_x509_crt_sign2(crt, crt, key, gbca_key_digest(key), 0);
	if (ret < 0) {
		gbca_fail(err, "couldn't sign the root certificate: %s", gnutls_strerror(ret));
		goto fail;
	}
	*crt_out = crt;
	*key_out = key;
	return true;
fail:
	if (crt)
		gnutls_x509_crt_deinit(crt);
	gnutls_x509_privkey_deinit(key);
	return false;
}

static bool
import_root(const struct gbca_ca_options *o, gnutls_x509_crt_t *crt_out, gnutls_x509_privkey_t *key_out,
            struct gbca_err *err)
{
	/* NULL, not unset: gbca_fail's "always false" is in another file, so
	 * clang's analyzer would follow a "true" from it into an unset handle. */
	gnutls_x509_crt_t crt = NULL;
	gnutls_x509_privkey_t key = NULL;

	if (!import_cert_file(o->import_cert, &crt, err))
		return false;
	if (!check_ca_cert(crt, o->import_cert, err)) {
		gnutls_x509_crt_deinit(crt);
		return false;
	}
	if (!import_key_file(o->import_key, &key, err)) {
		gnutls_x509_crt_deinit(crt);
		return false;
	}
	if (!key_matches_cert(crt, key)) {
		gnutls_x509_crt_deinit(crt);
		gnutls_x509_privkey_deinit(key);
		return gbca_fail(err, "the key %s does not belong to the certificate %s", o->import_key, o->import_cert);
	}
	*crt_out = crt;
	*key_out = key;
	return true;
}

static bool
exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

/* Hard links keep the old files under backup/ while rename() replaces them,
 * so there is no moment with no CA at all. */
static bool
backup_old(const char *dir, char *backup, size_t backup_len, struct gbca_err *err)
{
	static const char *const files[] = { GBCA_CA_CERT_FILE, GBCA_CA_KEY_FILE, "issued.log" };
	char stamp[32], from[PATH_MAX], to[PATH_MAX];
	struct tm tm;
	time_t now = time(NULL);

	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "backup-%Y%m%dT%H%M%SZ", &tm);
	if (!gbca_path_join(backup, backup_len, dir, stamp, err))
		return false;
	/* Two --force runs in one second get backup-...Z and backup-...Z-2. */
	for (int i = 2; mkdir(backup, 0700) < 0; i++) {
		int e = errno;
		char name[48];
		if (e != EEXIST || i > 99)
			return gbca_fail(err, "couldn't create the backup folder %s: %s", backup, strerror(e));
		snprintf(name, sizeof(name), "%s-%d", stamp, i);
		if (!gbca_path_join(backup, backup_len, dir, name, err))
			return false;
	}
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		if (!gbca_path_join(from, sizeof(from), dir, files[i], err) ||
		    !gbca_path_join(to, sizeof(to), backup, files[i], err))
			return false;
		if (!exists(from))
			continue;
		if (link(from, to) < 0) {
			int e = errno;
			return gbca_fail(err, "couldn't back up %s to %s: %s", from, to, strerror(e));
		}
	}
	return true;
}

bool
gbca_ca_create(const char *dir, const struct gbca_ca_options *o, struct gbca_ca *out,
               char *backup, size_t backup_len, struct gbca_err *err)
{
	char cert_path[PATH_MAX], key_path[PATH_MAX], log_path[PATH_MAX];
	gnutls_x509_crt_t crt = NULL;
	gnutls_x509_privkey_t key = NULL;
	gnutls_datum_t cert_pem = { NULL, 0 }, key_pem = { NULL, 0 };
	bool ok = false, had_old;
	int ret;

	backup[0] = '\0';
	memset(out, 0, sizeof(*out));
	if (!gbca_path_join(cert_path, sizeof(cert_path), dir, GBCA_CA_CERT_FILE, err) ||
	    !gbca_path_join(key_path, sizeof(key_path), dir, GBCA_CA_KEY_FILE, err) ||
	    !gbca_path_join(log_path, sizeof(log_path), dir, "issued.log", err))
		return false;
	had_old = exists(cert_path) || exists(key_path);
	if (had_old && !o->force)
		return gbca_fail(err, "a CA already exists in %s; keep using it, or replace it with: gbca init --force (the old one is kept in a backup folder)", dir);
	if (o->import_cert ? !import_root(o, &crt, &key, err) : !make_root(o, &crt, &key, err))
		return false;
	if ((ret = gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &cert_pem)) < 0) {
		gbca_fail(err, "couldn't encode the root certificate: %s", gnutls_strerror(ret));
		goto out;
	}
	if (!gbca_key_export_pem(key, &key_pem, err))
		goto out;
	if (had_old && !backup_old(dir, backup, backup_len, err))
		goto out;
	{
		struct gbca_save_item items[] = {
			{ key_path, key_pem.data, key_pem.size, 0400 },
			{ cert_path, cert_pem.data, cert_pem.size, 0644 },
		};
		if (!gbca_save_files(items, 2, err))
			goto out;
	}
	/* The log lists the old root's certificates; it went to the backup. */
	if (had_old)
		unlink(log_path);
	snprintf(out->dir, sizeof(out->dir), "%s", dir);
	out->crt = crt;
	out->key = key;
	crt = NULL;
	key = NULL;
	ok = gbca_ca_read_constraints(out, err);
out:
	if (key_pem.data) {
		gnutls_memset(key_pem.data, 0, key_pem.size);
		gnutls_free(key_pem.data);
	}
	gnutls_free(cert_pem.data);
	if (crt)
		gnutls_x509_crt_deinit(crt);
	if (key)
		gnutls_x509_privkey_deinit(key);
	if (!ok)
		gbca_ca_free(out);
	return ok;
}
