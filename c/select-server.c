/*
 * select-server.c: lesson 06, the tutorial's "single process concurrent
 * server". One process, one thread, every client at once: select() says
 * which sockets are ready, and the server touches only those, so it never
 * waits on any one client. The whole server is one loop:
 *
 *   1. build the sets of descriptors to watch: the listening socket, each
 *      client that may still send, each client with replies waiting;
 *   2. select(): sleep until one of them is ready;
 *   3. serve exactly the ready ones: read what a client sent and answer
 *      each complete line, send queued replies, accept new connections.
 *
 * Nothing in the loop may block, or every client would wait for one. So
 * the sockets are nonblocking, each client keeps its state between
 * rounds (the part of a line that has come so far, the replies it has not
 * taken yet), and limits keep any one client from using unbounded memory.
 *
 * Each client sends lines; for each line L the server prints `Here is the
 * message: L` and sends that client `I got your message: L`.
 *
 * usage: select-server PORT
 */
#include "lesson.h"
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/select.h>

/* ANCHOR: limits */
/* The longest line a client may send, its newline not counted: a longer
 * one gets `ERROR line too long` and its client is closed, rather than
 * the server growing a buffer for a line that never ends. */
#define MAX_LINE 4096
/* The most reply bytes a client may leave unread: one that sends and never
 * reads would otherwise make us queue its replies for ever. */
#define MAX_UNSENT (64 * 1024)
/* How many connections one round accepts before serving the clients it
 * has: a flood of new connections must not starve the others. */
#define ACCEPTS_PER_ROUND 64
/* ANCHOR_END: limits */

/* ANCHOR: client */
/* What the server remembers about one client between two rounds. In a
 * fork server this lived on the child's stack; with one process for all,
 * it lives here, indexed by the client's descriptor (always below
 * FD_SETSIZE: see accept_clients). */
struct client {
    int in_use;
    /* The start of a line whose newline has not come yet: input[0..filled],
     * room for the longest line and its newline. */
    char input[MAX_LINE + 1];
    size_t filled;
    /* Replies queued and not yet taken by the socket: unsent[start..end]. */
    char *unsent;
    size_t start, end, size;
    int peer_done;  /* it closed its sending side: it will send no more */
    int refused;    /* its line was too long: its input is thrown away */
    int shut_down;  /* we shut our sending side down, after the error line */
    int finished;   /* nothing left to do: close it at the end of the round */
    int watched_for_writing; /* in this round's write set */
};

static struct client client[FD_SETSIZE];
static int top;        /* every client's descriptor is below top */
static int spare = -1; /* a descriptor kept for EMFILE: see shed() */
/* ANCHOR_END: client */

/* Adds len bytes to c's unsent replies, growing its buffer when needed
 * (compacting it first). Out of memory, the client is dropped. */
static void queue(struct client *c, const char *bytes, size_t len)
{
    if (c->end + len > c->size && c->start > 0) {
        memmove(c->unsent, c->unsent + c->start, c->end - c->start);
        c->end -= c->start;
        c->start = 0;
    }
    if (c->end + len > c->size) {
        size_t size = c->size ? c->size * 2 : 256;
        char *bigger;
        while (size < c->end + len)
            size *= 2;
        bigger = realloc(c->unsent, size);
        if (bigger == NULL) {
            report("ERROR on realloc");
            c->finished = 1;
            return;
        }
        c->unsent = bigger;
        c->size = size;
    }
    memcpy(c->unsent + c->end, bytes, len);
    c->end += len;
}

/* ANCHOR: answer */
/* What the server does for one line: print it, and queue the reply for
 * this client alone. The reply goes out with the client's next send(). */
static void answer(struct client *c, const char *line, size_t len)
{
    print_line("Here is the message: ", line, len);
    queue(c, "I got your message: ", 20);
    queue(c, line, len);
    queue(c, "\n", 1);
}
/* ANCHOR_END: answer */

/* ANCHOR: lines */
/* Answers every complete line in input[0..filled], and keeps the
 * unfinished rest at the front of the buffer for the next read: one read
 * may bring several lines, or part of one. A full buffer with no newline
 * holds a line longer than MAX_LINE: refuse it, and close. */
static void answer_complete_lines(struct client *c, int fd)
{
    char *line = c->input, *end = c->input + c->filled, *newline;
    while ((newline = memchr(line, '\n', (size_t) (end - line))) != NULL) {
        answer(c, line, (size_t) (newline - line));
        line = newline + 1;
    }
    c->filled = (size_t) (end - line);
    memmove(c->input, line, c->filled);
    if (c->filled == sizeof(c->input)) {
        say("closing connection on descriptor %d: line too long", fd);
        queue(c, "ERROR line too long\n", 20);
        c->refused = 1;
        c->filled = 0;
    }
}
/* ANCHOR_END: lines */

/* ANCHOR: read */
/* The client's socket is readable: data, the end of its input, or an
 * error. ONE read() per round, so that a client that sends without pause
 * still lets select() come round to the others. */
static void on_readable(struct client *c, int fd)
{
    /* A refused client's input is read into the buffer and forgotten. */
    size_t at = c->refused ? 0 : c->filled;
    ssize_t n = read(fd, c->input + at, sizeof(c->input) - at);
    if (n == 0) {
        /* It closed its sending side: a last piece with no newline is a
         * line all the same. */
        c->peer_done = 1;
        if (c->filled > 0 && !c->refused)
            answer(c, c->input, c->filled);
        c->filled = 0;
    } else if (n > 0) {
        if (!c->refused) {
            c->filled += (size_t) n;
            answer_complete_lines(c, fd);
        }
    } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        /* A reset, or worse: nobody is left to read our replies. (EAGAIN:
         * select() said readable and nothing was there; it happens.) */
        c->finished = 1;
    }
}
/* ANCHOR_END: read */

/* ANCHOR: flush */
/* Sends as much of the queued replies as the socket takes now. On a
 * nonblocking socket, send() takes what fits in the kernel's send buffer
 * and returns; the rest waits for a later round. MSG_NOSIGNAL: sending to
 * a client that has gone fails with EPIPE instead of raising SIGPIPE,
 * whose default action would kill the server and every client with it. */
static void flush(struct client *c, int fd)
{
    while (c->end > c->start) {
        ssize_t n = send(fd, c->unsent + c->start, c->end - c->start, MSG_NOSIGNAL);
        if (n >= 0) {
            c->start += (size_t) n;
            if (c->end > c->start)
                return; /* the send buffer is full: EAGAIN if we tried now */
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            return;
        } else if (errno != EINTR) {
            c->finished = 1; /* EPIPE, ECONNRESET: gone, never fatal to us */
            return;
        }
    }
    c->start = c->end = 0;
}
/* ANCHOR_END: flush */

/* ANCHOR: close */
/* The end of a client's round: enforce the limit on unsent replies, and
 * finish the clients that have nothing left to do. */
static void check_limits_and_close(struct client *c, int fd)
{
    if (c->finished)
        return;
    if (c->end - c->start > MAX_UNSENT) {
        say("closing connection on descriptor %d: more than 64 KiB of unsent replies", fd);
        c->finished = 1;
        return;
    }
    if (c->end > c->start)
        return;
    if (c->refused && !c->shut_down) {
        /* The error line is out. Shut our sending side down (the client
         * reads the end of the stream after it), but do not close yet:
         * closing with the client's input unread makes the kernel send a
         * reset, which may destroy the error line before it is read. So
         * keep reading, and throwing away, until the client closes. */
        shutdown(fd, SHUT_WR);
        c->shut_down = 1;
    }
    if (c->peer_done)
        c->finished = 1; /* it sends nothing more and has all its replies */
}

/* Closes a finished client's socket and forgets it. */
static void close_client(int fd)
{
    close(fd);
    free(client[fd].unsent);
    client[fd].in_use = 0;
    while (top > 0 && !client[top - 1].in_use)
        top--;
}
/* ANCHOR_END: close */

/* ANCHOR: spare */
/* accept() failing with EMFILE leaves the connection in the kernel's
 * queue, so the listening socket stays readable and the next select()
 * returns at once: the server would spin at full speed and serve no one.
 * The way out (libuv's, among others): close the spare descriptor, accept
 * the connection with the number it frees, close that connection at once
 * and open the spare again. Returns whether a connection was shed. */
static int shed(int listener)
{
    int fd;
    if (spare < 0) {
        say("ERROR on accept: out of descriptors, and no spare one to free");
        return 0;
    }
    close(spare);
    fd = accept(listener, NULL, NULL);
    if (fd >= 0) {
        say("closing new connection on descriptor %d: out of descriptors", fd);
        close(fd);
    }
    spare = open("/dev/null", O_RDONLY);
    return fd >= 0;
}
/* ANCHOR_END: spare */

/* ANCHOR: accept */
/* Accepts the connections waiting on the listening socket, up to
 * ACCEPTS_PER_ROUND, each a nonblocking client. */
static void accept_clients(int listener)
{
    int i, fd;
    for (i = 0; i < ACCEPTS_PER_ROUND; i++) {
        fd = accept(listener, NULL, NULL);
        if (fd < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return; /* nobody else is waiting */
            if (errno == ECONNABORTED || errno == EINTR)
                continue; /* a client that gave up, or a signal */
            if (errno == EMFILE || errno == ENFILE) {
                if (shed(listener))
                    continue;
                return;
            }
            report("ERROR on accept"); /* say it; try again next round */
            return;
        }
        /* The FD_SETSIZE guard. An fd_set is a bitmap of FD_SETSIZE (1024)
         * bits, and FD_SET() of a larger descriptor writes past its end:
         * undefined behaviour, silently. The kernel hands out descriptors
         * up to `ulimit -n`, which may be far above 1024. */
        if (fd >= FD_SETSIZE) {
            say("closing connection on descriptor %d: select() can only watch descriptors "
                "below FD_SETSIZE (%d)", fd, FD_SETSIZE);
            close(fd);
            continue;
        }
        /* accept() does not pass O_NONBLOCK on to the new socket: set it,
         * or one read() could stop the whole server. */
        if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) {
            report("ERROR on fcntl(O_NONBLOCK)");
            close(fd);
            continue;
        }
        client[fd].in_use = 1;
        client[fd].filled = 0;
        client[fd].unsent = NULL;
        client[fd].start = client[fd].end = client[fd].size = 0;
        client[fd].peer_done = client[fd].refused = 0;
        client[fd].shut_down = client[fd].finished = 0;
        if (fd >= top)
            top = fd + 1;
    }
}
/* ANCHOR_END: accept */

int main(int argc, char *argv[])
{
    int listener, portno, yes = 1, fd, maxfd;
    struct sockaddr_in serv_addr;
    fd_set readfds, writefds;
    const char *usage = "select-server PORT", *names[] = { "port" }, *arg[1];

    /* ANCHOR: main */
    parse_args(argc, argv, usage, 1, names, arg, NULL);
    portno = parse_port(arg[0], usage);
    /* The stopping rule (lesson.h). No SIGCHLD: there are no children. */
    restore_stop_signals();
    /* ANCHOR_END: main */

    /* ANCHOR: listen */
    /* 1. to 3., as in lesson 02: socket(), SO_REUSEADDR, bind(), listen()
     *    with SOMAXCONN. */
    listener = socket(AF_INET, SOCK_STREAM, 0);
    if (listener < 0)
        error("ERROR opening socket");
    if (setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes)) < 0)
        error("ERROR on setsockopt");
    bzero((char *) &serv_addr, sizeof(serv_addr));
    serv_addr.sin_family = AF_INET;
    serv_addr.sin_addr.s_addr = htonl(INADDR_ANY);
    serv_addr.sin_port = htons(portno);
    if (bind(listener, (struct sockaddr *) &serv_addr, sizeof(serv_addr)) < 0)
        error("ERROR on binding");
    if (listen(listener, SOMAXCONN) < 0)
        error("ERROR on listening");
    /* New: nonblocking. select() may say a connection is waiting, and the
     * client may reset it before we accept(): a blocking accept() would
     * then sleep until the next client, and every client with it. */
    if (fcntl(listener, F_SETFL, fcntl(listener, F_GETFL) | O_NONBLOCK) < 0)
        error("ERROR on fcntl(O_NONBLOCK)");
    /* ANCHOR_END: listen */
    if (listener >= FD_SETSIZE)
        fail("ERROR opening socket", "the descriptor is beyond what select() can watch");
    spare = open("/dev/null", O_RDONLY);

    for (;;) {
        /* ANCHOR: sets */
        /* 1. The sets. select() overwrites them with its answer, so they are
         *    built again every round: FD_ZERO() empties one, FD_SET() adds a
         *    descriptor, FD_ISSET() asks about one afterwards. maxfd + 1 is
         *    select()'s first argument: it looks at descriptors 0 to maxfd
         *    and no further. */
        FD_ZERO(&readfds);
        FD_ZERO(&writefds);
        FD_SET(listener, &readfds);
        maxfd = listener;
        for (fd = 0; fd < top; fd++) {
            struct client *c = &client[fd];
            if (!c->in_use)
                continue;
            if (!c->peer_done)
                FD_SET(fd, &readfds); /* it may still send (or reset) */
            c->watched_for_writing = c->end > c->start;
            if (c->watched_for_writing)
                FD_SET(fd, &writefds); /* replies wait for room */
            if (fd > maxfd)
                maxfd = fd;
        }
        /* ANCHOR_END: sets */

        /* ANCHOR: select */
        /* 2. select(): sleep until a descriptor in a set is ready; no
         *    timeout (NULL). A signal interrupts it with EINTR, which is no
         *    failure: build the sets again. */
        if (select(maxfd + 1, &readfds, &writefds, NULL, NULL) < 0) {
            if (errno == EINTR)
                continue;
            error("ERROR on select");
        }
        /* ANCHOR_END: select */

        /* ANCHOR: serve */
        /* 3. Serve whoever is ready. A client whose replies were queued this
         *    round (not watched for writing) is sent them at once; one whose
         *    socket was full when select() was called waits until select()
         *    says it has room. */
        for (fd = 0; fd < top; fd++) {
            struct client *c = &client[fd];
            if (!c->in_use)
                continue;
            if (FD_ISSET(fd, &readfds))
                on_readable(c, fd);
            if (c->end > c->start && (FD_ISSET(fd, &writefds) || !c->watched_for_writing))
                flush(c, fd);
            check_limits_and_close(c, fd);
            if (c->finished)
                close_client(fd);
        }
        if (FD_ISSET(listener, &readfds))
            accept_clients(listener);
        /* ANCHOR_END: serve */
    }
}
