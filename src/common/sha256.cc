#include "common/sha256.h"

#include <cstring>

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#endif

#include "common/strings.h"

namespace sluice {
namespace {

constexpr uint32_t kK[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

inline uint32_t Rotr(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

#if defined(__x86_64__)
// The x86 SHA extensions (SHA-NI: Intel since Goldmont/Ice Lake, AMD since Zen), checked once:
// about 8x the portable code, which matters for artifacts (a model file of gigabytes) and
// for the digest of a large pipeline's sources.
bool g_accelerate = true;

bool HasShaNi() {
  static const bool has = [] {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return false;
    const bool ssse3_sse41 = (c & bit_SSSE3) && (c & bit_SSE4_1);
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
    return ssse3_sse41 && (b & bit_SHA);
  }();
  return has;
}

// One block with SHA-NI. The state lives in two registers in the order the instructions
// want: {A,B,E,F} and {C,D,G,H}, most significant lane first. Each sha256rnds2 does two rounds
// and returns the new {A,B,E,F}; the old one is the new {C,D,G,H}, so the two registers swap
// roles every two rounds.
__attribute__((target("sha,sse4.1,ssse3"))) void BlockShaNi(uint32_t* h, const unsigned char* p) {
  const __m128i abef0 = _mm_set_epi32(h[0], h[1], h[4], h[5]);
  const __m128i cdgh0 = _mm_set_epi32(h[2], h[3], h[6], h[7]);
  // Big-endian words: reverse the bytes of each 32-bit lane.
  const __m128i swap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
  __m128i w[16];  // w[g] = W[4g .. 4g+3], lowest lane first
  for (int g = 0; g < 4; ++g) {
    w[g] = _mm_shuffle_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * g)), swap);
  }
  // W[t] = σ1(W[t-2]) + W[t-7] + σ0(W[t-15]) + W[t-16], four at a time.
  for (int g = 4; g < 16; ++g) {
    __m128i t = _mm_sha256msg1_epu32(w[g - 4], w[g - 3]);     // W[t-16] + σ0(W[t-15])
    t = _mm_add_epi32(t, _mm_alignr_epi8(w[g - 1], w[g - 2], 4));  // + W[t-7]
    w[g] = _mm_sha256msg2_epu32(t, w[g - 1]);                  // + σ1(W[t-2])
  }
  __m128i abef = abef0, cdgh = cdgh0;
  for (int g = 0; g < 16; ++g) {
    __m128i wk = _mm_add_epi32(w[g], _mm_loadu_si128(reinterpret_cast<const __m128i*>(kK + 4 * g)));
    cdgh = _mm_sha256rnds2_epu32(cdgh, abef, wk);
    abef = _mm_sha256rnds2_epu32(abef, cdgh, _mm_shuffle_epi32(wk, 0x0E));
  }
  abef = _mm_add_epi32(abef, abef0);
  cdgh = _mm_add_epi32(cdgh, cdgh0);
  h[0] = static_cast<uint32_t>(_mm_extract_epi32(abef, 3));
  h[1] = static_cast<uint32_t>(_mm_extract_epi32(abef, 2));
  h[4] = static_cast<uint32_t>(_mm_extract_epi32(abef, 1));
  h[5] = static_cast<uint32_t>(_mm_extract_epi32(abef, 0));
  h[2] = static_cast<uint32_t>(_mm_extract_epi32(cdgh, 3));
  h[3] = static_cast<uint32_t>(_mm_extract_epi32(cdgh, 2));
  h[6] = static_cast<uint32_t>(_mm_extract_epi32(cdgh, 1));
  h[7] = static_cast<uint32_t>(_mm_extract_epi32(cdgh, 0));
}
#endif

}  // namespace

Sha256::Sha256()
    : h_{0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
         0x5be0cd19} {}

void Sha256::Block(const unsigned char* p) {
#if defined(__x86_64__)
  if (g_accelerate && HasShaNi()) return BlockShaNi(h_.data(), p);
#endif
  uint32_t w[64];
  for (int i = 0; i < 16; ++i) {
    w[i] = (uint32_t(p[4 * i]) << 24) | (uint32_t(p[4 * i + 1]) << 16) |
           (uint32_t(p[4 * i + 2]) << 8) | uint32_t(p[4 * i + 3]);
  }
  for (int i = 16; i < 64; ++i) {
    uint32_t s0 = Rotr(w[i - 15], 7) ^ Rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
    uint32_t s1 = Rotr(w[i - 2], 17) ^ Rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
    w[i] = w[i - 16] + s0 + w[i - 7] + s1;
  }
  uint32_t a = h_[0], b = h_[1], c = h_[2], d = h_[3], e = h_[4], f = h_[5], g = h_[6], h = h_[7];
  for (int i = 0; i < 64; ++i) {
    uint32_t s1 = Rotr(e, 6) ^ Rotr(e, 11) ^ Rotr(e, 25);
    uint32_t ch = (e & f) ^ (~e & g);
    uint32_t t1 = h + s1 + ch + kK[i] + w[i];
    uint32_t s0 = Rotr(a, 2) ^ Rotr(a, 13) ^ Rotr(a, 22);
    uint32_t maj = (a & b) ^ (a & c) ^ (b & c);
    uint32_t t2 = s0 + maj;
    h = g;
    g = f;
    f = e;
    e = d + t1;
    d = c;
    c = b;
    b = a;
    a = t1 + t2;
  }
  h_[0] += a;
  h_[1] += b;
  h_[2] += c;
  h_[3] += d;
  h_[4] += e;
  h_[5] += f;
  h_[6] += g;
  h_[7] += h;
}

void Sha256::Update(std::string_view data) {
  total_ += data.size();
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  size_t n = data.size();
  if (buf_len_) {
    size_t take = std::min(n, sizeof(buf_) - buf_len_);
    std::memcpy(buf_ + buf_len_, p, take);
    buf_len_ += take;
    p += take;
    n -= take;
    if (buf_len_ < sizeof(buf_)) return;
    Block(buf_);
    buf_len_ = 0;
  }
  for (; n >= 64; n -= 64, p += 64) Block(p);
  std::memcpy(buf_, p, n);
  buf_len_ = n;
}

std::string Sha256::HexDigest() {
  uint64_t bits = total_ * 8;
  unsigned char pad[72] = {0x80};
  size_t pad_len = (buf_len_ < 56) ? 56 - buf_len_ : 120 - buf_len_;
  for (int i = 0; i < 8; ++i) pad[pad_len + i] = static_cast<unsigned char>(bits >> (56 - 8 * i));
  uint64_t saved = total_;
  Update(std::string_view(reinterpret_cast<const char*>(pad), pad_len + 8));
  total_ = saved;
  std::string raw(32, '\0');
  for (int i = 0; i < 8; ++i) {
    for (int k = 0; k < 4; ++k) raw[4 * i + k] = static_cast<char>(h_[i] >> (24 - 8 * k));
  }
  return HexEncode(raw);
}

void Sha256::UseAcceleration(bool on) {
#if defined(__x86_64__)
  g_accelerate = on;
#else
  (void)on;
#endif
}

std::string Sha256Hex(std::string_view data) {
  Sha256 h;
  h.Update(data);
  return h.HexDigest();
}

namespace {

std::string BytesOfHex(const std::string& hex) {
  std::string out(hex.size() / 2, '\0');
  for (size_t i = 0; i < out.size(); ++i) {
    out[i] = static_cast<char>(std::stoi(hex.substr(2 * i, 2), nullptr, 16));
  }
  return out;
}

}  // namespace

std::string HmacSha256Hex(std::string_view key, std::string_view message) {
  constexpr size_t kBlock = 64;
  std::string k = key.size() > kBlock ? BytesOfHex(Sha256Hex(key)) : std::string(key);
  k.resize(kBlock, '\0');
  std::string inner_pad(kBlock, '\0'), outer_pad(kBlock, '\0');
  for (size_t i = 0; i < kBlock; ++i) {
    inner_pad[i] = static_cast<char>(k[i] ^ 0x36);
    outer_pad[i] = static_cast<char>(k[i] ^ 0x5c);
  }
  Sha256 inner;
  inner.Update(inner_pad);
  inner.Update(message);
  Sha256 outer;
  outer.Update(outer_pad);
  outer.Update(BytesOfHex(inner.HexDigest()));
  return outer.HexDigest();
}

}  // namespace sluice
