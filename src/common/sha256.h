// SHA-256 (FIPS 180-4), used for content addresses, cache keys and spec digests.
// Sha256 is a streaming hasher; not thread-safe, cheap to create.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace sluice {

class Sha256 {
 public:
  Sha256();
  void Update(std::string_view data);
  // Returns the digest as 64 lowercase hex characters. The hasher must not be used afterwards.
  std::string HexDigest();
  // Whether the CPU's SHA instructions are used where present (default true); false forces the
  // portable code, for tests that compare the two.
  static void UseAcceleration(bool on);

 private:
  void Block(const unsigned char* p);
  std::array<uint32_t, 8> h_;
  unsigned char buf_[64];
  size_t buf_len_ = 0;
  uint64_t total_ = 0;
};

// Hex SHA-256 of a whole string.
std::string Sha256Hex(std::string_view data);
// Hex HMAC-SHA256 (RFC 2104) of `message` with `key`: what GitHub's X-Hub-Signature-256 carries.
std::string HmacSha256Hex(std::string_view key, std::string_view message);

}  // namespace sluice
