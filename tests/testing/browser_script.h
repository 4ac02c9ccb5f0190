// The tests that drive headless Chromium (export_test, share_test) run a script of theirs with
// node from the share page's node folder (build/share-page-node, whose node_modules holds
// playwright-core): this stages it there with tests/browser/chromium.mjs, which every such script
// imports to start the browser.
#pragma once

#include <filesystem>
#include <string>

namespace medvault::testing {

// Copies `script` (relative to `source_dir`, e.g. "tests/export/index_page.mjs") and
// tests/browser/chromium.mjs into `node_dir`; returns the path of the copied script.
inline std::string StageBrowserScript(const std::string& source_dir, const std::string& script,
                                      const std::string& node_dir) {
  const auto overwrite = std::filesystem::copy_options::overwrite_existing;
  std::filesystem::copy_file(source_dir + "/tests/browser/chromium.mjs", node_dir + "/chromium.mjs",
                             overwrite);
  const std::string staged = node_dir + "/" + std::filesystem::path(script).filename().string();
  std::filesystem::copy_file(source_dir + "/" + script, staged, overwrite);
  return staged;
}

}  // namespace medvault::testing
