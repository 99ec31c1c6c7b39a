/* gbca-serve.service: the unit 'gbca up --service' writes, every value
 * quoted so that no CAROOT, path or option can add or split a directive. */
#include "config.h"
#include <gbca/unit.h>

#include <string.h>

static bool
check_plain(const char *what, const char *s, struct gbca_err *err)
{
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return gbca_fail(err, "%s has a control character (byte %d at offset %zu), which a systemd unit can't hold: \"%s\"",
			                 what, (unsigned char)*p, (size_t)(p - s), s);
	return true;
}

/* The inside of a double-quoted word. */
static void
quote_body(struct gbca_strbuf *b, const char *s, bool exec)
{
	for (const char *p = s; *p; p++) {
		if (*p == '\\' || *p == '"')
			gbca_strbuf_str(b, "\\");
		else if (*p == '%')
			gbca_strbuf_str(b, "%");
		else if (*p == '$' && exec)
			gbca_strbuf_str(b, "$");
		gbca_strbuf_add(b, p, 1);
	}
}

bool
gbca_unit_quote(struct gbca_strbuf *b, const char *what, const char *s, bool exec, struct gbca_err *err)
{
	if (!check_plain(what, s, err))
		return false;
	gbca_strbuf_str(b, "\"");
	quote_body(b, s, exec);
	gbca_strbuf_str(b, "\"");
	return true;
}

bool
gbca_unit_render(struct gbca_strbuf *b, const char *caroot, const char *const *argv, struct gbca_err *err)
{
	bool bridge = false;

	if (!check_plain("CAROOT", caroot, err))
		return false;
	for (size_t i = 1; argv[i]; i++)
		bridge |= strncmp(argv[i], "--bridge", 8) == 0 && (argv[i][8] == '\0' || argv[i][8] == '=');
	gbca_strbuf_str(b, "# Written by 'gbca up --service'; removed by 'gbca uninstall'.\n"
	                   "[Unit]\nDescription=gbca TLS proxy for the Gemini API\nAfter=network.target");
	/* --bridge: docker0 exists once Docker has started (ordering only: no
	 * effect where Docker is not installed). */
	gbca_strbuf_str(b, bridge ? " docker.service\n\n[Service]\n" : "\n\n[Service]\n");
	/* The whole assignment is one quoted word, as systemd.exec(5) writes it. */
	gbca_strbuf_str(b, "Environment=\"GBCA_CAROOT=");
	quote_body(b, caroot, false);
	gbca_strbuf_str(b, "\"\nExecStart=");
	for (size_t i = 0; argv[i]; i++) {
		if (i)
			gbca_strbuf_str(b, " ");
		if (!gbca_unit_quote(b, i == 0 ? "gbca's own path" : "an option for serve", argv[i], true, err))
			return false;
	}
	/* The shell's own kill: /bin/kill (procps) is missing from minimal
	 * systems and containers, and systemctl reload then fails. */
	gbca_strbuf_str(b, "\nExecReload=/bin/sh -c \"kill -HUP ${MAINPID}\"\nRestart=on-failure\nTimeoutStopSec=40\n"
	                   "# SIGTERM to serve alone: it drains and stops its workers itself.\n"
	                   "KillMode=mixed\n"
	                   "# Two descriptors per client connection; serve fits --max-connections in it.\n"
	                   "LimitNOFILE=65536\n\n"
	                   "[Install]\nWantedBy=multi-user.target\n");
	if (b->oom)
		return gbca_fail(err, "out of memory");
	return true;
}
