/* gbca join / leave: trust a LAN gateway's root (checked against the
 * fingerprint 'gbca export' printed there) in every store and point the
 * served name at the gateway; leave undoes both. The root is kept in
 * CAROOT/joined/ (no key), with a note of what join did for leave. */
#include "config.h"
#include <gbca/ca.h>
#include <gbca/cmd.h>
#include <gbca/drop.h>
#include <gbca/hosts.h>
#include <gbca/lan.h>
#include <gbca/path.h>
#include <gbca/save.h>
#include <gbca/store.h>

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char join_usage[] =
	"usage: gbca join HOST[:PORT] --fingerprint SHA256:HEX [--stores LIST] [--no-hosts] [-q]\n"
	"\n"
	"Makes this machine use the gbca serve of a gateway on the LAN (HOST, port 443\n"
	"unless given): fetches the gateway's root from its TLS handshake, keeps it\n"
	"only if its SHA-256 fingerprint is the one given (as 'gbca export' prints it\n"
	"on the gateway), and only if it is a self-signed CA whose name constraints\n"
	"limit it to DNS names and the gateway's certificate for\n"
	GBCA_HOSTS_DEFAULT_NAME " verifies against it. A wrong\n"
	"fingerprint changes nothing. Then:\n"
	"  - saves the root (never a key) in CAROOT/" GBCA_LAN_DIR "/,\n"
	"  - trusts it as 'gbca trust --shells' would (system, nss, java where present,\n"
	"    node and python in the shells' rc files),\n"
	"  - points " GBCA_HOSTS_DEFAULT_NAME " at the gateway's address\n"
	"    in /etc/hosts (a line marked '" GBCA_HOSTS_JOIN_MARK "' in gbca's block).\n"
	"'gbca leave' undoes all of it. Run it with sudo (system store, /etc/hosts); the\n"
	"rc files, NSS databases and CAROOT are still yours, written as you.\n"
	"\n"
	"options:\n"
	"  --fingerprint FP  the root's SHA-256: SHA256:HEX, or HEX, colons allowed, any case\n"
	"  --stores LIST     only these stores (system,nss,node,python,java)\n"
	"  --no-hosts        leave the hosts file alone\n"
	"  -q, --quiet       print nothing on success\n"
	"  -h, --help        show this help\n";

static const char leave_usage[] =
	"usage: gbca leave [HOST] [-q]\n"
	"\n"
	"Undoes 'gbca join': takes the gateway's root out of every store join put it\n"
	"in, removes the hosts entry, and deletes CAROOT/" GBCA_LAN_DIR "/, leaving the files\n"
	"byte for byte as they were before join. HOST, if given, must be the gateway\n"
	"joined. Nothing to leave is not an error.\n"
	"\n"
	"options:\n"
	"  -q, --quiet   print nothing on success\n"
	"  -h, --help    show this help\n";

/* What join did, for leave: CAROOT/joined/gateway, "key value" lines. */
struct joined {
	char host[256], port[16], address[64], fingerprint[GBCA_LAN_FP_LEN];
	char stores[128];     /* "" for the defaults */
	char made[PATH_MAX];  /* the first folder join created ("" if none) */
	bool hosts;
	bool hosts_backup;    /* join's hosts change made hosts.gbca-backup */
};

struct paths {
	char caroot[PATH_MAX], dir[PATH_MAX], cert[PATH_MAX], state[PATH_MAX];
};

static bool
paths_init(struct paths *p, struct gbca_err *err)
{
	return gbca_caroot(p->caroot, sizeof(p->caroot), err) &&
	       gbca_path_join(p->dir, sizeof(p->dir), p->caroot, GBCA_LAN_DIR, err) &&
	       gbca_path_join(p->cert, sizeof(p->cert), p->dir, GBCA_CA_CERT_FILE, err) &&
	       gbca_path_join(p->state, sizeof(p->state), p->dir, GBCA_LAN_STATE_FILE, err);
}

/* Reads the note; false with *found false when there is none. Root reads it
 * as a file of the folder's owner, no link followed. */
static bool
state_read(const struct paths *p, struct joined *j, bool *found, struct gbca_err *err)
{
	char *data = NULL, *line, *save = NULL;
	size_t len;
	uid_t uid;
	gid_t gid;

	memset(j, 0, sizeof(*j));
	*found = false;
	if (access(p->state, F_OK) < 0 && errno == ENOENT)
		return false;
	if (!gbca_owner_of(p->dir, &uid, &gid, err) ||
	    !gbca_read_owned(p->dir, GBCA_LAN_STATE_FILE, uid, 022, 16384, &data, &len, err))
		return false;
	*found = true;
	for (line = strtok_r(data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *v = strchr(line, ' ');
		if (v == NULL)
			continue;
		*v++ = '\0';
#define FIELD(k, f) if (strcmp(line, k) == 0) snprintf(j->f, sizeof(j->f), "%s", v)
		FIELD("host", host);
		FIELD("port", port);
		FIELD("address", address);
		FIELD("fingerprint", fingerprint);
		FIELD("stores", stores);
		FIELD("made", made);
#undef FIELD
		if (strcmp(line, "hosts") == 0)
			j->hosts = strcmp(v, "yes") == 0;
		if (strcmp(line, "hosts-backup") == 0)
			j->hosts_backup = strcmp(v, "made") == 0;
	}
	free(data);
	if (j->host[0] == '\0' || strncmp(j->fingerprint, "SHA256:", 7) != 0 || strlen(j->fingerprint) != 71)
		return gbca_fail(err, "%s is damaged (no host or fingerprint); see what it says, undo by hand "
		                 "('gbca untrust' with GBCA_CAROOT=%s, 'gbca hosts off') and delete %s",
		                 p->state, p->dir, p->dir);
	return true;
}

/* As the owner of CAROOT: the folder (noting the first one made), the root
 * and the note. */
struct save_job {
	const struct paths *p;
	struct joined *j;
	const gnutls_datum_t *pem;
};

static bool
save_job(void *arg, struct gbca_err *err)
{
	struct save_job *s = arg;
	char probe[PATH_MAX], note[2048];
	struct stat st;
	int n;

	/* the outermost folder that doesn't exist yet: leave removes up to it
	 * (joining again keeps what the first join made) */
	snprintf(probe, sizeof(probe), "%s", s->p->dir);
	while (probe[0] == '/' && probe[1] != '\0' && stat(probe, &st) < 0 && errno == ENOENT) {
		char *slash = strrchr(probe, '/');
		snprintf(s->j->made, sizeof(s->j->made), "%s", probe);
		if (slash == NULL || slash == probe)
			break;
		*slash = '\0';
	}
	if (strpbrk(s->j->made, "\n") != NULL)
		return gbca_fail(err, "CAROOT %s has a line break in its name; choose another with GBCA_CAROOT", s->p->caroot);
	if (!gbca_mkdir_p(s->p->dir, 0755, err))
		return false;
	n = snprintf(note, sizeof(note),
	             "host %s\nport %s\naddress %s\nfingerprint %s\nstores %s\nhosts %s\nhosts-backup %s\nmade %s\n",
	             s->j->host, s->j->port, s->j->address, s->j->fingerprint, s->j->stores,
	             s->j->hosts ? "yes" : "no", s->j->hosts_backup ? "made" : "no", s->j->made);
	if (n < 0 || (size_t)n >= sizeof(note))
		return gbca_fail(err, "names too long for %s", s->p->state);
	return gbca_save_file(s->p->cert, s->pem->data, s->pem->size, 0644, err) &&
	       gbca_save_file(s->p->state, note, (size_t)n, 0644, err);
}

/* The root and the note go, then the folders join made, if empty. */
struct remove_job {
	const struct paths *p;
	const struct joined *j;
};

static bool
remove_job(void *arg, struct gbca_err *err)
{
	struct remove_job *r = arg;
	char dir[PATH_MAX];
	size_t made_len = strlen(r->j->made);

	if ((unlink(r->p->cert) < 0 && errno != ENOENT) || (unlink(r->p->state) < 0 && errno != ENOENT))
		return gbca_fail(err, "couldn't remove the joined root in %s: %s", r->p->dir, strerror(errno));
	if (rmdir(r->p->dir) < 0 && errno != ENOENT)
		return gbca_fail(err, "couldn't remove %s: %s (something else is in it)", r->p->dir, strerror(errno));
	/* up to the first folder join made, never above it */
	snprintf(dir, sizeof(dir), "%s", r->p->dir);
	while (made_len > 0 && strlen(dir) > made_len && strncmp(dir, r->j->made, made_len) == 0 &&
	       dir[made_len] == '/') {
		*strrchr(dir, '/') = '\0';
		if (rmdir(dir) < 0)
			break;
	}
	return true;
}

/* The copy the hosts engine keeps before its first change to the file. */
static bool
hosts_backup_path(char *buf, size_t len)
{
	char hosts[PATH_MAX];

	return gbca_hosts_path(hosts, sizeof(hosts), NULL, NULL) &&
	       snprintf(buf, len, "%s%s", hosts, GBCA_HOSTS_BACKUP_SUFFIX) < (int)len;
}

/* After leave's hosts change: the copy join's change made goes too, when it
 * is the file as it is again (so nothing of join's is left in /etc). */
static void
drop_hosts_backup(void)
{
	char hosts[PATH_MAX], backup[PATH_MAX];
	gnutls_datum_t a = { NULL, 0 }, b = { NULL, 0 };

	if (!gbca_hosts_path(hosts, sizeof(hosts), NULL, NULL) || !hosts_backup_path(backup, sizeof(backup)))
		return;
	if (gnutls_load_file(hosts, &a) >= 0 && gnutls_load_file(backup, &b) >= 0 && a.size == b.size &&
	    (a.size == 0 || memcmp(a.data, b.data, a.size) == 0))
		unlink(backup);
	gnutls_free(a.data);
	gnutls_free(b.data);
}

/* HOST, HOST:PORT, [V6]:PORT or a bare IPv6 address. */
static bool
split_host(const char *arg, char *host, size_t host_len, char *port, size_t port_len, struct gbca_err *err)
{
	const char *colon = strrchr(arg, ':'), *h = arg;
	size_t n = strlen(arg);
	unsigned p;

	snprintf(port, port_len, "443");
	if (arg[0] == '[') {
		const char *end = strchr(arg, ']');
		if (end == NULL || (end[1] != '\0' && end[1] != ':'))
			return gbca_fail(err, "\"%s\" is not HOST, HOST:PORT or [IPV6]:PORT", arg);
		h = arg + 1;
		n = (size_t)(end - h);
		colon = end[1] == ':' ? end + 1 : NULL;
	} else if (colon != NULL && strchr(arg, ':') != colon) {
		colon = NULL;  /* a bare IPv6 address */
	} else if (colon != NULL) {
		n = (size_t)(colon - arg);
	}
	if (colon != NULL) {
		if (!gbca_parse_uint(colon + 1, 1, 65535, &p))
			return gbca_fail(err, "\"%s\": the port must be a number from 1 to 65535", arg);
		snprintf(port, port_len, "%u", p);
	}
	if (n == 0 || n >= host_len || memchr(h, ' ', n) != NULL || memchr(h, '\n', n) != NULL || h[0] == '-')
		return gbca_fail(err, "\"%s\" is not HOST, HOST:PORT or [IPV6]:PORT", arg);
	memcpy(host, h, n);
	host[n] = '\0';
	return true;
}

static bool
wants_store(const char *stores, const char *name)
{
	char buf[128], *save = NULL, *tok;

	if (stores == NULL || stores[0] == '\0')
		return true;
	snprintf(buf, sizeof(buf), "%s", stores);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
		if (strcmp(tok, name) == 0)
			return true;
	return false;
}

/* NODE_EXTRA_CA_CERTS names one file, and the node and python blocks in the
 * rc files are gbca's, one each: when this machine's own root is set there,
 * join would replace its blocks and leave could not give them back. */
static bool
own_root_in_shells(const char *caroot, const char *stores, struct gbca_err *err)
{
	struct gbca_trust_ctx ctx;
	struct gbca_err ignored;
	char where[GBCA_REPORT_MAX];
	char cert[PATH_MAX];
	bool busy = false;

	if (!wants_store(stores, "node") && !wants_store(stores, "python"))
		return false;
	if (!gbca_path_join(cert, sizeof(cert), caroot, GBCA_CA_CERT_FILE, &ignored) || access(cert, F_OK) < 0 ||
	    !gbca_trust_ctx_init(&ctx, caroot, &ignored))
		return false;
	if (wants_store(stores, "node") && gbca_store_node.check(&ctx, where, sizeof(where)) != GBCA_TRUST_MISSING)
		busy = true;
	if (wants_store(stores, "python") && gbca_store_python.check(&ctx, where, sizeof(where)) != GBCA_TRUST_MISSING)
		busy = true;
	gbca_trust_ctx_free(&ctx);
	if (busy)
		gbca_fail(err, "this machine's own gbca root is set for node or python in your shell files, and "
		          "they hold one gbca block each; run 'gbca untrust --stores node,python' first, or join "
		          "with --stores system,nss,java");
	return busy;
}

/* Before anything is fetched: the names trust would refuse later. */
static bool
stores_known(const char *stores, struct gbca_err *err)
{
	char buf[128], *save = NULL, *tok;

	snprintf(buf, sizeof(buf), "%s", stores);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
		if (gbca_store_find(tok) == NULL)
			return gbca_fail(err, "unknown store \"%s\"; choose from system, nss, node, python, java", tok);
	return true;
}

static bool
needs_root(const char *stores, bool hosts)
{
	return geteuid() != 0 && (hosts || wants_store(stores, "system"));
}

int
gbca_cmd_join(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "fingerprint", required_argument, NULL, 'f' },
		{ "stores", required_argument, NULL, 's' },
		{ "no-hosts", no_argument, NULL, 'n' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *fp_arg = NULL, *stores = NULL;
	unsigned char want[32];
	char report[4096] = "";
	struct joined j = { .hosts = true }, old;
	struct gbca_lan_root root;
	struct paths p;
	struct gbca_err err;
	bool found;
	int c;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":qh", longopts, NULL)) != -1) {
		switch (c) {
		case 'f': fp_arg = optarg; break;
		case 's': stores = optarg; break;
		case 'n': j.hosts = false; break;
		case 'q': gbca_quiet = true; break;
		case 'h': fputs(join_usage, stdout); return GBCA_EXIT_OK;
		default: return gbca_bad_option("join", argv, c);
		}
	}
	if (optind >= argc)
		return gbca_usage_error("join", "which gateway? gbca join HOST --fingerprint SHA256:... "
		                        "(both as 'gbca export' prints them on the gateway)");
	if (optind + 1 < argc)
		return gbca_usage_error("join", "unexpected argument \"%s\"", argv[optind + 1]);
	if (fp_arg == NULL)
		return gbca_usage_error("join", "--fingerprint is required: the SHA256:... that 'gbca export' "
		                        "prints on the gateway; without it nothing says the root is the gateway's");
	if (!split_host(argv[optind], j.host, sizeof(j.host), j.port, sizeof(j.port), &err) ||
	    !gbca_lan_parse_fingerprint(fp_arg, want, &err))
		return gbca_usage_error("join", "%s", err.msg);
	if (stores != NULL) {
		if (strlen(stores) >= sizeof(j.stores) || strpbrk(stores, " \n") != NULL)
			return gbca_usage_error("join", "bad --stores list \"%s\"", stores);
		snprintf(j.stores, sizeof(j.stores), "%s", stores);
		if (!stores_known(stores, &err))
			return gbca_usage_error("join", "%s", err.msg);
	}
	if (needs_root(stores, j.hosts)) {
		gbca_print_error("join needs root for the system store and /etc/hosts; run it with sudo "
		                 "(or leave them out: --stores without system, and --no-hosts)");
		return GBCA_EXIT_FAIL;
	}
	if (!paths_init(&p, &err))
		goto fail;
	if (!state_read(&p, &old, &found, &err) && found)
		goto fail;   /* a note that can't be read: say so, change nothing */
	if (found) {
		gbca_lan_format_fingerprint(want, j.fingerprint);
		if (strcmp(old.fingerprint, j.fingerprint) != 0 || strcmp(old.host, j.host) != 0) {
			gbca_print_error("this machine has joined %s (root %s) already; run 'gbca leave' first",
			                 old.host, old.fingerprint);
			return GBCA_EXIT_FAIL;
		}
	} else if (access(p.dir, F_OK) == 0) {
		gbca_fail(&err, "%s exists but holds no joined gateway; move it away first", p.dir);
		goto fail;
	}
	if (!found && own_root_in_shells(p.caroot, stores, &err))
		goto fail;
	/* Nothing is written before the gateway's root has passed every check. */
	if (!gbca_lan_fetch(j.host, j.port, want, GBCA_HOSTS_DEFAULT_NAME, &root, &err))
		goto fail;
	snprintf(j.address, sizeof(j.address), "%s", root.address);
	if (j.hosts) {
		char backup[PATH_MAX];
		j.hosts_backup = found ? old.hosts_backup : hosts_backup_path(backup, sizeof(backup)) && access(backup, F_OK) < 0;
	}
	snprintf(j.fingerprint, sizeof(j.fingerprint), "%s", root.fingerprint);
	if (!gbca_quiet)
		printf("%s (%s) sent the root %s, which signs only for: %s\n", j.host, j.address, root.fingerprint,
		       root.permitted);
	{
		struct save_job sj = { &p, &j, &root.pem };
		if (found)
			snprintf(j.made, sizeof(j.made), "%s", old.made);
		if (!gbca_as_owner_of(p.caroot, save_job, &sj, &err)) {
			gbca_lan_root_free(&root);
			goto fail;
		}
	}
	gbca_lan_root_free(&root);
	if (!gbca_trust_run(p.dir, stores, true, j.fingerprint + 7, &err)) {
		gbca_print_error("%s; 'gbca leave' undoes what was done", err.msg);
		return GBCA_EXIT_FAIL;
	}
	if (j.hosts) {
		struct gbca_hosts_change hc = { .on = true, .address = j.address };
		if (!gbca_hosts_apply(&hc, report, sizeof(report), &err)) {
			gbca_print_error("%s; 'gbca leave' undoes what was done", err.msg);
			return GBCA_EXIT_FAIL;
		}
		if (!gbca_quiet && report[0])
			printf("%s\n", report);
	}
	if (!gbca_quiet)
		printf("joined %s: https://%s now reaches gbca serve there, verified with its root\n", j.host,
		       GBCA_HOSTS_DEFAULT_NAME);
	return GBCA_EXIT_OK;
fail:
	gbca_print_error("%s", err.msg);
	return GBCA_EXIT_FAIL;
}

int
gbca_cmd_leave(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char report[4096] = "", host[256] = "", port[16];
	struct joined j;
	struct paths p;
	struct gbca_err err;
	bool found;
	int c;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":qh", longopts, NULL)) != -1) {
		switch (c) {
		case 'q': gbca_quiet = true; break;
		case 'h': fputs(leave_usage, stdout); return GBCA_EXIT_OK;
		default: return gbca_bad_option("leave", argv, c);
		}
	}
	if (optind + 1 < argc)
		return gbca_usage_error("leave", "unexpected argument \"%s\"", argv[optind + 1]);
	if (optind < argc && !split_host(argv[optind], host, sizeof(host), port, sizeof(port), &err))
		return gbca_usage_error("leave", "%s", err.msg);
	if (!paths_init(&p, &err))
		goto fail;
	if (!state_read(&p, &j, &found, &err)) {
		if (found)
			goto fail;
		if (!gbca_quiet)
			printf("not joined to any gateway (no %s)\n", p.state);
		return GBCA_EXIT_OK;
	}
	if (host[0] && strcmp(host, j.host) != 0) {
		gbca_print_error("this machine joined %s, not %s", j.host, host);
		return GBCA_EXIT_FAIL;
	}
	if (needs_root(j.stores[0] ? j.stores : NULL, j.hosts)) {
		gbca_print_error("leave needs root for the system store and /etc/hosts; run it with sudo");
		return GBCA_EXIT_FAIL;
	}
	if (access(p.cert, F_OK) == 0 &&
	    !gbca_trust_run(p.dir, j.stores[0] ? j.stores : NULL, false, j.fingerprint + 7, &err))
		goto fail;
	if (j.hosts) {
		static const char *const names[] = { GBCA_HOSTS_DEFAULT_NAME };
		struct gbca_hosts_change hc = { .names = names, .n = 1, .on = false };
		if (!gbca_hosts_apply(&hc, report, sizeof(report), &err))
			goto fail;
		if (!gbca_quiet && report[0])
			printf("%s\n", report);
		if (j.hosts_backup)
			drop_hosts_backup();
	}
	{
		struct remove_job rj = { &p, &j };
		if (!gbca_as_owner_of(p.caroot, remove_job, &rj, &err))
			goto fail;
	}
	if (!gbca_quiet)
		printf("left %s: its root is no longer trusted here\n", j.host);
	return GBCA_EXIT_OK;
fail:
	gbca_print_error("%s", err.msg);
	return GBCA_EXIT_FAIL;
}
