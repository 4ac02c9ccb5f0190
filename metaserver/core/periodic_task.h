// PeriodicTask moved to common/; this name stays for the metaserver's code.
#pragma once

#include "common/periodic_task.h"

namespace medvault::metaserver {
using ::medvault::PeriodicTask;
}  // namespace medvault::metaserver
