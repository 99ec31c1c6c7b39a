/* p11-kit plumbing for the trust stores: load a PKCS#11 module with our own
 * init string, open a session on one token, find/read/create/destroy objects. */
#include "config.h"
#include <gbca/p11.h>

#include <assert.h>
#include <elf.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *
gbca_p11_rv_name(CK_RV rv)
{
	static const struct {
		CK_RV rv;
		const char *name;
	} names[] = {
		{ CKR_OK, "CKR_OK" },
		{ CKR_HOST_MEMORY, "CKR_HOST_MEMORY" },
		{ CKR_GENERAL_ERROR, "CKR_GENERAL_ERROR" },
		{ CKR_FUNCTION_FAILED, "CKR_FUNCTION_FAILED" },
		{ CKR_ARGUMENTS_BAD, "CKR_ARGUMENTS_BAD" },
		{ CKR_ATTRIBUTE_TYPE_INVALID, "CKR_ATTRIBUTE_TYPE_INVALID" },
		{ CKR_ATTRIBUTE_VALUE_INVALID, "CKR_ATTRIBUTE_VALUE_INVALID" },
		{ CKR_DEVICE_ERROR, "CKR_DEVICE_ERROR" },
		{ CKR_DEVICE_MEMORY, "CKR_DEVICE_MEMORY" },
		{ CKR_DEVICE_REMOVED, "CKR_DEVICE_REMOVED" },
		{ CKR_OBJECT_HANDLE_INVALID, "CKR_OBJECT_HANDLE_INVALID" },
		{ CKR_SESSION_HANDLE_INVALID, "CKR_SESSION_HANDLE_INVALID" },
		{ CKR_SESSION_READ_ONLY, "CKR_SESSION_READ_ONLY" },
		{ CKR_TEMPLATE_INCOMPLETE, "CKR_TEMPLATE_INCOMPLETE" },
		{ CKR_TEMPLATE_INCONSISTENT, "CKR_TEMPLATE_INCONSISTENT" },
		{ CKR_TOKEN_NOT_PRESENT, "CKR_TOKEN_NOT_PRESENT" },
		{ CKR_TOKEN_NOT_RECOGNIZED, "CKR_TOKEN_NOT_RECOGNIZED" },
		{ CKR_TOKEN_WRITE_PROTECTED, "CKR_TOKEN_WRITE_PROTECTED" },
		{ CKR_USER_NOT_LOGGED_IN, "CKR_USER_NOT_LOGGED_IN" },
		{ CKR_CRYPTOKI_NOT_INITIALIZED, "CKR_CRYPTOKI_NOT_INITIALIZED" },
		{ CKR_CRYPTOKI_ALREADY_INITIALIZED, "CKR_CRYPTOKI_ALREADY_INITIALIZED" },
		/* NSS vendor codes (pkcs11n.h; p11-kit does not name them) */
		{ 0xCE534351UL, "CKR_NSS_CERTDB_FAILED" },
		{ 0xCE534352UL, "CKR_NSS_KEYDB_FAILED" },
	};
	static char other[32];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].rv == rv)
			return names[i].name;
	snprintf(other, sizeof(other), "CKR 0x%lx", (unsigned long)rv);
	return other;
}

static bool
call_failed(struct gbca_p11 *p, const char *call, CK_RV rv, struct gbca_err *err)
{
	p->rv = rv;
	p->failed_call = call;
	return gbca_fail(err, "%s failed: %s", call, gbca_p11_rv_name(rv));
}

/* The ELF class and machine of a file, to skip modules of another
 * architecture (an i386 libsoftokn3.so beside the amd64 one). */
static bool
elf_id(const char *path, unsigned char *cls, unsigned *machine)
{
	unsigned char h[20];
	FILE *f = fopen(path, "rb");
	size_t n;

	if (f == NULL)
		return false;
	n = fread(h, 1, sizeof(h), f);
	fclose(f);
	if (n < sizeof(h) || memcmp(h, ELFMAG, SELFMAG) != 0)
		return false;
	*cls = h[EI_CLASS];
	/* e_machine follows e_ident, e_type; read in the file's byte order */
	*machine = h[EI_DATA] == ELFDATA2MSB ? (unsigned)(h[18] << 8 | h[19]) : (unsigned)(h[19] << 8 | h[18]);
	return true;
}

bool
gbca_p11_find_module(const char *name, const char *env, char *buf, size_t len)
{
	static const char *const dirs[] = {
		"/usr/lib/*-linux-gnu*", "/usr/lib/*-linux-gnu*/nss",
		"/usr/lib64", "/usr/lib64/nss",
		"/usr/lib", "/usr/lib/nss",
		"/lib/*-linux-gnu*", "/lib64",
	};
	const char *v = env ? getenv(env) : NULL;
	unsigned char self_cls = 0;
	unsigned self_machine = 0;
	bool found = false;

	if (v != NULL && v[0] != '\0') {
		int n = snprintf(buf, len, "%s", v);
		return n >= 0 && (size_t)n < len;
	}
	if (!elf_id("/proc/self/exe", &self_cls, &self_machine))
		self_cls = 0;   /* unknown: take the first file found */
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]) && !found; i++) {
		char pattern[256];
		glob_t g;

		snprintf(pattern, sizeof(pattern), "%s/%s", dirs[i], name);
		if (glob(pattern, 0, NULL, &g) != 0)
			continue;
		for (size_t j = 0; j < g.gl_pathc && !found; j++) {
			unsigned char cls;
			unsigned machine;
			int n;

			if (self_cls != 0 && (!elf_id(g.gl_pathv[j], &cls, &machine) ||
			                      cls != self_cls || machine != self_machine))
				continue;
			n = snprintf(buf, len, "%s", g.gl_pathv[j]);
			found = n >= 0 && (size_t)n < len;
		}
		globfree(&g);
	}
	return found;
}

/* A token label is blank-padded to 32 bytes. */
static bool
label_is(const CK_UTF8CHAR *label, size_t size, const char *want)
{
	size_t n = strlen(want);

	if (n > size || memcmp(label, want, n) != 0)
		return false;
	for (; n < size; n++)
		if (label[n] != ' ' && label[n] != '\0')
			return false;
	return true;
}

static bool
find_token(struct gbca_p11 *p, const char *token, struct gbca_err *err)
{
	CK_SLOT_ID *slots = NULL;
	CK_ULONG n = 0;
	CK_RV rv;

	if ((rv = p->module->C_GetSlotList(CK_TRUE, NULL, &n)) != CKR_OK)
		return call_failed(p, "C_GetSlotList", rv, err);
	if (n > 0 && (slots = calloc(n, sizeof(*slots))) == NULL)
		return gbca_fail(err, "out of memory");
	if (n > 0 && (rv = p->module->C_GetSlotList(CK_TRUE, slots, &n)) != CKR_OK) {
		free(slots);
		return call_failed(p, "C_GetSlotList", rv, err);
	}
	for (CK_ULONG i = 0; i < n; i++) {
		CK_TOKEN_INFO info;
		if (p->module->C_GetTokenInfo(slots[i], &info) == CKR_OK &&
		    (token == NULL || label_is(info.label, sizeof(info.label), token))) {
			p->slot = slots[i];
			p->token_flags = info.flags;
			free(slots);
			return true;
		}
	}
	free(slots);
	p->rv = CKR_TOKEN_NOT_PRESENT;
	p->failed_call = "C_GetTokenInfo";
	return token ? gbca_fail(err, "no token \"%s\"", token) : gbca_fail(err, "the module has no token");
}

bool
gbca_p11_open(struct gbca_p11 *p, const char *path, const char *init, const char *token,
              bool rw, struct gbca_err *err)
{
	CK_C_INITIALIZE_ARGS args;
	CK_FLAGS flags = CKF_SERIAL_SESSION | (rw ? CKF_RW_SESSION : 0);
	CK_RV rv;

	memset(p, 0, sizeof(*p));
	/* Unmanaged: a managed module gets p11-kit's own C_Initialize arguments,
	 * and ours (pReserved) would never reach it. */
	p->module = p11_kit_module_load(path, P11_KIT_MODULE_UNMANAGED);
	if (p->module == NULL) {
		const char *why = p11_kit_message();
		p->rv = CKR_GENERAL_ERROR;
		p->failed_call = "p11_kit_module_load";
		/* p11-kit's message names the file and gives dlerror() */
		return why ? gbca_fail(err, "%s", why) : gbca_fail(err, "couldn't load %s", path);
	}
	memset(&args, 0, sizeof(args));
	args.flags = CKF_OS_LOCKING_OK;
	args.pReserved = (void *)init;
	if ((rv = p->module->C_Initialize(&args)) != CKR_OK) {
		call_failed(p, "C_Initialize", rv, err);
		gbca_p11_close(p);
		return false;
	}
	p->initialized = true;
	if (!find_token(p, token, err))
		goto fail;
	if ((rv = p->module->C_OpenSession(p->slot, flags, NULL, NULL, &p->session)) != CKR_OK) {
		call_failed(p, "C_OpenSession", rv, err);
		goto fail;
	}
	p->has_session = true;
	p->rv = CKR_OK;
	return true;
fail:
	gbca_p11_close(p);   /* keeps p->rv and p->failed_call */
	return false;
}

void
gbca_p11_close(struct gbca_p11 *p)
{
	if (p->module == NULL)
		return;
	if (p->has_session)
		p->module->C_CloseSession(p->session);
	if (p->initialized)
		p->module->C_Finalize(NULL);
	p11_kit_module_release(p->module);
	p->module = NULL;
	p->has_session = false;
	p->initialized = false;
}

bool
gbca_p11_find(struct gbca_p11 *p, CK_ATTRIBUTE *tmpl, CK_ULONG n_tmpl,
              CK_OBJECT_HANDLE **out, size_t *n, struct gbca_err *err)
{
	CK_OBJECT_HANDLE *all = NULL;
	size_t cap = 0, used = 0;
	CK_RV rv, frv;

	assert(p->has_session);
	*out = NULL;
	*n = 0;
	if ((rv = p->module->C_FindObjectsInit(p->session, tmpl, n_tmpl)) != CKR_OK)
		return call_failed(p, "C_FindObjectsInit", rv, err);
	for (;;) {
		CK_ULONG got = 0;
		if (used == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			CK_OBJECT_HANDLE *grown = realloc(all, ncap * sizeof(*all));
			if (grown == NULL) {
				rv = CKR_HOST_MEMORY;
				break;
			}
			all = grown;
			cap = ncap;
		}
		rv = p->module->C_FindObjects(p->session, all + used, (CK_ULONG)(cap - used), &got);
		if (rv != CKR_OK || got == 0)
			break;
		used += got;
	}
	frv = p->module->C_FindObjectsFinal(p->session);
	if (rv == CKR_OK)
		rv = frv;
	if (rv != CKR_OK) {
		free(all);
		return call_failed(p, "C_FindObjects", rv, err);
	}
	*out = all;
	*n = used;
	return true;
}

bool
gbca_p11_get(struct gbca_p11 *p, CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_TYPE type,
             unsigned char **value, size_t *len, struct gbca_err *err)
{
	CK_ATTRIBUTE a = { type, NULL, 0 };
	CK_RV rv;

	assert(p->has_session);
	*value = NULL;
	*len = 0;
	if ((rv = p->module->C_GetAttributeValue(p->session, obj, &a, 1)) != CKR_OK)
		return call_failed(p, "C_GetAttributeValue", rv, err);
	if (a.ulValueLen == (CK_ULONG)-1)
		return call_failed(p, "C_GetAttributeValue", CKR_ATTRIBUTE_TYPE_INVALID, err);
	if ((a.pValue = malloc(a.ulValueLen + 1)) == NULL)
		return gbca_fail(err, "out of memory");
	if ((rv = p->module->C_GetAttributeValue(p->session, obj, &a, 1)) != CKR_OK) {
		free(a.pValue);
		return call_failed(p, "C_GetAttributeValue", rv, err);
	}
	((unsigned char *)a.pValue)[a.ulValueLen] = '\0';
	*value = a.pValue;
	*len = a.ulValueLen;
	return true;
}

bool
gbca_p11_create(struct gbca_p11 *p, CK_ATTRIBUTE *tmpl, CK_ULONG n_tmpl,
                CK_OBJECT_HANDLE *obj, struct gbca_err *err)
{
	CK_RV rv;

	assert(p->has_session);
	if ((rv = p->module->C_CreateObject(p->session, tmpl, n_tmpl, obj)) != CKR_OK)
		return call_failed(p, "C_CreateObject", rv, err);
	return true;
}

bool
gbca_p11_destroy(struct gbca_p11 *p, CK_OBJECT_HANDLE obj, struct gbca_err *err)
{
	CK_RV rv;

	assert(p->has_session);
	if ((rv = p->module->C_DestroyObject(p->session, obj)) != CKR_OK)
		return call_failed(p, "C_DestroyObject", rv, err);
	return true;
}
