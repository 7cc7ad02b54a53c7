#include "spec/yaml_tree.h"
#include "spec/yaml_tree_hints.h"

#include <cstring>

#include <yaml.h>

#include <map>

#include "common/strings.h"

namespace sluice {

YNode::Type YNode::type() const {
  return tree_ ? tree_->nodes_[index_].type : Type::kUndefined;
}

std::string_view YNode::Scalar() const {
  if (!tree_ || !IsScalar()) return "";
  const auto& d = tree_->nodes_[index_];
  return std::string_view(tree_->texts_.data() + d.text, d.count);
}

bool YNode::IsQuotedOrString() const { return tree_ && tree_->nodes_[index_].string_tagged; }

YMark YNode::Mark() const {
  if (!tree_) return YMark{};
  const auto& d = tree_->nodes_[index_];
  return YMark{d.line, d.column};
}

YNode YNode::operator[](std::string_view key) const {
  if (!IsMap()) return YNode();
  const auto& d = tree_->nodes_[index_];
  for (uint32_t i = 0; i + 1 < d.count; i += 2) {
    YNode k(tree_, tree_->children_[d.first + i]);
    if (k.IsScalar() && k.Scalar() == key) return YNode(tree_, tree_->children_[d.first + i + 1]);
  }
  return YNode();
}

YNode YNode::Item(size_t i) const {
  if (!IsSequence() || i >= size()) return YNode();
  return YNode(tree_, tree_->children_[tree_->nodes_[index_].first + i]);
}

size_t YNode::size() const {
  if (!tree_) return 0;
  const auto& d = tree_->nodes_[index_];
  if (d.type == Type::kSequence) return d.count;
  if (d.type == Type::kMap) return d.count / 2;
  return 0;
}

YNode::Iterator YNode::begin() const { return Iterator(*this, 0); }
YNode::Iterator YNode::end() const { return Iterator(*this, size()); }

YNode::Entry YNode::Iterator::operator*() const {
  const YamlTree* t = node_.tree_;
  const auto& d = t->nodes_[node_.index_];
  Entry item;
  if (d.type == Type::kSequence) {
    static_cast<YNode&>(item) = YNode(t, t->children_[d.first + pos_]);
  } else {
    item.first = YNode(t, t->children_[d.first + 2 * pos_]);
    item.second = YNode(t, t->children_[d.first + 2 * pos_ + 1]);
    static_cast<YNode&>(item) = item.second;
  }
  return item;
}

namespace {

// Plain scalars that the core schema reads as null become null nodes.
bool IsNullText(std::string_view s) {
  return s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL";
}

}  // namespace

// Builds a YamlTree from libyaml's events; the members are YamlTree's (a friend). Open
// collections keep the children collected so far; a collection's list moves into the children
// arena when it ends. Explicit stacks: no recursion. One per parse.
class LibyamlReader {
 public:
  LibyamlReader(std::string_view text, size_t nodes_hint) : tree_(new YamlTree()) {
    tree_->nodes_.reserve(nodes_hint);
    tree_->children_.reserve(nodes_hint);
    tree_->texts_.reserve(text.size() / 2 + 16);
  }

  // On success returns the tree; on failure "LINE:COL: ..." (1-based).
  Result<std::unique_ptr<YamlTree>> Read(std::string_view text) {
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) return Fail(ErrorCode::kInternal, "cannot start the YAML parser");
    yaml_parser_set_input_string(&parser, reinterpret_cast<const unsigned char*>(text.data()), text.size());
    while (true) {
      yaml_event_t ev;
      if (!yaml_parser_parse(&parser, &ev)) {
        std::string what = SyntaxError(parser, text);
        yaml_parser_delete(&parser);
        return Fail(ErrorCode::kInvalidInput, "{}", what);
      }
      bool done = ev.type == YAML_STREAM_END_EVENT;
      Status st = Apply(ev);
      yaml_event_delete(&ev);
      if (!st) {
        yaml_parser_delete(&parser);
        return std::unexpected(st.error());
      }
      if (done) break;
    }
    yaml_parser_delete(&parser);
    return std::move(tree_);
  }

 private:
  // "LINE:COL: YAML syntax error: WHAT", with a hint at the fix when the cause is a common one.
  static std::string SyntaxError(const yaml_parser_t& parser, std::string_view text) {
    const yaml_mark_t& m = parser.problem_mark;
    std::string what = parser.problem ? parser.problem : "unknown error";
    YamlProblem p{parser.problem ? parser.problem : "", parser.context ? parser.context : "",
                  m.line, m.column, 0, 0};
    if (parser.context) {
      const yaml_mark_t& c = parser.context_mark;
      what = fmt::format("{} {} (started at {}:{})", parser.context, what, c.line + 1, c.column + 1);
      p.context_line = c.line;
      p.context_column = c.column;
    }
    return fmt::format("{}:{}: YAML syntax error: {}{}", m.line + 1, m.column + 1,
                       EscapeControl(what), EscapeControl(YamlSyntaxHint(text, p)));
  }

  // Adds what one event says to the tree. Fails on an alias to an unknown anchor.
  Status Apply(const yaml_event_t& ev) {
    switch (ev.type) {
      case YAML_DOCUMENT_START_EVENT:
        anchors_.clear();  // anchors are local to their document
        break;
      case YAML_SCALAR_EVENT: {
        // A NUL ("\0" in a quoted string) ends a string for the process it reaches (argv, env,
        // a file name) but not for a policy: "prod\0-staging" passed a policy as that and ran
        // as "prod". No document of Sluice's needs one.
        const auto& sc = ev.data.scalar;
        if (std::memchr(sc.value, 0, sc.length) != nullptr) {
          return Fail(ErrorCode::kInvalidInput, "{}:{}: a string holds a NUL character (\\0), "
                      "which no program argument, variable or file name can carry",
                      ev.start_mark.line + 1, ev.start_mark.column + 1);
        }
        Attach(AddScalar(ev));
        break;
      }
      case YAML_SEQUENCE_START_EVENT:
      case YAML_MAPPING_START_EVENT: {
        bool seq = ev.type == YAML_SEQUENCE_START_EVENT;
        uint32_t idx = Add(seq ? YNode::Type::kSequence : YNode::Type::kMap, ev.start_mark,
                           seq ? ev.data.sequence_start.anchor : ev.data.mapping_start.anchor);
        Attach(idx);
        open_.push_back(idx);
        if (pending_.size() < open_.size()) pending_.emplace_back();
        pending_[open_.size() - 1].clear();
        break;
      }
      case YAML_SEQUENCE_END_EVENT:
      case YAML_MAPPING_END_EVENT: {
        auto& kids = pending_[open_.size() - 1];
        YamlTree::NodeData& d = tree_->nodes_[open_.back()];
        d.first = static_cast<uint32_t>(tree_->children_.size());
        d.count = static_cast<uint32_t>(kids.size());
        tree_->children_.insert(tree_->children_.end(), kids.begin(), kids.end());
        open_.pop_back();
        break;
      }
      case YAML_ALIAS_EVENT: {
        auto it = anchors_.find(reinterpret_cast<const char*>(ev.data.alias.anchor));
        if (it == anchors_.end()) {
          return Fail(ErrorCode::kInvalidInput, "{}:{}: unknown alias", ev.start_mark.line + 1,
                      ev.start_mark.column + 1);
        }
        Attach(it->second);
        break;
      }
      default: break;
    }
    return {};
  }

  uint32_t AddScalar(const yaml_event_t& ev) {
    const auto& s = ev.data.scalar;
    std::string_view value(reinterpret_cast<const char*>(s.value), s.length);
    bool plain = s.style == YAML_PLAIN_SCALAR_STYLE;
    bool str_tag = s.tag && std::string_view(reinterpret_cast<const char*>(s.tag)) ==
                                "tag:yaml.org,2002:str";
    bool null = plain && !s.tag && IsNullText(value);
    uint32_t idx = Add(null ? YNode::Type::kNull : YNode::Type::kScalar, ev.start_mark, s.anchor);
    YamlTree::NodeData& d = tree_->nodes_[idx];
    d.string_tagged = !plain || str_tag;
    d.text = static_cast<uint32_t>(tree_->texts_.size());
    d.count = static_cast<uint32_t>(value.size());  // a scalar's length
    tree_->texts_.append(value);
    tree_->texts_.push_back('\0');
    return idx;
  }

  uint32_t Add(YNode::Type type, const yaml_mark_t& mark, const unsigned char* anchor) {
    YamlTree::NodeData d;
    d.type = type;
    d.line = static_cast<int>(mark.line);
    d.column = static_cast<int>(mark.column);
    tree_->nodes_.push_back(std::move(d));
    uint32_t idx = static_cast<uint32_t>(tree_->nodes_.size() - 1);
    if (anchor) anchors_[reinterpret_cast<const char*>(anchor)] = idx;
    return idx;
  }

  // A node becomes a document, or the next child of the innermost open collection.
  void Attach(uint32_t idx) {
    if (open_.empty()) {
      tree_->docs_.emplace_back(tree_.get(), idx);
    } else {
      pending_[open_.size() - 1].push_back(idx);
    }
  }

  std::unique_ptr<YamlTree> tree_;
  std::vector<uint32_t> open_;
  std::vector<std::vector<uint32_t>> pending_;
  std::map<std::string, uint32_t> anchors_;
};

Result<std::unique_ptr<YamlTree>> YamlTree::Parse(std::string_view text) {
  // libyaml rejects control characters but reports them at 1:1; locate the first one here.
  // The same pass counts what may start a node (a key's ':' starts two) to size the arenas:
  // one regrowth of a million-task tree's nodes costed ~430 MB at its peak.
  int line = 1, column = 1;
  size_t nodes = 16;
  for (unsigned char c : text) {
    if ((c < 0x20 && c != '\n' && c != '\t' && c != '\r') || c == 0x7f) {
      return Fail(ErrorCode::kInvalidInput, "{}:{}: control character \\x{:02x} is not allowed "
                  "in YAML (write it as an escape in a double-quoted string)", line, column, c);
    }
    nodes += (c == ':') * 2 + (c == ',' || c == '-' || c == '[' || c == '{');
    if (c == '\n') {
      ++line;
      column = 1;
    } else if ((c & 0xC0) != 0x80) {
      ++column;
    }
  }
  if (auto fast = ParseFast(text, nodes)) return fast;
  return ParseLibyaml(text, nodes);
}

Result<std::unique_ptr<YamlTree>> YamlTree::ParseLibyaml(std::string_view text, size_t nodes_hint) {
  return LibyamlReader(text, nodes_hint).Read(text);
}

}  // namespace sluice
