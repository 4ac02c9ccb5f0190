// Reads everything written into a FIFO, for tests of code that writes into one. The reading end is
// open before the code under test runs (so its open for writing never blocks), and the reader
// also holds a writing end until Finish, so it never sees end-of-file before the writer came:
// a test of code that wrongly never opens the FIFO fails with what arrived (nothing) rather than
// hanging. Test-only.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <string>
#include <thread>

namespace medvault::testing {

class FifoReader {
 public:
  // REQUIRES: `path` is a FIFO.
  explicit FifoReader(const std::string& path) {
    read_fd_ = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (read_fd_ < 0) return;
    hold_fd_ = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    ::fcntl(read_fd_, F_SETFL, ::fcntl(read_fd_, F_GETFL) & ~O_NONBLOCK);
    thread_ = std::thread([this] {
      char buf[1 << 16];
      for (;;) {
        const ssize_t n = ::read(read_fd_, buf, sizeof(buf));
        if (n <= 0) break;
        data_.append(buf, static_cast<size_t>(n));
      }
    });
  }
  ~FifoReader() { Finish(); }
  bool ok() const { return read_fd_ >= 0 && hold_fd_ >= 0; }

  // Call once the writer is done: everything written into the FIFO since construction.
  const std::string& Finish() {
    if (hold_fd_ >= 0) ::close(hold_fd_);
    hold_fd_ = -1;
    if (thread_.joinable()) thread_.join();
    if (read_fd_ >= 0) ::close(read_fd_);
    read_fd_ = -1;
    return data_;
  }

 private:
  int read_fd_ = -1;
  int hold_fd_ = -1;
  std::thread thread_;
  std::string data_;
};

}  // namespace medvault::testing
