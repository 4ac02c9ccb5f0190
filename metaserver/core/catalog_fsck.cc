// Catalog::CheckIndex: the stored instance records that break the index's rules (`medvault fsck`).
#include "common/index_fields.h"
#include "common/status_macros.h"
#include "metaserver/core/catalog.h"
#include "metaserver/core/catalog_keys.h"

namespace medvault::metaserver {

absl::StatusOr<IndexCheckPage> Catalog::CheckIndex(absl::string_view after,
                                                   size_t scan_limit) const {
  if (scan_limit == 0 || scan_limit > kMaxIndexCheckScan) scan_limit = kMaxIndexCheckScan;
  IndexCheckPage page;
  KvReader state(kv_);
  std::unique_ptr<rocksdb::Iterator> it = state.NewIterator(kInstancesCf);
  std::string start(after);
  if (!after.empty()) start.push_back('\0');  // the smallest key after it
  std::string last_key;
  for (it->Seek(start); it->Valid(); it->Next()) {
    const absl::string_view key(it->key().data(), it->key().size());
    if (page.scanned == scan_limit) {  // more records follow: the next page resumes after the last
      page.next_page_token = last_key;
      break;
    }
    ++page.scanned;
    last_key.assign(key.data(), key.size());
    v1::StoredInstance instance;
    if (!instance.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      page.problems.push_back({std::string(key), "", "instance record", "does not parse"});
      continue;
    }
    const v1::InstanceTags& tags = instance.info().tags();
    for (IndexViolation& v : FindIndexViolations(tags)) {
      page.problems.push_back(
          {std::string(key), tags.study_uid(), std::move(v.attribute), std::move(v.rule)});
    }
  }
  RETURN_IF_ERROR(FromRocksStatus(it->status(), "scanning the instance records"));
  return page;
}

}  // namespace medvault::metaserver
