/* Names in certificates: parsing, classification, normalisation, and
 * name-constraint matching. */
#ifndef GBCA_NAMES_H
#define GBCA_NAMES_H

#include <gbca/err.h>
#include <stdbool.h>
#include <stddef.h>

enum gbca_name_type {
	GBCA_NAME_DNS,       /* example.test (IDNs stored as A-labels) */
	GBCA_NAME_WILDCARD,  /* *.example.test */
	GBCA_NAME_IPV4,
	GBCA_NAME_IPV6,
	GBCA_NAME_EMAIL,     /* user@example.test */
	GBCA_NAME_URI,       /* scheme://host/... */
};

#define GBCA_NAME_MAX 2048

struct gbca_name {
	enum gbca_name_type type;
	char text[GBCA_NAME_MAX + 1]; /* normalised form, as it goes in the certificate */
	unsigned char ip[16];         /* IPV4: 4 bytes, IPV6: 16 bytes */
	char host[256];               /* EMAIL: the domain; URI: the host (may be an IP) */
};

/* Parses one name given by the user. On failure err says what is wrong with it. */
bool gbca_name_parse(const char *in, struct gbca_name *out, struct gbca_err *err);

const char *gbca_name_type_label(enum gbca_name_type t);

/* The names given on a command line (args[0..n_args)), parsed, duplicates
 * dropped; none given means def. *out is allocated (free() it). On failure
 * err says which name is wrong and why. */
bool gbca_names_from_args(char *const *args, int n_args, const char *def, struct gbca_name **out,
                          size_t *n_out, struct gbca_err *err);

/* Checks a DNS host name (no wildcard) that is already ASCII lower case. */
bool gbca_name_check_dns(const char *name, struct gbca_err *err);

/* The file name stem mkcert would use for a name: '*' -> "_wildcard", ':' and
 * '/' and other awkward bytes -> '_'. */
void gbca_name_file_stem(const char *text, char *buf, size_t len);

/* One permitted or excluded subtree of a name-constraints extension. */
enum gbca_subtree_type {
	GBCA_SUBTREE_DNS,
	GBCA_SUBTREE_EMAIL,
	GBCA_SUBTREE_IP,
};

struct gbca_subtree {
	enum gbca_subtree_type type;
	char text[256];             /* DNS: "host" or ".domain"; EMAIL: "box@host", "host" or ".domain" */
	unsigned char ip[16], mask[16];
	unsigned ip_len;            /* 4 or 16 */
};

/* Parses a --permit argument: a DNS name, a ".domain", an IP address, a CIDR
 * range, a mailbox "user@host", or "@host" for every mailbox at host. */
bool gbca_subtree_parse(const char *in, struct gbca_subtree *out, struct gbca_err *err);

/* Formats a subtree as the user would write it ("127.0.0.0/8"). */
void gbca_subtree_format(const struct gbca_subtree *t, char *buf, size_t len);

/* RFC 5280 section 4.2.1.10 matching of one name against one subtree. A name
 * of a type the subtree does not speak of returns false. */
bool gbca_subtree_matches(const struct gbca_subtree *t, const struct gbca_name *n);

/* Whether a subtree constrains names of this type (URIs are judged by their host). */
bool gbca_subtree_applies(const struct gbca_subtree *t, const struct gbca_name *n);

#endif
