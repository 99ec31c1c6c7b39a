/* The systemd unit that 'gbca up --service' installs (gbca-serve.service),
 * rendered with every value quoted per systemd.syntax(7). */
#ifndef GBCA_UNIT_H
#define GBCA_UNIT_H

#include <gbca/err.h>
#include <gbca/strbuf.h>
#include <stdbool.h>

/* Appends s as one double-quoted word: \ and " get a backslash, % becomes
 * %% (specifiers), and with exec also $ becomes $$ (ExecStart= expands
 * variables). A value with a control character (a newline would end the
 * directive) is refused: false, with err naming what and where. */
bool gbca_unit_quote(struct gbca_strbuf *b, const char *what, const char *s, bool exec, struct gbca_err *err);

/* The whole unit: Environment=GBCA_CAROOT=caroot, ExecStart=argv (argv[0]
 * is the absolute path of gbca), reload by SIGHUP. */
bool gbca_unit_render(struct gbca_strbuf *b, const char *caroot, const char *const *argv, struct gbca_err *err);

#endif
