/* The hosts-file entries that point the served names at the local proxy. */
#ifndef GBCA_HOSTS_H
#define GBCA_HOSTS_H

#include <gbca/err.h>
#include <stdbool.h>
#include <stddef.h>

/* The file format. gbca keeps its entries in one block at the TOP of the file
 * (hosts(5) lookups take the first match, and inserting before the first byte
 * means removing the block gives back the original bytes whatever its last
 * line looks like: with or without a final newline, empty, CRLF):
 *
 *   # >>> gbca >>> added by 'gbca hosts on'; 'gbca hosts off' removes it
 *   127.0.0.1 generativelanguage.googleapis.com
 *   ::1 generativelanguage.googleapis.com
 *   # <<< gbca <<<
 *   ...the file as it was...
 *
 * The block's lines end like the file's first line (CRLF files get CRLF).
 * A conflicting line that --force turns off gets GBCA_HOSTS_DISABLED put in
 * front of it, and nothing else changed; 'off' takes exactly that prefix away. */
#define GBCA_HOSTS_BEGIN "# >>> gbca >>>"
/* After an entry for another address than the loopback one ('gbca join'):
 *   198.18.0.1 generativelanguage.googleapis.com # gbca join
 * A line in the block with another address and without it is not gbca's. */
#define GBCA_HOSTS_JOIN_MARK "# gbca join"
#define GBCA_HOSTS_END "# <<< gbca <<<"
#define GBCA_HOSTS_DISABLED "# gbca-disabled: "
#define GBCA_HOSTS_FILE "/etc/hosts"
#define GBCA_HOSTS_DEFAULT_NAME "generativelanguage.googleapis.com"
#define GBCA_HOSTS_BACKUP_SUFFIX ".gbca-backup"

/* path if not NULL, else /etc/hosts through gbca_sys_path. */
bool gbca_hosts_path(char *buf, size_t len, const char *path, struct gbca_err *err);

/* Checks a name given by the user (gbca_name_parse) and writes its normal
 * form: DNS host names only, no wildcards, IP addresses or URIs. */
bool gbca_hosts_check_name(const char *in, char *out, size_t out_len, struct gbca_err *err);

/* True when the system has an IPv6 loopback (::1 on lo in /proc/net/if_inet6):
 * the default for the ipv6 argument below. */
bool gbca_hosts_ipv6_default(void);

/* Turns the entries for names on or off in the hosts file at path (NULL: the
 * default). on: each name gets 127.0.0.1 and, with ipv6, ::1 (without, an ::1
 * entry gbca made earlier goes); n == 0 means GBCA_HOSTS_DEFAULT_NAME. A line
 * not made by gbca that maps a name to another address makes it fail, naming
 * the line, unless force, which disables that line (see above). off: removes
 * the names' entries (whatever their address), and the block once it is empty, and re-enables the
 * lines force disabled for them; n == 0 means every name gbca added.
 * The first change to a file copies it to path + GBCA_HOSTS_BACKUP_SUFFIX,
 * if that does not exist. The new file replaces the old by rename (temp file,
 * fsync, same mode and owner); where that can't work (the file is a bind
 * mount, as in containers: EBUSY or EXDEV; or its owner can't be kept) it is
 * rewritten in place with one pwrite + ftruncate + fsync, while the fsynced
 * temp file is kept until that is done. A missing file is an error, never
 * created. report gets one line per thing done, or "already on/off".
 * On failure errno tells why (EACCES or EPERM: needs root). */
struct gbca_hosts_change {
	const char *path;           /* NULL: the default */
	const char *const *names;
	size_t n;
	bool on;                    /* add (else remove) the names' entries */
	bool ipv6;                  /* on: ::1 entries too */
	bool force;                 /* on: disable conflicting lines */
	const char *address;        /* on: this one address (a LAN gateway's, for 'gbca join')
	                               instead of 127.0.0.1 and ::1, replacing the names' other
	                               entries in the block; NULL: the loopback ones */
};
bool gbca_hosts_apply(const struct gbca_hosts_change *c, char *report, size_t report_len, struct gbca_err *err);

/* The same with the fields as arguments (for callers not yet moved over). */
bool gbca_hosts_set(const char *path, const char *const *names, size_t n, bool on, bool ipv6,
                    bool force, char *report, size_t report_len, struct gbca_err *err);

/* Whether the file at path (NULL: the default) has gbca's entry for name, and
 * what name resolves to now, as a space-separated list of addresses ("" when
 * it does not resolve). For the system's own /etc/hosts that is asked of
 * getaddrinfo; for any other file (see gbca_hosts_uses_resolver) the file is
 * read the way glibc's files backend would. */
bool gbca_hosts_status(const char *path, const char *name, bool *on, char *addr, size_t addr_len,
                       struct gbca_err *err);

/* True when path (NULL: the default) is the file the system resolver reads. */
bool gbca_hosts_uses_resolver(const char *path);

/* True when every address in a gbca_hosts_status list is a loopback one
 * (127.0.0.0/8, ::1), false for an empty list. */
bool gbca_hosts_all_loopback(const char *addrs);

#endif
