// Mix rows computed once for clients whose inputs are identical (see shared_rows.hpp).
#include "algo/shared_rows.hpp"

#include <cmath>
#include <map>
#include <tuple>

#include "algo/attention.hpp"
#include "algo/attention_mix.hpp"
#include "algo/float64_sums.hpp"

namespace fedsaf {
namespace {

const auto kI64 = torch::TensorOptions().dtype(torch::kInt64);

// Row i of t, or an undefined tensor when t is undefined.
torch::Tensor row_of(const torch::Tensor& t, int64_t i) { return t.defined() ? t[i] : torch::Tensor(); }

bool same(const torch::Tensor& a, const torch::Tensor& b) { return !a.defined() || torch::equal(a, b); }

}  // namespace

SharedRows find_shared_rows(const MixRows& rows, const torch::Tensor& present, const std::vector<int64_t>& sizes,
                            bool with_sizes) {
  const int64_t k = rows.params.size(0);
  const torch::Tensor clients = rows.clients.to(torch::kInt64).contiguous();  // [k]
  const torch::Tensor absent = (~present.to(torch::kBool).index_select(0, clients)).contiguous();  // [k]
  // A cheap fingerprint narrows the exact comparisons to rows that may be equal.
  const torch::Tensor sums = row_sums_f64(rows.params);                      // [k]
  const torch::Tensor squares = row_sums_f64(rows.params, /*squares=*/true);  // [k]
  const int64_t* client_of = clients.data_ptr<int64_t>();
  const bool* is_absent = absent.data_ptr<bool>();
  const double* sum_of = sums.data_ptr<double>();
  const double* square_of = squares.data_ptr<double>();
  using Key = std::tuple<double, double, int64_t>;
  std::map<Key, std::vector<int64_t>> candidates;  // fingerprint → compact rows (indices into the k rows)
  std::vector<int64_t> compact, representative(static_cast<size_t>(k));
  for (int64_t i = 0; i < k; ++i) {
    int64_t found = -1;
    const Key key{sum_of[i], square_of[i], with_sizes ? sizes[static_cast<size_t>(client_of[i])] : 0};
    // (A non-finite fingerprint would break the map's ordering: such a row is never shared.)
    const bool shareable = is_absent[i] && std::isfinite(sum_of[i]) && std::isfinite(square_of[i]);
    if (shareable) {
      for (int64_t c : candidates[key]) {
        const int64_t j = compact[static_cast<size_t>(c)];
        if (torch::equal(rows.params[i], rows.params[j]) && same(row_of(rows.self_weights, i), row_of(rows.self_weights, j)) &&
            same(row_of(rows.self_scalar, i), row_of(rows.self_scalar, j))) {
          found = c;
          break;
        }
      }
    }
    if (found < 0) {
      found = static_cast<int64_t>(compact.size());
      compact.push_back(i);
      if (shareable) candidates[key].push_back(found);
    }
    representative[static_cast<size_t>(i)] = found;
  }
  SharedRows out;
  out.compact = torch::tensor(compact, kI64);                // [k']
  out.representative = torch::tensor(representative, kI64);  // [k]
  out.shared = k - static_cast<int64_t>(compact.size());
  return out;
}

MixRows compact_rows(const MixRows& rows, const SharedRows& shared) {
  const auto pick = [&](const torch::Tensor& t) { return t.defined() ? t.index_select(0, shared.compact) : t; };
  return {pick(rows.params), pick(rows.clients), pick(rows.sigma_rows), pick(rows.self_weights), pick(rows.self_scalar)};
}

Attention expand_guard(const Attention& compact, const SharedRows& shared) {
  Attention out;
  out.guard_rows = compact.guard_rows.index_select(0, shared.representative);  // [k]
  out.guard_fired = out.guard_rows.sum().item<int64_t>();
  return out;
}

Attention expand_attention(const Attention& compact, const SharedRows& shared, const torch::Tensor& compact_clients,
                           const torch::Tensor& clients) {
  Attention out = expand_guard(compact, shared);
  out.xi = compact.xi.index_select(0, shared.representative);                       // [k, N]
  const torch::Tensor own = clients.to(torch::kInt64).reshape({-1, 1});            // [k, 1]
  const torch::Tensor theirs = compact_clients.to(torch::kInt64).index_select(0, shared.representative).reshape({-1, 1});  // [k, 1]
  const torch::Tensor diagonal = out.xi.gather(1, theirs);                          // [k, 1] ξ_ii
  out.xi.scatter_(1, theirs, 0.0);
  out.xi.scatter_(1, own, diagonal);
  return out;
}

}  // namespace fedsaf
