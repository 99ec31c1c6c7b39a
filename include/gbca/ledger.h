/* The issuance log in CAROOT: one line per issued certificate. */
#ifndef GBCA_LEDGER_H
#define GBCA_LEDGER_H

#include <gbca/err.h>
#include <gbca/names.h>
#include <gnutls/x509.h>
#include <limits.h>
#include <stdbool.h>
#include <time.h>

#define GBCA_LEDGER_FILE "issued.log"

struct gbca_ledger_entry {
	time_t issued, not_after;
	char serial[41];   /* hex */
	char sha256[65];   /* hex fingerprint of the DER certificate */
	char names[4096];  /* space-separated */
	char file[PATH_MAX];
};

/* Fills an entry from an issued certificate. */
bool gbca_ledger_entry_from(gnutls_x509_crt_t crt, const struct gbca_name *names, size_t n,
                            const char *file, struct gbca_ledger_entry *e, struct gbca_err *err);

/* Opens (creating, 0600) the log for appending; check this before issuing,
 * so a log that can't be written stops issuance before any file is made. */
bool gbca_ledger_open(const char *caroot, int *fd, struct gbca_err *err);
/* Appends one line with a single write(2). Closes fd. */
bool gbca_ledger_append(int fd, const struct gbca_ledger_entry *e, struct gbca_err *err);

/* Calls fn for each well-formed line; a missing log is an empty one. */
bool gbca_ledger_read(const char *caroot, bool (*fn)(const struct gbca_ledger_entry *, void *),
                      void *data, struct gbca_err *err);

/* Parses one log line (without the newline). */
bool gbca_ledger_parse_line(const char *line, struct gbca_ledger_entry *e);

#endif
