/*
 * kal-sockdiag [--count] PORT: the TCP sockets (IPv4 and IPv6, every state but LISTEN) whose local or
 * remote port is PORT, read from the kernel's socket-diagnostics interface (netlink sock_diag)
 * with the port filter run in the kernel, as `ss` does, but printed in a compact form with no
 * column alignment: with 50,000 TIME_WAIT sockets ss spends most of its time formatting.
 *
 * One line per socket:  STATE EXPIRES_MS LPORT RPORT LADDR RADDR
 *   STATE      the kernel's state number (1 ESTABLISHED ... 6 TIME_WAIT ... 11 CLOSING)
 *   EXPIRES_MS time left on the socket's timer (the TIME_WAIT timer for state 6), else 0
 *   LADDR/RADDR the address words in hex, as the kernel holds them (one word for IPv4)
 * With --count it prints only the totals per side instead, two lines of 17 numbers:
 *   server|client  COUNT_BY_STATE[1..11]  TIME_WAIT_BY_SECONDS_LEFT[0-10, 10-20, ..., 50-60]
 * where the server's sockets have PORT locally and the client's have it as the remote port.
 * Reads the network namespace it runs in (use nsenter for another). Exit 2 on any error.
 *
 * kal-sockdiag --serve: the same, for a sampler that asks every second: one command per line on
 * stdin, "count PORT" or "list PORT", each answered as above and then a line "end"; it exits when
 * stdin closes (its sampler is gone). Starting a process per sample cost the sampler a few
 * milliseconds of CPU each time, on a machine whose CPUs the load and the target need.
 */
#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define TCP_LISTEN 10
#define ALL_BUT_LISTEN (0xfff & ~(1u << TCP_LISTEN))

static char out[1 << 16];
static size_t used;
static int count_only;
static unsigned long counts[2][12 + 6]; /* [server, client][state 0..11, then 6 TIME_WAIT buckets] */

static void flush_out(void) {
  if (used && fwrite(out, 1, used, stdout) != used) exit(2);
  used = 0;
}

static int dump(int family, unsigned port, int quiet) {
  int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  if (fd < 0) {
    if (!quiet) perror("kal-sockdiag: socket");
    return -1;
  }
  /* (sport == port) || (dport == port), laid out as ss compiles an OR (the kernel's audit only
   * accepts jump targets it can reach along the `yes` chain): each EQ op is followed by an op whose
   * `no` holds the port; a match goes on (yes = 8), a miss skips 12 bytes. After the first test a
   * JMP, always taken as `no`, carries a match to the end (accept); a miss of the second test
   * jumps past the end (reject). */
  struct inet_diag_bc_op bc[5] = {
      {INET_DIAG_BC_S_EQ, 8, 12}, {0, 0, (unsigned short)port}, {INET_DIAG_BC_JMP, 4, 12},
      {INET_DIAG_BC_D_EQ, 8, 12}, {0, 0, (unsigned short)port},
  };
  struct {
    struct nlmsghdr nlh;
    struct inet_diag_req_v2 req;
    struct nlattr attr;
    struct inet_diag_bc_op bc[5];
  } msg;
  memset(&msg, 0, sizeof msg);
  msg.nlh.nlmsg_len = sizeof msg;
  msg.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  msg.nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  msg.req.sdiag_family = family;
  msg.req.sdiag_protocol = IPPROTO_TCP;
  msg.req.idiag_states = ALL_BUT_LISTEN;
  msg.attr.nla_len = sizeof msg.attr + sizeof bc;
  msg.attr.nla_type = INET_DIAG_REQ_BYTECODE;
  memcpy(msg.bc, bc, sizeof bc);
  struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
  if (sendto(fd, &msg, sizeof msg, 0, (struct sockaddr *)&kernel, sizeof kernel) < 0) {
    perror("kal-sockdiag: sendto");
    close(fd);
    return -1;
  }
  static char buf[1 << 20];
  for (;;) {
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      perror("kal-sockdiag: recv");
      close(fd);
      return -1;
    }
    for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
      if (h->nlmsg_type == NLMSG_DONE) {
        close(fd);
        return 0;
      }
      if (h->nlmsg_type == NLMSG_ERROR) {
        struct nlmsgerr *e = NLMSG_DATA(h);
        errno = -e->error;
        if (!quiet) perror("kal-sockdiag: netlink");
        close(fd);
        return -1;
      }
      struct inet_diag_msg *m = NLMSG_DATA(h);
      if (count_only) {
        unsigned lport = ntohs(m->id.idiag_sport), rport = ntohs(m->id.idiag_dport);
        int side = lport == port ? 0 : rport == port ? 1 : -1;
        if (side < 0 || m->idiag_state > 11) continue;
        counts[side][m->idiag_state]++;
        if (m->idiag_state == 6) {
          unsigned bucket = m->idiag_expires / 10000;
          counts[side][12 + (bucket > 5 ? 5 : bucket)]++;
        }
        continue;
      }
      if (used > sizeof out - 160) flush_out();
      const unsigned *s = m->id.idiag_src, *d = m->id.idiag_dst;
      if (family == AF_INET)
        used += snprintf(out + used, sizeof out - used, "%u %u %u %u %08x %08x\n", m->idiag_state,
                         m->idiag_expires, ntohs(m->id.idiag_sport), ntohs(m->id.idiag_dport), s[0], d[0]);
      else
        used += snprintf(out + used, sizeof out - used, "%u %u %u %u %08x%08x%08x%08x %08x%08x%08x%08x\n",
                         m->idiag_state, m->idiag_expires, ntohs(m->id.idiag_sport),
                         ntohs(m->id.idiag_dport), s[0], s[1], s[2], s[3], d[0], d[1], d[2], d[3]);
    }
  }
}

/* One answer: the table (or its counts) for PORT; 0, or -1 on an error already said. */
static int answer(unsigned long port) {
  memset(counts, 0, sizeof counts);
  used = 0;
  if (dump(AF_INET, (unsigned)port, 0) < 0) return -1;
  /* A kernel without IPv6 answers with an error for AF_INET6; that is not a failure. */
  dump(AF_INET6, (unsigned)port, 1);
  if (count_only) {
    static const char *names[2] = {"server", "client"};
    for (int side = 0; side < 2; side++) {
      used += snprintf(out + used, sizeof out - used, "%s", names[side]);
      for (int i = 1; i < 18; i++) used += snprintf(out + used, sizeof out - used, " %lu", counts[side][i]);
      used += snprintf(out + used, sizeof out - used, "\n");
    }
  }
  flush_out();
  return 0;
}

static int serve(void) {
  char line[64];
  while (fgets(line, sizeof line, stdin)) {
    char verb[8];
    unsigned long port = 0;
    if (sscanf(line, "%7s %lu", verb, &port) != 2 || port == 0 || port > 65535) return 2;
    if (strcmp(verb, "count") == 0) count_only = 1;
    else if (strcmp(verb, "list") == 0) count_only = 0;
    else return 2;
    if (answer(port) < 0) return 2;
    if (fputs("end\n", stdout) < 0 || fflush(stdout) != 0) return 2;
  }
  return 0;
}

int main(int argc, char **argv) {
  char *end = NULL;
  if (argc == 2 && strcmp(argv[1], "--serve") == 0) return serve();
  count_only = argc == 3 && strcmp(argv[1], "--count") == 0;
  unsigned long port = argc == 2 + count_only ? strtoul(argv[1 + count_only], &end, 10) : 0;
  if (argc != 2 + count_only || *end != '\0' || port == 0 || port > 65535) {
    fprintf(stderr, "usage: kal-sockdiag [--count] PORT | kal-sockdiag --serve\n");
    return 2;
  }
  return answer(port) < 0 ? 2 : 0;
}
