// The exact median over ranks by radix selection (see distributed_median.hpp).
#include "algo/distributed_median.hpp"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "core/errors.hpp"

namespace fedsaf {
namespace {

constexpr int kBits = 8, kBuckets = 1 << kBits;

// The bits of a finite double ≥ 0 as an ordered key: non-negative doubles order as their bit
// patterns; −0.0 (the one negative pattern allowed) is +0.0's key, the smallest.
uint64_t key_of(double v) {
  uint64_t key = 0;
  std::memcpy(&key, &v, sizeof key);
  return key == (uint64_t{1} << 63) ? 0 : key;
}

double value_of(uint64_t key) {
  double v = 0;
  std::memcpy(&v, &key, sizeof v);
  return v;
}

// The key of the t-th smallest value (0-based) of the union of every rank's values (x [n], this
// rank's): a most-significant-first radix selection. Plain loops, no tensors: the first pass
// reads the values where they are, later passes only the candidates left (at 10,000 clients the
// tensor form made five temporaries of all the values per pass, whose page faults were most of
// σ's time).
uint64_t select_key(const double* x, int64_t n, int64_t t, const std::function<void(const torch::Tensor&)>& sum_over_ranks) {
  std::vector<uint64_t> candidates;  // the keys that share the bits chosen so far (after the first pass)
  uint64_t prefix = 0;
  for (int shift = 64 - kBits; shift >= 0; shift -= kBits) {
    const bool first = shift == 64 - kBits;
    const auto bucket = [shift](uint64_t key) { return static_cast<int64_t>((key >> shift) & (kBuckets - 1)); };
    torch::Tensor counts = torch::zeros({kBuckets}, torch::kInt64);  // [256]
    int64_t* count = counts.data_ptr<int64_t>();
    if (first) {
      for (int64_t i = 0; i < n; ++i) ++count[bucket(key_of(x[i]))];
    } else {
      for (uint64_t key : candidates) ++count[bucket(key)];
    }
    const torch::Tensor mine = counts.clone();  // [256] this rank's
    sum_over_ranks(counts);
    int64_t chosen = 0;
    while (t >= count[chosen]) t -= count[chosen++];  // the union has > t candidates: ends below 256
    prefix |= static_cast<uint64_t>(chosen) << shift;
    std::vector<uint64_t> kept;
    kept.reserve(static_cast<size_t>(mine[chosen].item<int64_t>()));
    if (first) {
      for (int64_t i = 0; i < n; ++i)
        if (bucket(key_of(x[i])) == chosen) kept.push_back(key_of(x[i]));
    } else {
      for (uint64_t key : candidates)
        if (bucket(key) == chosen) kept.push_back(key);
    }
    candidates.swap(kept);
  }
  return prefix;
}

}  // namespace

double distributed_median(const torch::Tensor& values, const std::function<void(const torch::Tensor&)>& sum_over_ranks) {
  const torch::Tensor v = values.to(torch::kFloat64).contiguous().flatten();  // [n_r] (no copy when already so)
  const double* x = v.data_ptr<double>();
  const int64_t n_r = v.numel();
  bool bad = false;
  for (int64_t i = 0; i < n_r; ++i) bad = bad || !(x[i] >= 0 && std::isfinite(x[i]));
  torch::Tensor total = torch::tensor({n_r, int64_t{bad}}, torch::kInt64);  // [2] values, ranks with bad ones
  sum_over_ranks(total);  // every rank learns of a bad value, so all throw (none waits in a sum)
  if (total[1].item<int64_t>() > 0)
    throw Error("distributed_median: the values must be finite and ≥ 0 (squared distances)");
  const int64_t n = total[0].item<int64_t>();
  if (n == 0) return 1.0;
  const double upper = value_of(select_key(x, n_r, n / 2, sum_over_ranks));
  const double med = n % 2 == 1 ? upper : 0.5 * (value_of(select_key(x, n_r, n / 2 - 1, sum_over_ranks)) + upper);
  return med > 0 && std::isfinite(med) ? med : 1.0;
}

}  // namespace fedsaf
