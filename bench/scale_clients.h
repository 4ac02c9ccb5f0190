// What scale_bench talks to: the metaserver group (as the frontend: commits and FindStudies,
// following the leader), the frontend's public API (as a client: FindStudies), and the metaserver
// processes' memory and disk use as the OS reports them.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/group_channels.h"
#include "medvault/v1/image_store.grpc.pb.h"
#include "medvault/v1/metaserver.grpc.pb.h"

namespace medvault::bench::scale {

// Thread-safe.
class MetaGroupClient {
 public:
  // Channels to every member of `addresses` ("a,b,c") with the frontend certificate of `tls_dir`,
  // connected before returning (so no handshake is timed). UNAVAILABLE when a member cannot be
  // reached within 30 s.
  static absl::StatusOr<std::unique_ptr<MetaGroupClient>> Connect(const std::string& addresses,
                                                                  const std::string& tls_dir);

  // Ids of the registered chunk servers (up or not); when none is registered, three made-up ids
  // (the metaserver does not check them, and with repair off nothing reads them).
  absl::StatusOr<std::vector<std::string>> ChunkServerIds();

  // Commits `tags` with a metadata-only manifest: random object and chunk ids, one chunk of a
  // plausible size on `servers`, `digest` as the sha256. True when already stored.
  absl::StatusOr<bool> Commit(const v1::InstanceTags& tags, const std::string& digest,
                              const std::vector<std::string>& servers);

  // One page of MetaService.FindStudies; the number of studies on it.
  absl::StatusOr<int> Find(const v1::StudyQuery& query);

 private:
  explicit MetaGroupClient(std::unique_ptr<GroupChannels> group) : group_(std::move(group)) {}

  template <typename Request, typename Response>
  using UnaryMethod = grpc::Status (v1::MetaService::Stub::*)(grpc::ClientContext*, const Request&,
                                                              Response*);
  // One call on the member believed to lead, following "not the leader" for up to a minute.
  template <typename Request, typename Response>
  absl::Status Call(UnaryMethod<Request, Response> method, const Request& request,
                    Response* response);

  std::unique_ptr<GroupChannels> group_;
};

// Thread-safe.
class FrontendClient {
 public:
  // A connected channel to the frontend with the "client" certificate of `tls_dir`.
  static absl::StatusOr<std::unique_ptr<FrontendClient>> Connect(const std::string& address,
                                                                 const std::string& tls_dir);
  // One page of ImageStore.FindStudies; the number of studies on it.
  absl::StatusOr<int> Find(const v1::StudyQuery& query);

 private:
  explicit FrontendClient(std::unique_ptr<v1::ImageStore::Stub> stub) : stub_(std::move(stub)) {}

  std::unique_ptr<v1::ImageStore::Stub> stub_;
};

struct WatchFigures {
  double max_rss_mb = 0;    // the largest VmRSS among the watched processes
  double max_dir_mb = 0;    // the largest of the watched directories (apparent size of its files)
  double load_average = 0;  // the machine's 1-minute load average (it is shared)
};

// Samples processes' resident memory (/proc/PID/status), directories' sizes and the load average.
class ProcessWatch {
 public:
  // Comma-separated pids and directories; either may be empty.
  ProcessWatch(const std::string& pids, const std::string& dirs);
  WatchFigures Sample() const;

 private:
  std::vector<std::string> pids_;
  std::vector<std::string> dirs_;
};

}  // namespace medvault::bench::scale
