//===- Graphviz.cpp - Running Graphviz's dot ------------------------------===//

#include "compiler/view/Graphviz.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

namespace seqc::view {

std::string findDot() {
  const char *path = std::getenv("PATH");
  std::string_view dirs = path ? path : "";
  while (true) {
    size_t colon = dirs.find(':');
    std::string dir(dirs.substr(0, colon));
    std::string candidate = (dir.empty() ? "." : dir) + "/dot";
    struct stat st;
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        ::access(candidate.c_str(), X_OK) == 0)
      return candidate;
    if (colon == std::string_view::npos)
      return "";
    dirs.remove_prefix(colon + 1);
  }
}

namespace {

/// Closes the descriptors it holds when it goes out of scope.
struct Pipes {
  int fds[6] = {-1, -1, -1, -1, -1, -1}; // stdin r/w, stdout r/w, stderr r/w
  ~Pipes() {
    for (int fd : fds)
      if (fd >= 0)
        ::close(fd);
  }
  void close(int i) {
    if (fds[i] >= 0)
      ::close(fds[i]);
    fds[i] = -1;
  }
};

/// Feeds \p input to fds[1] while draining fds[2] and fds[4] into \p out
/// and \p err, with poll, so that neither side blocks on a full pipe.
bool pump(Pipes &pipes, std::string_view input, std::string &out,
          std::string &err) {
  size_t written = 0;
  if (input.empty())
    pipes.close(1);
  char buffer[65536];
  while (pipes.fds[2] >= 0 || pipes.fds[4] >= 0) {
    pollfd fds[3] = {{pipes.fds[1], POLLOUT, 0},
                     {pipes.fds[2], POLLIN, 0},
                     {pipes.fds[4], POLLIN, 0}};
    if (::poll(fds, 3, -1) < 0) {
      if (errno == EINTR)
        continue;
      return false;
    }
    if (fds[0].revents) {
      ssize_t n =
          ::write(pipes.fds[1], input.data() + written, input.size() - written);
      if (n < 0 && errno != EINTR && errno != EAGAIN)
        pipes.close(1); // dot exited early; its status says why
      else if (n > 0 && (written += size_t(n)) == input.size())
        pipes.close(1);
    }
    for (int k : {1, 2}) {
      if (!fds[k].revents)
        continue;
      ssize_t n = ::read(pipes.fds[2 * k], buffer, sizeof buffer);
      if (n > 0)
        (k == 1 ? out : err).append(buffer, size_t(n));
      else if (n == 0 || (errno != EINTR && errno != EAGAIN))
        pipes.close(2 * k);
    }
  }
  return true;
}

} // namespace

bool renderSvg(const std::string &dotPath, std::string_view dot,
               std::string &svg, std::string &error) {
  Pipes pipes;
  for (int i = 0; i < 3; ++i)
    if (::pipe2(pipes.fds + 2 * i, O_CLOEXEC) != 0) {
      error =
          fmt::format("cannot create a pipe for dot: {}", std::strerror(errno));
      return false;
    }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipes.fds[0], 0);
  posix_spawn_file_actions_adddup2(&actions, pipes.fds[3], 1);
  posix_spawn_file_actions_adddup2(&actions, pipes.fds[5], 2);
  std::string format = "-Tsvg";
  char *argv[] = {const_cast<char *>(dotPath.c_str()), format.data(), nullptr};
  pid_t pid;
  int spawned =
      posix_spawn(&pid, dotPath.c_str(), &actions, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0) {
    error = fmt::format("cannot run {}: {}", dotPath, std::strerror(spawned));
    return false;
  }
  for (int i : {0, 3, 5})
    pipes.close(i);
  // A dot that exits before reading everything must not kill seqc.
  struct sigaction ignore = {}, previous;
  ignore.sa_handler = SIG_IGN;
  ::sigaction(SIGPIPE, &ignore, &previous);
  std::string err;
  bool pumped = pump(pipes, dot, svg, err);
  ::sigaction(SIGPIPE, &previous, nullptr);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0)
    if (errno != EINTR)
      break;
  if (!pumped || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    error = fmt::format("{} -Tsvg failed{}{}", dotPath, err.empty() ? "" : ": ",
                        err);
    while (!error.empty() && error.back() == '\n')
      error.pop_back();
    return false;
  }
  return true;
}

} // namespace seqc::view
