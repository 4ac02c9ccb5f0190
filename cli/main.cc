// The `medvault` command-line client: parses arguments and runs one verb against the frontend.
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "cli/args.h"
#include "cli/commands.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  const char* env_frontend = std::getenv("MEDVAULT_FRONTEND");
  const char* default_frontend = env_frontend != nullptr && *env_frontend != '\0'
                                     ? env_frontend
                                     : medvault::cli::kDefaultFrontend;
  const char* env_tls_dir = std::getenv("MEDVAULT_TLS_DIR");
  const char* default_tls_dir =
      env_tls_dir != nullptr && *env_tls_dir != '\0' ? env_tls_dir : medvault::cli::kDefaultTlsDir;
  absl::StatusOr<medvault::cli::Command> cmd =
      medvault::cli::ParseArgs(args, default_frontend, default_tls_dir);
  if (!cmd.ok()) {
    std::cerr << "medvault: " << cmd.status().message() << "\n"
              << "Run 'medvault help' for usage.\n";
    return medvault::cli::kExitUsage;
  }
  return medvault::cli::RunCommand(*cmd, std::cout, std::cerr);
}
