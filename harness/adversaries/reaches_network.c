/* reaches_network: connects to a listener on the host's loopback.
 *
 * Usage: reaches_network PORT
 * Tries: a TCP connect to 127.0.0.1:PORT (the harness listens there, on the
 * host) and, if it succeeds, sends a line. Loopback of the host's network
 * namespace is reachable from any process that shares that namespace.
 *
 * Contained: the harness's listener has no connection pending or accepted.
 * A fresh network namespace (with only its own loopback) contains it; a
 * sandbox in the host's network namespace does not.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: reaches_network PORT\n");
    return 2;
  }
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) {
    perror("socket");
    return 0;
  }
  struct sockaddr_in host = {0};
  host.sin_family = AF_INET;
  host.sin_port = htons((unsigned short)atoi(argv[1]));
  host.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr*)&host, sizeof host) != 0) {
    perror("reaches_network: connect");
    return 0;
  }
  (void)!write(fd, "reached\n", 8);
  printf("reaches_network: connected to 127.0.0.1:%s\n", argv[1]);
  return 0;
}
