/* Attacks a container should not be able to make, as a tiny static program the tests copy
 * into a busybox root (busybox has neither keyctl nor a cgroup-namespace unshare).
 *
 *   attacks keyring            print the session keyring's description, then look for the
 *                              key "gophernetes-test-secret" in it: "found SERIAL" or
 *                              "not found"; a refused keyctl prints "keyctl: <error>"
 *   attacks cgroup-mount DIR   new user, mount and cgroup namespaces (root inside), then
 *                              mount the v1 pids hierarchy on DIR: "mounted" or the error
 *
 * Built by tests/system/runtime/test_seccomp.py with `gcc -static`.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

#define KEYCTL_GET_KEYRING_ID 0
#define KEYCTL_DESCRIBE 6
#define KEYCTL_SEARCH 10
#define KEY_SPEC_SESSION_KEYRING -3

static int keyring(void) {
    char description[4200];
    long serial = syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0);
    if (serial < 0) {
        printf("keyctl: %s\n", strerror(errno));
        return 1;
    }
    if (syscall(SYS_keyctl, KEYCTL_DESCRIBE, serial, description, sizeof description) < 0) {
        printf("keyctl: %s\n", strerror(errno));
        return 1;
    }
    printf("session %s\n", description);
    long found = syscall(SYS_keyctl, KEYCTL_SEARCH, KEY_SPEC_SESSION_KEYRING, "user", "gophernetes-test-secret", 0);
    if (found < 0)
        printf("not found (%s)\n", strerror(errno));
    else
        printf("found %ld\n", found);
    return 0;
}

static void write_file(const char *path, const char *text) {
    int fd = open(path, O_WRONLY);
    if (fd >= 0) {
        if (write(fd, text, strlen(text)) < 0) { /* reported by the mount that follows */ }
        close(fd);
    }
}

static int cgroup_mount(const char *dir) {
    char map[64];
    uid_t uid = getuid();
    gid_t gid = getgid();
    if (unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWCGROUP) < 0) {
        printf("unshare: %s\n", strerror(errno));
        return 1;
    }
    snprintf(map, sizeof map, "0 %d 1", uid);
    write_file("/proc/self/uid_map", map);
    write_file("/proc/self/setgroups", "deny");
    snprintf(map, sizeof map, "0 %d 1", gid);
    write_file("/proc/self/gid_map", map);
    if (mount("none", dir, "cgroup", 0, "pids") < 0) {
        printf("mount: %s\n", strerror(errno));
        return 1;
    }
    printf("mounted\n");
    return 0;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc == 2 && strcmp(argv[1], "keyring") == 0)
        return keyring();
    if (argc == 3 && strcmp(argv[1], "cgroup-mount") == 0)
        return cgroup_mount(argv[2]);
    fprintf(stderr, "usage: attacks keyring | attacks cgroup-mount DIR\n");
    return 2;
}
