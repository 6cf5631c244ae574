/*
 * lesson.h: what the twelve C programs share and what is not socket
 * programming. The course's command-line contract asks every program for
 * a few things the tutorial's C does not do: a usage text for -h/--help,
 * a port checked instead of atoi()'d, exit status 2 for a usage error,
 * signals put back the way a fresh process has them, messages shown
 * lossily and each line written whole. They live here once, so that the
 * programs themselves read like the tutorial's.
 *
 * Everything is `static inline`: each program includes this header and
 * compiles alone (gcc -O2 -Wall -Wextra file.c), with no library to link.
 */
#ifndef LESSON_H
#define LESSON_H

#define _GNU_SOURCE /* getline, bzero, MSG_NOSIGNAL, ... with any -std */

#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <sys/types.h>
#include <sys/socket.h>

/* The contract's exit statuses: 1 for a failure at run time (the
 * tutorial's error()), 2 for a usage error. */
#define EXIT_USAGE 2

/* ---------------------------------------------------------------------
 * Whole lines, with one write(2) each.
 *
 * A forking server has many processes writing to one stdout: a line that
 * went out in two writes could have another child's line land in the
 * middle. So every line is built in memory and handed to the kernel in
 * one write(). And no stdio buffering: printf() into a pipe keeps lines
 * in its buffer until it is full, and a server's lines must show as they
 * happen.
 * ------------------------------------------------------------------- */

/* Writes all of buf to descriptor fd, repeating write() after a signal or
 * a short write; gives up silently if the reader has gone. */
static inline void write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return;
        }
        buf += n;
        len -= (size_t) n;
    }
}

/* One line on stderr, printf-style, written whole. */
static inline void say(const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t) n > sizeof(line) - 2)
        n = sizeof(line) - 2;
    line[n++] = '\n';
    write_all(2, line, (size_t) n);
}

/* `msg: reason (os error N)` on stderr, for errno, as Rust shows an OS
 * error; the program goes on. */
static inline void report(const char *msg)
{
    int err = errno;
    say("%s: %s (os error %d)", msg, strerror(err), err);
    errno = err;
}

/* The tutorial's error(): say which step failed and why, then exit 1. */
static inline _Noreturn void error(const char *msg)
{
    report(msg);
    exit(1);
}

/* As error(), with a reason that is not in errno. */
static inline _Noreturn void fail(const char *msg, const char *reason)
{
    say("%s: %s", msg, reason);
    exit(1);
}

/* The longest message any program prints on one line (lesson 06's client
 * prints a reply line in pieces beyond 64 KiB). */
#define LINE_MAX_MESSAGE (68 * 1024)

/* How many bytes at s, at most len, make one well-formed UTF-8 character
 * (1 to 4), or 0 if they do not; then *bad is how many of them to replace
 * by one U+FFFD: the lead byte and the continuation bytes that were still
 * right, as Rust's String::from_utf8_lossy counts them. */
static inline size_t utf8_char(const unsigned char *s, size_t len, size_t *bad)
{
    unsigned char b = s[0], lo = 0x80, hi = 0xBF;
    size_t need, i;
    if (b < 0x80)
        return 1;
    if (b >= 0xC2 && b <= 0xDF)
        need = 1;
    else if (b == 0xE0)
        need = 2, lo = 0xA0;
    else if (b == 0xED)
        need = 2, hi = 0x9F;
    else if (b >= 0xE1 && b <= 0xEF)
        need = 2;
    else if (b == 0xF0)
        need = 3, lo = 0x90;
    else if (b == 0xF4)
        need = 3, hi = 0x8F;
    else if (b >= 0xF1 && b <= 0xF3)
        need = 3;
    else {
        *bad = 1;
        return 0;
    }
    for (i = 1; i <= need; i++) {
        unsigned char c = i < len ? s[i] : 0;
        if (i >= len || c < (i == 1 ? lo : 0x80) || c > (i == 1 ? hi : 0xBF)) {
            *bad = i;
            return 0;
        }
    }
    return need + 1;
}

/* Prints prefix, then the len bytes of msg, then note, then a newline, as
 * ONE write. The message is bytes, not a C string: it may hold a NUL, and
 * need not be UTF-8 (each ill-formed sequence is shown as U+FFFD, "shown
 * lossily"). Its own trailing newline, if any, is dropped, so that
 * `hello\n` is not followed by an empty line. */
static inline void print_line_note(const char *prefix, const char *msg, size_t len,
                                   const char *note)
{
    static char line[3 * LINE_MAX_MESSAGE + 512];
    size_t plen = strlen(prefix), nlen = strlen(note), used = 0, i = 0;
    if (len > 0 && msg[len - 1] == '\n')
        len--;
    if (len > LINE_MAX_MESSAGE)
        len = LINE_MAX_MESSAGE;
    if (plen + nlen > 500)
        return;
    memcpy(line, prefix, plen);
    used = plen;
    while (i < len) {
        size_t bad = 0;
        size_t good = utf8_char((const unsigned char *) msg + i, len - i, &bad);
        if (good > 0) {
            memcpy(line + used, msg + i, good);
            used += good;
            i += good;
        } else {
            memcpy(line + used, "\xEF\xBF\xBD", 3); /* U+FFFD */
            used += 3;
            i += bad;
        }
    }
    memcpy(line + used, note, nlen);
    used += nlen;
    line[used++] = '\n';
    write_all(1, line, used);
}

/* The usual case: a line with no note after the message. */
static inline void print_line(const char *prefix, const char *msg, size_t len)
{
    print_line_note(prefix, msg, len, "");
}

/* ---------------------------------------------------------------------
 * The command line.
 *
 * The tutorial reads argv[1] and calls atoi(), which turns `abc` into
 * port 0 and `70000` into 4464 once htons() has cut it to 16 bits. The
 * contract wants a usage error (exit 2) instead, -h/--help anywhere, and
 * options (`--name VALUE` or `--name=VALUE`) before or after the
 * positional arguments.
 * ------------------------------------------------------------------- */

/* One option a program accepts: its name, and its value once parsed
 * (NULL when not given). */
struct option_arg {
    const char *name;
    const char *value;
};

/* A usage error: why, and the usage line, on stderr; exit 2. */
static inline _Noreturn void usage_error(const char *usage, const char *why)
{
    say("%s (usage: %s)", why, usage);
    exit(EXIT_USAGE);
}

/* Sorts argv into exactly npos positional arguments (named in names[],
 * for the "missing argument" message) and the options in opts[] (an
 * array ending with a NULL name; NULL for none). Exits 0 after printing
 * the usage for -h/--help, 2 on any usage error. */
static inline void parse_args(int argc, char *argv[], const char *usage, int npos,
                              const char *names[], const char *pos[],
                              struct option_arg *opts)
{
    char why[256];
    int i, given = 0;
    for (i = 0; i < npos; i++)
        pos[i] = "";
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            char text[256];
            int n = snprintf(text, sizeof(text), "usage: %s\n", usage);
            write_all(1, text, (size_t) n < sizeof(text) ? (size_t) n : sizeof(text) - 1);
            exit(0);
        }
    }
    for (i = 1; i < argc; i++) {
        const char *arg = argv[i];
        /* `-1` is a (bad) number, not an option: the port check says why. */
        if (arg[0] != '-' || arg[1] == '\0' || isdigit((unsigned char) arg[1])) {
            if (given < npos)
                pos[given] = arg;
            given++;
            continue;
        }
        const char *eq = strchr(arg, '=');
        size_t name_len = eq ? (size_t) (eq - arg) : strlen(arg);
        struct option_arg *o = opts;
        while (o && o->name && !(strlen(o->name) == name_len && strncmp(o->name, arg, name_len) == 0))
            o++;
        if (!o || !o->name) {
            snprintf(why, sizeof(why), "unknown option '%.*s'", (int) (name_len > 40 ? 40 : name_len), arg);
            usage_error(usage, why);
        }
        if (eq)
            o->value = eq + 1;
        else if (i + 1 < argc)
            o->value = argv[++i];
        else {
            snprintf(why, sizeof(why), "option %s needs a value", o->name);
            usage_error(usage, why);
        }
    }
    if (given < npos) {
        snprintf(why, sizeof(why), "missing argument: %s", names[given]);
        usage_error(usage, why);
    }
    if (given > npos)
        usage_error(usage, "too many arguments");
}

/* A port: a decimal integer 0..65535, digits only (0 lets the kernel
 * choose). Anything else is a usage error that names the port. */
static inline int parse_port(const char *given, const char *usage)
{
    size_t len = strlen(given), i;
    int valid = len >= 1 && len <= 5, port = 0;
    for (i = 0; valid && i < len; i++) {
        if (!isdigit((unsigned char) given[i]))
            valid = 0;
        else
            port = port * 10 + (given[i] - '0');
    }
    if (!valid || port > 65535) {
        char why[128];
        snprintf(why, sizeof(why), "invalid port '%.40s': expected a decimal integer 0..65535", given);
        usage_error(usage, why);
    }
    return port;
}

/* ---------------------------------------------------------------------
 * Signals we must not inherit.
 *
 * A process starts with the signal state its parent left it, and keeps
 * it across exec(): a signal set to "ignore" stays ignored (a shell
 * starts a background job with SIGINT ignored), and a blocked signal
 * stays blocked (the signal mask). A blocked signal is only pending: it
 * does nothing at all until it is unblocked, whatever its action. The
 * two are separate: signal(SIG_DFL) changes the action and leaves the
 * mask alone. So each server puts back the default action of the signals
 * it relies on, then unblocks them.
 * ------------------------------------------------------------------- */

/* ANCHOR: restore_default */
/* Takes sig out of the signal mask, whatever its action. */
static inline void unblock(int sig)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, sig);
    if (sigprocmask(SIG_UNBLOCK, &set, NULL) < 0)
        error("ERROR on sigprocmask");
}

/* Gives sig the default action, then unblocks it: in that order, so that
 * a signal that was pending meets the default action, not an inherited
 * "ignore". */
static inline void restore_default(int sig)
{
    if (signal(sig, SIG_DFL) == SIG_ERR)
        error("ERROR on signal");
    unblock(sig);
}

/* The contract's stopping rule: SIGINT (Ctrl-C) and SIGTERM (kill) end a
 * server, whoever started it and however. */
static inline void restore_stop_signals(void)
{
    restore_default(SIGINT);
    restore_default(SIGTERM);
}
/* ANCHOR_END: restore_default */

/* ---------------------------------------------------------------------
 * accept() failures that must not end a server that runs until stopped
 * (lessons 02, 03 and 05). The tutorial exits on any of them.
 * ------------------------------------------------------------------- */

/* ANCHOR: accept_failed */
/* After accept() failed with errno: returns 1 when calling accept() again
 * makes sense (after a pause, if the system is short of something), 0
 * when it never will (errno is kept, for the caller's error()). */
static inline int accept_again(void)
{
    struct timespec pause = { 0, 100 * 1000 * 1000 }; /* 100 ms */
    switch (errno) {
    /* A signal came while we waited (lesson 03's SIGCHLD), or a client
     * gave up between its handshake and our accept(). */
    case EINTR:
    case ECONNABORTED:
    /* Linux reports an error the new connection met on the network as an
     * error of accept() itself; accept(2) says to retry, as for EAGAIN. */
    case ENETDOWN: case EPROTO: case ENOPROTOOPT: case EHOSTDOWN:
    case ENONET: case EHOSTUNREACH: case EOPNOTSUPP: case ENETUNREACH:
        return 1;
    /* Out of descriptors (EMFILE: ours; ENFILE: the system's) or memory.
     * It may pass, so it must not end the server. But for EMFILE and
     * ENFILE the connection stays queued, and an immediate retry would
     * fail again at once, thousands of times a second: say so, pause. */
    case EMFILE: case ENFILE: case ENOBUFS: case ENOMEM:
        report("ERROR on accept");
        nanosleep(&pause, NULL);
        return 1;
    /* EBADF, ENOTSOCK, EINVAL, EFAULT: our call is wrong; no retry helps. */
    default:
        return 0;
    }
}
/* ANCHOR_END: accept_failed */

#endif
