// An HttpResponder that records the answer, for tests of the HTTPS door's handlers. Test-only.
#pragma once

#include <string>

#include "frontend/web/https_server.h"

namespace medvault::frontend::web {

class RecordingResponder : public HttpResponder {
 public:
  absl::Status Begin(int s, const HttpHeaders& h) override {
    status = s;
    headers = h;
    begun_ = true;
    return absl::OkStatus();
  }
  absl::Status Write(absl::string_view data) override {
    body.append(data.data(), data.size());
    return absl::OkStatus();
  }
  absl::Status End() override { return absl::OkStatus(); }
  bool begun() const override { return begun_; }
  // The header's value ("" when absent); names compare exactly.
  std::string Header(const std::string& name) const {
    for (const auto& [k, v] : headers) {
      if (k == name) return v;
    }
    return "";
  }
  int status = 0;
  HttpHeaders headers;
  std::string body;

 private:
  bool begun_ = false;
};

}  // namespace medvault::frontend::web
