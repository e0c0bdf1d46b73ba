// A light RETR client in C, for a cross-check of the RETR workload (bench/README.md, "RETR with a light client").
// One thread per user: greeting, USER, PASS, LIST (the size of every message), then RETR 1, 2, ... n, 1, 2, ...
// one at a time until the time is up or `max` messages were retrieved, then QUIT. Each reply is checked cheaply:
// its status line starts with "+OK" and its body, dot-unstuffed, has exactly the size LIST gave. Content is not
// checksummed (the verifying load generator in load.ts does that); this client only shows what a server does when
// its client costs next to nothing. Bounded: the duration, a count per connection, 30 s per read.
//
//   cc -O2 -pthread -o retr bench/light/retr.c
//   retr PORT SECONDS MAX USER:PASS ...    -> one line of JSON on stdout
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
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
static long max_per_connection;
static double started;

typedef struct {
  const char *user, *pass;
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
  return write(c->fd, text, n) == (ssize_t)n;
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

static void *run(void *arg) {
  Job *j = arg;
  Conn c = {socket(AF_INET, SOCK_STREAM, 0), malloc(CAP), 0};
  int one = 1;
  struct timeval timeout = {30, 0};
  setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  setsockopt(c.fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  long long *sizes = malloc(sizeof(long long) * MAX_MESSAGES);
  char line[512], command[600];
  if (connect(c.fd, (struct sockaddr *)&to, sizeof to) != 0) return fail(j, "connect failed"), NULL;
  if (!read_line(&c, line, sizeof line) || strncmp(line, "+OK", 3) != 0) return fail(j, "no greeting"), NULL;
  snprintf(command, sizeof command, "USER %s\r\n", j->user);
  if (!send_line(&c, command) || !read_line(&c, line, sizeof line) || strncmp(line, "+OK", 3) != 0) return fail(j, "USER refused"), NULL;
  snprintf(command, sizeof command, "PASS %s\r\n", j->pass);
  if (!send_line(&c, command) || !read_line(&c, line, sizeof line) || strncmp(line, "+OK", 3) != 0) return fail(j, "PASS refused"), NULL;
  if (!send_line(&c, "LIST\r\n") || !read_line(&c, line, sizeof line) || strncmp(line, "+OK", 3) != 0) return fail(j, "LIST refused"), NULL;
  long count = 0;
  for (;;) {
    if (!read_line(&c, line, sizeof line)) return fail(j, "LIST cut short"), NULL;
    if (strcmp(line, ".") == 0) break;
    long n;
    long long size;
    if (sscanf(line, "%ld %lld", &n, &size) != 2 || n != count + 1 || count == MAX_MESSAGES) return fail(j, "bad LIST line"), NULL;
    sizes[count++] = size;
  }
  if (count == 0) return fail(j, "empty mailbox"), NULL;
  for (long i = 0; j->messages < max_per_connection && now() - started < seconds; i = (i + 1) % count) {
    snprintf(command, sizeof command, "RETR %ld\r\n", i + 1);
    if (!send_line(&c, command) || !read_line(&c, line, sizeof line)) return fail(j, "connection lost"), NULL;
    if (strncmp(line, "+OK", 3) != 0) return fail(j, "RETR refused"), NULL;
    long long size = read_body(&c);
    if (size < 0) return fail(j, "body cut short"), NULL;
    if (size != sizes[i]) fail(j, "body size differs from LIST");
    j->octets += size;
    j->messages++;
  }
  send_line(&c, "QUIT\r\n");
  read_line(&c, line, sizeof line);
  close(c.fd);
  free(c.buf);
  free(sizes);
  return NULL;
}

int main(int argc, char **argv) {
  if (argc < 5) {
    fprintf(stderr, "usage: %s PORT SECONDS MAX USER:PASS ...\n", argv[0]);
    return 2;
  }
  port = atoi(argv[1]);
  seconds = atof(argv[2]);
  max_per_connection = atol(argv[3]);
  int n = argc - 4;
  Job *jobs = calloc((size_t)n, sizeof(Job));
  pthread_t *threads = calloc((size_t)n, sizeof(pthread_t));
  for (int k = 0; k < n; k++) {
    char *colon = strchr(argv[k + 4], ':');
    if (colon == NULL) return 2;
    *colon = 0;
    jobs[k].user = argv[k + 4];
    jobs[k].pass = colon + 1;
  }
  started = now();
  for (int k = 0; k < n; k++) pthread_create(&threads[k], NULL, run, &jobs[k]);
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
