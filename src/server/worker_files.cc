// The workers' file traffic (workers.h): log chunks appended at their offsets into the run's
// folder (where `sluice logs` and the logs route read them), blobs by content digest into the
// server's artifact store, and the bundles a worker copies into its cache.
#include <algorithm>

#include "cli/cli_support.h"
#include "common/sha256.h"
#include "common/strings.h"
#include "exec/local_executor.h"
#include "server/workers.h"
#include "store/store.h"

namespace sluice {

std::string BlobPath(const ApiContext& ctx, const std::string& digest, const std::string& name) {
  return fmt::format("{}/artifacts/sha256/{}/{}/{}", ctx.env.files().Absolute(ctx.g.state_dir),
                     digest.substr(0, 2), digest, name);
}

namespace {

constexpr size_t kMaxBundleFiles = 1000;

bool HexDigest(const std::string& d) {
  return d.size() == 64 && std::all_of(d.begin(), d.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

bool PlainName(const std::string& n) {
  return !n.empty() && n.size() <= 255 && n != "." && n != ".." &&
         n.find('/') == std::string::npos && n.find('\0') == std::string::npos;
}

// POST /api/v1/workers/{worker}/leases/{lease}/logs?stream=S&offset=B: appends the chunk at
// byte B of the attempt's log. Bytes the log already holds are skipped (a chunk sent again
// after a lost answer); a gap is a 409 that names the offset the server expects.
ApiResponse WorkerLogs(const ApiContext& ctx, const ApiRequest& req) {
  const std::string stream = req.Query("stream", "stdout");
  if (stream != "stdout" && stream != "stderr") {
    return ErrorResponse(400, "query parameter stream must be stdout or stderr");
  }
  auto offset = QueryInt(req, "offset", 0, INT64_MAX);
  if (!offset) return BadQueryInt("offset");
  if (auto refused = NotThisWorker(ctx, req)) return *refused;
  auto store = ctx.ThreadStore();
  if (!store) return FromError(store.error());
  auto row = (*store)->LeasedWork(req.params.at("worker"), req.params.at("lease"));
  if (!row) return FromError(row.error());
  const AttemptPaths paths =
      AttemptPathsFor(RunDir(ctx.env, ctx.g, row->run_id), row->task, static_cast<int>(row->attempt));
  const std::string& file = stream == "stdout" ? paths.stdout_log : paths.stderr_log;
  FileSystem& fs = ctx.env.files();
  const int64_t have = fs.Stat(file).exists ? fs.Stat(file).size : 0;
  if (*offset > have) {
    return ErrorResponse(409, fmt::format("the log holds {} bytes: send from offset {}", have, have));
  }
  const size_t skip = static_cast<size_t>(std::min<int64_t>(have - *offset, req.body.size()));
  if (skip < req.body.size()) {
    if (auto s = fs.MakeDirs(Dirname(file)); !s) return ErrorResponse(500, s.error().message);
    auto out = fs.OpenAppend(file);
    if (!out) return ErrorResponse(500, out.error().message);
    if (auto s = (*out)->Append(std::string_view(req.body).substr(skip)); !s) {
      return ErrorResponse(500, s.error().message);
    }
  }
  ApiResponse r;
  r.body = Value(ValueMap{{"next", Value(*offset + static_cast<int64_t>(req.body.size()))}}).ToJson();
  return r;
}

// HEAD|GET|PUT /api/v1/workers/blobs/{digest}/{name}: whether the server holds the blob, its
// bytes, or storing it (verified against its digest, written whole or not at all).
ApiResponse Blob(const ApiContext& ctx, const ApiRequest& req) {
  const std::string& digest = req.params.at("digest");
  const std::string& name = req.params.at("name");
  if (!HexDigest(digest) || !PlainName(name)) {
    return ErrorResponse(400, "a blob is named by its hex SHA-256 and a plain file name");
  }
  FileSystem& fs = ctx.env.files();
  const std::string path = BlobPath(ctx, digest, name);
  const FileInfo info = fs.Stat(path);
  ApiResponse r;
  r.content_type = "application/octet-stream";
  const bool held = info.exists && !info.is_dir;
  // A worker that finds the blob here sends it no more and records it at its attempt's end:
  // until then only the folder's time keeps retention from collecting it (prune.h's grace).
  if (held && req.method != "GET") (void)fs.Touch(Dirname(path));
  if (req.method == "HEAD") {
    r.status = held ? 200 : 404;
    return r;
  }
  if (req.method == "GET") {
    if (!info.exists || info.is_dir) return ErrorResponse(404, fmt::format("no blob {}", digest));
    auto content = fs.ReadFile(path);
    if (!content) return ErrorResponse(500, content.error().message);
    r.body = std::move(*content);
    return r;
  }
  if (Sha256Hex(req.body) != digest) {
    return ErrorResponse(400, fmt::format("the body's SHA-256 is not {}", digest));
  }
  if (!info.exists) {
    const std::string tmp = fmt::format("{}.tmp-{:016x}", path, ctx.env.Random64());
    Status s = fs.MakeDirs(Dirname(path));
    if (s) s = fs.WriteFile(tmp, req.body);
    if (s) s = fs.SetMode(tmp, 0444);
    if (s) s = fs.Rename(tmp, path);
    if (!s) {
      (void)fs.Remove(tmp);
      if (!fs.Stat(path).exists) return ErrorResponse(500, s.error().message);
    }
  }
  r.status = info.exists ? 200 : 201;
  r.content_type = "application/json";
  r.body = Value(ValueMap{{"digest", Value(digest)}, {"size", Value(static_cast<int64_t>(req.body.size()))}}).ToJson();
  return r;
}

// The files below `dir` (relative paths) into `out`; false past kMaxBundleFiles.
bool ListFiles(FileSystem& fs, const std::string& dir, const std::string& rel, ValueMap& out) {
  auto names = fs.ListDir(rel.empty() ? dir : PathJoin(dir, rel));
  if (!names) return true;
  for (const auto& n : *names) {
    const std::string sub = rel.empty() ? n : rel + "/" + n;
    const std::string full = PathJoin(dir, sub);
    if (fs.StatNoFollow(full).is_link) continue;
    if (fs.Stat(full).is_dir) {
      if (!ListFiles(fs, dir, sub, out)) return false;
      continue;
    }
    auto text = fs.ReadFile(full);
    if (!text) continue;
    if (out.size() >= kMaxBundleFiles) return false;
    out.emplace_back(Value(sub), Value(std::move(*text)));
  }
  return true;
}

// GET /api/v1/workers/bundles/{digest}: a submitted bundle's files, {"files": {path: text}}.
ApiResponse Bundle(const ApiContext& ctx, const ApiRequest& req) {
  const std::string& digest = req.params.at("digest");
  if (!HexDigest(digest)) return ErrorResponse(400, "a bundle is named by its hex SHA-256");
  FileSystem& fs = ctx.env.files();
  const std::string dir = PathJoin(PathJoin(fs.Absolute(ctx.g.state_dir), "bundles"), digest);
  if (!fs.Stat(dir).is_dir) return ErrorResponse(404, fmt::format("no bundle {}", digest));
  ValueMap files;
  if (!ListFiles(fs, dir, "", files)) return ErrorResponse(500, "the bundle holds too many files");
  ApiResponse r;
  r.body = Value(ValueMap{{"files", Value(std::move(files))}}).ToJson();
  return r;
}

}  // namespace

void AddWorkerFileRoutes(Router& router, const ApiContext& ctx) {
  const ApiContext* c = &ctx;
  router.Add({"POST", "/api/v1/workers/{worker}/leases/{lease}/logs", true, Action::kWork,
              [c](const ApiRequest& r) { return WorkerLogs(*c, r); }});
  for (const char* method : {"HEAD", "GET", "PUT"}) {
    router.Add({method, "/api/v1/workers/blobs/{digest}/{name}", true, Action::kWork,
                [c](const ApiRequest& r) { return Blob(*c, r); }});
  }
  router.Add({"GET", "/api/v1/workers/bundles/{digest}", true, Action::kWork,
              [c](const ApiRequest& r) { return Bundle(*c, r); }});
}

}  // namespace sluice
