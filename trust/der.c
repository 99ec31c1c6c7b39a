/* DER encodings that GnuTLS does not produce for us, through libtasn1 and the
 * ASN.1 module trust/gbca.asn (compiled to trust/gbca-asn1.c by asn1Parser). */
#include "config.h"
#include <gbca/der.h>

#include <libtasn1.h>
#include <stdlib.h>

extern const asn1_static_node gbca_asn1_tab[];

static asn1_node
definitions(struct gbca_err *err)
{
	static asn1_node defs;
	char msg[ASN1_MAX_ERROR_DESCRIPTION_SIZE];

	if (defs == NULL && asn1_array2tree(gbca_asn1_tab, &defs, msg) != ASN1_SUCCESS) {
		gbca_fail(err, "internal error: bad ASN.1 module: %s", msg);
		return NULL;
	}
	return defs;
}

bool
gbca_der_cert_serial(gnutls_x509_crt_t crt, gnutls_datum_t *out, struct gbca_err *err)
{
	unsigned char serial[64];
	size_t len = sizeof(serial);
	asn1_node defs = definitions(err), node = NULL;
	int size = 0, ret;

	if (defs == NULL)
		return false;
	if ((ret = gnutls_x509_crt_get_serial(crt, serial, &len)) < 0)
		return gbca_fail(err, "couldn't read the serial: %s", gnutls_strerror(ret));
	if (asn1_create_element(defs, "GBCA.CertificateSerialNumber", &node) != ASN1_SUCCESS)
		return gbca_fail(err, "internal error: no CertificateSerialNumber in the ASN.1 module");
	/* The serial bytes are already a big-endian two's-complement integer. */
	if (asn1_write_value(node, "", serial, (int)len) != ASN1_SUCCESS ||
	    asn1_der_coding(node, "", NULL, &size, NULL) != ASN1_MEM_ERROR) {
		asn1_delete_structure(&node);
		return gbca_fail(err, "couldn't encode the serial");
	}
	out->data = malloc((size_t)size);
	if (out->data == NULL) {
		asn1_delete_structure(&node);
		return gbca_fail(err, "out of memory");
	}
	ret = asn1_der_coding(node, "", out->data, &size, NULL);
	asn1_delete_structure(&node);
	if (ret != ASN1_SUCCESS) {
		free(out->data);
		out->data = NULL;
		return gbca_fail(err, "couldn't encode the serial");
	}
	out->size = (unsigned)size;
	return true;
}

/* DER-encodes node into a malloc'd datum and frees node. */
static bool
encode(asn1_node *node, gnutls_datum_t *out, struct gbca_err *err)
{
	int size = 0;

	out->data = NULL;
	if (asn1_der_coding(*node, "", NULL, &size, NULL) != ASN1_MEM_ERROR ||
	    (out->data = malloc((size_t)size)) == NULL ||
	    asn1_der_coding(*node, "", out->data, &size, NULL) != ASN1_SUCCESS) {
		free(out->data);
		out->data = NULL;
		asn1_delete_structure(node);
		return gbca_fail(err, "couldn't encode an ASN.1 value");
	}
	out->size = (unsigned)size;
	asn1_delete_structure(node);
	return true;
}

bool
gbca_der_eku_server_auth(gnutls_datum_t *oid, gnutls_datum_t *value, struct gbca_err *err)
{
	static const char ext_key_usage[] = "2.5.29.37";
	static const char server_auth[] = "1.3.6.1.5.5.7.3.1";
	asn1_node defs = definitions(err), node = NULL;
	gnutls_datum_t eku = { NULL, 0 };

	if (defs == NULL)
		return false;
	if (asn1_create_element(defs, "GBCA.ExtensionId", &node) != ASN1_SUCCESS ||
	    asn1_write_value(node, "", ext_key_usage, 1) != ASN1_SUCCESS) {
		asn1_delete_structure(&node);
		return gbca_fail(err, "internal error: can't build the extension id");
	}
	if (!encode(&node, oid, err))
		return false;
	if (asn1_create_element(defs, "GBCA.ExtKeyUsageSyntax", &node) != ASN1_SUCCESS ||
	    asn1_write_value(node, "", "NEW", 1) != ASN1_SUCCESS ||
	    asn1_write_value(node, "?LAST", server_auth, 1) != ASN1_SUCCESS ||
	    !encode(&node, &eku, err))
		goto fail;
	if (asn1_create_element(defs, "GBCA.Extension", &node) != ASN1_SUCCESS ||
	    asn1_write_value(node, "extnID", ext_key_usage, 1) != ASN1_SUCCESS ||
	    asn1_write_value(node, "critical", "TRUE", 1) != ASN1_SUCCESS ||
	    asn1_write_value(node, "extnValue", eku.data, (int)eku.size) != ASN1_SUCCESS ||
	    !encode(&node, value, err))
		goto fail;
	free(eku.data);
	return true;
fail:
	asn1_delete_structure(&node);
	free(eku.data);
	free(oid->data);
	oid->data = NULL;
	return gbca_fail(err, "internal error: can't build the extKeyUsage extension");
}
