// shmring tools — the terminal and stop requests for the long-running commands (watch,
// counters --watch, tail -f). All OS-specific terminal code lives in cli_terminal.cpp.
//
// While a Terminal exists, Ctrl-C (SIGINT), SIGTERM and SIGHUP do not kill the process: they
// request a stop, which wait_quit() reports, so the command can restore the screen and release
// what it holds (a broadcast reader slot) before it exits. In interactive mode (stdout is a
// terminal) the screen is redrawn in place in the alternate screen with the cursor hidden, and,
// when stdin is a terminal too, keys are read without echo: 'q' quits.
#pragma once

#include <string>

namespace shmring::tools {

class Terminal {
 public:
  // interactive: take over the screen (only honoured when stdout is a terminal).
  explicit Terminal(bool interactive);
  ~Terminal();
  Terminal(const Terminal&) = delete;
  Terminal& operator=(const Terminal&) = delete;

  static bool stdout_is_terminal();
  bool interactive() const noexcept { return interactive_; }
  int columns() const;  // 80 when unknown
  int rows() const;     // 24 when unknown

  // Waits up to timeout_ms (0: just checks). true when a stop was requested: 'q' / 'Q' typed
  // (interactive), Ctrl-C, SIGTERM or SIGHUP.
  bool wait_quit(int timeout_ms);
  bool quit_requested() const;

  // Interactive: replaces the screen with `screen` (lines separated by '\n').
  void draw(const std::string& screen);

 private:
  bool interactive_ = false;
  bool raw_keys_ = false;
  struct Saved;
  Saved* saved_ = nullptr;  // terminal and signal state to restore
};

}  // namespace shmring::tools
