// Run ids by prefix within a namespace (store.h, "parity"): what the server resolves a run
// prefix against, so that runs of namespaces a token may not read neither match nor make a
// prefix ambiguous.
#include "store/store_impl.h"

namespace sluice {

Result<std::vector<std::string>> Store::RunIdsWithPrefix(const std::string& prefix,
                                                         const std::string& ns, int limit) {
  return impl_->Rows<std::string>(
      "SELECT id FROM runs WHERE substr(id,1,length(?))=? AND (?='' OR namespace=?) "
      "ORDER BY id LIMIT ?",
      [](SqlStmt* st) { return Text(st, 0); }, prefix, prefix, ns, ns, limit);
}

}  // namespace sluice
