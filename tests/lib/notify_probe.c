// SPDX-License-Identifier: Apache-2.0
// notify-probe MESSAGE [CMD ARGS...]: send MESSAGE as one datagram to $NOTIFY_SOCKET, as
// sd_notify(3) does, then exec CMD, so the sender stays a unit's main process. Built static
// by the functional tests and copied into test images (busybox cannot send datagrams).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char** argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: notify-probe MESSAGE [CMD ARGS...]\n");
        return 2;
    }
    const char* path = getenv("NOTIFY_SOCKET");
    if (!path || !*path) {
        fprintf(stderr, "notify-probe: NOTIFY_SOCKET is not set\n");
        return 3;
    }
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    if (strlen(path) >= sizeof sa.sun_path) {
        fprintf(stderr, "notify-probe: NOTIFY_SOCKET is too long\n");
        return 3;
    }
    strcpy(sa.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || sendto(fd, argv[1], strlen(argv[1]), 0, (struct sockaddr*)&sa, sizeof sa) < 0) {
        perror("notify-probe: send");
        return 4;
    }
    close(fd);
    if (argc > 2) {
        execv(argv[2], argv + 2);
        perror("notify-probe: exec");
        return 5;
    }
    return 0;
}
