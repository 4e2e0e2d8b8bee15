#ifndef CAAS_COPENSSL_SHIM_H
#define CAAS_COPENSSL_SHIM_H
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <openssl/pem.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>

/* Function-like macros of OpenSSL that Swift cannot import, as inline functions. */
static inline long caas_SSL_CTX_set_mode(SSL_CTX *ctx, long mode) { return SSL_CTX_set_mode(ctx, mode); }
static inline long caas_SSL_CTX_set_options(SSL_CTX *ctx, long options) { return SSL_CTX_set_options(ctx, options); }
static inline long caas_SSL_CTX_set_min_proto_version(SSL_CTX *ctx, int version) { return SSL_CTX_set_min_proto_version(ctx, version); }
static inline long caas_SSL_set_tlsext_host_name(SSL *ssl, const char *name) { return SSL_set_tlsext_host_name(ssl, name); }
static inline long caas_BIO_get_mem_data(BIO *bio, char **data) { return BIO_get_mem_data(bio, data); }
static inline int caas_BIO_pending(BIO *bio) { return (int)BIO_ctrl_pending(bio); }
static inline long caas_BIO_set_mem_eof_return(BIO *bio, long value) { return BIO_set_mem_eof_return(bio, value); }
static inline void caas_OPENSSL_free(void *pointer) { OPENSSL_free(pointer); }
static inline long caas_SSL_CTX_set_session_cache_mode(SSL_CTX *ctx, long mode) { return SSL_CTX_set_session_cache_mode(ctx, mode); }

/* Subject alternative names: the GENERAL_NAMES stack is typed through macros, so it is walked here. */
static inline GENERAL_NAMES *caas_X509_subject_alt_names(X509 *x509) {
    return (GENERAL_NAMES *)X509_get_ext_d2i(x509, NID_subject_alt_name, NULL, NULL);
}
static inline int caas_GENERAL_NAMES_count(const GENERAL_NAMES *names) { return sk_GENERAL_NAME_num(names); }
static inline GENERAL_NAME *caas_GENERAL_NAMES_value(const GENERAL_NAMES *names, int index) { return sk_GENERAL_NAME_value(names, index); }
static inline void caas_GENERAL_NAMES_free(GENERAL_NAMES *names) { GENERAL_NAMES_free(names); }
/* SSL_OP_* are built with a macro Swift cannot import; our standard options as one value. */
static inline long caas_SSL_CTX_set_standard_options(SSL_CTX *ctx, int serverPreference) {
    uint64_t options = SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION;
    if (serverPreference) options |= SSL_OP_CIPHER_SERVER_PREFERENCE;
    return (long)SSL_CTX_set_options(ctx, options);
}
/* Certificate authority (CaaSCrypto/CertificateAuthority): X509 stacks are typed through macros. */
static inline STACK_OF(X509) *caas_sk_X509_new_null(void) { return sk_X509_new_null(); }
static inline int caas_sk_X509_push(STACK_OF(X509) *stack, X509 *x509) { return sk_X509_push(stack, x509); }
static inline void caas_sk_X509_free(STACK_OF(X509) *stack) { sk_X509_free(stack); }
#endif
