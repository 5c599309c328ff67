// The exact median over ranks by radix selection (see distributed_median.hpp).
#include "algo/distributed_median.hpp"

#include <cmath>
#include <cstdint>
#include <cstring>

#include "core/errors.hpp"

namespace fedsaf {
namespace {

constexpr int kBits = 8, kBuckets = 1 << kBits;

// The key of the t-th smallest value (0-based) of the union: the bit patterns of non-negative
// doubles order as their values, so a most-significant-first radix selection finds it exactly.
// keys: [n_r] int64, this rank's.
int64_t select_key(const torch::Tensor& keys, int64_t t, const std::function<void(const torch::Tensor&)>& sum_over_ranks) {
  torch::Tensor candidates = keys;  // [c] the keys that share the bits chosen so far
  int64_t prefix = 0;
  for (int shift = 64 - kBits; shift >= 0; shift -= kBits) {
    const torch::Tensor bucket = candidates.bitwise_right_shift(shift).bitwise_and(kBuckets - 1);  // [c]
    torch::Tensor counts = torch::bincount(bucket, {}, kBuckets);  // [256] int64
    sum_over_ranks(counts);
    const int64_t* count = counts.data_ptr<int64_t>();
    int64_t chosen = 0;
    while (t >= count[chosen]) t -= count[chosen++];  // the union has > t candidates: ends below 256
    prefix |= chosen << shift;
    candidates = candidates.masked_select(bucket == chosen);  // [c']
  }
  return prefix;
}

double value_of(int64_t key) {
  double v = 0;
  std::memcpy(&v, &key, sizeof v);
  return v;
}

}  // namespace

double distributed_median(const torch::Tensor& values, const std::function<void(const torch::Tensor&)>& sum_over_ranks) {
  // + 0.0 turns −0.0 into +0.0, whose bit pattern is the smallest key.
  const torch::Tensor v = (values.to(torch::kFloat64).flatten() + 0.0).contiguous();  // [n_r]
  const bool bad = v.numel() > 0 && !(v.min().item<double>() >= 0 && std::isfinite(v.max().item<double>()));
  const torch::Tensor keys = v.view(torch::kInt64);  // [n_r] the same bits
  torch::Tensor total = torch::tensor({v.numel(), int64_t{bad}}, torch::kInt64);  // [2] values, ranks with bad ones
  sum_over_ranks(total);  // every rank learns of a bad value, so all throw (none waits in a sum)
  if (total[1].item<int64_t>() > 0)
    throw Error("distributed_median: the values must be finite and ≥ 0 (squared distances)");
  const int64_t n = total[0].item<int64_t>();
  if (n == 0) return 1.0;
  const double upper = value_of(select_key(keys, n / 2, sum_over_ranks));
  const double med = n % 2 == 1 ? upper : 0.5 * (value_of(select_key(keys, n / 2 - 1, sum_over_ranks)) + upper);
  return med > 0 && std::isfinite(med) ? med : 1.0;
}

}  // namespace fedsaf
