/* A small p11-kit helper: load one PKCS#11 module with our own init string,
 * open a session on one token, and find, read, create and destroy objects. */
#ifndef GBCA_P11_H
#define GBCA_P11_H

#include <gbca/err.h>
#include <p11-kit/p11-kit.h>
#include <stdbool.h>
#include <stddef.h>

/* One loaded and initialised module with a session on one token. Zero it
 * (or let gbca_p11_open do so) before use; gbca_p11_close undoes any part. */
struct gbca_p11 {
	CK_FUNCTION_LIST *module;
	bool initialized;
	CK_SLOT_ID slot;
	CK_SESSION_HANDLE session;
	bool has_session;
	CK_FLAGS token_flags;        /* CK_TOKEN_INFO.flags of the token */
	CK_RV rv;                    /* the last PKCS#11 result, for callers that classify failures */
	const char *failed_call;     /* "C_Initialize", ... when rv came from a failed call */
};

/* Finds a module file: $env if set and non-empty (used as is), else name in
 * /usr/lib/<multiarch>/, /usr/lib/<multiarch>/nss/, /usr/lib64/, /usr/lib/ (and
 * their nss/), skipping files built for another architecture. False if none. */
bool gbca_p11_find_module(const char *name, const char *env, char *buf, size_t len);

/* Loads the module at path unmanaged (so pReserved reaches it as given),
 * calls C_Initialize with init as pReserved (NULL for none), finds the token
 * labelled token (NULL: the first token present) and opens a session, read-write if rw. On failure everything
 * is undone, p->rv / p->failed_call say what failed and err says it for the user. */
bool gbca_p11_open(struct gbca_p11 *p, const char *path, const char *init, const char *token,
                   bool rw, struct gbca_err *err);
/* Closes the session, calls C_Finalize and releases the module. Safe on a
 * zeroed or half-opened struct, and twice. */
void gbca_p11_close(struct gbca_p11 *p);

/* Every object matching tmpl; *out is allocated (free() it, also when *n is 0). */
bool gbca_p11_find(struct gbca_p11 *p, CK_ATTRIBUTE *tmpl, CK_ULONG n_tmpl,
                   CK_OBJECT_HANDLE **out, size_t *n, struct gbca_err *err);

/* One attribute's value, allocated with a NUL after it (free() it). A missing
 * attribute is an error. */
bool gbca_p11_get(struct gbca_p11 *p, CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_TYPE type,
                  unsigned char **value, size_t *len, struct gbca_err *err);

bool gbca_p11_create(struct gbca_p11 *p, CK_ATTRIBUTE *tmpl, CK_ULONG n_tmpl,
                     CK_OBJECT_HANDLE *obj, struct gbca_err *err);
bool gbca_p11_destroy(struct gbca_p11 *p, CK_OBJECT_HANDLE obj, struct gbca_err *err);

/* "CKR_DEVICE_ERROR", or "CKR 0x..." for codes without a name here. The
 * buffer-less form returns a static string, so use one per message. */
const char *gbca_p11_rv_name(CK_RV rv);

#endif
