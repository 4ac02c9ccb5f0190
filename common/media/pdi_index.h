// A PDI medium's instance from what the index says of it (GetStudy's answer): shared by `medvault
// export` and the share page's download.
#pragma once

#include <vector>

#include "common/media/pdi.h"
#include "medvault/v1/image_store.pb.h"

namespace medvault::media {

PdiInstance PdiInstanceFromIndex(const v1::StudySummary& study, const v1::InstanceInfo& info);

// Every instance of the study, in the index's order.
std::vector<PdiInstance> PdiInstancesOf(const v1::GetStudyResponse& study);

}  // namespace medvault::media
