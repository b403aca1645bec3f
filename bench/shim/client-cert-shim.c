/*
 * LD_PRELOAD shim for wrk (bench only): wrk cannot present a client certificate on its own.
 *  - SSL_CTX_new: after the real call, install the client certificate chain and key named by
 *    BENCH_CLIENT_CERT / BENCH_CLIENT_KEY (PEM files). A failure aborts wrk: a run must never
 *    silently go out without a certificate.
 *  - SSL_clear: wrk reuses its SSL object for the next connection via SSL_clear(), which keeps
 *    the session for resumption. When BENCH_NO_RESUME=1 the shim drops it right after, so every
 *    connection is a full handshake (the server counts resumed sessions to prove it).
 * Built at bench time with the machine's C compiler: cc -shared -fPIC -o shim.so shim.c -ldl
 * No OpenSSL headers needed: the few symbols are resolved with dlsym().
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;
typedef struct ssl_method_st SSL_METHOD;
typedef struct ssl_session_st SSL_SESSION;

#define SSL_FILETYPE_PEM 1

static void *sym(const char *name, int next) {
  void *p = dlsym(next ? RTLD_NEXT : RTLD_DEFAULT, name);
  if (!p) {
    fprintf(stderr, "bench shim: symbol %s not found\n", name);
    abort();
  }
  return p;
}

SSL_CTX *SSL_CTX_new(const SSL_METHOD *method) {
  SSL_CTX *(*real)(const SSL_METHOD *) = (SSL_CTX * (*)(const SSL_METHOD *)) sym("SSL_CTX_new", 1);
  SSL_CTX *ctx = real(method);
  if (!ctx) return ctx;
  const char *cert = getenv("BENCH_CLIENT_CERT");
  const char *key = getenv("BENCH_CLIENT_KEY");
  if (!cert || !key) {
    fprintf(stderr, "bench shim: BENCH_CLIENT_CERT and BENCH_CLIENT_KEY must be set\n");
    abort();
  }
  int (*use_chain)(SSL_CTX *, const char *) = (int (*)(SSL_CTX *, const char *))sym("SSL_CTX_use_certificate_chain_file", 0);
  int (*use_key)(SSL_CTX *, const char *, int) = (int (*)(SSL_CTX *, const char *, int))sym("SSL_CTX_use_PrivateKey_file", 0);
  int (*check_key)(const SSL_CTX *) = (int (*)(const SSL_CTX *))sym("SSL_CTX_check_private_key", 0);
  if (use_chain(ctx, cert) != 1 || use_key(ctx, key, SSL_FILETYPE_PEM) != 1 || check_key(ctx) != 1) {
    fprintf(stderr, "bench shim: cannot load client certificate %s / key %s\n", cert, key);
    abort();
  }
  const char *marker = getenv("BENCH_SHIM_MARKER");
  if (marker) fprintf(stderr, "%s\n", marker);
  return ctx;
}

int SSL_clear(SSL *ssl) {
  static int (*real)(SSL *) = 0;
  static int (*set_session)(SSL *, SSL_SESSION *) = 0;
  static int no_resume = -1;
  if (!real) real = (int (*)(SSL *))sym("SSL_clear", 1);
  if (no_resume < 0) {
    const char *nr = getenv("BENCH_NO_RESUME");
    no_resume = nr && nr[0] == '1';
  }
  int rc = real(ssl);
  if (no_resume) {
    if (!set_session) set_session = (int (*)(SSL *, SSL_SESSION *))sym("SSL_set_session", 0);
    set_session(ssl, 0);
  }
  return rc;
}
