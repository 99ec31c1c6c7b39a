/* Where gbca keeps things: CAROOT and path helpers. */
#ifndef GBCA_PATH_H
#define GBCA_PATH_H

#include <gbca/err.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* $GBCA_CAROOT, else $XDG_DATA_HOME/gbca, else ~/.local/share/gbca. */
bool gbca_caroot(char *buf, size_t len, struct gbca_err *err);

/* buf = dir + "/" + name; fails rather than truncating. */
bool gbca_path_join(char *buf, size_t len, const char *dir, const char *name, struct gbca_err *err);

/* Creates dir and any missing parents; the last component gets mode,
 * parents 0755 (minus umask). An existing dir is left as it is. */
bool gbca_mkdir_p(const char *dir, mode_t mode, struct gbca_err *err);

/* Under sudo: we are root and SUDO_UID/SUDO_USER name the same existing user
 * (not root). Fills that user's ids and home (any of them may be NULL). */
bool gbca_sudo_user(uid_t *uid, gid_t *gid, char *home, size_t len);

/* Called once by main: under sudo with root's HOME (sudo's default), HOME
 * becomes the invoking user's and root's XDG_DATA_HOME, XDG_CONFIG_HOME and
 * ZDOTDIR are dropped, so CAROOT, rc files and NSS databases are the user's
 * ones, as they meant. sudo -E (HOME already theirs) changes nothing. */
void gbca_sudo_adopt_home(void);

/* Root's HOME before gbca_sudo_adopt_home changed it, else NULL: what the
 * programs gbca runs as root get. */
const char *gbca_root_home(void);

/* "user@host" for certificate subjects. */
void gbca_user_at_host(char *buf, size_t len);

/* Whether path can be opened for reading as a file; when not, err says
 * "couldn't read PATH: <system error>" (what GnuTLS's own load errors don't). */
bool gbca_path_readable(const char *path, struct gbca_err *err);

#endif
