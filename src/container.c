/* Containers on this host: the CA bundle in CAROOT that they mount, and the
 * compose override and docker run flags that mount it, name it in the
 * variables clients read, and point Google's name at the host. */
#include "config.h"
#include <gbca/block.h>
#include <gbca/container.h>
#include <gbca/issue.h>
#include <gbca/path.h>
#include <gbca/save.h>

#include <errno.h>
#include <gnutls/gnutls.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A distribution's bundle is about 200 KB; this is far above any real one. */
#define BUNDLE_MAX (16u << 20)

/* What clients read, each replacing (or, for Node, adding to) their store:
 * Node, OpenSSL and Python's ssl (httpx, urllib, aiohttp, Google's SDKs),
 * requests, curl. */
static const char *const ca_vars[] = {
	"NODE_EXTRA_CA_CERTS", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE",
};
#define N_CA_VARS (sizeof(ca_vars) / sizeof(ca_vars[0]))

/* Docker resolves host-gateway to the host's bridge address. */
#define EXTRA_HOST GBCA_DEFAULT_NAME ":host-gateway"

/* The certificates of the system bundle, then the root unless among them. */
static bool
bundle_render(const struct gbca_trust_ctx *ctx, const char *sys, struct gbca_strbuf *out,
              struct gbca_container_bundle *b, struct gbca_err *err)
{
	struct gbca_text in;
	gnutls_x509_crt_t *list = NULL;
	gnutls_datum_t d;
	unsigned n = 0;
	bool ok = false;
	int ret;

	if (!gbca_text_read(&in, sys, sys, BUNDLE_MAX, err))
		return false;
	if (in.data == NULL)
		return gbca_fail(err, "the system CA bundle %s does not exist; install ca-certificates "
		                 "(or run update-ca-certificates), then gbca compose again", sys);
	d.data = (unsigned char *)in.data;
	d.size = (unsigned)in.len;
	ret = gnutls_x509_crt_list_import2(&list, &n, &d, GNUTLS_X509_FMT_PEM, 0);
	if (ret < 0 || n == 0) {
		gbca_fail(err, "the system CA bundle %s holds no certificate gbca can read (%s)", sys,
		          ret < 0 ? gnutls_strerror(ret) : "none found");
		goto out;
	}
	b->root_added = true;
	for (unsigned i = 0; i < n; i++) {
		gnutls_datum_t pem = { NULL, 0 };
		if (gnutls_x509_crt_equals2(list[i], &ctx->root_der))
			b->root_added = false;
		if ((ret = gnutls_x509_crt_export2(list[i], GNUTLS_X509_FMT_PEM, &pem)) < 0) {
			gbca_fail(err, "couldn't encode certificate %u of %s: %s", i + 1, sys, gnutls_strerror(ret));
			goto out;
		}
		gbca_strbuf_add(out, pem.data, pem.size);
		gnutls_free(pem.data);
	}
	if (b->root_added)
		gbca_strbuf_add(out, ctx->root_pem.data, ctx->root_pem.size);
	b->n_system = n;
	ok = !out->oom || gbca_fail(err, "out of memory building the container bundle");
out:
	for (unsigned i = 0; i < n; i++)
		gnutls_x509_crt_deinit(list[i]);
	gnutls_free(list);
	gbca_text_free(&in);
	return ok;
}

bool
gbca_container_bundle_write(const struct gbca_trust_ctx *ctx, struct gbca_container_bundle *b,
                            struct gbca_err *err)
{
	struct gbca_strbuf out = { 0 };
	struct gbca_text old;
	char sys[PATH_MAX], path[PATH_MAX];
	bool ok = false;

	memset(b, 0, sizeof(*b));
	if (!gbca_system_bundle(sys, sizeof(sys)))
		return gbca_fail(err, "no system trust store found here, so no CA bundle for containers: "
		                 "SSL_CERT_FILE and the others replace a client's whole store, and the root "
		                 "alone would break every other site");
	if (!gbca_path_join(path, sizeof(path), ctx->caroot, GBCA_CONTAINER_PEM_FILE, err) ||
	    !bundle_render(ctx, sys, &out, b, err))
		goto out;
	if (out.p == NULL) {   /* never: bundle_render adds a certificate at least */
		gbca_fail(err, "no certificate to write to %s", path);
		goto out;
	}
	if (!gbca_text_read(&old, path, path, BUNDLE_MAX, err))
		goto out;
	b->changed = old.data == NULL || old.len != out.len || memcmp(old.data, out.p, out.len) != 0 ||
	             (old.st.st_mode & 07777) != 0644;
	gbca_text_free(&old);
	if (b->changed && !gbca_save_file(path, out.p, out.len, 0644, err))
		goto out;
	/* A relative CAROOT would be read against the compose file's folder. */
	if (realpath(path, b->path) == NULL) {
		int e = errno;
		gbca_fail(err, "couldn't resolve %s: %s", path, strerror(e));
		goto out;
	}
	ok = true;
out:
	free(out.p);
	return ok;
}

bool
gbca_container_service_ok(const char *name)
{
	return name[0] != '\0' &&
	       strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == strlen(name);
}

/* The code point at s (UTF-8, strict: no overlong forms, no surrogates),
 * its length in *len; -1 when s does not start with a valid sequence. */
static long
utf8_next(const unsigned char *s, size_t *len)
{
	static const long min[] = { 0, 0, 0x80, 0x800, 0x10000 };
	long cp;
	size_t n;

	if (s[0] < 0x80)
		n = 1, cp = s[0];
	else if ((s[0] & 0xe0) == 0xc0)
		n = 2, cp = s[0] & 0x1f;
	else if ((s[0] & 0xf0) == 0xe0)
		n = 3, cp = s[0] & 0x0f;
	else if ((s[0] & 0xf8) == 0xf0)
		n = 4, cp = s[0] & 0x07;
	else
		return -1;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return -1;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if (cp < min[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return -1;
	*len = n;
	return cp;
}

/* Whether a YAML parser takes s as it is in a double-quoted scalar: UTF-8,
 * and printable as YAML 1.1 says (no C0 or C1 controls, no U+FFFE/FFFF). A
 * path with a line break or a tab is refused too: writing it escaped would be
 * valid, but nobody means such a CAROOT. */
static bool
printable(const char *s, struct gbca_err *err)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n;
	long cp;

	for (; *p; p += n) {
		if ((cp = utf8_next(p, &n)) < 0)
			return gbca_fail(err, "%s is not valid UTF-8, which a compose file can't name; "
			                 "move CAROOT (GBCA_CAROOT) to a folder with a UTF-8 name", s);
		if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0xfffe || cp == 0xffff)
			return gbca_fail(err, "%s has a control character in its name; move CAROOT (GBCA_CAROOT) "
			                 "to a folder without one", s);
	}
	return true;
}

/* s as a double-quoted YAML scalar that compose reads back as s: YAML
 * escapes " and \, and compose's own interpolation would take $HOME in a
 * path for a variable unless it is written $$. */
static void
compose_string(struct gbca_strbuf *b, const char *s)
{
	gbca_strbuf_str(b, "\"");
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			gbca_strbuf_str(b, "\\");
		else if (*s == '$')
			gbca_strbuf_str(b, "$");
		gbca_strbuf_add(b, s, 1);
	}
	gbca_strbuf_str(b, "\"");
}

bool
gbca_container_compose(struct gbca_strbuf *out, const char *bundle, char *const *services, size_t n,
                       struct gbca_err *err)
{
	if (!printable(bundle, err))
		return false;
	gbca_strbuf_str(out, "# Made by 'gbca compose': these services reach " GBCA_DEFAULT_NAME "\n"
	                     "# at the host's bridge address (where gbca serve listens) and trust gbca's root.\n"
	                     "services:\n");
	for (size_t i = 0; i < n; i++) {
		gbca_strbuf_str(out, "  ");
		compose_string(out, services[i]);
		gbca_strbuf_str(out, ":\n    extra_hosts:\n      - \"" EXTRA_HOST "\"\n"
		                     "    volumes:\n      - type: bind\n        source: ");
		compose_string(out, bundle);
		/* The long syntax: the short one splits on ':', which a path may
		 * hold, and creates a folder where the file is missing. */
		gbca_strbuf_str(out, "\n        target: \"" GBCA_CONTAINER_CA_PATH "\"\n        read_only: true\n"
		                     "    environment:\n");
		for (size_t v = 0; v < N_CA_VARS; v++) {
			gbca_strbuf_str(out, "      ");
			gbca_strbuf_str(out, ca_vars[v]);
			gbca_strbuf_str(out, ": \"" GBCA_CONTAINER_CA_PATH "\"\n");
		}
	}
	return !out->oom || gbca_fail(err, "out of memory");
}

/* One field of the comma-separated --mount value, quoted as Docker's CSV
 * reader wants when it holds a comma or a quote. */
static void
csv_field(struct gbca_strbuf *b, const char *s)
{
	if (strpbrk(s, ",\"") == NULL) {
		gbca_strbuf_str(b, s);
		return;
	}
	gbca_strbuf_str(b, "\"");
	for (; *s; s++) {
		if (*s == '"')
			gbca_strbuf_str(b, "\"");
		gbca_strbuf_add(b, s, 1);
	}
	gbca_strbuf_str(b, "\"");
}

bool
gbca_container_docker_run(struct gbca_strbuf *out, const char *bundle, struct gbca_err *err)
{
	struct gbca_strbuf mount = { 0 }, source = { 0 };
	bool ok;

	if (!printable(bundle, err))
		return false;
	/* --mount, not -v: -v splits on ':' and makes a folder of a missing file. */
	gbca_strbuf_str(&source, "source=");
	gbca_strbuf_str(&source, bundle);
	gbca_strbuf_str(&mount, "type=bind,");
	csv_field(&mount, source.p ? source.p : "");
	gbca_strbuf_str(&mount, ",target=" GBCA_CONTAINER_CA_PATH ",readonly");
	gbca_strbuf_str(out, "--add-host " EXTRA_HOST " --mount ");
	gbca_quote_sh(out, mount.p ? mount.p : "");
	for (size_t v = 0; v < N_CA_VARS; v++) {
		gbca_strbuf_str(out, " -e ");
		gbca_strbuf_str(out, ca_vars[v]);
		gbca_strbuf_str(out, "=" GBCA_CONTAINER_CA_PATH);
	}
	gbca_strbuf_str(out, "\n");
	ok = !(out->oom || mount.oom || source.oom) || gbca_fail(err, "out of memory");
	free(mount.p);
	free(source.p);
	return ok;
}
