#include "textproto.h"

#include "common/strings.h"

#include <cctype>

namespace sluice {

const TextNode* TextNode::Find(std::string_view name) const {
  for (const auto& [k, v] : fields) {
    if (k == name) return &v;
  }
  return nullptr;
}

std::vector<const TextNode*> TextNode::All(std::string_view name) const {
  std::vector<const TextNode*> out;
  for (const auto& [k, v] : fields) {
    if (k == name) out.push_back(&v);
  }
  return out;
}

namespace {

class Reader {
 public:
  explicit Reader(std::string_view s) : s_(s) {}

  Result<TextNode> File() {
    TextNode root;
    root.is_message = true;
    if (auto st = Fields(&root, '\0'); !st) return std::unexpected(st.error());
    return root;
  }

 private:
  std::unexpected<Error> Err(std::string_view what) {
    return Fail(ErrorCode::kInvalidInput, "line {}: {}", line_, what);
  }

  void Skip() {
    while (i_ < s_.size()) {
      char c = s_[i_];
      if (c == '\n') {
        ++line_;
        ++i_;
      } else if (std::isspace(static_cast<unsigned char>(c))) {
        ++i_;
      } else if (c == '#') {
        while (i_ < s_.size() && s_[i_] != '\n') ++i_;
      } else {
        break;
      }
    }
  }

  Status Fields(TextNode* msg, char close) {
    while (true) {
      Skip();
      if (i_ >= s_.size()) {
        if (close) return Err("unexpected end of file");
        return {};
      }
      if (close && s_[i_] == close) {
        ++i_;
        return {};
      }
      std::string name;
      if (s_[i_] == '[') {  // extension or Any type URL
        size_t end = s_.find(']', i_);
        if (end == std::string_view::npos) return Err("unterminated [");
        name = std::string(s_.substr(i_, end - i_ + 1));
        i_ = end + 1;
      } else {
        size_t start = i_;
        while (i_ < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[i_])) || s_[i_] == '_')) ++i_;
        if (start == i_) return Err(std::string("expected a field name at '") + s_[i_] + "'");
        name = std::string(s_.substr(start, i_ - start));
      }
      Skip();
      bool colon = i_ < s_.size() && s_[i_] == ':';
      if (colon) {
        ++i_;
        Skip();
      }
      TextNode value;
      if (i_ < s_.size() && (s_[i_] == '{' || s_[i_] == '<')) {
        char c = s_[i_++] == '{' ? '}' : '>';
        value.is_message = true;
        if (auto st = Fields(&value, c); !st) return st;
      } else if (i_ < s_.size() && s_[i_] == '[') {  // a list of scalars: [a, b]
        return Err("lists of scalars are not supported");
      } else {
        if (auto st = Scalar(&value); !st) return st;
      }
      msg->fields.emplace_back(std::move(name), std::move(value));
      Skip();
      if (i_ < s_.size() && (s_[i_] == ',' || s_[i_] == ';')) ++i_;
    }
  }

  Status Scalar(TextNode* out) {
    if (i_ < s_.size() && (s_[i_] == '"' || s_[i_] == '\'')) {
      out->quoted = true;
      // Adjacent strings concatenate.
      while (i_ < s_.size() && (s_[i_] == '"' || s_[i_] == '\'')) {
        if (auto st = String(&out->scalar); !st) return st;
        Skip();
      }
      return {};
    }
    size_t start = i_;
    while (i_ < s_.size() && !std::isspace(static_cast<unsigned char>(s_[i_])) && s_[i_] != '}' &&
           s_[i_] != '>' && s_[i_] != ',' && s_[i_] != ';' && s_[i_] != '#') {
      ++i_;
    }
    if (start == i_) return Err("expected a value");
    out->scalar = std::string(s_.substr(start, i_ - start));
    return {};
  }

  Status String(std::string* out) {
    char q = s_[i_++];
    while (true) {
      if (i_ >= s_.size()) return Err("unterminated string");
      char c = s_[i_++];
      if (c == q) return {};
      if (c == '\n') return Err("newline in string");
      if (c != '\\') {
        out->push_back(c);
        continue;
      }
      if (i_ >= s_.size()) return Err("unterminated string");
      char e = s_[i_++];
      switch (e) {
        case 'n': out->push_back('\n'); break;
        case 't': out->push_back('\t'); break;
        case 'r': out->push_back('\r'); break;
        case 'a': out->push_back('\a'); break;
        case 'b': out->push_back('\b'); break;
        case 'f': out->push_back('\f'); break;
        case 'v': out->push_back('\v'); break;
        case '\\': out->push_back('\\'); break;
        case '\'': out->push_back('\''); break;
        case '"': out->push_back('"'); break;
        case '?': out->push_back('?'); break;
        case 'u':
        case 'U': {
          int digits = e == 'u' ? 4 : 8;
          uint32_t cp = 0;
          for (int k = 0; k < digits; ++k) {
            if (i_ >= s_.size() || !std::isxdigit(static_cast<unsigned char>(s_[i_]))) {
              return Err("bad \\u escape");
            }
            char h = s_[i_++];
            cp = cp * 16 + (std::isdigit(static_cast<unsigned char>(h)) ? h - '0' : (std::tolower(h) - 'a' + 10));
          }
          AppendUtf8(cp, out);
          break;
        }
        case 'x': {
          int v = 0, n = 0;
          while (n < 2 && i_ < s_.size() && std::isxdigit(static_cast<unsigned char>(s_[i_]))) {
            char h = s_[i_++];
            v = v * 16 + (std::isdigit(static_cast<unsigned char>(h)) ? h - '0' : (std::tolower(h) - 'a' + 10));
            ++n;
          }
          out->push_back(static_cast<char>(v));
          break;
        }
        default:
          if (e >= '0' && e <= '7') {  // octal, up to three digits
            int v = e - '0', n = 1;
            while (n < 3 && i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '7') {
              v = v * 8 + (s_[i_++] - '0');
              ++n;
            }
            out->push_back(static_cast<char>(v));
          } else {
            return Err(std::string("unknown escape \\") + e);
          }
      }
    }
  }


  std::string_view s_;
  size_t i_ = 0;
  int line_ = 1;
};

}  // namespace

Result<TextNode> ParseTextProto(std::string_view text) { return Reader(text).File(); }

}  // namespace sluice
