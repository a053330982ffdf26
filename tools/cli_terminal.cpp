// shmring tools — terminal handling (see cli_terminal.hpp). POSIX: termios, poll() on stdin and
// a self-pipe written by the signal handler. Windows: a console control handler and _kbhit().
#include "cli_terminal.hpp"

#include <cstdint>
#include <cstdio>

#if defined(_WIN32)
#include <conio.h>
#include <io.h>
#include <windows.h>

#include <atomic>
#else
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#endif

namespace shmring::tools {

#if defined(_WIN32)

namespace {
std::atomic<bool> g_stop{false};
BOOL WINAPI on_console_event(DWORD) {
  g_stop.store(true);
  return TRUE;  // handled: do not terminate the process
}
}  // namespace

struct Terminal::Saved {
  DWORD mode = 0;
  bool mode_saved = false;
};

Terminal::Terminal(bool interactive) : saved_(new Saved) {
  g_stop.store(false);
  SetConsoleCtrlHandler(on_console_event, TRUE);
  interactive_ = interactive && stdout_is_terminal();
  raw_keys_ = interactive_ && _isatty(_fileno(stdin)) != 0;
  HANDLE out = GetStdHandle(STD_OUTPUT_HANDLE);
  if (interactive_ && GetConsoleMode(out, &saved_->mode)) {
    saved_->mode_saved = true;
    SetConsoleMode(out, saved_->mode | ENABLE_VIRTUAL_TERMINAL_PROCESSING);
    std::fputs("\x1b[?1049h\x1b[?25l", stdout);
    std::fflush(stdout);
  }
}

Terminal::~Terminal() {
  if (interactive_) {
    std::fputs("\x1b[?25h\x1b[?1049l", stdout);
    std::fflush(stdout);
  }
  if (saved_->mode_saved) SetConsoleMode(GetStdHandle(STD_OUTPUT_HANDLE), saved_->mode);
  SetConsoleCtrlHandler(on_console_event, FALSE);
  delete saved_;
}

bool Terminal::stdout_is_terminal() {
  return _isatty(_fileno(stdout)) != 0;
}

int Terminal::columns() const {
  CONSOLE_SCREEN_BUFFER_INFO info;
  if (!GetConsoleScreenBufferInfo(GetStdHandle(STD_OUTPUT_HANDLE), &info)) return 80;
  return info.srWindow.Right - info.srWindow.Left + 1;
}

int Terminal::rows() const {
  CONSOLE_SCREEN_BUFFER_INFO info;
  if (!GetConsoleScreenBufferInfo(GetStdHandle(STD_OUTPUT_HANDLE), &info)) return 24;
  return info.srWindow.Bottom - info.srWindow.Top + 1;
}

bool Terminal::quit_requested() const {
  return g_stop.load();
}

bool Terminal::wait_quit(int timeout_ms) {
  const ULONGLONG deadline = GetTickCount64() + static_cast<ULONGLONG>(timeout_ms);
  for (;;) {
    while (raw_keys_ && _kbhit()) {
      const int c = _getch();
      if (c == 'q' || c == 'Q' || c == 3) g_stop.store(true);
    }
    if (g_stop.load()) return true;
    const ULONGLONG now = GetTickCount64();
    if (now >= deadline) return false;
    Sleep(static_cast<DWORD>(deadline - now < 20 ? deadline - now : 20));
  }
}

#else  // POSIX

namespace {

volatile std::sig_atomic_t g_stop = 0;
int g_wake_pipe[2] = {-1, -1};

extern "C" void on_stop_signal(int) {
  const int saved_errno = errno;
  g_stop = 1;
  if (g_wake_pipe[1] >= 0) {
    const char c = 's';
    [[maybe_unused]] const ssize_t n = ::write(g_wake_pipe[1], &c, 1);
  }
  errno = saved_errno;
}

const int kStopSignals[] = {SIGINT, SIGTERM, SIGHUP};

uint64_t monotonic_ms() {
  struct timespec ts {};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000u + static_cast<uint64_t>(ts.tv_nsec) / 1000000u;
}

}  // namespace

struct Terminal::Saved {
  struct sigaction old_actions[sizeof kStopSignals / sizeof kStopSignals[0]];
  struct termios old_termios;
  bool termios_saved = false;
};

Terminal::Terminal(bool interactive) : saved_(new Saved) {
  g_stop = 0;
  if (::pipe(g_wake_pipe) == 0) {
    for (int fd : g_wake_pipe) {
      ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
      ::fcntl(fd, F_SETFD, FD_CLOEXEC);
    }
  } else {
    g_wake_pipe[0] = g_wake_pipe[1] = -1;
  }
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = 0;  // no SA_RESTART: a signal interrupts poll()
  for (std::size_t i = 0; i < sizeof kStopSignals / sizeof kStopSignals[0]; ++i)
    ::sigaction(kStopSignals[i], &action, &saved_->old_actions[i]);

  interactive_ = interactive && stdout_is_terminal();
  if (!interactive_) return;
  if (::isatty(STDIN_FILENO) && ::tcgetattr(STDIN_FILENO, &saved_->old_termios) == 0) {
    saved_->termios_saved = true;
    struct termios raw = saved_->old_termios;
    raw.c_lflag &= static_cast<tcflag_t>(~(ICANON | ECHO));  // ISIG stays: Ctrl-C -> SIGINT
    raw.c_cc[VMIN] = 0;
    raw.c_cc[VTIME] = 0;
    raw_keys_ = ::tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
  }
  std::fputs("\x1b[?1049h\x1b[?25l", stdout);  // alternate screen, hide the cursor
  std::fflush(stdout);
}

Terminal::~Terminal() {
  if (interactive_) {
    std::fputs("\x1b[?25h\x1b[?1049l", stdout);  // show the cursor, leave the alternate screen
    std::fflush(stdout);
  }
  if (saved_->termios_saved) ::tcsetattr(STDIN_FILENO, TCSANOW, &saved_->old_termios);
  for (std::size_t i = 0; i < sizeof kStopSignals / sizeof kStopSignals[0]; ++i)
    ::sigaction(kStopSignals[i], &saved_->old_actions[i], nullptr);
  for (int& fd : g_wake_pipe) {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
  delete saved_;
}

bool Terminal::stdout_is_terminal() {
  return ::isatty(STDOUT_FILENO) != 0;
}

int Terminal::columns() const {
  struct winsize ws {};
  if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) != 0 || ws.ws_col == 0) return 80;
  return ws.ws_col;
}

int Terminal::rows() const {
  struct winsize ws {};
  if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) != 0 || ws.ws_row == 0) return 24;
  return ws.ws_row;
}

bool Terminal::quit_requested() const {
  return g_stop != 0;
}

bool Terminal::wait_quit(int timeout_ms) {
  const uint64_t deadline = monotonic_ms() + static_cast<uint64_t>(timeout_ms < 0 ? 0 : timeout_ms);
  for (;;) {
    if (g_stop) return true;
    const uint64_t now = monotonic_ms();
    if (now >= deadline) return false;
    struct pollfd fds[2];
    nfds_t count = 0;
    if (g_wake_pipe[0] >= 0) fds[count++] = {g_wake_pipe[0], POLLIN, 0};
    const nfds_t keys = count;
    if (raw_keys_) fds[count++] = {STDIN_FILENO, POLLIN, 0};
    const int ready = ::poll(fds, count, static_cast<int>(deadline - now));
    if (ready <= 0) continue;  // timeout or EINTR: the loop re-checks both
    if (raw_keys_ && (fds[keys].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
      char buf[64];
      const ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
      if (n <= 0) raw_keys_ = false;  // end of input: stop listening for keys
      for (ssize_t i = 0; i < n; ++i) {
        if (buf[i] == 'q' || buf[i] == 'Q') g_stop = 1;
      }
    }
    if (keys == 1 && (fds[0].revents & POLLIN) != 0) {
      char buf[16];
      while (::read(g_wake_pipe[0], buf, sizeof buf) > 0) {
      }
    }
  }
}

#endif

void Terminal::draw(const std::string& screen) {
  if (!interactive_) return;
  std::string out = "\x1b[H";  // home
  std::size_t start = 0;
  while (start <= screen.size()) {
    std::size_t end = screen.find('\n', start);
    if (end == std::string::npos) end = screen.size();
    if (end > start || end < screen.size()) {
      out.append(screen, start, end - start);
      out += "\x1b[K";                       // clear the rest of the line
      if (end < screen.size()) out += '\n';  // the tty's output processing adds the \r
    }
    start = end + 1;
  }
  out += "\x1b[J";  // clear below
  std::fwrite(out.data(), 1, out.size(), stdout);
  std::fflush(stdout);
}

}  // namespace shmring::tools
