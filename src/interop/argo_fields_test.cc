// The Argo field table (argo_fields.h) against Argo's JSON schema and against docs/interop.md.
// The schema is read from $SLUICE_INTEROP_DIR/argo/schema.json (default: ../shared/interop next
// to the repository); when it is absent the test fails and says so, as the CEL conformance
// runner does: a coverage check that cannot read what it covers has checked nothing.
#include "interop/argo_fields.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "common/value.h"

namespace sluice {
namespace argo_fields_test {

namespace fs = std::filesystem;

// This file's folder (absolute, or relative to the build folder when ccache rewrites it).
const fs::path kHere = fs::path(__FILE__).parent_path();

// The first of `candidates` that exists, or "".
std::string FirstExisting(const std::vector<fs::path>& candidates) {
  for (const fs::path& p : candidates) {
    if (fs::exists(p)) return p.string();
  }
  return "";
}

std::string ReadAll(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string SchemaPath() {
  if (const char* dir = std::getenv("SLUICE_INTEROP_DIR"); dir && *dir) {
    return FirstExisting({fs::path(dir) / "argo/schema.json"});
  }
  return FirstExisting({kHere / "../../../shared/interop/argo/schema.json",
                        "../shared/interop/argo/schema.json",
                        "../../shared/interop/argo/schema.json"});
}

TEST(ArgoFields, EveryPropertyOfTheSchemaIsClassified) {
  std::string path = SchemaPath();
  ASSERT_FALSE(path.empty())
      << "ARGO SCHEMA NOT FOUND: set SLUICE_INTEROP_DIR to the folder holding argo/schema.json "
         "(default ../shared/interop next to the repository). Nothing was checked.";
  auto schema = ParseJson(ReadAll(path));
  ASSERT_TRUE(schema) << path << ": " << schema.error().message;
  const Value* defs = schema->Find("definitions");
  ASSERT_TRUE(defs && defs->is_map()) << path << " has no definitions";
  for (const ArgoDefinition& d : ArgoDefinitions()) {
    const Value* def = defs->Find(std::string(d.schema_name));
    ASSERT_TRUE(def) << d.schema_name << " is not in " << path;
    const Value* props = def->Find("properties");
    ASSERT_TRUE(props && props->is_map()) << d.schema_name << " has no properties";
    std::set<std::string> in_schema, in_table;
    for (const auto& [name, _] : props->as_map()) in_schema.insert(name.as_string());
    for (const ArgoField& f : ArgoFields()) {
      if (f.definition == d.name || f.definition == d.base) in_table.insert(std::string(f.name));
    }
    for (const std::string& name : in_schema) {
      EXPECT_TRUE(in_table.contains(name)) << d.name << "." << name << " is not classified";
    }
    for (const std::string& name : in_table) {
      EXPECT_TRUE(in_schema.contains(name)) << d.name << "." << name << " is not in the schema";
    }
  }
}

TEST(ArgoFields, RowsAreWellFormed) {
  std::set<std::string_view> defs;
  for (const ArgoDefinition& d : ArgoDefinitions()) defs.insert(d.name);
  std::set<std::pair<std::string_view, std::string_view>> seen;
  for (const ArgoField& f : ArgoFields()) {
    std::string where = std::string(f.definition) + "." + std::string(f.name);
    EXPECT_TRUE(defs.contains(f.definition)) << where;
    EXPECT_TRUE(seen.insert({f.definition, f.name}).second) << where << " twice";
    if (f.cls == FieldClass::kMapped) {
      EXPECT_TRUE(f.reason.empty()) << where;
      std::string_view child = f.child;
      while (child.starts_with("[]") || child.starts_with("{}")) child.remove_prefix(2);
      EXPECT_TRUE(f.child.empty() || defs.contains(child)) << where << ": " << f.child;
    } else {
      EXPECT_TRUE(f.child.empty()) << where << ": only mapped fields are read further";
      EXPECT_FALSE(f.reason.empty()) << where << " needs a reason";
    }
  }
}

// The table of docs/interop.md, between its markers, as the code's table writes it.
std::string DocTable() {
  std::string out = "| Argo object | field | Sluice | why |\n| --- | --- | --- | --- |\n";
  for (const ArgoField& f : ArgoFields()) {
    out += fmt::format("| {} | `{}` | {} | {} |\n", f.definition, f.name, FieldClassName(f.cls),
                       f.reason);
  }
  return out;
}

TEST(ArgoFields, DocsInteropListsTheTable) {
  std::string path =
      FirstExisting({kHere / "../../docs/interop.md", "docs/interop.md", "../docs/interop.md"});
  ASSERT_FALSE(path.empty()) << "docs/interop.md not found";
  std::string doc = ReadAll(path);
  const std::string begin = "<!-- argo-fields: begin (argo_fields_test.cc writes it) -->\n";
  const std::string end = "<!-- argo-fields: end -->";
  size_t b = doc.find(begin), e = doc.find(end);
  ASSERT_TRUE(b != std::string::npos && e != std::string::npos && b < e)
      << path << " lacks the markers " << begin << end;
  std::string table = DocTable();
  if (doc.substr(b + begin.size(), e - b - begin.size()) != table) {
    std::string fresh = ::testing::TempDir() + "argo-fields.md";
    std::ofstream(fresh) << table;
    ADD_FAILURE() << path << ": the Argo field table differs from the code's (argo_fields.cc); "
                  << "the code's is in " << fresh << ": put it between the markers";
  }
}

}  // namespace argo_fields_test
}  // namespace sluice
