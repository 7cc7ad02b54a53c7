// Downloads into the worker's cache and uploads from it (worker_cache.h).
#include "server/worker_cache.h"

#include <algorithm>

#include "common/sha256.h"
#include "common/strings.h"
#include "common/value.h"

namespace sluice {

namespace {

bool IsHex64(std::string_view s) {
  return s.size() >= 64 && std::all_of(s.begin(), s.begin() + 64, [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

// Where a path segment that started at `at` ends: at '/', whitespace, a quote or the end.
size_t SegmentEnd(const std::string& text, size_t at) {
  size_t end = at;
  while (end < text.size() && text[end] != '/' && text[end] != ' ' && text[end] != '"' &&
         text[end] != '\'' && text[end] != '\n' && text[end] != '\t' && text[end] != ':') {
    ++end;
  }
  return end;
}

}  // namespace

WorkerCache::WorkerCache(Env& env, WorkerClient& client, std::string work_dir)
    : env_(env), fs_(env.files()), client_(client),
      bundle_root_(work_dir + "/bundles"), artifact_root_(work_dir + "/artifacts") {}

Status WorkerCache::FetchBundle(const std::string& digest) {
  const std::string dir = bundle_root_ + "/" + digest;
  if (fs_.Stat(dir).is_dir) return {};
  auto r = client_.Send("GET", "/api/v1/workers/bundles/" + digest);
  if (r.status != 200) {
    return Fail(r.reached() ? ErrorCode::kInvalidInput : ErrorCode::kIo, "bundle {}: {}", digest,
                r.Message());
  }
  auto v = ParseJson(r.body);
  const Value* files = v && v->is_map() ? v->Find("files") : nullptr;
  if (!files || !files->is_map()) return Fail(ErrorCode::kInvalidInput, "bundle {}: a malformed answer", digest);
  // Written whole into a folder of this process, then renamed into place.
  const std::string tmp = fmt::format("{}.tmp-{}", dir, env_.Pid());
  (void)fs_.RemoveAll(tmp);
  Status s;
  for (const auto& [path, text] : files->as_map()) {
    const std::string rel = path.is_string() ? path.as_string() : "";
    if (rel.empty() || rel.front() == '/' || rel.find("..") != std::string::npos || !text.is_string()) {
      s = Fail(ErrorCode::kInvalidInput, "bundle {}: a file outside it", digest);
      break;
    }
    const std::string file = tmp + "/" + rel;
    s = fs_.MakeDirs(Dirname(file));
    if (s) s = fs_.WriteFile(file, text.as_string());
    if (!s) break;
  }
  if (s) s = fs_.Rename(tmp, dir);
  if (!s) {
    (void)fs_.RemoveAll(tmp);
    if (!fs_.Stat(dir).is_dir) return s;
  }
  return {};
}

Status WorkerCache::FetchBlob(const std::string& digest, const std::string& name) {
  const std::string path = fmt::format("{}/sha256/{}/{}/{}", artifact_root_, digest.substr(0, 2),
                                       digest, name);
  if (fs_.Stat(path).exists) return {};
  auto r = client_.Send("GET", fmt::format("/api/v1/workers/blobs/{}/{}", digest, name), "",
                        "application/json", 300);
  if (r.status != 200) {
    return Fail(r.reached() ? ErrorCode::kInvalidInput : ErrorCode::kIo,
                "artifact {} ({}): {}{}", Quote(name), digest, r.Message(),
                r.status == 404 ? " (folder artifacts cannot reach a worker yet)" : "");
  }
  if (Sha256Hex(r.body) != digest) {
    return Fail(ErrorCode::kInvalidInput, "artifact {}: the download does not match digest {}",
                Quote(name), digest);
  }
  const std::string tmp = fmt::format("{}.tmp-{}", path, env_.Pid());
  Status s = fs_.MakeDirs(Dirname(path));
  if (s) s = fs_.WriteFile(tmp, r.body);
  if (s) s = fs_.SetMode(tmp, 0444);
  if (s) s = fs_.Rename(tmp, path);
  if (!s) (void)fs_.Remove(tmp);
  return s;
}

Status WorkerCache::LocalizeText(std::string& text, const std::string& server_artifacts,
                                 const std::string& server_bundles) {
  struct Root {
    const std::string& server;
    const std::string& local;
    bool bundle;
  };
  for (const Root& root : {Root{server_bundles, bundle_root_, true},
                           Root{server_artifacts, artifact_root_, false}}) {
    if (root.server.empty()) continue;
    const std::string prefix = root.server + "/";
    size_t at = 0;
    while ((at = text.find(prefix, at)) != std::string::npos) {
      size_t rest = at + prefix.size();
      if (!root.bundle) {  // sha256/XX/DIGEST/NAME
        if (text.compare(rest, 7, "sha256/") != 0) break;
        rest += 10;  // past "sha256/XX/"
      }
      if (rest > text.size() || !IsHex64(std::string_view(text).substr(rest))) {
        at = rest;
        continue;
      }
      const std::string digest = text.substr(rest, 64);
      if (root.bundle) {
        SLUICE_TRY_STATUS(FetchBundle(digest));
      } else if (rest + 65 < text.size() && text[rest + 64] == '/') {
        const size_t name_end = SegmentEnd(text, rest + 65);
        SLUICE_TRY_STATUS(FetchBlob(digest, text.substr(rest + 65, name_end - rest - 65)));
      }
      text.replace(at, root.server.size(), root.local);
      at += root.local.size();
    }
  }
  return {};
}

Status WorkerCache::Localize(AttemptRequest& req, const std::string& server_artifacts,
                             const std::string& server_bundles) {
  for (std::string& a : req.argv) SLUICE_TRY_STATUS(LocalizeText(a, server_artifacts, server_bundles));
  for (auto& [k, v] : req.env) SLUICE_TRY_STATUS(LocalizeText(v, server_artifacts, server_bundles));
  return LocalizeText(req.working_dir, server_artifacts, server_bundles);
}

Status WorkerCache::Upload(const AttemptOutputs& out) {
  for (const ArtifactRef& a : out.artifacts) {
    const std::string base = a.path.substr(a.path.rfind('/') + 1);
    if (fs_.Stat(a.path).is_dir) {
      return Fail(ErrorCode::kInvalidInput, "artifact {} is a folder, which a worker cannot send "
                  "yet: make it one file (an archive)", Quote(a.name));
    }
    const std::string route = fmt::format("/api/v1/workers/blobs/{}/{}", a.digest, base);
    auto head = client_.Send("HEAD", route);
    if (!head.reached()) return Fail(ErrorCode::kIo, "the server cannot be reached");
    if (head.status == 200) continue;  // the server holds it: nothing is sent twice
    auto content = fs_.ReadFile(a.path);
    if (!content) return std::unexpected(content.error());
    auto put = client_.Send("PUT", route, *content, "application/octet-stream", 300);
    if (!put.reached()) return Fail(ErrorCode::kIo, "the server cannot be reached");
    if (put.status != 200 && put.status != 201) {
      return Fail(ErrorCode::kInvalidInput, "artifact {}: {}", Quote(a.name), put.Message());
    }
  }
  return {};
}

}  // namespace sluice
