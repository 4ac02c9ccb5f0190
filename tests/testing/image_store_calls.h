// The frontend's public ImageStore calls as a test makes them: a whole instance streamed in
// pieces, a whole instance read back, each as one absl::StatusOr.
#pragma once

#include <chrono>
#include <string>

#include "absl/status/statusor.h"
#include "medvault/v1/image_store.grpc.pb.h"

namespace medvault::testing {

// Streams `bytes` to PutInstance in 100 kB pieces (deliberately not aligned with chunks).
absl::StatusOr<v1::PutInstanceResponse> PutInstance(
    v1::ImageStore::Stub* stub, const std::string& bytes,
    std::chrono::milliseconds timeout = std::chrono::seconds(60));

// Every byte of the instance `uid`, concatenated from the GetInstance stream.
absl::StatusOr<std::string> GetInstance(
    v1::ImageStore::Stub* stub, const std::string& uid,
    std::chrono::milliseconds timeout = std::chrono::seconds(60));

}  // namespace medvault::testing
