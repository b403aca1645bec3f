/*
 * Handshake-only load client for `npm run bench` (bench only): full TLS 1.3 mutual-TLS handshakes,
 * no HTTP. Each of N forked workers loops for the given time:
 *   TCP connect -> SSL_connect (client certificate presented, server chain verified against the CA
 *   file, no session offered: every handshake is full) -> close_notify + FIN -> read until the
 *   server's own close_notify.
 * A handshake counts as good only when SSL_connect succeeded, the server's chain verified AND the
 * server answered our close_notify with its own (an orderly close): a server that refuses the
 * client after the handshake (Node's rejectUnauthorized, the connection gate) destroys the socket
 * without close_notify, which counts as an error here.
 * BENCH_ACCEPT_EOF=1 (variant (d), nginx): a plain TCP close after our close_notify counts as
 * orderly too. nginx never answers a close_notify with its own, and never refuses a client
 * certificate in the handshake (`ssl_verify_client on` answers a bad one with 400 at the HTTP
 * layer), so there the bench's probe request before the window is the acceptance check.
 *
 * Usage: handshake-client HOST PORT SECONDS WORKERS
 * Env:   BENCH_CLIENT_CERT (chain PEM), BENCH_CLIENT_KEY, BENCH_CA_FILE
 * Prints one line: BENCH_RESULT {json} in the same shape as bench/wrk/verify.lua's (requests =
 * attempts, responses = good handshakes, errors.connect/read/write/timeout, latency percentiles of
 * a good handshake including the orderly close).
 * SIGINT/SIGTERM end the run early (results are still printed).
 *
 * Built at bench time with the machine's C compiler; no OpenSSL headers needed: libssl is
 * dlopen()ed and the few symbols are resolved with dlsym().
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;
typedef struct ssl_method_st SSL_METHOD;

#define SSL_FILETYPE_PEM 1
#define SSL_VERIFY_PEER 1
#define SSL_CTRL_SET_SESS_CACHE_MODE 44
#define SSL_CTRL_SET_MIN_PROTO_VERSION 123
#define SSL_SESS_CACHE_OFF 0
#define TLS1_3_VERSION 0x0304
#define SSL_ERROR_ZERO_RETURN 6
#define SSL_OP_IGNORE_UNEXPECTED_EOF ((uint64_t)1 << 7)

static void *lib;
static void *sym(const char *name) {
  void *p = dlsym(lib, name);
  if (!p) {
    fprintf(stderr, "handshake-client: symbol %s not found\n", name);
    exit(2);
  }
  return p;
}

/* Latency histogram: 10 µs buckets up to 2 s (the rest goes into the last bucket). */
#define BUCKET_US 10
#define NBUCKETS 200000

struct stats {
  uint64_t attempts, good, connect_err, handshake_err, close_err, timeouts;
  uint64_t sum_us, max_us;
  char first_error[160];
};

static volatile sig_atomic_t stop_flag = 0;
static void on_signal(int s) {
  (void)s;
  stop_flag = 1;
}

static uint64_t now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + ts.tv_nsec / 1000;
}

static void note(struct stats *st, const char *what) {
  if (!st->first_error[0]) snprintf(st->first_error, sizeof st->first_error, "%s", what);
}

static void worker(int out_fd, const char *host, int port, double seconds) {
  SSL_METHOD *(*TLS_client_method)(void) = sym("TLS_client_method");
  SSL_CTX *(*SSL_CTX_new)(const SSL_METHOD *) = sym("SSL_CTX_new");
  long (*SSL_CTX_ctrl)(SSL_CTX *, int, long, void *) = sym("SSL_CTX_ctrl");
  int (*use_chain)(SSL_CTX *, const char *) = sym("SSL_CTX_use_certificate_chain_file");
  int (*use_key)(SSL_CTX *, const char *, int) = sym("SSL_CTX_use_PrivateKey_file");
  int (*load_verify)(SSL_CTX *, const char *, const char *) = sym("SSL_CTX_load_verify_locations");
  void (*set_verify)(SSL_CTX *, int, void *) = sym("SSL_CTX_set_verify");
  SSL *(*SSL_new)(SSL_CTX *) = sym("SSL_new");
  int (*SSL_set_fd)(SSL *, int) = sym("SSL_set_fd");
  int (*SSL_connect)(SSL *) = sym("SSL_connect");
  long (*SSL_get_verify_result)(const SSL *) = sym("SSL_get_verify_result");
  int (*SSL_shutdown)(SSL *) = sym("SSL_shutdown");
  int (*SSL_read)(SSL *, void *, int) = sym("SSL_read");
  int (*SSL_get_error)(const SSL *, int) = sym("SSL_get_error");
  void (*SSL_free)(SSL *) = sym("SSL_free");
  unsigned long (*ERR_get_error)(void) = sym("ERR_get_error");
  void (*ERR_error_string_n)(unsigned long, char *, size_t) = sym("ERR_error_string_n");

  struct stats st;
  memset(&st, 0, sizeof st);
  static uint32_t hist[NBUCKETS];
  memset(hist, 0, sizeof hist);

  SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
  const char *cert = getenv("BENCH_CLIENT_CERT"), *key = getenv("BENCH_CLIENT_KEY"), *ca = getenv("BENCH_CA_FILE");
  if (!ctx || !cert || !key || !ca || use_chain(ctx, cert) != 1 || use_key(ctx, key, SSL_FILETYPE_PEM) != 1 ||
      load_verify(ctx, ca, NULL) != 1) {
    fprintf(stderr, "handshake-client: cannot set up the client (BENCH_CLIENT_CERT, BENCH_CLIENT_KEY, BENCH_CA_FILE)\n");
    exit(2);
  }
  SSL_CTX_ctrl(ctx, SSL_CTRL_SET_MIN_PROTO_VERSION, TLS1_3_VERSION, NULL);
  SSL_CTX_ctrl(ctx, SSL_CTRL_SET_SESS_CACHE_MODE, SSL_SESS_CACHE_OFF, NULL);
  set_verify(ctx, SSL_VERIFY_PEER, NULL);
  const char *accept_eof = getenv("BENCH_ACCEPT_EOF");
  if (accept_eof && accept_eof[0] == '1') {
    uint64_t (*set_options)(SSL_CTX *, uint64_t) = sym("SSL_CTX_set_options");
    set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
  }

  struct sockaddr_in addr;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_port = htons((uint16_t)port);
  if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
    fprintf(stderr, "handshake-client: bad IPv4 address %s\n", host);
    exit(2);
  }
  const uint64_t deadline = now_us() + (uint64_t)(seconds * 1e6);
  char buf[4096], err[160];
  while (!stop_flag && now_us() < deadline) {
    uint64_t t0 = now_us();
    st.attempts++;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
      st.connect_err++;
      snprintf(err, sizeof err, "connect: %s", strerror(errno));
      note(&st, err);
      if (fd >= 0) close(fd);
      usleep(1000);
      continue;
    }
    SSL *ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    int rc = SSL_connect(ssl);
    if (rc != 1 || SSL_get_verify_result(ssl) != 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) st.timeouts++;
      else st.handshake_err++;
      unsigned long e = ERR_get_error();
      char es[120] = "";
      if (e) ERR_error_string_n(e, es, sizeof es);
      snprintf(err, sizeof err, "handshake: rc %d verify %ld %s", rc, SSL_get_verify_result(ssl), es);
      note(&st, err);
      while (ERR_get_error()) {}
      SSL_free(ssl);
      close(fd);
      continue;
    }
    /* Orderly close: our close_notify and FIN, then everything the server sends (its session
       tickets) up to its close_notify. */
    SSL_shutdown(ssl);
    shutdown(fd, SHUT_WR);
    int n, clean = 0;
    for (;;) {
      n = SSL_read(ssl, buf, sizeof buf);
      if (n > 0) continue;
      clean = SSL_get_error(ssl, n) == SSL_ERROR_ZERO_RETURN;
      break;
    }
    if (clean) {
      uint64_t us = now_us() - t0;
      st.good++;
      st.sum_us += us;
      if (us > st.max_us) st.max_us = us;
      uint64_t b = us / BUCKET_US;
      hist[b < NBUCKETS ? b : NBUCKETS - 1]++;
    } else {
      if (errno == EAGAIN || errno == EWOULDBLOCK) st.timeouts++;
      else st.close_err++;
      note(&st, "the server closed without close_notify (connection refused after the handshake?)");
    }
    while (ERR_get_error()) {}
    SSL_free(ssl);
    close(fd);
  }
  /* Report: the stats struct, then the non-empty buckets as (index, count) pairs, then (-1, 0). */
  if (write(out_fd, &st, sizeof st) != (ssize_t)sizeof st) exit(3);
  for (uint32_t i = 0; i < NBUCKETS; i++) {
    if (!hist[i]) continue;
    uint32_t pair[2] = {i, hist[i]};
    if (write(out_fd, pair, sizeof pair) != (ssize_t)sizeof pair) exit(3);
  }
  uint32_t end[2] = {0xffffffffu, 0};
  if (write(out_fd, end, sizeof end) != (ssize_t)sizeof end) exit(3);
  exit(0);
}

static int read_full(int fd, void *p, size_t n) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = read(fd, (char *)p + got, n - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return -1;
    got += (size_t)r;
  }
  return 0;
}

static uint64_t pct(const uint64_t *hist, uint64_t total, double p) {
  if (!total) return 0;
  uint64_t rank = (uint64_t)(p / 100.0 * (double)total);
  if (rank >= total) rank = total - 1;
  uint64_t seen = 0;
  for (uint32_t i = 0; i < NBUCKETS; i++) {
    seen += hist[i];
    if (seen > rank) return (uint64_t)i * BUCKET_US + BUCKET_US / 2;
  }
  return (uint64_t)NBUCKETS * BUCKET_US;
}

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: handshake-client HOST PORT SECONDS WORKERS\n");
    return 64;
  }
  const char *host = argv[1];
  int port = atoi(argv[2]);
  double seconds = atof(argv[3]);
  int workers = atoi(argv[4]);
  if (port <= 0 || seconds <= 0 || workers <= 0 || workers > 256) {
    fprintf(stderr, "handshake-client: bad arguments\n");
    return 64;
  }
  lib = dlopen("libssl.so.3", RTLD_NOW | RTLD_GLOBAL);
  if (!lib) lib = dlopen("libssl.so", RTLD_NOW | RTLD_GLOBAL);
  if (!lib) {
    fprintf(stderr, "handshake-client: cannot load libssl: %s\n", dlerror());
    return 2;
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);

  int fds[256];
  pid_t pids[256];
  for (int w = 0; w < workers; w++) {
    int p[2];
    if (pipe(p) != 0) return 2;
    pid_t pid = fork();
    if (pid < 0) return 2;
    if (pid == 0) {
      close(p[0]);
      worker(p[1], host, port, seconds);
    }
    close(p[1]);
    fds[w] = p[0];
    pids[w] = pid;
  }
  static uint64_t hist[NBUCKETS];
  struct stats total;
  memset(&total, 0, sizeof total);
  for (int w = 0; w < workers; w++) {
    struct stats st;
    while (read_full(fds[w], &st, sizeof st) != 0) {
      if (errno != EINTR) break;
    }
    total.attempts += st.attempts;
    total.good += st.good;
    total.connect_err += st.connect_err;
    total.handshake_err += st.handshake_err;
    total.close_err += st.close_err;
    total.timeouts += st.timeouts;
    total.sum_us += st.sum_us;
    if (st.max_us > total.max_us) total.max_us = st.max_us;
    if (!total.first_error[0] && st.first_error[0]) memcpy(total.first_error, st.first_error, sizeof total.first_error);
    for (;;) {
      uint32_t pair[2];
      if (read_full(fds[w], pair, sizeof pair) != 0 || pair[0] == 0xffffffffu) break;
      if (pair[0] < NBUCKETS) hist[pair[0]] += pair[1];
    }
    close(fds[w]);
  }
  for (int w = 0; w < workers; w++) waitpid(pids[w], NULL, 0);
  /* JSON-safe error sample. */
  for (char *c = total.first_error; *c; c++)
    if (*c == '"' || *c == '\\' || (unsigned char)*c < 0x20) *c = ' ';
  printf("BENCH_RESULT {\"durationUs\":%llu,\"requests\":%llu,\"bytes\":0,\"responses\":%llu,\"badStatus\":0,\"mismatches\":0,"
         "\"errors\":{\"connect\":%llu,\"read\":%llu,\"write\":%llu,\"status\":0,\"timeout\":%llu},"
         "\"latencyUs\":{\"p50\":%llu,\"p90\":%llu,\"p99\":%llu,\"max\":%llu,\"mean\":%.1f},\"sample\":\"%s\"}\n",
         (unsigned long long)(seconds * 1e6), (unsigned long long)total.attempts, (unsigned long long)total.good,
         (unsigned long long)total.connect_err, (unsigned long long)total.close_err, (unsigned long long)total.handshake_err,
         (unsigned long long)total.timeouts, (unsigned long long)pct(hist, total.good, 50), (unsigned long long)pct(hist, total.good, 90),
         (unsigned long long)pct(hist, total.good, 99), (unsigned long long)total.max_us,
         total.good ? (double)total.sum_us / (double)total.good : 0.0, total.first_error);
  fflush(stdout);
  return 0;
}
