// count_connections PORT FILE: listens on 127.0.0.1:PORT, accepts and closes
// every connection, and keeps FILE holding how many it saw (0 from the
// start, once it is listening) until SIGTERM. The builder tests run it
// beside builds that try to reach the host: it must stay at 0.

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "host/loopback_listener.hpp"

namespace {
std::atomic<bool> stop{false};
void on_term(int) { stop = true; }

void write_count(const std::string& file, int count) {
  const std::string partial = file + ".partial";
  std::ofstream(partial) << count << '\n';
  std::rename(partial.c_str(), file.c_str());
}
}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: count_connections PORT FILE\n");
    return 2;
  }
  signal(SIGTERM, on_term);
  signal(SIGINT, on_term);
  snapcell::testing::LoopbackListener listener(std::atoi(argv[1]));
  if (listener.port() == 0) {
    std::perror("count_connections: listen");
    return 1;
  }
  int written = -1;
  while (!stop) {
    if (listener.connections() != written) write_count(argv[2], written = listener.connections());
    ::usleep(20'000);
  }
  write_count(argv[2], listener.connections());
  return 0;
}
