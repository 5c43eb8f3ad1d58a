#include "engine/gc.h"

#include <algorithm>
#include <cerrno>
#include <optional>

namespace nb::engine {

Result<GcReport> CollectGarbage(store::Store& store, const GcOptions& options) {
  store::StorageRoot& primary = store.primary();
  // Taken before verification, so the references it finds stay true.
  std::optional<store::StorageRoot::ExclusiveLock> lock;
  if (options.delete_blocks) {
    NB_ASSIGN_OR_RETURN(store::StorageRoot::ExclusiveLock held, primary.LockExclusively());
    lock.emplace(std::move(held));
  }
  GcReport report;
  NB_ASSIGN_OR_RETURN(report.verify, VerifyStore(store, options.verify));
  if (!report.verify.ok()) return report;
  report.verified = true;

  std::set<Hash256> referenced;
  for (const auto& refs : report.verify.references) {
    auto all = refs.AllBlocks();
    referenced.insert(all.begin(), all.end());
    if (!refs.chunks_complete) {
      std::string why = "hub " + refs.hub_id.substr(0, 16) + "...: ";
      for (size_t i = 0; i < refs.incomplete.size(); ++i) {
        why += (i ? "; " : "") + refs.incomplete[i];
      }
      report.held_back.push_back(why);
    }
  }
  std::vector<Hash256> blocks;
  NB_RETURN_IF_ERROR(primary.ForEachBlock([&](const Hash256& h) { blocks.push_back(h); }));
  report.blocks = blocks.size();
  for (const auto& hash : blocks) {
    if (referenced.count(hash)) continue;
    report.unreferenced.push_back(hash);
    auto st = primary.StatBlock(hash);
    if (st.ok()) report.unreferenced_bytes += st->size;
  }
  std::sort(report.unreferenced.begin(), report.unreferenced.end());
  if (!options.delete_blocks || !report.held_back.empty() || report.unreferenced.empty()) {
    return report;
  }
  for (const auto& hash : report.unreferenced) {
    auto st = primary.StatBlock(hash);
    Status removed = primary.RemoveBlock(hash);
    if (removed.ok()) {
      ++report.deleted;
      if (st.ok()) report.deleted_bytes += st->size;
    } else if (removed.error().code != ErrorCode::kNotFound) {
      return removed.error();
    }
  }
  NB_RETURN_IF_ERROR(primary.SyncBlocksDir());
  return report;
}

}  // namespace nb::engine
