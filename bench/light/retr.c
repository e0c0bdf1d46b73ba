// A light RETR client in C, for a cross-check of the RETR workload (bench/README.md, workload 2b).
// One thread per user. In mode "pass", passes as the verifying load generator runs them: connect, greeting, USER,
// PASS, LIST, then RETR 1, 2, ... n one at a time, QUIT; and again, until the time is up or `max` messages were
// retrieved. In mode "session", one login per thread, then RETR 1, 2, ... n, 1, 2, ... on that session (no login
// cost inside the window, as a client that keeps its connection would see it). Checked
// cheaply: every status line starts with "+OK"; LIST gives the message count and total octets the manifest has; each
// message's body, dot-unstuffed, has exactly the size LIST gave (a message failing that is a failure, not a message).
// Content is not checksummed (load.ts does that): this client only shows what a server does when its client costs
// next to nothing. Bounded: the duration and a count per thread between messages, 30 s per read (a server that
// trickles one message can hold a thread longer; bench/lib/light.ts kills the client 60 s after its duration).
//
//   cc -O2 -pthread -o retr bench/light/retr.c
//   retr PORT SECONDS MAX pass|session USER:PASS:COUNT:OCTETS ...    -> one line of JSON on stdout
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

enum { CAP = 1 << 20, MAX_MESSAGES = 1 << 20 };

static int port;
static double seconds;
static long max_per_thread;
static int one_session;
static double started;

typedef struct {
  const char *user, *pass;
  long expected_count;
  long long expected_octets;
  long long octets, messages;
  long failures;
  char sample[200];
} Job;

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

typedef struct {
  int fd;
  char *buf;
  size_t len;
} Conn;

// Reads more into the buffer; 0 on end of stream, error or timeout.
static int fill(Conn *c) {
  if (c->len == CAP) return 0;
  ssize_t n = read(c->fd, c->buf + c->len, CAP - c->len);
  if (n <= 0) return 0;
  c->len += (size_t)n;
  return 1;
}

static void consume(Conn *c, size_t n) {
  memmove(c->buf, c->buf + n, c->len - n);
  c->len -= n;
}

// The next line, without its CRLF, copied into `line`; 0 if the connection ended first.
static int read_line(Conn *c, char *line, size_t size) {
  for (;;) {
    char *end = memmem(c->buf, c->len, "\r\n", 2);
    if (end != NULL) {
      size_t n = (size_t)(end - c->buf);
      size_t k = n < size - 1 ? n : size - 1;
      memcpy(line, c->buf, k);
      line[k] = 0;
      consume(c, n + 2);
      return 1;
    }
    if (!fill(c)) return 0;
  }
}

static int send_line(Conn *c, const char *text) {
  size_t n = strlen(text);
  return send(c->fd, text, n, MSG_NOSIGNAL) == (ssize_t)n;
}

static void fail(Job *j, const char *what) {
  if (j->failures++ == 0) snprintf(j->sample, sizeof j->sample, "%s: %s", j->user, what);
}

// A multi-line body up to its terminator; the dot-unstuffed size, or -1 if the connection ended first.
static long long read_body(Conn *c) {
  long long size = 0;
  int at_line_start = 1;
  for (;;) {
    size_t i = 0;
    while (i < c->len) {
      if (at_line_start && c->buf[i] == '.') {
        if (i + 2 >= c->len) break;  // need the next two octets to tell the terminator from a stuffed dot
        if (c->buf[i + 1] == '\r' && c->buf[i + 2] == '\n') {
          consume(c, i + 3);
          return size;
        }
        i++;  // a stuffed dot: not part of the message
      }
      char *nl = memchr(c->buf + i, '\n', c->len - i);
      if (nl == NULL) {
        size += (long long)(c->len - i);
        i = c->len;
        at_line_start = 0;
        break;
      }
      size += (long long)(nl - (c->buf + i)) + 1;
      i = (size_t)(nl - c->buf) + 1;
      at_line_start = 1;
    }
    consume(c, i);
    if (!fill(c)) return -1;
  }
}

// Closes the connection after a failure, which is counted; -1.
static long given_up(Job *j, Conn *c, const char *what) {
  fail(j, what);
  if (c->fd >= 0) close(c->fd);
  c->fd = -1;
  return -1;
}

// Connects and logs in, then LIST into `sizes`; the message count, or -1 after a failure (counted, connection closed).
static long open_session(Job *j, Conn *c, long long *sizes) {
  char line[512], command[600];
  int one = 1;
  struct timeval timeout = {30, 0};
  struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  c->fd = socket(AF_INET, SOCK_STREAM, 0);
  c->len = 0;
  if (c->fd < 0) return given_up(j, c, "socket failed");
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  if (connect(c->fd, (struct sockaddr *)&to, sizeof to) != 0) return given_up(j, c, "connect failed");
  if (!read_line(c, line, sizeof line) || strncmp(line, "+OK", 3) != 0) return given_up(j, c, "no greeting");
  if (snprintf(command, sizeof command, "USER %s\r\n", j->user) >= (int)sizeof command) return given_up(j, c, "user name too long");
  if (!send_line(c, command) || !read_line(c, line, sizeof line) || strncmp(line, "+OK", 3) != 0) return given_up(j, c, "USER refused");
  if (snprintf(command, sizeof command, "PASS %s\r\n", j->pass) >= (int)sizeof command) return given_up(j, c, "password too long");
  if (!send_line(c, command) || !read_line(c, line, sizeof line) || strncmp(line, "+OK", 3) != 0) return given_up(j, c, "PASS refused");
  if (!send_line(c, "LIST\r\n") || !read_line(c, line, sizeof line) || strncmp(line, "+OK", 3) != 0) return given_up(j, c, "LIST refused");
  long count = 0;
  long long total = 0;
  for (;;) {
    if (!read_line(c, line, sizeof line)) return given_up(j, c, "LIST cut short");
    if (strcmp(line, ".") == 0) break;
    long n;
    long long size;
    if (sscanf(line, "%ld %lld", &n, &size) != 2 || n != count + 1 || count == MAX_MESSAGES) return given_up(j, c, "bad LIST line");
    sizes[count++] = size;
    total += size;
  }
  if (count != j->expected_count || total != j->expected_octets) return given_up(j, c, "LIST differs from the manifest");
  return count;
}

static void *run(void *arg) {
  Job *j = arg;
  Conn c = {-1, malloc(CAP), 0};
  long long *sizes = malloc(sizeof(long long) * MAX_MESSAGES);
  char line[512], command[600];
  long done = 0;
  if (c.buf == NULL || sizes == NULL) {
    fail(j, "out of memory");
    goto out;
  }
  while (done < max_per_thread && now() - started < seconds) {
    long count = open_session(j, &c, sizes);
    if (count < 0) break;
    for (long i = 0; count > 0 && (i < count || one_session) && done < max_per_thread && now() - started < seconds; i++, done++) {
      if (i == count) i = 0;
      snprintf(command, sizeof command, "RETR %ld\r\n", i + 1);
      if (!send_line(&c, command) || !read_line(&c, line, sizeof line)) {
        given_up(j, &c, "connection lost");
        goto out;
      }
      if (strncmp(line, "+OK", 3) != 0) {
        given_up(j, &c, "RETR refused");
        goto out;
      }
      long long size = read_body(&c);
      if (size < 0) {
        given_up(j, &c, "body cut short");
        goto out;
      }
      if (size != sizes[i]) {
        fail(j, "body size differs from LIST");
        continue;
      }
      j->octets += size;
      j->messages++;
    }
    if (!send_line(&c, "QUIT\r\n") || !read_line(&c, line, sizeof line) || strncmp(line, "+OK", 3) != 0) fail(j, "QUIT refused");
    close(c.fd);
    c.fd = -1;
    if (count == 0) break;  // an empty mailbox (as the manifest says): nothing to retrieve
  }
out:
  free(c.buf);
  free(sizes);
  return NULL;
}

int main(int argc, char **argv) {
  if (argc < 6 || (strcmp(argv[4], "pass") != 0 && strcmp(argv[4], "session") != 0)) {
    fprintf(stderr, "usage: %s PORT SECONDS MAX pass|session USER:PASS:COUNT:OCTETS ...\n", argv[0]);
    return 2;
  }
  port = atoi(argv[1]);
  seconds = atof(argv[2]);
  max_per_thread = atol(argv[3]);
  one_session = strcmp(argv[4], "session") == 0;
  int n = argc - 5;
  Job *jobs = calloc((size_t)n, sizeof(Job));
  pthread_t *threads = calloc((size_t)n, sizeof(pthread_t));
  for (int k = 0; k < n; k++) {
    // user:pass:count:octets, split from the right (a password may hold a colon)
    char *arg = argv[k + 5];
    char *c3 = strrchr(arg, ':');
    char *c2 = c3 == NULL ? NULL : memrchr(arg, ':', (size_t)(c3 - arg));
    char *c1 = c2 == NULL ? NULL : memchr(arg, ':', (size_t)(c2 - arg));
    if (c1 == NULL) {
      fprintf(stderr, "not USER:PASS:COUNT:OCTETS: %s\n", arg);
      return 2;
    }
    *c3 = 0;
    *c2 = 0;
    *c1 = 0;
    jobs[k].user = arg;
    jobs[k].pass = c1 + 1;
    jobs[k].expected_count = atol(c2 + 1);
    jobs[k].expected_octets = atoll(c3 + 1);
  }
  signal(SIGPIPE, SIG_IGN);
  started = now();
  for (int k = 0; k < n; k++) {
    if (pthread_create(&threads[k], NULL, run, &jobs[k]) != 0) {
      fprintf(stderr, "cannot start a thread\n");
      return 1;
    }
  }
  long long octets = 0, messages = 0;
  long failures = 0;
  const char *sample = "";
  for (int k = 0; k < n; k++) {
    pthread_join(threads[k], NULL);
    octets += jobs[k].octets;
    messages += jobs[k].messages;
    failures += jobs[k].failures;
    if (jobs[k].failures > 0 && sample[0] == 0) sample = jobs[k].sample;
  }
  double elapsed = now() - started;
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  double cpu = usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6 + usage.ru_stime.tv_sec + usage.ru_stime.tv_usec / 1e6;
  printf("{\"octets\":%lld,\"messages\":%lld,\"seconds\":%.3f,\"clientCpuSeconds\":%.3f,\"failures\":%ld,\"sample\":\"%s\"}\n",
         octets, messages, elapsed, cpu, failures, sample);
  return 0;
}
