/* The commands: one file each (src/cmd-*.c); only these decide exit codes. */
#ifndef GBCA_CMD_H
#define GBCA_CMD_H

#include <stdbool.h>

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

/* Shared by commands: prints "unknown option" etc. and returns GBCA_EXIT_USAGE. */
int gbca_usage_error(const char *cmd, const char *fmt, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 2, 3)))
#endif
	;

/* Reports the option getopt_long just rejected. */
int gbca_bad_option(const char *cmd, char **argv, int optopt_value);

/* A whole decimal number in lo..hi (no sign, no spaces, no suffix). */
bool gbca_parse_uint(const char *s, unsigned lo, unsigned hi, unsigned *out);

/* True if argv has -h or --help before any "--". */
bool gbca_wants_help(int argc, char **argv);

#endif
