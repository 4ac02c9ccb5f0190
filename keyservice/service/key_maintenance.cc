#include "keyservice/service/key_maintenance.h"

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/metrics.h"

namespace medvault::keyservice {

KeyMaintenance::KeyMaintenance(KeyStore* store, Shredder* shredder, std::function<bool()> is_leader,
                               MaintenanceOptions options, prometheus::Registry& registry)
    : store_(store),
      shredder_(shredder),
      is_leader_(std::move(is_leader)),
      options_(options),
      active_version_(NewGauge(registry, "medvault_keyservice_kek_active_version",
                               "The KEK version that wraps new keys (as of the last census).")),
      to_rewrap_(
          NewGauge(registry, "medvault_keyservice_keys_to_rewrap",
                   "Stored keys not yet wrapped under the active KEK (as of the last census).")),
      by_version_(prometheus::BuildGauge()
                      .Name("medvault_keyservice_keys_by_kek_version")
                      .Help("Stored keys per KEK version (as of the last census).")
                      .Register(registry)),
      activated_(prometheus::BuildGauge()
                     .Name("medvault_keyservice_kek_activated_timestamp_seconds")
                     .Help("When each KEK version last became the active one, seconds since the "
                           "Unix epoch (as of the last census; the active version's age is now "
                           "minus the newest of these).")
                     .Register(registry)),
      rewrapped_(NewCounter(registry, "medvault_keyservice_keys_rewrapped_total",
                            "Keys rewrapped under the active KEK.")),
      rewrap_errors_(NewCounter(registry, "medvault_keyservice_rewrap_errors_total",
                                "Rewrap passes that stopped on an error.")),
      pending_shred_(
          NewGauge(registry, "medvault_keyservice_keys_pending_shred",
                   "Destroyed keys whose wrapped bytes may still be in database files.")),
      shredded_(NewCounter(registry, "medvault_keyservice_keys_shredded_total",
                           "Destroyed keys pushed out of the database files.")),
      shred_errors_(NewCounter(registry, "medvault_keyservice_shred_errors_total",
                               "Shredding passes that failed (retried at the next interval).")),
      rewrap_task_(options.rewrap_interval, [this] { RewrapPass(); }),
      shred_task_(options.shred_interval, [this] { ShredPass(); }) {}

KeyMaintenance::~KeyMaintenance() { Stop(); }

void KeyMaintenance::Start() {
  rewrap_task_.Start();
  shred_task_.Start();
}

void KeyMaintenance::Stop() {
  rewrap_task_.Stop();
  shred_task_.Stop();
}

void KeyMaintenance::RewrapPass() {
  if (!is_leader_()) return;
  std::string cursor;
  uint64_t rewrapped = 0;
  do {
    absl::StatusOr<RewrapStep> step = store_->RewrapSome(cursor, options_.rewrap_batch);
    if (!step.ok()) {
      rewrap_errors_.Increment();
      MV_LOG(WARNING) << "rewrap pass stopped: " << step.status();
      return;
    }
    rewrapped += step->rewrapped;
    rewrapped_.Increment(static_cast<double>(step->rewrapped));
    cursor = step->next;
    if (step->rewrapped > 0 && !cursor.empty()) absl::SleepFor(options_.rewrap_pause);
  } while (!cursor.empty());
  absl::StatusOr<KekCensus> census = store_->Census();
  if (!census.ok()) return;
  active_version_.Set(census->state.active_version());
  for (const auto& [version, micros] : census->state.activated_micros()) {
    activated_.Add({{"version", absl::StrCat(version)}}).Set(static_cast<double>(micros) / 1e6);
  }
  to_rewrap_.Set(static_cast<double>(census->to_rewrap));
  for (const auto& [version, keys] : census->keys_by_version) versions_seen_.insert(version);
  for (uint32_t version : versions_seen_) {
    auto n = census->keys_by_version.find(version);
    by_version_.Add({{"version", absl::StrCat(version)}})
        .Set(n == census->keys_by_version.end() ? 0.0 : static_cast<double>(n->second));
  }
  if (rewrapped > 0) {
    MV_LOG(INFO) << "rewrap pass: " << rewrapped << " keys rewrapped under KEK version "
                 << census->state.active_version() << ", " << census->to_rewrap << " left";
  }
}

void KeyMaintenance::ShredPass() {
  absl::Status shredded = shredder_->ShredPending();
  if (!shredded.ok()) {
    shred_errors_.Increment();
    MV_LOG(WARNING) << "shredding destroyed keys failed (will retry): " << shredded;
  }
  const uint64_t total = shredder_->shredded();
  shredded_.Increment(static_cast<double>(total - shredded_seen_));
  shredded_seen_ = total;
  pending_shred_.Set(static_cast<double>(shredder_->pending()));
}

}  // namespace medvault::keyservice
