// The LocalExecutor's handling of attempts that hold secrets: handing them over (variables, and
// files in a private folder beside the attempt's, linked from it) and taking them back (the
// files removed, everything the attempt left masked before anything of it is stored).
//
// Logs are masked as they are written (SpawnRequest::mask: the output comes through pipes), so a
// value printed by a task never lands on disk. Files the task writes into its folder are its
// own while it runs; when it ends they are masked in place before outputs and artifacts are
// read from them. Attempts without secrets take none of these steps.
#include "exec/local_executor.h"

#include "common/strings.h"

namespace sluice {
namespace {

// `v` with every string in it masked.
Value MaskValue(const Masker& m, const Value& v) {
  if (v.is_string()) return Value(m.Mask(v.as_string()));
  if (v.is_list()) {
    ValueList out;
    for (const auto& item : v.as_list()) out.push_back(MaskValue(m, item));
    return Value(std::move(out));
  }
  if (v.is_map()) {
    ValueMap out;
    for (const auto& [k, item] : v.as_map()) out.emplace_back(MaskValue(m, k), MaskValue(m, item));
    return Value(std::move(out));
  }
  return v;
}

}  // namespace

Status LocalExecutor::GiveSecrets(const AttemptRequest& req, const AttemptPaths& paths,
                                  SpawnRequest& sp, Running& r) {
  // The values themselves (an env value "Bearer TOKEN" shows as "Bearer ***").
  r.masker = std::make_shared<const Masker>(req.masked);
  sp.mask = r.masker;
  const std::string dir = paths.work + ".secrets";
  for (const auto& [name, value] : req.secret_files) {
    const std::string file = PathJoin(dir, name), link = PathJoin(paths.work, name);
    Status s = fs_.WritePrivateFile(file, value);
    if (s) s = fs_.Symlink(file, link);
    if (!s) {
      (void)TakeBackSecrets(r);
      return Fail(ErrorCode::kIo, "cannot give the task its secret file {}: {}", Quote(name),
                  r.masker->Mask(s.error().message));
    }
    r.secret_links.push_back(link);
  }
  // A secret's variable wins over an inherited or declared one of the same name.
  for (const auto& [k, v] : req.secret_env) {
    const std::string prefix = k + "=";
    std::erase_if(sp.env, [&](const std::string& kv) { return StartsWith(kv, prefix); });
    sp.env.push_back(prefix + v);
  }
  if (!req.secret_files.empty()) sp.env.push_back("SLUICE_SECRETS_DIR=" + dir);
  return {};
}

Status LocalExecutor::TakeBackSecrets(const Running& r) {
  for (const auto& link : r.secret_links) (void)fs_.Remove(link);
  Status removed = fs_.RemoveAll(r.paths.work + ".secrets");
  auto masked = fs_.MaskFilesBeneath(r.paths.work, *r.masker);
  if (!masked) {
    return Fail(ErrorCode::kInvalidInput, "the attempt's files could not be masked, so its "
                "outputs are not collected: {}", r.masker->Mask(masked.error().message));
  }
  if (!removed) return std::unexpected(removed.error());
  return {};
}

void LocalExecutor::MaskEnd(const Masker& m, AttemptEnd& end) {
  end.message = m.Mask(end.message);
  if (!end.outputs) return;
  if (!*end.outputs) {
    Error e = end.outputs->error();
    e.message = m.Mask(e.message);
    end.outputs = std::unexpected(std::move(e));
    return;
  }
  (*end.outputs)->params = MaskValue(m, (*end.outputs)->params);
}

}  // namespace sluice
