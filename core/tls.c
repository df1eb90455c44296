/*
 * tls.c -- server TLS contexts and the quickstart's self-signed
 * certificate (OpenSSL 3).  Contexts are made once in the master and
 * shared by the workers after fork.
 *
 * Idle sessions must be cheap (thousands per worker): the context sets
 * SSL_MODE_RELEASE_BUFFERS so an SSL object without pending records
 * holds no read or write buffer.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "tls.h"

#define TLS_SESSION_CACHE	1024	/* TLS 1.2 resumptions kept */
#define TLS_SELFSIGNED_DAYS	3650

/* "what: the first OpenSSL error" into err. */
static void
tls_err(char *err, size_t errlen, const char *what)
{
	unsigned long	e = ERR_get_error();
	char		buf[256];

	if (e != 0) {
		ERR_error_string_n(e, buf, sizeof(buf));
		snprintf(err, errlen, "%s: %s", what, buf);
	} else
		snprintf(err, errlen, "%s", what);
	ERR_clear_error();
}

static int
tls_proto_parse(const char *s)
{
	if (s == NULL || *s == '\0' || strcmp(s, "TLSv1.2") == 0)
		return TLS1_2_VERSION;
	if (strcmp(s, "TLSv1.3") == 0)
		return TLS1_3_VERSION;
	return -1;
}

/* Extra chain certificates from a PEM file, in order. */
static int
tls_load_chain(SSL_CTX *ctx, const char *path, char *err, size_t errlen)
{
	FILE	*fp;
	X509	*x;
	int	 n = 0;

	if ((fp = fopen(path, "r")) == NULL) {
		snprintf(err, errlen, "%s: cannot open", path);
		return -1;
	}
	while ((x = PEM_read_X509(fp, NULL, NULL, NULL)) != NULL) {
		if (!SSL_CTX_add0_chain_cert(ctx, x)) {
			X509_free(x);
			fclose(fp);
			tls_err(err, errlen, path);
			return -1;
		}
		n++;
	}
	fclose(fp);
	ERR_clear_error();	/* the end of file reads as an error */
	if (n == 0) {
		snprintf(err, errlen, "%s: no certificate found", path);
		return -1;
	}
	return 0;
}

SSL_CTX *
tls_server_ctx(const char *cert, const char *key, const char *chain,
    const char *ciphers, const char *ciphersuites, const char *min_proto,
    char *err, size_t errlen)
{
	static const unsigned char	 sid_ctx[] = "kurir";
	SSL_CTX				*ctx;
	int				 minv;

	if ((minv = tls_proto_parse(min_proto)) == -1) {
		snprintf(err, errlen, "unknown TLS version \"%s\" (TLSv1.2 "
		    "or TLSv1.3)", min_proto);
		return NULL;
	}
	if (cert == NULL || *cert == '\0' || key == NULL || *key == '\0') {
		snprintf(err, errlen, "TLS needs a certificate and a key");
		return NULL;
	}
	ERR_clear_error();
	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL) {
		tls_err(err, errlen, "SSL_CTX_new");
		return NULL;
	}
	if (!SSL_CTX_set_min_proto_version(ctx, minv)) {
		tls_err(err, errlen, "minimum TLS version");
		goto out_free;
	}
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION |
	    SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
	    SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS |
	    SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof(sid_ctx) - 1);
	SSL_CTX_sess_set_cache_size(ctx, TLS_SESSION_CACHE);
	SSL_CTX_set_dh_auto(ctx, 1);
	if (ciphers != NULL && *ciphers != '\0' &&
	    !SSL_CTX_set_cipher_list(ctx, ciphers)) {
		tls_err(err, errlen, "tls_ciphers");
		goto out_free;
	}
	if (ciphersuites != NULL && *ciphersuites != '\0' &&
	    !SSL_CTX_set_ciphersuites(ctx, ciphersuites)) {
		tls_err(err, errlen, "tls_ciphersuites");
		goto out_free;
	}
	/* A cert file may carry its chain after the leaf. */
	if (!SSL_CTX_use_certificate_chain_file(ctx, cert)) {
		tls_err(err, errlen, cert);
		goto out_free;
	}
	if (chain != NULL && *chain != '\0' &&
	    tls_load_chain(ctx, chain, err, errlen) == -1)
		goto out_free;
	if (!SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM)) {
		tls_err(err, errlen, key);
		goto out_free;
	}
	if (!SSL_CTX_check_private_key(ctx)) {
		tls_err(err, errlen, "the key does not match the certificate");
		goto out_free;
	}
	return ctx;

out_free:
	SSL_CTX_free(ctx);
	return NULL;
}

/* ---- self-signed certificate --------------------------------------- */

static int
tls_add_ext(X509 *x, X509V3_CTX *v3, int nid, const char *value)
{
	X509_EXTENSION	*ext;
	int		 ok;

	if ((ext = X509V3_EXT_conf_nid(NULL, v3, nid, value)) == NULL)
		return 0;
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok;
}

static X509 *
tls_selfsigned_cert(EVP_PKEY *pk, const char *cn)
{
	X509		*x;
	X509_NAME	*name;
	X509V3_CTX	 v3;
	BIGNUM		*bn = NULL;
	unsigned char	 serial[16];
	char		 san[512];

	if ((x = X509_new()) == NULL)
		return NULL;
	if (!X509_set_version(x, X509_VERSION_3))
		goto out_free;
	if (RAND_bytes(serial, sizeof(serial)) != 1)
		goto out_free;
	serial[0] &= 0x7f;	/* positive */
	if ((bn = BN_bin2bn(serial, sizeof(serial), NULL)) == NULL ||
	    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) == NULL)
		goto out_free;
	if (X509_gmtime_adj(X509_getm_notBefore(x), -3600) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(x), TLS_SELFSIGNED_DAYS, 0,
	    NULL) == NULL)
		goto out_free;
	if (!X509_set_pubkey(x, pk))
		goto out_free;
	name = X509_get_subject_name(x);
	if (!X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
	    (const unsigned char *)cn, -1, -1, 0) ||
	    !X509_set_issuer_name(x, name))
		goto out_free;

	/* What `openssl req -x509` gives, plus names for local use: strict
	 * verifiers (Python 3.13) want key usage and key identifiers. */
	if (strcmp(cn, "localhost") == 0)
		snprintf(san, sizeof(san), "DNS:localhost,IP:127.0.0.1,"
		    "IP:::1");
	else
		snprintf(san, sizeof(san), "DNS:%s,DNS:localhost,"
		    "IP:127.0.0.1,IP:::1", cn);
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	if (!tls_add_ext(x, &v3, NID_basic_constraints, "critical,CA:TRUE") ||
	    !tls_add_ext(x, &v3, NID_key_usage,
	    "critical,digitalSignature,keyEncipherment,keyCertSign") ||
	    !tls_add_ext(x, &v3, NID_ext_key_usage, "serverAuth") ||
	    !tls_add_ext(x, &v3, NID_subject_key_identifier, "hash") ||
	    !tls_add_ext(x, &v3, NID_authority_key_identifier,
	    "keyid:always") ||
	    !tls_add_ext(x, &v3, NID_subject_alt_name, san))
		goto out_free;
	if (X509_sign(x, pk, EVP_sha256()) == 0)
		goto out_free;
	BN_free(bn);
	return x;

out_free:
	BN_free(bn);
	X509_free(x);
	return NULL;
}

/* Written next to the target and renamed into place; the key 0600. */
static int
tls_write_pem(const char *path, mode_t mode, EVP_PKEY *pk, X509 *x,
    char *err, size_t errlen)
{
	char	 tmp[4096];
	FILE	*fp;
	int	 fd, ok;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >=
	    sizeof(tmp)) {
		snprintf(err, errlen, "%s: path too long", path);
		return -1;
	}
	unlink(tmp);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    mode)) == -1) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		return -1;
	}
	fchmod(fd, mode);
	if ((fp = fdopen(fd, "w")) == NULL) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		close(fd);
		unlink(tmp);
		return -1;
	}
	if (pk != NULL)
		ok = PEM_write_PrivateKey(fp, pk, NULL, NULL, 0, NULL, NULL);
	else
		ok = PEM_write_X509(fp, x);
	if (fflush(fp) != 0 || fsync(fileno(fp)) != 0)
		ok = 0;
	if (fclose(fp) != 0)
		ok = 0;
	if (!ok || rename(tmp, path) == -1) {
		snprintf(err, errlen, "%s: cannot write", path);
		unlink(tmp);
		return -1;
	}
	return 0;
}

int
tls_make_selfsigned(const char *cert_path, const char *key_path,
    const char *cn, char *err, size_t errlen)
{
	EVP_PKEY	*pk;
	X509		*x;
	int		 rc = -1;

	if (cn == NULL || *cn == '\0')
		cn = "localhost";
	ERR_clear_error();
	/* EC P-256: fast to make and cheap in every handshake. */
	if ((pk = EVP_EC_gen("P-256")) == NULL) {
		tls_err(err, errlen, "key generation");
		return -1;
	}
	if ((x = tls_selfsigned_cert(pk, cn)) == NULL) {
		tls_err(err, errlen, "self-signed certificate");
		goto out_key;
	}
	if (tls_write_pem(key_path, 0600, pk, NULL, err, errlen) == -1 ||
	    tls_write_pem(cert_path, 0644, NULL, x, err, errlen) == -1)
		goto out_cert;
	rc = 0;

out_cert:
	X509_free(x);
out_key:
	EVP_PKEY_free(pk);
	return rc;
}
