/* Pieces of gbca up/down that uninstall and doctor share. */
#ifndef GBCA_UP_H
#define GBCA_UP_H

#include <stdbool.h>
#include <stddef.h>

/* /etc/systemd/system/gbca-serve.service, re-rooted under GBCA_SYSROOT. */
bool gbca_up_unit_path(char *buf, size_t len);

/* The running 'gbca serve' from CAROOT/serve.pid: its pid and command line
 * (NULs turned into spaces). False when there is none, or the pid now
 * belongs to a process that is not gbca. */
bool gbca_up_serve_pid(const char *caroot, long *pid, char *cmdline, size_t len);

/* Stops a foreground 'gbca serve' found through CAROOT/serve.pid (SIGTERM,
 * then waits for it to drain). True if one was running. */
bool gbca_up_stop_serve(const char *caroot, char *report, size_t len);

#endif
