// The worker's cache of what its attempts read from the server (docs/workers.md): a request
// names paths on the server (a bundle's folder STATE/bundles/SHA/..., stored artifacts
// STATE/artifacts/sha256/XX/DIGEST/NAME); the cache downloads what it lacks into WORK_DIR and
// rewrites those paths, so a worker on another machine runs the same command. Artifacts an
// attempt made go the other way: uploaded by digest unless the server already holds them.
// Used by the worker's one thread.
#pragma once

#include <string>

#include "env/env.h"
#include "executor/executor.h"
#include "server/worker_client.h"

namespace sluice {

class WorkerCache {
 public:
  // Bundles go to WORK_DIR/bundles/SHA/, artifacts to WORK_DIR/artifacts/ (the layout of the
  // server's artifact store, which is also where the worker's own attempts store theirs).
  WorkerCache(Env& env, WorkerClient& client, std::string work_dir);

  // Rewrites every path under `server_bundles` and `server_artifacts` in `req`'s argv, env and
  // working folder to this worker's copy, downloading what is missing. On failure (a download
  // refused or unreachable, a folder artifact) an error naming what could not be fetched.
  Status Localize(AttemptRequest& req, const std::string& server_artifacts,
                  const std::string& server_bundles);

  // Uploads the artifacts of `out` that the server lacks (HEAD, then PUT). On failure an error:
  // kIo when the server cannot be reached (try again later), kInvalidInput when it cannot be
  // sent at all (a folder artifact).
  Status Upload(const AttemptOutputs& out);

  const std::string& artifact_root() const { return artifact_root_; }

 private:
  // Rewrites one text, fetching what its server paths name.
  Status LocalizeText(std::string& text, const std::string& server_artifacts,
                      const std::string& server_bundles);
  Status FetchBundle(const std::string& digest);
  Status FetchBlob(const std::string& digest, const std::string& name);

  Env& env_;
  FileSystem& fs_;
  WorkerClient& client_;
  std::string bundle_root_, artifact_root_;
};

}  // namespace sluice
