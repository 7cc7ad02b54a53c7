// Approvals: the votes people cast with `sluice approve|reject`, kept in the store, which the
// engine of a waiting run reads.
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

}  // namespace sluice
