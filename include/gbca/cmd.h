/* The commands: one file each (src/cmd-*.c); only these decide exit codes. */
#ifndef GBCA_CMD_H
#define GBCA_CMD_H

#include <gbca/err.h>
#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>

enum {
	GBCA_EXIT_OK = 0,
	GBCA_EXIT_FAIL = 1,   /* the command ran and something went wrong */
	GBCA_EXIT_USAGE = 2,  /* bad options or arguments */
};

int gbca_cmd_caroot(int argc, char **argv);
int gbca_cmd_init(int argc, char **argv);
int gbca_cmd_issue(int argc, char **argv);
int gbca_cmd_list(int argc, char **argv);
int gbca_cmd_trust(int argc, char **argv);
int gbca_cmd_untrust(int argc, char **argv);
int gbca_cmd_ci(int argc, char **argv);
int gbca_cmd_env(int argc, char **argv);
int gbca_cmd_serve(int argc, char **argv);
int gbca_cmd_up(int argc, char **argv);
int gbca_cmd_down(int argc, char **argv);
int gbca_cmd_uninstall(int argc, char **argv);
int gbca_cmd_doctor(int argc, char **argv);
int gbca_cmd_hosts(int argc, char **argv);
int gbca_cmd_export(int argc, char **argv);
int gbca_cmd_join(int argc, char **argv);
int gbca_cmd_leave(int argc, char **argv);
int gbca_cmd_compose(int argc, char **argv);

/* Shared by commands: prints "unknown option" etc. and returns GBCA_EXIT_USAGE. */
int gbca_usage_error(const char *cmd, const char *fmt, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 2, 3)))
#endif
	;

/* Reports the option getopt_long just rejected, with the options it may have
 * meant ("did you mean --no-constraints?"). */
int gbca_bad_option(const char *cmd, char **argv, int optopt_value);
/* The same message in err, for option parsers outside a command; false. */
bool gbca_option_error(char **argv, int optopt_value, struct gbca_err *err);

/* getopt_long that takes a long option only when typed in full: glibc's would
 * take "--n" for "--no-constraints" or "--in" for "--insecure-whatever", so a
 * typo can silently turn on an option that weakens something. An abbreviation
 * is returned as '?' and gbca_bad_option names the full options. Same
 * contract as getopt_long otherwise. Every command gets it through the macro
 * below, in one place, so a command added or rewritten later cannot forget it
 * (tests/cli.sh tries an abbreviation of every option of every command). */
int gbca_getopt_long(int argc, char *const *argv, const char *shortopts,
                     const struct option *longopts, int *longind);
#ifndef GBCA_REAL_GETOPT_LONG
#define getopt_long gbca_getopt_long
#endif

/* The names in a table of n entries, stride bytes apart from first, each
 * starting with its `const char *name` (struct option, the command table)
 * that typed (typed_len bytes) may have meant: those it is a prefix of, else
 * those one edit away (two for names over 4 bytes).
 * Writes "a", "a or b", "a, b or c" (each with prefix before it) into buf
 * and says which kind they are; GBCA_MEANT_NONE (buf empty) when none is. */
enum { GBCA_MEANT_NONE, GBCA_MEANT_PREFIX, GBCA_MEANT_NEAR };
int gbca_did_you_mean(const char *typed, size_t typed_len, const void *first, size_t n, size_t stride,
                       const char *prefix, char *buf, size_t len);

/* A whole decimal number in lo..hi (no sign, no spaces, no suffix). */
bool gbca_parse_uint(const char *s, unsigned lo, unsigned hi, unsigned *out);

/* After init and issue, as mkcert does: a line saying how to trust the CA in
 * caroot when the system bundle (what curl, Python's ssl and most programs
 * read) does not hold it yet. Nothing when --quiet, when it does, or when
 * there is no system store. */
void gbca_hint_trust(const char *caroot);

/* True if argv has -h or --help before any "--". */
bool gbca_wants_help(int argc, char **argv);

#endif
