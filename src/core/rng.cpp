// fedsaf: no-torch
#include "core/rng.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace fedsaf {

namespace {
constexpr uint32_t kPhiloxM0 = 0xD2511F53u, kPhiloxM1 = 0xCD9E8D57u;
constexpr uint32_t kPhiloxW0 = 0x9E3779B9u, kPhiloxW1 = 0xBB67AE85u;

inline void mulhilo(uint32_t a, uint32_t b, uint32_t& hi, uint32_t& lo) {
  const uint64_t p = static_cast<uint64_t>(a) * b;
  hi = static_cast<uint32_t>(p >> 32);
  lo = static_cast<uint32_t>(p);
}
}  // namespace

void philox4x32(const uint32_t counter[4], const uint32_t key[2], uint32_t out[4]) {
  uint32_t c0 = counter[0], c1 = counter[1], c2 = counter[2], c3 = counter[3];
  uint32_t k0 = key[0], k1 = key[1];
  for (int round = 0; round < 10; ++round) {
    uint32_t hi0, lo0, hi1, lo1;
    mulhilo(kPhiloxM0, c0, hi0, lo0);
    mulhilo(kPhiloxM1, c2, hi1, lo1);
    c0 = hi1 ^ c1 ^ k0;
    c1 = lo1;
    c2 = hi0 ^ c3 ^ k1;
    c3 = lo0;
    k0 += kPhiloxW0;
    k1 += kPhiloxW1;
  }
  out[0] = c0; out[1] = c1; out[2] = c2; out[3] = c3;
}

#if defined(__SSE2__)
namespace {
// Four Philox4x32-10 blocks at once, one per 32-bit lane of SSE2 registers (x86-64's baseline):
// one block's rounds form a chain of dependent multiplies, four chains side by side keep the
// multiplier busy. Counters (first[0] + lane, first[1..3]); the same words as philox4x32.
void philox4x32_four(const uint32_t first[4], const uint32_t key[2], uint32_t out[4][4]) {
  const __m128i low_halves = _mm_set1_epi64x(0x00000000FFFFFFFFLL);
  const __m128i high_halves = _mm_set1_epi64x(static_cast<long long>(0xFFFFFFFF00000000ULL));
  // hi, lo [4 lanes] = the high and low 32 bits of multiplier × x, lane by lane.
  const auto mulhilo4 = [&](__m128i multiplier, __m128i x, __m128i& hi, __m128i& lo) {
    const __m128i even = _mm_mul_epu32(x, multiplier);                     // lanes 0, 2 as 64-bit
    const __m128i odd = _mm_mul_epu32(_mm_srli_epi64(x, 32), multiplier);  // lanes 1, 3 as 64-bit
    lo = _mm_or_si128(_mm_and_si128(even, low_halves), _mm_slli_epi64(odd, 32));
    hi = _mm_or_si128(_mm_srli_epi64(even, 32), _mm_and_si128(odd, high_halves));
  };
  __m128i c0 = _mm_add_epi32(_mm_set1_epi32(static_cast<int>(first[0])), _mm_setr_epi32(0, 1, 2, 3));
  __m128i c1 = _mm_set1_epi32(static_cast<int>(first[1]));
  __m128i c2 = _mm_set1_epi32(static_cast<int>(first[2]));
  __m128i c3 = _mm_set1_epi32(static_cast<int>(first[3]));
  const __m128i m0 = _mm_set1_epi32(static_cast<int>(kPhiloxM0)), m1 = _mm_set1_epi32(static_cast<int>(kPhiloxM1));
  uint32_t k0 = key[0], k1 = key[1];
  for (int round = 0; round < 10; ++round) {
    __m128i hi0, lo0, hi1, lo1;
    mulhilo4(m0, c0, hi0, lo0);
    mulhilo4(m1, c2, hi1, lo1);
    c0 = _mm_xor_si128(_mm_xor_si128(hi1, c1), _mm_set1_epi32(static_cast<int>(k0)));
    c1 = lo1;
    c2 = _mm_xor_si128(_mm_xor_si128(hi0, c3), _mm_set1_epi32(static_cast<int>(k1)));
    c3 = lo0;
    k0 += kPhiloxW0;
    k1 += kPhiloxW1;
  }
  // Lanes to blocks: a 4 × 4 transpose.
  const __m128i t0 = _mm_unpacklo_epi32(c0, c1), t1 = _mm_unpacklo_epi32(c2, c3);
  const __m128i t2 = _mm_unpackhi_epi32(c0, c1), t3 = _mm_unpackhi_epi32(c2, c3);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(out[0]), _mm_unpacklo_epi64(t0, t1));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(out[1]), _mm_unpackhi_epi64(t0, t1));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(out[2]), _mm_unpacklo_epi64(t2, t3));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(out[3]), _mm_unpackhi_epi64(t2, t3));
}
}  // namespace
#endif

void philox4x32_blocks(const uint32_t counter[4], const uint32_t key[2], int n, uint32_t out[][4]) {
  int done = 0;
#if defined(__SSE2__)
  for (; done + 4 <= n; done += 4) {
    const uint32_t first[4] = {counter[0] + static_cast<uint32_t>(done), counter[1], counter[2], counter[3]};
    philox4x32_four(first, key, out + done);
  }
#endif
  for (; done < n; ++done) {
    const uint32_t one[4] = {counter[0] + static_cast<uint32_t>(done), counter[1], counter[2], counter[3]};
    philox4x32(one, key, out[done]);
  }
}

RngStream::RngStream(uint64_t seed, RngPurpose purpose, uint32_t a, uint32_t b, uint32_t c) {
  if (c >= (1u << 24)) throw std::invalid_argument("RngStream: coordinate c must be < 2^24");
  key_[0] = static_cast<uint32_t>(seed);
  key_[1] = static_cast<uint32_t>(seed >> 32);
  // counter = (block index, purpose | c << 8, a, b); the block index advances as numbers are drawn.
  counter_[0] = 0;
  counter_[1] = static_cast<uint32_t>(purpose) | (c << 8);
  counter_[2] = a;
  counter_[3] = b;
}

void RngStream::refill() {
  // Block index 2^32 - 1 is never handed out: its successor would wrap the counter.
  const uint32_t usable = 0xFFFFFFFFu - counter_[0];
  if (usable == 0) throw std::runtime_error("RngStream: more than 2^32 blocks drawn from one stream");
  // One block on the first draw (most streams draw a few numbers), then a batch at a time.
  const int wanted = blocks_ready_ == 0 ? 1 : kPhiloxBatch;
  blocks_ready_ = static_cast<int>(std::min<uint32_t>(usable, static_cast<uint32_t>(wanted)));
  philox4x32_blocks(counter_, key_, blocks_ready_, blocks_);
  counter_[0] += static_cast<uint32_t>(blocks_ready_);
  next_word_ = 0;
}

uint64_t RngStream::next_u64() {
  if (next_word_ >= 4 * blocks_ready_) refill();
  const uint32_t* words = &blocks_[0][0];
  const uint64_t lo = words[next_word_], hi = words[next_word_ + 1];
  next_word_ += 2;
  return (hi << 32) | lo;
}

double RngStream::uniform() { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }

uint64_t RngStream::uniform_int(uint64_t n) {
  if (n == 0) throw std::invalid_argument("RngStream::uniform_int: n must be > 0");
  // Lemire's multiply-shift; the bias (n / 2^64) is far below anything measurable here.
  return static_cast<uint64_t>((static_cast<unsigned __int128>(next_u64()) * n) >> 64);
}

// Box–Muller: a pair of independent N(0, 1) draws from two uniforms; 1 - uniform() lies in
// (0, 1] so the log is finite.
inline void RngStream::normal_pair(double& first, double& second) {
  const double u1 = 1.0 - uniform(), u2 = uniform();
  const double r = std::sqrt(-2.0 * std::log(u1));
  const double t = 2.0 * M_PI * u2;
  first = r * std::cos(t);
  second = r * std::sin(t);
}

double RngStream::normal() {
  if (has_spare_normal_) {
    has_spare_normal_ = false;
    return spare_normal_;
  }
  double first;
  normal_pair(first, spare_normal_);
  has_spare_normal_ = true;
  return first;
}

void RngStream::normals(double* out, int64_t n) {
  int64_t i = 0;
  if (n > 0 && has_spare_normal_) {
    has_spare_normal_ = false;
    out[i++] = spare_normal_;
  }
  for (; i + 1 < n; i += 2) normal_pair(out[i], out[i + 1]);
  if (i < n) out[i] = normal();  // keeps the pair's second draw for the next call
}

double RngStream::gamma(double shape) {
  if (!(shape > 0.0)) throw std::invalid_argument("RngStream::gamma: shape must be > 0");
  if (shape < 1.0) {
    // Boost: Gamma(a) = Gamma(a + 1) · U^(1/a).
    const double u = 1.0 - uniform();
    return gamma(shape + 1.0) * std::pow(u, 1.0 / shape);
  }
  // Marsaglia & Tsang (2000).
  const double d = shape - 1.0 / 3.0, c = 1.0 / std::sqrt(9.0 * d);
  for (;;) {
    double x, v;
    do {
      x = normal();
      v = 1.0 + c * x;
    } while (v <= 0.0);
    v = v * v * v;
    const double u = 1.0 - uniform();
    if (u < 1.0 - 0.0331 * x * x * x * x) return d * v;
    if (std::log(u) < 0.5 * x * x + d * (1.0 - v + std::log(v))) return d * v;
  }
}

std::vector<double> RngStream::dirichlet(double alpha, int64_t k) {
  std::vector<double> p(static_cast<size_t>(k));
  double sum = 0.0;
  for (auto& x : p) sum += (x = gamma(alpha));
  if (sum <= 0.0) {
    // All draws underflowed (tiny alpha): the limit of Dir(alpha→0) puts all mass on one entry.
    std::fill(p.begin(), p.end(), 0.0);
    p[uniform_int(static_cast<uint64_t>(k))] = 1.0;
    return p;
  }
  for (auto& x : p) x /= sum;
  return p;
}

void RngStream::shuffle(std::vector<int64_t>& v) {
  for (size_t i = v.size(); i > 1; --i) {
    const size_t j = static_cast<size_t>(uniform_int(i));
    std::swap(v[i - 1], v[j]);
  }
}

std::vector<int64_t> RngStream::permutation(int64_t n) {
  std::vector<int64_t> v(static_cast<size_t>(n));
  std::iota(v.begin(), v.end(), 0);
  shuffle(v);
  return v;
}

}  // namespace fedsaf
