// YamlTree's fast path: a hand-written reader for the plain subset of YAML that large generated
// pipelines are written in, building the same tree as libyaml would (same nodes, texts, styles
// and positions). On a 100,000-task pipeline libyaml's scanner and events took ~45 % of the load;
// this reader walks the text once with no per-node allocation.
//
// It never reports an error: on anything outside the subset (or anything wrong) it gives up and
// YamlTree::Parse reads the file with libyaml, which then reports any error with its position.
// So only what this reader *accepts* must match libyaml exactly; yaml_tree_fast_test.cc checks
// that against libyaml on a corpus and on mutations of it.
//
// The subset: ASCII text without tabs, CRs or document markers; block mappings whose keys are
// plain words; block sequences (also "- key: value" compact mappings and sequences at their
// key's indentation); flow [lists] and {maps} on one line; plain scalars made of
// [A-Za-z0-9_./@+-] (no spaces, no ':' or '#'); double-quoted scalars without escapes; full-line
// comments and " #" comments after a value. Rejected (libyaml reads them): anchors, aliases,
// tags, block scalars, single quotes, multi-line scalars or flow collections, empty values,
// explicit keys, directives, several documents.
#include "spec/yaml_tree.h"

namespace sluice {
namespace {

constexpr int kMaxFastDepth = 64;  // deeper input goes to libyaml (no deep recursion here)
constexpr size_t kMaxKey = 1000;   // libyaml's simple keys end 1024 characters after their start

bool IsPlainStart(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.' || c == '/';
}
bool IsPlainChar(char c) { return IsPlainStart(c) || c == '-' || c == '@' || c == '+'; }

}  // namespace

// Reads the subset into a YamlTree; the members are YamlTree's (a friend), positions 0-based.
class FastYamlReader {
 public:
  FastYamlReader(std::string_view text, YamlTree* tree) : s_(text), tree_(tree) {}

  // True when the whole text was read; false means "outside the subset", never an error.
  bool Read() {
    if (!NextContentLine()) return false;  // no document: leave it to libyaml
    uint32_t root;
    if (!BlockNode(col_, &root, 0)) return false;
    if (pos_ < s_.size()) return false;  // a line left over (less indented than the root)
    tree_->docs_.emplace_back(tree_, root);
    return true;
  }

 private:
  using NodeData = YamlTree::NodeData;

  // Moves to the first character of the next line holding content, skipping blank and comment
  // lines; sets line_ and col_. False at the end of the text.
  bool NextContentLine() {
    while (pos_ < s_.size()) {
      size_t p = pos_;
      while (p < s_.size() && s_[p] == ' ') ++p;
      if (p == s_.size()) {
        pos_ = p;
        return false;
      }
      if (s_[p] == '\n' || s_[p] == '#') {
        size_t nl = s_.find('\n', p);
        pos_ = nl == std::string_view::npos ? s_.size() : nl + 1;
        line_start_ = pos_;
        ++line_;
        continue;
      }
      col_ = static_cast<int>(p - line_start_);
      pos_ = p;
      return true;
    }
    return false;
  }

  // After a value: spaces, then the end of the line or a " #" comment; moves to the next line.
  bool EndOfLine() {
    size_t p = pos_;
    while (p < s_.size() && s_[p] == ' ') ++p;
    if (p < s_.size() && s_[p] == '#' && p > pos_) p = s_.find('\n', p);
    if (p == std::string_view::npos || p == s_.size()) {
      pos_ = s_.size();
      return true;
    }
    if (s_[p] != '\n') return false;
    pos_ = p + 1;
    line_start_ = pos_;
    ++line_;
    return true;
  }

  int Col() const { return static_cast<int>(pos_ - line_start_); }
  char Peek(size_t ahead = 0) const { return pos_ + ahead < s_.size() ? s_[pos_ + ahead] : '\n'; }

  uint32_t AddNode(YNode::Type type, int col) {
    NodeData d;
    d.type = type;
    d.line = line_;
    d.column = col;
    tree_->nodes_.push_back(d);
    return static_cast<uint32_t>(tree_->nodes_.size() - 1);
  }

  uint32_t AddScalar(std::string_view text, bool quoted, int col) {
    bool null = !quoted && (text == "null" || text == "Null" || text == "NULL");
    uint32_t idx = AddNode(null ? YNode::Type::kNull : YNode::Type::kScalar, col);
    NodeData& d = tree_->nodes_[idx];
    d.string_tagged = quoted;
    d.text = static_cast<uint32_t>(tree_->texts_.size());
    d.count = static_cast<uint32_t>(text.size());
    tree_->texts_.append(text);
    tree_->texts_.push_back('\0');
    return idx;
  }

  // A collection's children were pushed on stack_ from `mark`; they move into the arena.
  void Close(uint32_t idx, size_t mark) {
    NodeData& d = tree_->nodes_[idx];
    d.first = static_cast<uint32_t>(tree_->children_.size());
    d.count = static_cast<uint32_t>(stack_.size() - mark);
    tree_->children_.insert(tree_->children_.end(), stack_.begin() + mark, stack_.end());
    stack_.resize(mark);
  }

  // A plain word: in block context it must end at a space, ':' or the line's end; in flow
  // context also at ',', ']' or '}'.
  bool Plain(std::string_view* out) {
    if (!IsPlainStart(Peek())) return false;
    size_t start = pos_;
    while (pos_ < s_.size() && IsPlainChar(s_[pos_])) ++pos_;
    *out = s_.substr(start, pos_ - start);
    return true;
  }

  bool Quoted(std::string_view* out) {
    if (Peek() != '"') return false;
    size_t start = ++pos_;
    while (pos_ < s_.size() && s_[pos_] != '"') {
      unsigned char c = static_cast<unsigned char>(s_[pos_]);
      if (c == '\\' || c < 0x20 || c > 0x7e) return false;
      ++pos_;
    }
    if (pos_ == s_.size()) return false;
    *out = s_.substr(start, pos_ - start);
    ++pos_;
    return true;
  }

  // A scalar or a flow collection, on the current line.
  bool InlineValue(uint32_t* out, int depth, bool flow) {
    if (depth > kMaxFastDepth) return false;
    int col = Col();
    char c = Peek();
    if (c == '[' || c == '{') return FlowCollection(out, depth + 1);
    std::string_view text;
    if (c == '"') {
      if (!Quoted(&text)) return false;
      *out = AddScalar(text, true, col);
    } else {
      if (!Plain(&text)) return false;
      *out = AddScalar(text, false, col);
    }
    // What may follow a scalar: in flow context a separator; in block context a space or the end.
    char n = Peek();
    if (flow) return n == ',' || n == ']' || n == '}' || n == ' ';
    return n == ' ' || n == '\n';
  }

  void Spaces() {
    while (pos_ < s_.size() && s_[pos_] == ' ') ++pos_;
  }

  // [a, b] or {k: v, k: v} on one line. Entries are separated by ',' with optional spaces; a
  // map entry is KEY ": " VALUE. No trailing comma, no empty or missing values.
  bool FlowCollection(uint32_t* out, int depth) {
    bool map = Peek() == '{';
    char close = map ? '}' : ']';
    uint32_t idx = AddNode(map ? YNode::Type::kMap : YNode::Type::kSequence, Col());
    size_t mark = stack_.size();
    ++pos_;
    Spaces();
    if (Peek() == close) {
      ++pos_;
      Close(idx, mark);
      *out = idx;
      return true;
    }
    while (true) {
      uint32_t item;
      if (map) {
        std::string_view key;
        int col = Col();
        if (!Plain(&key) || key.size() > kMaxKey || Peek() != ':' || Peek(1) != ' ') return false;
        stack_.push_back(AddScalar(key, false, col));
        pos_ += 2;
        Spaces();
      }
      if (!InlineValue(&item, depth, true)) return false;
      stack_.push_back(item);
      Spaces();
      char c = Peek();
      if (c == close) {
        ++pos_;
        break;
      }
      if (c != ',') return false;
      ++pos_;
      Spaces();
      if (Peek() == close || Peek() == ',' || Peek() == '\n') return false;
    }
    Close(idx, mark);
    *out = idx;
    return true;
  }

  // Whether the current position starts "KEY:" followed by a space or the line's end.
  // libyaml refuses keys past 1024 characters, and reads "..." at a line's start as a marker.
  bool AtKey() const {
    if (!IsPlainStart(Peek()) || (Peek() == '.' && Col() == 0)) return false;
    size_t p = pos_;
    while (p < s_.size() && IsPlainChar(s_[p])) ++p;
    if (p - pos_ > kMaxKey) return false;
    return p < s_.size() && s_[p] == ':' && (p + 1 == s_.size() || s_[p + 1] == ' ' || s_[p + 1] == '\n');
  }
  bool AtEntry() const { return Peek() == '-' && (Peek(1) == ' ' || Peek(1) == '\n'); }

  // The block node whose first line holds content at column `col` (pos_ is there).
  bool BlockNode(int col, uint32_t* out, int depth) {
    if (depth > kMaxFastDepth) return false;
    if (AtEntry()) return BlockSequence(col, out, depth + 1);
    if (AtKey()) return BlockMapping(col, out, depth + 1);
    return false;  // a lone scalar or flow collection as a block: leave it to libyaml
  }

  // A mapping's value after "KEY:": inline on the line, or a block on the lines below (more
  // indented, or a sequence at the key's own column).
  bool MappingValue(int key_col, uint32_t* out, int depth) {
    if (Peek() == ' ') {
      Spaces();
      if (Peek() != '\n' && Peek() != '#' && pos_ < s_.size()) {
        if (!InlineValue(out, depth, false)) return false;
        return EndOfLine();
      }
    }
    if (!EndOfLine()) return false;
    if (!NextContentLine()) return false;  // an empty value at the end
    if (col_ > key_col) return BlockNode(col_, out, depth);
    if (col_ == key_col && AtEntry()) return BlockSequence(col_, out, depth + 1);
    return false;  // an empty value
  }

  bool BlockMapping(int col, uint32_t* out, int depth) {
    uint32_t idx = AddNode(YNode::Type::kMap, col);
    size_t mark = stack_.size();
    while (true) {
      std::string_view key;
      if (!Plain(&key)) return false;
      stack_.push_back(AddScalar(key, false, col));
      ++pos_;  // ':' (AtKey checked it)
      uint32_t value;
      if (!MappingValue(col, &value, depth)) return false;
      stack_.push_back(value);
      // The next line: another key at this column, or the end of this mapping.
      if (!NextContentLine() || col_ < col) break;
      if (col_ > col || !AtKey()) return false;
    }
    Close(idx, mark);
    *out = idx;
    return true;
  }

  bool BlockSequence(int col, uint32_t* out, int depth) {
    uint32_t idx = AddNode(YNode::Type::kSequence, col);
    size_t mark = stack_.size();
    while (true) {
      ++pos_;  // '-'
      uint32_t item;
      if (Peek() != ' ') return false;  // "-" alone: a nested block or null below; libyaml's
      Spaces();
      if (Peek() == '\n' || Peek() == '#' || pos_ >= s_.size()) return false;
      int item_col = Col();
      if (AtKey()) {
        if (!BlockMapping(item_col, &item, depth + 1)) return false;
      } else if (AtEntry()) {
        return false;  // "- - x"
      } else {
        if (!InlineValue(&item, depth, false) || !EndOfLine()) return false;
        NextContentLine();
      }
      stack_.push_back(item);
      // pos_ is at the next content line (or the end): another entry at this column, or done.
      if (pos_ >= s_.size() || col_ < col) break;
      if (col_ > col || !AtEntry()) {
        // A key at the sequence's column ends an indentless sequence; anything else is odd.
        if (col_ == col && AtKey()) break;
        return false;
      }
    }
    Close(idx, mark);
    *out = idx;
    return true;
  }

  std::string_view s_;
  YamlTree* tree_;
  size_t pos_ = 0;
  size_t line_start_ = 0;
  int line_ = 0;
  int col_ = 0;
  std::vector<uint32_t> stack_;  // children of the open collections, innermost last
};

std::unique_ptr<YamlTree> YamlTree::ParseFast(std::string_view text, size_t nodes_hint) {
  auto tree = std::unique_ptr<YamlTree>(new YamlTree());
  tree->nodes_.reserve(nodes_hint);
  tree->children_.reserve(nodes_hint);
  // A scalar and its NUL take no more room than the scalar and the character after it, so the
  // texts fit in the text's size: no regrowth copy (pages reserved and not written cost no RSS).
  tree->texts_.reserve(text.size() + 16);
  if (!FastYamlReader(text, tree.get()).Read()) return nullptr;
  return tree;
}

}  // namespace sluice
