// The files a state folder's owner writes (Notifications, Pools; yaml_reader.h): read with the
// loader's Reader, so that their errors are FILE:LINE:COL as a pipeline's are.
#include "common/strings.h"
#include "spec/text_checks.h"
#include "spec/yaml_reader.h"

namespace sluice {

Status Reader::OwnFileHeader(const YNode& doc, std::string_view kind,
                             std::initializer_list<std::string_view> spec_keys) const {
  if (!doc.IsMap()) return FailAt(Loc(doc), "a {} file is a map", kind);
  const std::string what = fmt::format("a {} document", kind);
  SLUICE_TRY_STATUS(CheckKeys(doc, {"apiVersion", "kind", "metadata", "spec"}, what));
  if (!doc["apiVersion"] || !doc["kind"] || !doc["spec"]) {
    return FailAt(Loc(doc), "a {} file needs apiVersion: sluice/v1, kind: {} and spec", kind, kind);
  }
  SLUICE_TRY(api, Str(doc["apiVersion"], "apiVersion"));
  if (*api != "sluice/v1") {
    return FailAt(Loc(doc["apiVersion"]), "unsupported apiVersion {}; expected sluice/v1",
                  Quote(*api));
  }
  SLUICE_TRY(k, Str(doc["kind"], "kind"));
  if (*k != kind) return FailAt(Loc(doc["kind"]), "kind must be {}, not {}", kind, Quote(*k));
  if (const auto& md = doc["metadata"]) {
    SLUICE_TRY_STATUS(ExpectMap(md, "metadata"));
    SLUICE_TRY_STATUS(CheckKeys(md, {"name", "description"}, "metadata"));
  }
  SLUICE_TRY_STATUS(ExpectMap(doc["spec"], "spec"));
  return CheckKeys(doc["spec"], spec_keys, fmt::format("a {} spec", kind));
}

Result<OwnFile> ParseOwnFile(const std::string& path, std::string_view content, Reader& r,
                             std::string_view kind,
                             std::initializer_list<std::string_view> spec_keys) {
  if (!IsTextUtf8(content)) {
    return Fail(ErrorCode::kInvalidInput, "{}: not a text file (binary data or invalid UTF-8)", path);
  }
  SLUICE_TRY_STATUS(CheckNesting(path, content));
  auto tree = YamlTree::Parse(content);
  if (!tree) return Fail(ErrorCode::kInvalidInput, "{}:{}", path, tree.error().message);
  r.set_source(content);
  const auto& docs = (*tree)->documents();
  if (docs.size() != 1 || docs[0].IsNull()) {
    return Fail(ErrorCode::kInvalidInput, "{}: expected one {} document", path, kind);
  }
  SLUICE_TRY_STATUS(r.OwnFileHeader(docs[0], kind, spec_keys));
  OwnFile out;
  out.doc = &docs[0];
  out.tree = std::move(*tree);
  return out;
}

}  // namespace sluice
