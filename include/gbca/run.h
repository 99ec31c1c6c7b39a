/* Running other programs (update-ca-certificates, keytool) without a shell. */
#ifndef GBCA_RUN_H
#define GBCA_RUN_H

#include <gbca/err.h>
#include <stdbool.h>
#include <stddef.h>

/* Finds prog in $PATH, then in /usr/local/sbin, /usr/sbin, /sbin. */
bool gbca_find_program(const char *prog, char *buf, size_t len);

/* Runs argv[0] (looked up with gbca_find_program) with stdin from /dev/null,
 * stdout and stderr captured into out (truncated, NUL-terminated). Returns
 * false if it could not start; *status is its exit code (or 128+signal). */
bool gbca_run(const char *const argv[], char *out, size_t out_len, int *status, struct gbca_err *err);

/* gbca_run for a program that must not reach the caller's terminal (an
 * interactive shell): it runs in a session of its own, with stdin and stderr
 * on /dev/null and stdout captured. After timeout_s seconds the whole session
 * is killed and it returns false. */
bool gbca_run_detached(const char *const argv[], unsigned timeout_s, char *out, size_t out_len, int *status,
                       struct gbca_err *err);

#endif
