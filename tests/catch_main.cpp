// The test executables' main(): a child process started by tests/common/child.hpp runs its role;
// anything else is a Catch2 run.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include "child.hpp"

int main(int argc, char** argv) {
  const int child = shmring::proctest::run_child_role(argc, argv);
  if (child >= 0) return child;
  return Catch::Session().run(argc, argv);
}
