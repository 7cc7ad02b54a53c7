// Artifacts over the API (docs/api.md, "Artifacts"): a run's artifacts with their digests, and a
// download by content digest, either under a run or alone. A digest is served only to a token
// that may read a run that recorded it: to any other, and for a digest no run recorded, the
// answer is the same 404, so a download never tells that content exists elsewhere. A file is
// sent in chunks as it is read (a stream, counted against --max-streams); a folder artifact is
// not served (409).
#include <algorithm>
#include <memory>

#include "common/strings.h"
#include "common/value.h"
#include "server/api.h"
#include "store/store.h"

namespace sluice {

namespace {

constexpr int64_t kChunk = 1 << 20;

bool IsDigest(const std::string& d) {
  return d.size() == 64 && d.find_first_not_of("0123456789abcdef") == std::string::npos;
}

// The digest of a stored artifact's path (ROOT/sha256/XX/DIGEST/NAME), "" when it is not one.
std::string DigestOfPath(const std::string& path) {
  const size_t at = path.rfind("/sha256/");
  if (at == std::string::npos || path.size() < at + 8 + 3 + 64) return "";
  std::string d = path.substr(at + 8 + 3, 64);
  return IsDigest(d) ? d : "";
}

std::string Basename(const std::string& path) { return path.substr(path.rfind('/') + 1); }

ApiResponse NoArtifact(const std::string& digest) {
  return ErrorResponse(404, fmt::format("no artifact sha256:{} that this token may read", digest));
}

// The file at `path`, sent in chunks.
ApiResponse Download(const ApiContext& ctx, const std::string& path, const std::string& digest) {
  FileInfo f = ctx.env.files().Stat(path);
  if (!f.exists) return NoArtifact(digest);
  if (f.is_dir) return ErrorResponse(409, fmt::format("artifact sha256:{} is a folder: folders are "
                                                      "not served over the API yet", digest));
  ApiResponse r;
  r.content_type = "application/octet-stream";
  r.headers.emplace_back("X-Sluice-Digest", "sha256:" + digest);
  r.headers.emplace_back("Content-Disposition",
                         fmt::format("attachment; filename=\"{}\"", Basename(path)));
  // X-Sluice-Size is the file's size; a file that cannot be read to it (a read error, a file
  // cut short) ends the answer without its last chunk, which a client sees as incomplete.
  r.headers.emplace_back("X-Sluice-Size", std::to_string(f.size));
  auto offset = std::make_shared<int64_t>(0);
  Env* env = &ctx.env;
  const int64_t size = f.size;
  r.stream = [env, path, offset, size](StreamSink& out) {
    if (*offset >= size) return false;
    auto bytes = env->files().ReadFileRange(path, *offset, std::min(kChunk, size - *offset));
    if (!bytes || bytes->empty()) {
      out.Abort();
      return false;
    }
    *offset += static_cast<int64_t>(bytes->size());
    return out.Write(*bytes);
  };
  return r;
}

// GET /api/v1/artifacts/sha256/{digest} and /api/v1/runs/{id}/artifacts/sha256/{digest}.
ApiResponse ByDigest(const ApiContext& ctx, const ApiRequest& req, bool under_run) {
  const std::string& digest = req.params.at("digest");
  if (!IsDigest(digest)) return ErrorResponse(400, "a digest is 64 lower-case hex digits");
  auto store = ctx.ThreadStore();
  if (!store) return FromError(store.error());
  std::string run_id;
  if (under_run) {
    auto run = (*store)->GetRun(req.params.at("id"));
    if (!run) return FromError(run.error());
    run_id = run->id;
  }
  auto refs = (*store)->FindArtifactRefs(digest);
  if (!refs) return FromError(refs.error());
  for (const auto& [ref_run, task, path] : *refs) {
    if (under_run ? ref_run != run_id : !MayReadRun(ctx, req.who, ref_run)) {
      continue;
    }
    return Download(ctx, path, digest);
  }
  return NoArtifact(digest);
}

// GET /api/v1/runs/{id}/artifacts: the artifacts of its top-level tasks.
ApiResponse ListRunArtifacts(const ApiContext& ctx, const ApiRequest& req) {
  auto store = ctx.ThreadStore();
  if (!store) return FromError(store.error());
  auto run = (*store)->GetRun(req.params.at("id"));
  if (!run) return FromError(run.error());
  auto rows = (*store)->ListArtifacts(run->id);
  if (!rows) return FromError(rows.error());
  ValueList items;
  for (const auto& [task, name, path] : *rows) {
    const std::string digest = DigestOfPath(path);
    FileInfo f = ctx.env.files().Stat(path);
    items.push_back(Value(ValueMap{{"task", Value(task)}, {"name", Value(name)},
                                   {"digest", Value(digest.empty() ? "" : "sha256:" + digest)},
                                   {"folder", Value(f.is_dir)},
                                   {"file", Value(Basename(path))}}));
  }
  ApiResponse r;
  r.body = Value(ValueMap{{"items", Value(std::move(items))}}).ToJson();
  return r;
}

}  // namespace

void AddArtifactRoutes(Router& router, const ApiContext& ctx) {
  const ApiContext* c = &ctx;
  router.Add({"GET", "/api/v1/runs/{id}/artifacts", true, Action::kRead,
              [c](const ApiRequest& r) { return ListRunArtifacts(*c, r); }});
  router.Add({"GET", "/api/v1/runs/{id}/artifacts/sha256/{digest}", true, Action::kRead,
              [c](const ApiRequest& r) { return ByDigest(*c, r, true); }});
  // The namespaces are those of the runs that recorded the digest (namespaced=false).
  router.Add({"GET", "/api/v1/artifacts/sha256/{digest}", true, Action::kRead,
              [c](const ApiRequest& r) { return ByDigest(*c, r, false); }, false});
}

}  // namespace sluice
