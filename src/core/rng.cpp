// fedsaf: no-torch
#include "core/rng.hpp"

#include <cmath>
#include <numeric>
#include <stdexcept>

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
  philox4x32(counter_, key_, block_);
  ++counter_[0];
  if (counter_[0] == 0) throw std::runtime_error("RngStream: more than 2^32 blocks drawn from one stream");
  next_word_ = 0;
}

uint64_t RngStream::next_u64() {
  if (next_word_ > 2) refill();
  const uint64_t lo = block_[next_word_], hi = block_[next_word_ + 1];
  next_word_ += 2;
  return (hi << 32) | lo;
}

double RngStream::uniform() { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }

uint64_t RngStream::uniform_int(uint64_t n) {
  if (n == 0) throw std::invalid_argument("RngStream::uniform_int: n must be > 0");
  // Lemire's multiply-shift; the bias (n / 2^64) is far below anything measurable here.
  return static_cast<uint64_t>((static_cast<unsigned __int128>(next_u64()) * n) >> 64);
}

double RngStream::normal() {
  if (has_spare_normal_) {
    has_spare_normal_ = false;
    return spare_normal_;
  }
  // Box–Muller; 1 - uniform() lies in (0, 1] so the log is finite.
  const double u1 = 1.0 - uniform(), u2 = uniform();
  const double r = std::sqrt(-2.0 * std::log(u1));
  const double t = 2.0 * M_PI * u2;
  spare_normal_ = r * std::sin(t);
  has_spare_normal_ = true;
  return r * std::cos(t);
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
