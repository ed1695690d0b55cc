/*
 * churn: makes short TCP connections on loopback as fast as it can, for bench/tracer.
 * A server thread accepts and closes at once (the server sends the first FIN, as a server that
 * answers Connection: close does); a client thread keeps CONC connects in flight, reads to EOF and
 * closes. Prints "closes SECONDS" when done. No HTTP: the point is the kernel's state changes.
 *   churn PORT SECONDS [CONC]
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int port, conc = 64;
static double seconds;
static volatile int stop;
static long closes;

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

static void *serve(void *arg) {
  int lfd = *(int *)arg;
  while (!stop) {
    int fd = accept4(lfd, NULL, NULL, 0);
    if (fd >= 0) close(fd);
  }
  return NULL;
}

static int dial(int ep) {
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (fd < 0) return -1;
  if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0 && errno != EINPROGRESS) {
    close(fd);
    return -1;
  }
  struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.fd = fd};
  epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
  return fd;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: churn PORT SECONDS [CONC]\n");
    return 2;
  }
  port = atoi(argv[1]);
  seconds = atof(argv[2]);
  if (argc > 3) conc = atoi(argv[3]);
  int lfd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(lfd, (struct sockaddr *)&a, sizeof a) < 0 || listen(lfd, 4096) < 0) {
    perror("listen");
    return 1;
  }
  pthread_t t;
  pthread_create(&t, NULL, serve, &lfd);
  int ep = epoll_create1(0);
  for (int i = 0; i < conc; i++) dial(ep);
  struct epoll_event evs[256];
  double start = now(), end = start + seconds;
  char buf[64];
  while (now() < end) {
    int n = epoll_wait(ep, evs, 256, 100);
    for (int i = 0; i < n; i++) {
      int fd = evs[i].data.fd;
      if (read(fd, buf, sizeof buf) > 0) continue;
      close(fd);
      closes++;
      dial(ep);
    }
  }
  double took = now() - start;
  stop = 1;
  shutdown(lfd, SHUT_RDWR);
  printf("%ld %.3f\n", closes, took);
  return 0;
}
