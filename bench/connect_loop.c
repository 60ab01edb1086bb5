/*
 * connect_loop: the machine's limit for TCP connect() scanning on loopback.
 *
 * This is the yardstick of bench/run.sh, not a scanner to use: the smallest honest
 * non-blocking epoll connect() loop, with nothing a real scanner must add (no rate
 * limiter, no store, no banner grab, no exclusion list). Whatever it reaches on this
 * machine is what the kernel allows; every other tool is reported as a share of it.
 *
 * It visits every address of one 127.A.0.0/16 on every given port, in a fixed
 * multiplicative permutation of the (address, port) space so that consecutive probes
 * go to different hosts, as medsurface's permuted order does. Open `ip:port` lines go
 * to stdout, one summary line to stderr.
 *
 * Each socket gets SO_LINGER {on, 0}: close() then sends RST instead of FIN, so no
 * socket lingers in TIME_WAIT and 196,608 probes never exhaust the ephemeral ports.
 *
 * It refuses any base outside 127.0.0.0/8: benchmark traffic stays on loopback.
 *
 * Usage: connect_loop BASE PORTS [INFLIGHT [TIMEOUT_MS]]
 *   BASE       127.A.0.0 (or 127.A): the /16 to scan
 *   PORTS      comma-separated list, e.g. 104,4242,11112
 *   INFLIGHT   connections in flight at most (default 1000)
 *   TIMEOUT_MS connect timeout in milliseconds (default 1000)
 *
 * Build: gcc -O2 -o connect_loop connect_loop.c   (plain C, Linux, no dependencies)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_PORTS 64
#define HOSTS 65536u
/* A prime, so coprime with 2^16 * nports for any nports <= MAX_PORTS: i -> i*MULT mod N
 * is then a bijection of [0, N), and consecutive probes land MULT mod 2^16 = 16963
 * addresses apart. */
#define MULT 1000003ull
#define SWEEP_MS 50

struct slot {
    int fd;               /* -1 when free */
    uint32_t ip;          /* host byte order */
    uint16_t port;
    uint64_t deadline_ms;
};

static uint64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *msg) {
    fprintf(stderr, "connect_loop: %s\n", msg);
    exit(2);
}

static void usage(void) {
    die("usage: connect_loop BASE PORTS [INFLIGHT [TIMEOUT_MS]]  "
        "(BASE = 127.A.0.0, PORTS = 104,4242,11112)");
}

static long parse_num(const char *s, long lo, long hi, const char *what) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi) {
        fprintf(stderr, "connect_loop: bad %s: '%s' (want %ld..%ld)\n", what, s, lo, hi);
        exit(2);
    }
    return v;
}

/* Accepts "127.A" or "127.A.0.0"; returns the /16 base in host byte order. */
static uint32_t parse_base(const char *s) {
    char buf[32];
    if (strlen(s) >= sizeof buf - 4) usage();
    strcpy(buf, s);
    if (strchr(buf, '.') == strrchr(buf, '.')) strcat(buf, ".0.0");
    struct in_addr a;
    if (inet_pton(AF_INET, buf, &a) != 1) die("BASE is not an IPv4 address");
    uint32_t ip = ntohl(a.s_addr);
    if ((ip >> 24) != 127) die("refusing a BASE outside 127.0.0.0/8: the bench stays on loopback");
    if ((ip & 0xffffu) != 0) die("BASE must be a /16 base: 127.A.0.0");
    return ip;
}

static int parse_ports(const char *s, uint16_t *ports) {
    char *copy = strdup(s);
    if (!copy) die("out of memory");
    int n = 0;
    for (char *tok = strtok(copy, ","); tok; tok = strtok(NULL, ",")) {
        if (n == MAX_PORTS) die("too many ports (at most 64)");
        ports[n++] = (uint16_t)parse_num(tok, 1, 65535, "port");
    }
    free(copy);
    if (n == 0) usage();
    return n;
}

static void raise_nofile(long need) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
    if ((long)rl.rlim_cur >= need) return;
    rl.rlim_cur = (rl.rlim_max == RLIM_INFINITY || (long)rl.rlim_max >= need) ? (rlim_t)need : rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0 || (long)rl.rlim_cur < need)
        die("open-files limit too low for INFLIGHT; lower INFLIGHT or raise ulimit -n");
}

int main(int argc, char **argv) {
    if (argc < 3 || argc > 5) usage();
    uint32_t base = parse_base(argv[1]);
    uint16_t ports[MAX_PORTS];
    int nports = parse_ports(argv[2], ports);
    long inflight = argc > 3 ? parse_num(argv[3], 1, 60000, "INFLIGHT") : 1000;
    long timeout_ms = argc > 4 ? parse_num(argv[4], 1, 600000, "TIMEOUT_MS") : 1000;

    raise_nofile(inflight + 64);

    uint64_t total = (uint64_t)HOSTS * (uint64_t)nports;
    struct slot *slots = calloc((size_t)inflight, sizeof *slots);
    uint32_t *free_list = calloc((size_t)inflight, sizeof *free_list);
    struct epoll_event *events = calloc((size_t)inflight, sizeof *events);
    if (!slots || !free_list || !events) die("out of memory");
    long nfree = 0;
    for (long i = inflight - 1; i >= 0; i--) {
        slots[i].fd = -1;
        free_list[nfree++] = (uint32_t)i;
    }

    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) die("epoll_create1 failed");

    static char outbuf[1 << 16];
    setvbuf(stdout, outbuf, _IOFBF, sizeof outbuf);

    uint64_t next = 0, n_open = 0, n_refused = 0, n_timeout = 0, n_error = 0, n_retry = 0;
    uint64_t n_immediate = 0; /* answered inside connect() itself, as loopback often does */
    long active = 0;
    const struct linger lg = {.l_onoff = 1, .l_linger = 0};
    double t0 = now_s();
    uint64_t last_sweep = now_ms();

#define REPORT_OPEN(ip, port)                                                       \
    printf("%u.%u.%u.%u:%u\n", (ip) >> 24, ((ip) >> 16) & 255u, ((ip) >> 8) & 255u, \
           (ip) & 255u, (unsigned)(port))

    while (next < total || active > 0) {
        /* Launch until the in-flight bound is reached. */
        while (next < total && nfree > 0) {
            uint64_t j = (next * MULT) % total;
            uint32_t ip = base | (uint32_t)(j % HOSTS);
            uint16_t port = ports[j / HOSTS];

            int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
            if (fd < 0) {
                if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                    n_retry++;
                    break; /* let in-flight sockets finish, then retry this probe */
                }
                die("socket() failed");
            }
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
            struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port),
                                     .sin_addr.s_addr = htonl(ip)};
            int r = connect(fd, (struct sockaddr *)&sa, sizeof sa);
            if (r == 0) {
                n_immediate++;
                n_open++;
                REPORT_OPEN(ip, port);
                close(fd);
                next++;
                continue;
            }
            if (errno == EINPROGRESS) {
                uint32_t s = free_list[--nfree];
                slots[s] = (struct slot){.fd = fd, .ip = ip, .port = port,
                                         .deadline_ms = now_ms() + (uint64_t)timeout_ms};
                struct epoll_event ev = {.events = EPOLLOUT, .data.u32 = s};
                if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) die("epoll_ctl failed");
                active++;
                next++;
                continue;
            }
            int e = errno;
            close(fd);
            if (e == EAGAIN || e == EADDRNOTAVAIL) {
                /* No free ephemeral port right now: retry the same probe later. */
                n_retry++;
                break;
            }
            if (e == ECONNREFUSED) {
                n_immediate++;
                n_refused++;
            } else {
                n_error++;
            }
            next++;
        }

        if (active == 0) {
            if (next < total) {
                /* Nothing in flight and the launch was refused: back off briefly. */
                struct timespec ts = {0, 1000000};
                nanosleep(&ts, NULL);
            }
            continue;
        }

        int n = epoll_wait(ep, events, (int)inflight, SWEEP_MS);
        if (n < 0) {
            if (errno == EINTR) continue;
            die("epoll_wait failed");
        }
        for (int i = 0; i < n; i++) {
            struct slot *sl = &slots[events[i].data.u32];
            int err = 0;
            socklen_t len = sizeof err;
            if (getsockopt(sl->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
            if (err == 0) {
                n_open++;
                REPORT_OPEN(sl->ip, sl->port);
            } else if (err == ECONNREFUSED) {
                n_refused++;
            } else if (err == ETIMEDOUT) {
                n_timeout++;
            } else {
                n_error++;
            }
            close(sl->fd); /* also removes it from the epoll set */
            sl->fd = -1;
            free_list[nfree++] = events[i].data.u32;
            active--;
        }

        uint64_t t = now_ms();
        if (t - last_sweep >= SWEEP_MS) {
            last_sweep = t;
            for (long s = 0; s < inflight; s++) {
                if (slots[s].fd >= 0 && slots[s].deadline_ms <= t) {
                    n_timeout++;
                    close(slots[s].fd);
                    slots[s].fd = -1;
                    free_list[nfree++] = (uint32_t)s;
                    active--;
                }
            }
        }
    }

    fflush(stdout);
    double el = now_s() - t0;
    fprintf(stderr,
            "connect_loop: probes=%llu open=%llu refused=%llu timeout=%llu error=%llu "
            "retries=%llu immediate=%llu inflight=%ld elapsed=%.3fs rate=%.0f/s\n",
            (unsigned long long)total, (unsigned long long)n_open,
            (unsigned long long)n_refused, (unsigned long long)n_timeout,
            (unsigned long long)n_error, (unsigned long long)n_retry,
            (unsigned long long)n_immediate, inflight, el,
            (double)total / el);
    return 0;
}
