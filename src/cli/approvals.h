// What the engine of a run reads from the store for people's and policies' decisions: the votes
// people cast with `sluice approve|reject` on its approvals, and the releases of a model that
// its promotion policies read.
#pragma once

#include "engine/interfaces.h"
#include "store/store.h"

namespace sluice {

class StoreApprovals : public Approvals {
 public:
  explicit StoreApprovals(Store& store) : store_(store) {}
  Result<std::vector<ApprovalVote>> Votes(const std::string& run_id, const std::string& task) override;

 private:
  Store& store_;
};

class StoreReleases : public ReleaseHistory {
 public:
  explicit StoreReleases(Store& store) : store_(store) {}
  Result<std::vector<ReleaseRow>> OfModel(const std::string& digest) override;

 private:
  Store& store_;
};

}  // namespace sluice
