/* gbca caroot: print where the CA lives. */
#include "config.h"
#include <gbca/cmd.h>
#include <gbca/path.h>

#include <limits.h>
#include <stdio.h>

int
gbca_cmd_caroot(int argc, char **argv)
{
	char dir[PATH_MAX];
	struct gbca_err err;

	if (gbca_wants_help(argc, argv)) {
		printf("usage: gbca caroot\n\n"
		       "Prints the folder that holds the CA (rootCA.pem, rootCA-key.pem, issued.log):\n"
		       "$GBCA_CAROOT, else $XDG_DATA_HOME/gbca, else ~/.local/share/gbca.\n");
		return GBCA_EXIT_OK;
	}
	if (argc > 1)
		return gbca_usage_error("caroot", "unexpected argument \"%s\"", argv[1]);
	if (!gbca_caroot(dir, sizeof(dir), &err)) {
		gbca_print_error("%s", err.msg);
		return GBCA_EXIT_FAIL;
	}
	printf("%s\n", dir);
	return GBCA_EXIT_OK;
}
