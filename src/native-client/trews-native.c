/*
 * trews' native thin client (see README.md in this folder): it reaches a
 * running daemon over its Unix socket without paying Node's start-up, and
 * hands everything else to the Node client (bin/trews.cjs) by exec, with the
 * same argv, environment, working directory and untouched stdin.
 *
 * The daemon is the authority on whether a command is its to serve: this
 * client sends its request under NATIVE_COMMAND, and the daemon answers one it
 * should not serve (other options, daemon = false, an options error, a command
 * that runs in the client) with FALLBACK_EXIT_CODE and nothing else, before it
 * runs anything or asks for stdin. The checks below are shortcuts only.
 *
 * Plain POSIX C, no dependencies: `cc -O2` builds it (scripts/build.mjs).
 */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE   /* TIOCGWINSZ on glibc */
#define _DARWIN_C_SOURCE  /* TIOCGWINSZ on macOS */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>

#include "replay.h"
#include "write-all.h"

extern char **environ;

/* Keep in step with src/daemon/exit-codes.ts (test/native-client.test.ts compares them). */
#define NATIVE_COMMAND "trews-native"
#define FALLBACK_EXIT_CODE 331

/* src/core/root-layout.ts and src/daemon/layout.ts. */
#define CONFIG_FILE "trews.toml"
#define DAEMON_DIR "/.trews.d/daemon/"
#define DAEMON_LOG "/.trews.d/daemon.log"

/* What src/daemon/client.ts and protocol/client-session.ts use. */
#define HEARTBEAT_MS 500
#define ANSWER_TIMEOUT_MS 30000
#define SILENCE_TIMEOUT_MS 600000
#define MAX_PAYLOAD (16u * 1024u * 1024u)
#define STDIN_CHUNK 65536

#ifndef PATH_MAX
#define PATH_MAX 4096
#endif

static char **g_argv;
static volatile sig_atomic_t g_interrupts = 0;

/* ---------- the Node client ---------- */

/* What bin/trews sets for the Node client: the same three tunables, see there. */
#define TREWS_GLIBC_TUNABLES "glibc.malloc.hugetlb=1:glibc.malloc.mmap_threshold=33554432:glibc.malloc.top_pad=16777216"

/* Execs `node <dir of this binary>/../bin/trews.cjs ARGS...`; returns only on failure. */
static void run_node_client(void) {
  char self[PATH_MAX];
  const char *a0 = g_argv[0];
  if (a0 != NULL && strchr(a0, '/') != NULL && strlen(a0) < sizeof self) {
    strcpy(self, a0);
  } else {
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) {
      fprintf(stderr, "trews: cannot tell where the native client is installed, so cannot find the Node client\n");
      exit(127);
    }
    self[n] = '\0';
  }
  char *slash = strrchr(self, '/');
  *slash = '\0';
  char script[PATH_MAX + 32];
  snprintf(script, sizeof script, "%s/../bin/trews.cjs", self);

  int argc = 0;
  while (g_argv[argc] != NULL) argc++;
  char **args = calloc((size_t)argc + 2, sizeof *args);
  if (args == NULL) exit(70);
  args[0] = "node";
  args[1] = script;
  for (int i = 1; i < argc; i++) args[i + 1] = g_argv[i];
  /* See bin/trews: huge pages for the Node client's large allocations, unless
     the user set glibc's tunables; bin/trews.cjs takes them out again. */
  if (getenv("GLIBC_TUNABLES") == NULL) {
    setenv("GLIBC_TUNABLES", TREWS_GLIBC_TUNABLES, 1);
    setenv("TREWS_UNSET_GLIBC_TUNABLES", "1", 1);
  }
  /* Ignored signals stay ignored across exec: give Node the defaults it expects. */
  signal(SIGPIPE, SIG_DFL);
  signal(SIGINT, SIG_DFL);
  execvp("node", args);
  fprintf(stderr, "trews: cannot run node (the Node client, %s): %s\n", script, strerror(errno));
  exit(127);
}

/* ---------- small helpers ---------- */

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The nearest directory at or above `dir` holding trews.toml (src/cli/build-root.ts), in place; -1 if none. */
static int find_build_root(char *dir) {
  char probe[PATH_MAX + 16];
  for (;;) {
    size_t n = strlen(dir);
    const char *sep = (n > 0 && dir[n - 1] == '/') ? "" : "/";
    if (snprintf(probe, sizeof probe, "%s%s" CONFIG_FILE, dir, sep) >= (int)sizeof probe) return -1;
    if (access(probe, F_OK) == 0) return 0;
    char *slash = strrchr(dir, '/');
    if (slash == NULL || strcmp(dir, "/") == 0) return -1;
    if (slash == dir) dir[1] = '\0';
    else *slash = '\0';
  }
}

/* Reads a small file whole; its length, or -1. */
static ssize_t read_small(const char *path, char *buf, size_t cap) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  size_t len = 0;
  for (;;) {
    ssize_t n = read(fd, buf + len, cap - 1 - len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      close(fd);
      return -1;
    }
    if (n == 0) break;
    len += (size_t)n;
    if (len == cap - 1) break;
  }
  close(fd);
  buf[len] = '\0';
  return (ssize_t)len;
}

int write_all(int fd, const void *buf, size_t len) {
  const char *p = buf;
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        /* A non-blocking terminal or pipe someone shares with us: wait until it takes more. */
        struct pollfd w = {.fd = fd, .events = POLLOUT};
        poll(&w, 1, -1);
        continue;
      }
      return -1;
    }
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

/* ---------- outgoing chunks ---------- */

struct buf {
  unsigned char *data;
  size_t len, cap;
};

static void buf_reserve(struct buf *b, size_t more) {
  if (b->len + more <= b->cap) return;
  size_t cap = b->cap ? b->cap : 4096;
  while (cap < b->len + more) cap *= 2;
  unsigned char *d = realloc(b->data, cap);
  if (d == NULL) {
    fprintf(stderr, "trews: out of memory\n");
    exit(70);
  }
  b->data = d;
  b->cap = cap;
}

static void put_chunk(struct buf *b, char type, const void *payload, size_t len) {
  buf_reserve(b, len + 5);
  unsigned char *h = b->data + b->len;
  h[0] = (unsigned char)(len >> 24);
  h[1] = (unsigned char)(len >> 16);
  h[2] = (unsigned char)(len >> 8);
  h[3] = (unsigned char)len;
  h[4] = (unsigned char)type;
  if (len > 0) memcpy(h + 5, payload, len);
  b->len += len + 5;
}

static void put_str(struct buf *b, char type, const char *s) { put_chunk(b, type, s, strlen(s)); }

/* The keys the client sets itself (src/daemon/protocol/tty-env.ts terminalEnv); the user's own values give way. */
static int is_terminal_key(const char *entry) {
  static const char *const keys[] = {"NAILGUN_TTY_0=", "NAILGUN_TTY_1=", "NAILGUN_TTY_2=", "NAILGUN_TERMINAL_COLUMNS=", "NAILGUN_TERMINAL_LINES="};
  for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
    if (strncmp(entry, keys[i], strlen(keys[i])) == 0) return 1;
  return 0;
}

/* The preamble, as the Node client sends it: arguments, environment plus terminal facts, cwd, command. */
static void put_preamble(struct buf *b, const char *cwd) {
  for (int i = 1; g_argv[i] != NULL; i++) put_str(b, 'A', g_argv[i]);
  for (char **e = environ; *e != NULL; e++) {
    /* An entry without a name cannot be sent as KEY=VALUE (nor does Node's process.env have one). */
    if ((*e)[0] == '=' || strchr(*e, '=') == NULL || is_terminal_key(*e)) continue;
    put_str(b, 'E', *e);
  }
  char entry[64];
  for (int fd = 0; fd < 3; fd++) {
    snprintf(entry, sizeof entry, "NAILGUN_TTY_%d=%d", fd, isatty(fd) ? 1 : 0);
    put_str(b, 'E', entry);
  }
  /* The size of stdout's terminal, else stderr's, as the Node client asks it. */
  int term = isatty(1) ? 1 : isatty(2) ? 2 : -1;
  struct winsize ws;
  if (term >= 0 && ioctl(term, TIOCGWINSZ, &ws) == 0) {
    if (ws.ws_col > 0) {
      snprintf(entry, sizeof entry, "NAILGUN_TERMINAL_COLUMNS=%u", (unsigned)ws.ws_col);
      put_str(b, 'E', entry);
    }
    if (ws.ws_row > 0) {
      snprintf(entry, sizeof entry, "NAILGUN_TERMINAL_LINES=%u", (unsigned)ws.ws_row);
      put_str(b, 'E', entry);
    }
  }
  put_str(b, 'D', cwd);
  put_str(b, 'C', NATIVE_COMMAND);
}

/* ---------- quick checks: what the daemon would hand back anyway ---------- */

static int goes_to_node_client(void) {
  /* TREWS_DAEMON (tests and CI set it to false) and --no-daemon: the Node client reads them, and mostly runs in-process. */
  if (getenv("TREWS_DAEMON") != NULL) return 1;
  const char *first = NULL;
  for (int i = 1; g_argv[i] != NULL; i++) {
    const char *a = g_argv[i];
    if (strcmp(a, "--") == 0) break;
    if (strcmp(a, "--no-daemon") == 0) return 1;
    if (first == NULL && a[0] != '-') first = a;
  }
  /* `trews daemon …` runs in the client; remote-server is a server, not a build. */
  return first != NULL && (strcmp(first, "daemon") == 0 || strcmp(first, "remote-server") == 0);
}

/* ---------- the session ---------- */

static void on_sigint(int sig) {
  (void)sig;
  /* A second Ctrl-C leaves at once; the first is seen by the loop, which cancels the run. */
  if (++g_interrupts > 1) _exit(130);
}

struct session {
  int sock;
  const char *root;
  int answered;       /* any byte from the daemon: it has the command */
  int half_closed;    /* Ctrl-C: our side is closed, output and exit code still come */
  int write_dead;     /* the socket refused a write: the reading side will tell why */
  int stdin_wanted;   /* an `S` not yet answered */
  int stdin_done;     /* EOF was sent */
  int out_dead[3];    /* stdout/stderr whose reader went away: output to it is dropped */
  unsigned char *in;
  size_t in_len, in_cap;
};

static void send_buf(struct session *s, struct buf *b) {
  if (!s->write_dead && write_all(s->sock, b->data, b->len) < 0) s->write_dead = 1;
  b->len = 0;
}

static void send_chunk(struct session *s, char type, const void *payload, size_t len) {
  static struct buf b;
  put_chunk(&b, type, payload, len);
  send_buf(s, &b);
}

static void output(struct session *s, int fd, const unsigned char *p, size_t len) {
  if (len == 0 || s->out_dead[fd]) return;
  if (write_all(fd, p, len) < 0) s->out_dead[fd] = 1;
}

/* The daemon went away mid-run: said as the Node client says it (src/cli/client.ts). */
static void lost(struct session *s, const char *why) {
  if (g_interrupts > 0) {
    const char *m = "trews: cancelled\n";
    write_all(2, m, strlen(m));
    exit(130);
  }
  if (!s->answered) {
    /* The command never started: the Node client tries again, or runs it without the daemon. */
    close(s->sock);
    run_node_client();
  }
  fprintf(stderr,
          "error: the trews daemon went away during the run: %s\n"
          "  what it logged is in %s" DAEMON_LOG "\n"
          "  run the command again: the next run starts a new daemon (or use --no-daemon)\n",
          why, s->root);
  exit(1);
}

/* The exit chunk's payload: decimal, optionally with a newline (protocol/exit-code.ts). */
static int parse_exit(const unsigned char *p, size_t len, long long *code) {
  size_t i = 0, digits = 0;
  int neg = 0;
  long long v = 0;
  if (i < len && p[i] == '-') neg = 1, i++;
  while (i < len && p[i] >= '0' && p[i] <= '9' && digits < 10) v = v * 10 + (p[i++] - '0'), digits++;
  if (digits == 0) return -1;
  if (i < len && p[i] == '\r') i++;
  if (i < len && p[i] == '\n') i++;
  if (i != len) return -1;
  v = neg ? -v : v;
  if (v < INT32_MIN || v > INT32_MAX) return -1;
  *code = v;
  return 0;
}

/* Handles every whole chunk buffered; returns only while the session goes on. */
static void handle_chunks(struct session *s) {
  size_t off = 0;
  while (s->in_len - off >= 5) {
    const unsigned char *h = s->in + off;
    uint32_t len = ((uint32_t)h[0] << 24) | ((uint32_t)h[1] << 16) | ((uint32_t)h[2] << 8) | h[3];
    char type = (char)h[4];
    if (len > MAX_PAYLOAD) lost(s, "the daemon sent a chunk larger than any it sends");
    if (s->in_len - off - 5 < len) break;
    const unsigned char *p = h + 5;
    switch (type) {
      case '1':
        output(s, 1, p, len);
        break;
      case '2':
        output(s, 2, p, len);
        break;
      case 'S':
        if (!s->stdin_done && !s->half_closed) s->stdin_wanted = 1;
        break;
      case 'X': {
        long long code;
        if (parse_exit(p, len, &code) < 0) lost(s, "the daemon's exit chunk holds no decimal exit code");
        if (code == FALLBACK_EXIT_CODE) {
          close(s->sock);
          run_node_client();
        }
        exit((int)code);
      }
      default: {
        char why[96];
        snprintf(why, sizeof why, "the daemon sent a chunk of type 0x%02x, which it never sends", (unsigned char)type);
        lost(s, why);
      }
    }
    off += 5 + len;
  }
  if (off > 0) {
    memmove(s->in, s->in + off, s->in_len - off);
    s->in_len -= off;
  }
}

/* Answers an `S`: one read of stdin, or EOF; only ever after the daemon asked, so unread input stays the user's. */
static void pump_stdin(struct session *s) {
  static unsigned char data[STDIN_CHUNK];
  ssize_t n = read(0, data, sizeof data);
  if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) return;
  s->stdin_wanted = 0;
  if (n > 0) {
    send_chunk(s, '0', data, (size_t)n);
  } else {
    /* End of input, or an input that fails (closed, unreadable): the command gets EOF rather than waiting forever. */
    send_chunk(s, '.', NULL, 0);
    s->stdin_done = 1;
  }
}

static void serve(struct session *s, const char *cwd) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_sigint;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0; /* no SA_RESTART: poll returns at once to act on it */
  sigaction(SIGINT, &sa, NULL);

  struct buf pre = {0};
  put_preamble(&pre, cwd);
  send_buf(s, &pre);
  free(pre.data);

  long long start = now_ms(), last = start, next_beat = start + HEARTBEAT_MS;
  unsigned char rbuf[65536];
  for (;;) {
    if (g_interrupts > 0 && !s->half_closed) {
      /* Cancel: close our side; the daemon stops the run and still sends its last output and exit code. */
      s->half_closed = 1;
      s->stdin_wanted = 0;
      shutdown(s->sock, SHUT_WR);
    }
    long long now = now_ms();
    if (!s->answered && now - start >= ANSWER_TIMEOUT_MS) lost(s, "the daemon accepted the connection but did not answer");
    if (s->answered && now - last >= SILENCE_TIMEOUT_MS) lost(s, "the daemon sent nothing for 600 s, not even a keepalive");
    if (!s->half_closed && now >= next_beat) {
      send_chunk(s, 'H', NULL, 0);
      next_beat = now + HEARTBEAT_MS;
    }
    long long deadline = s->answered ? last + SILENCE_TIMEOUT_MS : start + ANSWER_TIMEOUT_MS;
    if (!s->half_closed && next_beat < deadline) deadline = next_beat;
    long long wait = deadline - now;
    if (wait < 0) wait = 0;

    struct pollfd fds[2] = {{.fd = s->sock, .events = POLLIN}, {.fd = 0, .events = POLLIN}};
    int nfds = s->stdin_wanted ? 2 : 1;
    int r = poll(fds, (nfds_t)nfds, (int)wait);
    if (r < 0) {
      if (errno == EINTR) continue;
      lost(s, strerror(errno));
    }
    if (nfds == 2 && fds[1].revents != 0) pump_stdin(s);
    if (fds[0].revents != 0) {
      ssize_t n = read(s->sock, rbuf, sizeof rbuf);
      if (n < 0) {
        if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
        char why[160];
        snprintf(why, sizeof why, "the connection to the Nailgun server failed: %s", strerror(errno));
        lost(s, why);
      }
      if (n == 0) {
        lost(s, s->in_len > 0 ? "the connection ended inside a chunk"
                              : "the Nailgun server closed the connection without sending an exit code");
      }
      s->answered = 1;
      last = now_ms();
      if (s->in_len + (size_t)n > s->in_cap) {
        size_t cap = s->in_cap ? s->in_cap : 65536;
        while (cap < s->in_len + (size_t)n) cap *= 2;
        unsigned char *d = realloc(s->in, cap);
        if (d == NULL) lost(s, "out of memory");
        s->in = d;
        s->in_cap = cap;
      }
      memcpy(s->in + s->in_len, rbuf, (size_t)n);
      s->in_len += (size_t)n;
      handle_chunks(s);
    }
  }
}

int main(int argc, char **argv) {
  (void)argc;
  g_argv = argv;
  /* A closed stdin would let the socket take fd 0, and stdin reads would eat the daemon's chunks. */
  for (int fd = 0; fd < 3; fd++) {
    if (fcntl(fd, F_GETFD) < 0 && errno == EBADF && open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY) != fd) return 70;
  }
  long long started_ms = now_ms();
  int to_node = goes_to_node_client();

  char cwd[PATH_MAX], root[PATH_MAX];
  if (getcwd(cwd, sizeof cwd) == NULL) run_node_client();
  strcpy(root, cwd);
  if (find_build_root(root) < 0) run_node_client();
  /* A run without a daemon that its last identical run proved a no-op is answered here (replay.c); else Node runs it. */
  if (to_node) {
    try_replay(root, cwd, g_argv, started_ms);
    /* Checked, and it did not hold: the Node client need not check again (bin/trews.cjs takes the variable out). */
    setenv("TREWS_REPLAY_CHECKED", "1", 1);
    run_node_client();
  }

  /*
   * A command line the daemon answered, and proved after its answer, is replayed here as well
   * (src/cli/daemon-replay.ts): a record holds only while every stamp in it does, daemon or not.
   * Nothing is set in the environment first: it is sent to the daemon, and a record compares it.
   */
  try_replay(root, cwd, g_argv, started_ms);

  /* The running daemon's metadata (src/daemon/metadata.ts): pid is written last, so its presence means the rest is complete. */
  char path[PATH_MAX + 64], pid[32];
  struct sockaddr_un addr;
  memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  snprintf(path, sizeof path, "%s" DAEMON_DIR "pid", strcmp(root, "/") == 0 ? "" : root);
  ssize_t pid_len = read_small(path, pid, sizeof pid);
  if (pid_len <= 0 || pid[0] < '0' || pid[0] > '9') run_node_client();
  snprintf(path, sizeof path, "%s" DAEMON_DIR "socket", strcmp(root, "/") == 0 ? "" : root);
  ssize_t sock_len = read_small(path, addr.sun_path, sizeof addr.sun_path);
  if (sock_len <= 0 || (size_t)sock_len >= sizeof addr.sun_path - 1) run_node_client();

  /* A daemon that is gone or on its way out refuses: the Node client clears its files and starts the next. */
  int sock = socket(AF_UNIX, SOCK_STREAM, 0);
  if (sock < 0) run_node_client();
  fcntl(sock, F_SETFD, FD_CLOEXEC);
  if (connect(sock, (struct sockaddr *)&addr, sizeof addr) < 0) {
    close(sock);
    run_node_client();
  }
  /* A reader that went away (`trews … | head`) must not end the run early: its output is dropped, as the Node client does. */
  signal(SIGPIPE, SIG_IGN);
  struct session s = {.sock = sock, .root = root};
  serve(&s, cwd);
  return 70;
}
