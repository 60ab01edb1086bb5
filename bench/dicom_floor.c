/*
 * dicom_floor: the machine's floor for verifying DICOM servers on loopback.
 *
 * This is the yardstick of bench/dicom_fleet.sh (issue 3), not a scanner to use: the
 * smallest honest single-threaded epoll client that does, for every address, exactly the
 * wire exchanges medsurface's DICOM probe does with `--no-ae-checks`, with the same bytes,
 * and nothing else (no store, no JSON, no rate limiter, no follow-up associations, no
 * fingerprint). Whatever it reaches against `medsurface lab` on this machine is the best any
 * client could reach for these exchanges; medsurface and nmap are reported against it.
 *
 * One session per address, as crates/scan/src/probes/dicom.rs runs it:
 *   socket, SO_LINGER {1,0} (the engine's dialer sets it), connect (no TCP_NODELAY: the
 *   engine's main connection does not set it either);
 *   send A-ASSOCIATE-RQ; read one PDU (framed by its 6-byte header):
 *     A-ASSOCIATE-RJ -> "rejected", A-ABORT -> "aborted": shutdown(SHUT_WR), close;
 *     A-ASSOCIATE-AC -> "accepted"; its presentation-context items are parsed:
 *       context 1 (Verification) accepted -> C-ECHO-RQ P-DATA, read P-DATA until the
 *         command with a final (non-pending) status;
 *       context 3 (Study Root FIND) accepted -> C-FIND-RQ command + identifier P-DATA (one
 *         write, as medsurface does), the identifier in the transfer syntax the AC chose,
 *         read until a final status;
 *       A-RELEASE-RQ, read until A-RELEASE-RP (P-DATA in between skipped);
 *     then shutdown(SHUT_WR) and close (a reset, because of SO_LINGER {1,0}).
 *   A protocol fault after the AC sends A-ABORT first, as medsurface does.
 * Anything else (refused, closed, timeout, not DICOM) prints "error".
 *
 * The context ids are medsurface's own (1 Verification, 3 Study Root FIND, 5 Patient Root
 * FIND; crates/proto/src/dicom/pdu.rs PROPOSED_CONTEXTS): the AC echoes the ids we proposed,
 * so the AC is read for the result and transfer syntax of ids 1 and 3.
 *
 * How the bytes were captured (2026-11-29): `medsurface lab` serving one dicom-open and one
 * dicom-strict server on 127.91.200.1-2:11112, then
 *   strace -f -e trace=socket,connect,setsockopt,write,writev,sendto,sendmsg,read,recvfrom,
 *          shutdown,close -xx -s 8192 -o trace.txt \
 *     medsurface scan 127.91.200.1 127.91.200.2 --ports 11112 --no-ae-checks --db x.db --json
 * (binary /tmp/ib/medsurface-ck, commit 08a2ffe). Every sendto() payload below is copied from
 * that trace: RQ 416 bytes, C-ECHO 80, C-FIND 174 (94 command + 80 identifier), RELEASE-RQ
 * 10. The A-ABORT (10 bytes) is pdu::abort() in crates/proto (not seen in the trace: nothing
 * went wrong). medsurface draws a fresh random 32-hex-digit Patient ID for every C-FIND; the
 * floor sends the captured one every time (same length, same cost). The implicit-VR variant
 * of the identifier (used only if an AC picks Implicit VR Little Endian for context 3) is
 * built from StudyQuery::encode in crates/proto/src/dicom/dimse.rs: same elements, 4-byte
 * lengths instead of VR + 2-byte lengths, so the same 62-byte length.
 *
 * Two differences from medsurface, both in the floor's favour (a floor may only be cheaper):
 * it reads whatever is available (up to 16 KiB) where medsurface reads a header then a body,
 * and it never sends C-CANCEL (the lab's non-matching query has no pending answers; pending
 * answers are counted in the summary, so a lab that sends them would show).
 *
 * It refuses any address outside 127.0.0.0/8: benchmark traffic stays on loopback.
 *
 * Usage: dicom_floor ADDR_FILE PORT [INFLIGHT [TIMEOUT_MS]]
 *   ADDR_FILE  one IPv4 address a line (blank lines and # comments skipped)
 *   PORT       the DICOM port, e.g. 11112
 *   INFLIGHT   sessions in flight at most (default 1000)
 *   TIMEOUT_MS budget of one whole session, connect to close (default 2000)
 * Output: `ADDR accepted|rejected|aborted|error` a line on stdout, in completion order; one
 * summary line on stderr.
 *
 * Build: gcc -O2 -o dicom_floor dicom_floor.c   (plain C, Linux, no dependencies)
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

#define SWEEP_MS 50
/* Our A-ASSOCIATE-RQ announces a maximum PDU length of 16384 (item 0x51 below), so no
 * honest answer is longer than that plus its header. */
#define RBUF (16384 + 6)
#define CMDBUF 1024

/* A-ASSOCIATE-RQ: calling MEDSURFACE, called ANY-SCP, contexts 1/3/5 with explicit and
 * implicit VR LE, max PDU 16384, implementation class UID and version MEDSURFACE_010. */
static const uint8_t RQ[416] = {
    0x01,0x00,0x00,0x00,0x01,0x9a,0x00,0x01,0x00,0x00,0x41,0x4e,0x59,0x2d,0x53,0x43,
    0x50,0x20,0x20,0x20,0x20,0x20,0x20,0x20,0x20,0x20,0x4d,0x45,0x44,0x53,0x55,0x52,
    0x46,0x41,0x43,0x45,0x20,0x20,0x20,0x20,0x20,0x20,0x00,0x00,0x00,0x00,0x00,0x00,
    0x00,0x00,0x00,0x00,0x00,0x00,0x00,0x00,0x00,0x00,0x00,0x00,0x00,0x00,0x00,0x00,
    0x00,0x00,0x00,0x00,0x00,0x00,0x00,0x00,0x00,0x00,0x10,0x00,0x00,0x15,0x31,0x2e,
    0x32,0x2e,0x38,0x34,0x30,0x2e,0x31,0x30,0x30,0x30,0x38,0x2e,0x33,0x2e,0x31,0x2e,
    0x31,0x2e,0x31,0x20,0x00,0x00,0x45,0x01,0x00,0x00,0x00,0x30,0x00,0x00,0x11,0x31,
    0x2e,0x32,0x2e,0x38,0x34,0x30,0x2e,0x31,0x30,0x30,0x30,0x38,0x2e,0x31,0x2e,0x31,
    0x40,0x00,0x00,0x13,0x31,0x2e,0x32,0x2e,0x38,0x34,0x30,0x2e,0x31,0x30,0x30,0x30,
    0x38,0x2e,0x31,0x2e,0x32,0x2e,0x31,0x40,0x00,0x00,0x11,0x31,0x2e,0x32,0x2e,0x38,
    0x34,0x30,0x2e,0x31,0x30,0x30,0x30,0x38,0x2e,0x31,0x2e,0x32,0x20,0x00,0x00,0x4f,
    0x03,0x00,0x00,0x00,0x30,0x00,0x00,0x1b,0x31,0x2e,0x32,0x2e,0x38,0x34,0x30,0x2e,
    0x31,0x30,0x30,0x30,0x38,0x2e,0x35,0x2e,0x31,0x2e,0x34,0x2e,0x31,0x2e,0x32,0x2e,
    0x32,0x2e,0x31,0x40,0x00,0x00,0x13,0x31,0x2e,0x32,0x2e,0x38,0x34,0x30,0x2e,0x31,
    0x30,0x30,0x30,0x38,0x2e,0x31,0x2e,0x32,0x2e,0x31,0x40,0x00,0x00,0x11,0x31,0x2e,
    0x32,0x2e,0x38,0x34,0x30,0x2e,0x31,0x30,0x30,0x30,0x38,0x2e,0x31,0x2e,0x32,0x20,
    0x00,0x00,0x4f,0x05,0x00,0x00,0x00,0x30,0x00,0x00,0x1b,0x31,0x2e,0x32,0x2e,0x38,
    0x34,0x30,0x2e,0x31,0x30,0x30,0x30,0x38,0x2e,0x35,0x2e,0x31,0x2e,0x34,0x2e,0x31,
    0x2e,0x32,0x2e,0x31,0x2e,0x31,0x40,0x00,0x00,0x13,0x31,0x2e,0x32,0x2e,0x38,0x34,
    0x30,0x2e,0x31,0x30,0x30,0x30,0x38,0x2e,0x31,0x2e,0x32,0x2e,0x31,0x40,0x00,0x00,
    0x11,0x31,0x2e,0x32,0x2e,0x38,0x34,0x30,0x2e,0x31,0x30,0x30,0x30,0x38,0x2e,0x31,
    0x2e,0x32,0x50,0x00,0x00,0x4a,0x51,0x00,0x00,0x04,0x00,0x00,0x40,0x00,0x52,0x00,
    0x00,0x2c,0x32,0x2e,0x32,0x35,0x2e,0x31,0x34,0x37,0x37,0x36,0x38,0x31,0x34,0x39,
    0x31,0x35,0x39,0x34,0x36,0x30,0x30,0x32,0x36,0x32,0x31,0x35,0x35,0x39,0x30,0x38,
    0x39,0x35,0x33,0x32,0x37,0x38,0x36,0x35,0x35,0x38,0x36,0x36,0x37,0x36,0x55,0x00,
    0x00,0x0e,0x4d,0x45,0x44,0x53,0x55,0x52,0x46,0x41,0x43,0x45,0x5f,0x30,0x31,0x30,
};

/* P-DATA-TF, context 1, last command fragment: C-ECHO-RQ, message id 1. */
static const uint8_t ECHO[80] = {
    0x04,0x00,0x00,0x00,0x00,0x4a,0x00,0x00,0x00,0x46,0x01,0x03,0x00,0x00,0x00,0x00,
    0x04,0x00,0x00,0x00,0x38,0x00,0x00,0x00,0x00,0x00,0x02,0x00,0x12,0x00,0x00,0x00,
    0x31,0x2e,0x32,0x2e,0x38,0x34,0x30,0x2e,0x31,0x30,0x30,0x30,0x38,0x2e,0x31,0x2e,
    0x31,0x00,0x00,0x00,0x00,0x01,0x02,0x00,0x00,0x00,0x30,0x00,0x00,0x00,0x10,0x01,
    0x02,0x00,0x00,0x00,0x01,0x00,0x00,0x00,0x00,0x08,0x02,0x00,0x00,0x00,0x01,0x01,
};

/* Two P-DATA-TF PDUs in one write: context 3, C-FIND-RQ command (Study Root FIND, message
 * id 2), then the identifier in Explicit VR Little Endian: (0008,0052) CS "STUDY ",
 * (0010,0020) LO a random 32-hex-digit Patient ID, (0020,000D) UI empty. */
#define FIND_ID_AT 112 /* the identifier's first byte: 94 + 6 (PDU header) + 4 + 2 (PDV) */
static uint8_t FIND[174] = {
    0x04,0x00,0x00,0x00,0x00,0x5e,0x00,0x00,0x00,0x5a,0x03,0x03,0x00,0x00,0x00,0x00,
    0x04,0x00,0x00,0x00,0x4c,0x00,0x00,0x00,0x00,0x00,0x02,0x00,0x1c,0x00,0x00,0x00,
    0x31,0x2e,0x32,0x2e,0x38,0x34,0x30,0x2e,0x31,0x30,0x30,0x30,0x38,0x2e,0x35,0x2e,
    0x31,0x2e,0x34,0x2e,0x31,0x2e,0x32,0x2e,0x32,0x2e,0x31,0x00,0x00,0x00,0x00,0x01,
    0x02,0x00,0x00,0x00,0x20,0x00,0x00,0x00,0x10,0x01,0x02,0x00,0x00,0x00,0x02,0x00,
    0x00,0x00,0x00,0x07,0x02,0x00,0x00,0x00,0x02,0x00,0x00,0x00,0x00,0x08,0x02,0x00,
    0x00,0x00,0x00,0x00,0x04,0x00,0x00,0x00,0x00,0x44,0x00,0x00,0x00,0x40,0x03,0x02,
    0x08,0x00,0x52,0x00,0x43,0x53,0x06,0x00,0x53,0x54,0x55,0x44,0x59,0x20,0x10,0x00,
    0x20,0x00,0x4c,0x4f,0x20,0x00,0x33,0x33,0x43,0x43,0x44,0x42,0x31,0x45,0x30,0x43,
    0x30,0x36,0x42,0x35,0x43,0x45,0x30,0x36,0x42,0x44,0x36,0x38,0x42,0x37,0x42,0x45,
    0x34,0x45,0x46,0x46,0x36,0x46,0x20,0x00,0x0d,0x00,0x55,0x49,0x00,0x00,
};
/* The same identifier in Implicit VR Little Endian (see the header comment). */
static const uint8_t FIND_ID_IMPLICIT[62] = {
    0x08,0x00,0x52,0x00,0x06,0x00,0x00,0x00,0x53,0x54,0x55,0x44,0x59,0x20,0x10,0x00,
    0x20,0x00,0x20,0x00,0x00,0x00,0x33,0x33,0x43,0x43,0x44,0x42,0x31,0x45,0x30,0x43,
    0x30,0x36,0x42,0x35,0x43,0x45,0x30,0x36,0x42,0x44,0x36,0x38,0x42,0x37,0x42,0x45,
    0x34,0x45,0x46,0x46,0x36,0x46,0x20,0x00,0x0d,0x00,0x00,0x00,0x00,0x00,
};
static uint8_t FIND_IMPLICIT[174];

static const uint8_t RELEASE_RQ[10] = {0x05,0x00,0x00,0x00,0x00,0x04,0x00,0x00,0x00,0x00};
static const uint8_t ABORT[10] = {0x07,0x00,0x00,0x00,0x00,0x04,0x00,0x00,0x00,0x00};

static const char TS_EXPLICIT[] = "1.2.840.10008.1.2.1";
static const char TS_IMPLICIT[] = "1.2.840.10008.1.2";

enum state { FREE, CONNECTING, WAIT_ANSWER, WAIT_ECHO, WAIT_FIND, WAIT_RP };
enum fault { F_NONE, F_REFUSED, F_TIMEOUT, F_CLOSED, F_IO, F_PROTO, F_NKINDS };
static const char *FAULT_NAME[F_NKINDS] = {"none", "refused", "timeout", "closed", "io", "protocol"};

struct slot {
    int fd;
    uint8_t state;
    uint8_t accepted;    /* an A-ASSOCIATE-AC arrived */
    uint8_t find_ok;     /* context 3 accepted with a known transfer syntax */
    uint8_t find_implicit;
    uint32_t addr;       /* index into the address list */
    uint64_t deadline_ms;
    uint32_t rlen;       /* bytes in rbuf */
    uint32_t clen;       /* bytes of the command being reassembled */
    uint8_t *rbuf;       /* RBUF bytes */
    uint8_t cmd[CMDBUF];
};

static uint64_t n_accepted, n_rejected, n_aborted, n_error, n_complete, n_echo_ok, n_find_ok,
    n_pending, n_fault[F_NKINDS];
static uint32_t *ips;
static FILE *out;

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
    fprintf(stderr, "dicom_floor: %s\n", msg);
    exit(2);
}

static long parse_num(const char *s, long lo, long hi, const char *what) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi) {
        fprintf(stderr, "dicom_floor: bad %s: '%s' (want %ld..%ld)\n", what, s, lo, hi);
        exit(2);
    }
    return v;
}

static void raise_nofile(long need) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
    if ((long)rl.rlim_cur >= need) return;
    rl.rlim_cur = (rl.rlim_max == RLIM_INFINITY || (long)rl.rlim_max >= need) ? (rlim_t)need : rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0 || (long)rl.rlim_cur < need)
        die("open-files limit too low for INFLIGHT; lower INFLIGHT or raise ulimit -n");
}

/* Reads the address file; every address must be in 127.0.0.0/8. */
static size_t read_addresses(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) die("cannot open ADDR_FILE");
    size_t n = 0, cap = 1024;
    ips = malloc(cap * sizeof *ips);
    if (!ips) die("out of memory");
    char line[256];
    while (fgets(line, sizeof line, f)) {
        char *hash = strchr(line, '#');
        if (hash) *hash = '\0';
        char *s = line;
        while (*s == ' ' || *s == '\t') s++;
        char *e = s + strlen(s);
        while (e > s && (e[-1] == '\n' || e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t')) *--e = '\0';
        if (*s == '\0') continue;
        struct in_addr a;
        if (inet_pton(AF_INET, s, &a) != 1) {
            fprintf(stderr, "dicom_floor: not an IPv4 address: '%s'\n", s);
            exit(2);
        }
        uint32_t ip = ntohl(a.s_addr);
        if ((ip >> 24) != 127) die("refusing an address outside 127.0.0.0/8: the bench stays on loopback");
        if (n == cap) {
            cap *= 2;
            ips = realloc(ips, cap * sizeof *ips);
            if (!ips) die("out of memory");
        }
        ips[n++] = ip;
    }
    fclose(f);
    if (n == 0) die("ADDR_FILE holds no address");
    return n;
}

static void report(const struct slot *sl, const char *verdict) {
    uint32_t ip = ips[sl->addr];
    fprintf(out, "%u.%u.%u.%u %s\n", ip >> 24, (ip >> 16) & 255u, (ip >> 8) & 255u, ip & 255u,
            verdict);
}

/* Ends a session: the verdict line, shutdown(SHUT_WR) as medsurface's Wire::close does for
 * a session that reached the peer, then close (a reset: SO_LINGER {1,0}). */
static void finish(struct slot *sl, enum fault f, int send_abort, long *active, uint32_t *free_list,
                   long *nfree, uint32_t idx) {
    if (send_abort) (void)write(sl->fd, ABORT, sizeof ABORT);
    if (f != F_REFUSED && f != F_TIMEOUT) shutdown(sl->fd, SHUT_WR);
    close(sl->fd); /* also removes it from the epoll set */
    if (f != F_NONE) n_fault[f]++;
    if (sl->accepted) { /* medsurface's verdict too: the AC, whatever came after */
        n_accepted++;
        report(sl, "accepted");
    } else {
        n_error++;
        report(sl, "error");
    }
    sl->fd = -1;
    sl->state = FREE;
    free_list[(*nfree)++] = idx;
    (*active)--;
}

static int send_all(int fd, const uint8_t *b, size_t n) {
    ssize_t w = write(fd, b, n);
    return w == (ssize_t)n ? 0 : -1; /* a short write of these few bytes would be a fault */
}

/* Parses the AC's presentation-context items (0x21) after the 68-byte fixed part. */
static void parse_ac(struct slot *sl, const uint8_t *p, uint32_t len, int *echo_ok) {
    *echo_ok = 0;
    sl->find_ok = 0;
    uint32_t off = 68;
    while (off + 4 <= len) {
        uint8_t type = p[off];
        uint32_t ilen = ((uint32_t)p[off + 2] << 8) | p[off + 3];
        if (off + 4 + ilen > len) break;
        const uint8_t *it = p + off + 4;
        if (type == 0x21 && ilen >= 4) {
            uint8_t id = it[0], result = it[2];
            /* the transfer-syntax sub-item (0x40) */
            const char *ts = NULL;
            uint32_t tslen = 0;
            uint32_t so = 4;
            while (so + 4 <= ilen) {
                uint32_t sl_ = ((uint32_t)it[so + 2] << 8) | it[so + 3];
                if (so + 4 + sl_ > ilen) break;
                if (it[so] == 0x40) {
                    ts = (const char *)it + so + 4;
                    tslen = sl_;
                    while (tslen > 0 && (ts[tslen - 1] == '\0' || ts[tslen - 1] == ' ')) tslen--;
                }
                so += 4 + sl_;
            }
            if (result == 0 && id == 1) *echo_ok = 1;
            if (result == 0 && id == 3 && ts) {
                if (tslen == sizeof TS_EXPLICIT - 1 && memcmp(ts, TS_EXPLICIT, tslen) == 0) {
                    sl->find_ok = 1;
                    sl->find_implicit = 0;
                } else if (tslen == sizeof TS_IMPLICIT - 1 && memcmp(ts, TS_IMPLICIT, tslen) == 0) {
                    sl->find_ok = 1;
                    sl->find_implicit = 1;
                }
            }
        }
        off += 4 + ilen;
    }
}

/* Feeds one P-DATA-TF body; returns 1 when a command answering MSGID with a final status is
 * complete (status in *status), 0 to read on, -1 on a malformed PDU. */
static int feed_pdata(struct slot *sl, const uint8_t *p, uint32_t len, uint16_t msgid, uint16_t *status) {
    uint32_t off = 0;
    while (off + 6 <= len) {
        uint32_t vlen = ((uint32_t)p[off] << 24) | ((uint32_t)p[off + 1] << 16) |
                        ((uint32_t)p[off + 2] << 8) | p[off + 3];
        if (vlen < 2 || off + 4 + vlen > len) return -1;
        uint8_t mch = p[off + 5];
        const uint8_t *v = p + off + 6;
        uint32_t n = vlen - 2;
        off += 4 + vlen;
        if (!(mch & 1)) continue; /* a data-set fragment: dropped */
        if (sl->clen + n > CMDBUF) return -1;
        memcpy(sl->cmd + sl->clen, v, n);
        sl->clen += n;
        if (!(mch & 2)) continue; /* not the last fragment yet */
        /* A complete command set: implicit VR LE, group 0000. */
        int have_status = 0, answers = 1;
        uint16_t st = 0;
        uint32_t c = 0;
        while (c + 8 <= sl->clen) {
            uint16_t g = (uint16_t)(sl->cmd[c] | sl->cmd[c + 1] << 8);
            uint16_t e = (uint16_t)(sl->cmd[c + 2] | sl->cmd[c + 3] << 8);
            uint32_t l = (uint32_t)sl->cmd[c + 4] | (uint32_t)sl->cmd[c + 5] << 8 |
                         (uint32_t)sl->cmd[c + 6] << 16 | (uint32_t)sl->cmd[c + 7] << 24;
            if (c + 8 + l > sl->clen) return -1;
            if (g == 0 && e == 0x0900 && l == 2) {
                st = (uint16_t)(sl->cmd[c + 8] | sl->cmd[c + 9] << 8);
                have_status = 1;
            } else if (g == 0 && e == 0x0120 && l == 2) {
                answers = (uint16_t)(sl->cmd[c + 8] | sl->cmd[c + 9] << 8) == msgid;
            }
            c += 8 + l;
        }
        sl->clen = 0;
        if (!answers) continue;
        if (!have_status) return -1;
        if (st == 0xFF00 || st == 0xFF01) {
            n_pending++;
            continue;
        }
        *status = st;
        return 1;
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 3 || argc > 5)
        die("usage: dicom_floor ADDR_FILE PORT [INFLIGHT [TIMEOUT_MS]]");
    size_t total = read_addresses(argv[1]);
    uint16_t port = (uint16_t)parse_num(argv[2], 1, 65535, "PORT");
    long inflight = argc > 3 ? parse_num(argv[3], 1, 60000, "INFLIGHT") : 1000;
    long timeout_ms = argc > 4 ? parse_num(argv[4], 1, 600000, "TIMEOUT_MS") : 2000;

    memcpy(FIND_IMPLICIT, FIND, sizeof FIND);
    memcpy(FIND_IMPLICIT + FIND_ID_AT, FIND_ID_IMPLICIT, sizeof FIND_ID_IMPLICIT);

    raise_nofile(inflight + 64);
    struct slot *slots = calloc((size_t)inflight, sizeof *slots);
    uint32_t *free_list = calloc((size_t)inflight, sizeof *free_list);
    struct epoll_event *events = calloc((size_t)inflight, sizeof *events);
    if (!slots || !free_list || !events) die("out of memory");
    long nfree = 0;
    for (long i = inflight - 1; i >= 0; i--) {
        slots[i].fd = -1;
        slots[i].rbuf = malloc(RBUF);
        if (!slots[i].rbuf) die("out of memory");
        free_list[nfree++] = (uint32_t)i;
    }
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) die("epoll_create1 failed");
    out = stdout;
    static char outbuf[1 << 16];
    setvbuf(stdout, outbuf, _IOFBF, sizeof outbuf);

    const struct linger lg = {.l_onoff = 1, .l_linger = 0};
    size_t next = 0;
    long active = 0;
    uint64_t n_retry = 0;
    double t0 = now_s();
    uint64_t last_sweep = now_ms();

    while (next < total || active > 0) {
        while (next < total && nfree > 0) {
            int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
            if (fd < 0) {
                if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                    n_retry++;
                    break;
                }
                die("socket() failed");
            }
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
            struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port),
                                     .sin_addr.s_addr = htonl(ips[next])};
            int r = connect(fd, (struct sockaddr *)&sa, sizeof sa);
            if (r != 0 && errno != EINPROGRESS) {
                int e = errno;
                close(fd);
                if (e == EAGAIN || e == EADDRNOTAVAIL) {
                    n_retry++;
                    break;
                }
                n_fault[e == ECONNREFUSED ? F_REFUSED : F_IO]++;
                n_error++;
                uint32_t ip = ips[next];
                fprintf(out, "%u.%u.%u.%u error\n", ip >> 24, (ip >> 16) & 255u, (ip >> 8) & 255u, ip & 255u);
                next++;
                continue;
            }
            uint32_t s = free_list[--nfree];
            struct slot *sl = &slots[s];
            sl->fd = fd;
            sl->state = CONNECTING;
            sl->accepted = sl->find_ok = sl->find_implicit = 0;
            sl->addr = (uint32_t)next;
            sl->rlen = sl->clen = 0;
            sl->deadline_ms = now_ms() + (uint64_t)timeout_ms;
            /* Edge-triggered, both directions, registered once: the first EPOLLOUT edge is
             * the connect, then every answer is an EPOLLIN edge. No epoll_ctl MOD. */
            struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLET, .data.u32 = s};
            if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) die("epoll_ctl failed");
            active++;
            next++;
        }
        if (active == 0) {
            if (next < total) {
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
            uint32_t idx = events[i].data.u32;
            struct slot *sl = &slots[idx];
            if (sl->state == FREE) continue;
            if (sl->state == CONNECTING) {
                if (!(events[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) continue;
                if (events[i].events & (EPOLLERR | EPOLLHUP)) {
                    int err = 0;
                    socklen_t l = sizeof err;
                    getsockopt(sl->fd, SOL_SOCKET, SO_ERROR, &err, &l);
                    finish(sl, err == ECONNREFUSED ? F_REFUSED : F_IO, 0, &active, free_list, &nfree, idx);
                    continue;
                }
                if (send_all(sl->fd, RQ, sizeof RQ) != 0) {
                    finish(sl, errno == ECONNREFUSED ? F_REFUSED : F_IO, 0, &active, free_list, &nfree, idx);
                    continue;
                }
                sl->state = WAIT_ANSWER;
                if (!(events[i].events & EPOLLIN)) continue;
            }
            if (!(events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))) continue;

            /* Edge-triggered: read until a short read (the queue is then empty) or EAGAIN. */
            int closed = 0, ioerr = 0;
            for (;;) {
                if (sl->rlen == RBUF) break;
                ssize_t got = read(sl->fd, sl->rbuf + sl->rlen, RBUF - sl->rlen);
                if (got > 0) {
                    uint32_t want = RBUF - sl->rlen;
                    sl->rlen += (uint32_t)got;
                    if ((uint32_t)got < want) break;
                    continue;
                }
                if (got == 0) closed = 1;
                else if (errno != EAGAIN && errno != EINTR) ioerr = 1;
                break;
            }

            /* Every complete PDU in the buffer. */
            int done = 0;
            while (!done && sl->rlen >= 6) {
                const uint8_t *p = sl->rbuf;
                uint8_t type = p[0];
                uint32_t plen = ((uint32_t)p[2] << 24) | ((uint32_t)p[3] << 16) | ((uint32_t)p[4] << 8) | p[5];
                if (type < 1 || type > 7 || plen > RBUF - 6) {
                    /* Not DICOM, or longer than we allow. */
                    finish(sl, F_PROTO, sl->accepted, &active, free_list, &nfree, idx);
                    done = 1;
                    break;
                }
                if (sl->rlen < 6 + plen) break;
                const uint8_t *body = p + 6;
                uint16_t status;
                int step = 0; /* 0 read on, 1 next step, -1 fault */
                switch (sl->state) {
                case WAIT_ANSWER:
                    if (type == 3) { /* A-ASSOCIATE-RJ */
                        n_rejected++;
                        report(sl, "rejected");
                        shutdown(sl->fd, SHUT_WR);
                        close(sl->fd);
                        sl->fd = -1;
                        sl->state = FREE;
                        free_list[nfree++] = idx;
                        active--;
                        done = 1;
                        continue;
                    }
                    if (type == 7) { /* A-ABORT */
                        n_aborted++;
                        report(sl, "aborted");
                        shutdown(sl->fd, SHUT_WR);
                        close(sl->fd);
                        sl->fd = -1;
                        sl->state = FREE;
                        free_list[nfree++] = idx;
                        active--;
                        done = 1;
                        continue;
                    }
                    if (type != 2) {
                        step = -1;
                        break;
                    }
                    sl->accepted = 1;
                    {
                        int echo_ok;
                        parse_ac(sl, body, plen, &echo_ok);
                        if (echo_ok) {
                            if (send_all(sl->fd, ECHO, sizeof ECHO) != 0) step = -1;
                            else sl->state = WAIT_ECHO;
                            break;
                        }
                    }
                    /* fall through: no echo context, go to the query */
                    sl->state = WAIT_ECHO;
                    status = 0;
                    goto after_echo;
                case WAIT_ECHO:
                    if (type != 4) {
                        step = -1;
                        break;
                    }
                    {
                        int r = feed_pdata(sl, body, plen, 1, &status);
                        if (r < 0) {
                            step = -1;
                            break;
                        }
                        if (r == 0) break;
                        if (status == 0) n_echo_ok++;
                    }
                after_echo:
                    if (sl->find_ok) {
                        const uint8_t *q = sl->find_implicit ? FIND_IMPLICIT : FIND;
                        if (send_all(sl->fd, q, sizeof FIND) != 0) step = -1;
                        else sl->state = WAIT_FIND;
                        break;
                    }
                    if (send_all(sl->fd, RELEASE_RQ, sizeof RELEASE_RQ) != 0) step = -1;
                    else sl->state = WAIT_RP;
                    break;
                case WAIT_FIND:
                    if (type != 4) {
                        step = -1;
                        break;
                    }
                    {
                        int r = feed_pdata(sl, body, plen, 2, &status);
                        if (r < 0) {
                            step = -1;
                            break;
                        }
                        if (r == 0) break;
                        if (status == 0) n_find_ok++;
                    }
                    if (send_all(sl->fd, RELEASE_RQ, sizeof RELEASE_RQ) != 0) step = -1;
                    else sl->state = WAIT_RP;
                    break;
                case WAIT_RP:
                    if (type == 4) break; /* a late answer: skipped */
                    if (type != 6) {
                        step = -1;
                        break;
                    }
                    n_complete++;
                    finish(sl, F_NONE, 0, &active, free_list, &nfree, idx);
                    done = 1;
                    continue;
                default:
                    step = -1;
                }
                if (step < 0) {
                    finish(sl, F_PROTO, sl->accepted, &active, free_list, &nfree, idx);
                    done = 1;
                    break;
                }
                /* consume the PDU */
                uint32_t used = 6 + plen;
                memmove(sl->rbuf, sl->rbuf + used, sl->rlen - used);
                sl->rlen -= used;
            }
            if (done) continue;
            if (closed || ioerr) finish(sl, closed ? F_CLOSED : F_IO, 0, &active, free_list, &nfree, idx);
        }

        uint64_t t = now_ms();
        if (t - last_sweep >= SWEEP_MS) {
            last_sweep = t;
            for (long s = 0; s < inflight; s++) {
                if (slots[s].state != FREE && slots[s].deadline_ms <= t)
                    finish(&slots[s], F_TIMEOUT, slots[s].accepted, &active, free_list, &nfree, (uint32_t)s);
            }
        }
    }

    fflush(stdout);
    double el = now_s() - t0;
    fprintf(stderr,
            "dicom_floor: addresses=%zu accepted=%llu rejected=%llu aborted=%llu error=%llu "
            "complete=%llu echo_ok=%llu find_ok=%llu pending=%llu",
            total, (unsigned long long)n_accepted, (unsigned long long)n_rejected,
            (unsigned long long)n_aborted, (unsigned long long)n_error,
            (unsigned long long)n_complete, (unsigned long long)n_echo_ok,
            (unsigned long long)n_find_ok, (unsigned long long)n_pending);
    for (int f = 1; f < F_NKINDS; f++)
        fprintf(stderr, " %s=%llu", FAULT_NAME[f], (unsigned long long)n_fault[f]);
    fprintf(stderr, " retries=%llu inflight=%ld timeout_ms=%ld elapsed=%.3fs rate=%.0f/s\n",
            (unsigned long long)n_retry, inflight, timeout_ms, el, (double)total / el);
    return 0;
}
