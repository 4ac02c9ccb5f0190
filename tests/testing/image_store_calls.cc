#include "tests/testing/image_store_calls.h"

#include "common/rpc.h"

namespace medvault::testing {

absl::StatusOr<v1::PutInstanceResponse> PutInstance(v1::ImageStore::Stub* stub,
                                                    const std::string& bytes,
                                                    std::chrono::milliseconds timeout) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + timeout);
  v1::PutInstanceResponse resp;
  auto writer = stub->PutInstance(&ctx, &resp);
  constexpr size_t kPiece = 100 * 1000;
  for (size_t off = 0; off < bytes.size(); off += kPiece) {
    v1::PutInstanceRequest req;
    req.set_data(bytes.substr(off, kPiece));
    if (!writer->Write(req)) break;
  }
  writer->WritesDone();
  grpc::Status s = writer->Finish();
  if (!s.ok()) return FromGrpcStatus(s);
  return resp;
}

absl::StatusOr<std::string> GetInstance(v1::ImageStore::Stub* stub, const std::string& uid,
                                        std::chrono::milliseconds timeout) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + timeout);
  v1::GetInstanceRequest req;
  req.set_sop_instance_uid(uid);
  auto reader = stub->GetInstance(&ctx, req);
  std::string out;
  v1::GetInstanceResponse msg;
  while (reader->Read(&msg)) out += msg.data();
  grpc::Status s = reader->Finish();
  if (!s.ok()) return FromGrpcStatus(s);
  return out;
}

}  // namespace medvault::testing
