// Attention kernels and Fisher weights (see attention.hpp).
#include "algo/attention.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>

#include "algo/distributed_median.hpp"
#include "algo/pairwise.hpp"
#include "core/errors.hpp"

namespace fedsaf {
namespace {

const auto kF64 = torch::TensorOptions().dtype(torch::kFloat64);
const auto kBool = torch::TensorOptions().dtype(torch::kBool);

// [k, N] bool: true on each row's own column.
torch::Tensor self_mask(int64_t k, int64_t n, const torch::Tensor& self_cols) {
  torch::Tensor mask = torch::zeros({k, n}, kBool);  // [k, N]
  if (k > 0) mask.scatter_(1, self_cols.to(torch::kInt64).reshape({k, 1}), true);
  return mask;
}

void check_rows(const char* op, const torch::Tensor& m, const torch::Tensor& self_cols) {
  if (m.dim() != 2 || self_cols.dim() != 1 || self_cols.size(0) != m.size(0))
    throw Error(fmt::format("{}: expected a [k, N] matrix and [k] self columns", op));
}

}  // namespace

torch::Tensor finite_offdiag(const torch::Tensor& d, const torch::Tensor& self_cols) {
  check_rows("attention finite_offdiag", d, self_cols);
  const torch::Tensor d64 = d.to(torch::kFloat64);                                          // [k, N]
  const torch::Tensor keep = torch::isfinite(d64) & ~self_mask(d.size(0), d.size(1), self_cols);  // [k, N]
  return d64.masked_select(keep);                                                           // [n_finite]
}

double median_sigma(const torch::Tensor& values) {
  const int64_t n = values.numel();
  if (n == 0) return 1.0;
  const torch::Tensor sorted = std::get<0>(values.to(torch::kFloat64).flatten().sort());  // [n]
  const double med = n % 2 == 1 ? sorted[n / 2].item<double>()
                                : 0.5 * (sorted[n / 2 - 1].item<double>() + sorted[n / 2].item<double>());
  return med > 0 && std::isfinite(med) ? med : 1.0;
}

double auto_sigma_global(const torch::Tensor& d, const torch::Tensor& self_cols, PairwiseExchange& exchange) {
  // The same exact median on every rank, without gathering every rank's distances.
  return distributed_median(finite_offdiag(d, self_cols), [&](const torch::Tensor& t) { exchange.sum(t); });
}

std::optional<double> parse_sigma(const std::string& text) {
  if (text == "auto") return std::nullopt;
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size() || !(v > 0) || !std::isfinite(v))
    throw ConfigError(fmt::format("attention.sigma = '{}': expected \"auto\" or a number > 0", text));
  return v;
}

torch::Tensor finish_rows(torch::Tensor& xi, const torch::Tensor& self_cols, double xi_min) {
  check_rows("attention finish_rows", xi, self_cols);
  const int64_t k = xi.size(0), n = xi.size(1);
  torch::Tensor fired = torch::zeros({k}, kBool);  // [k]
  if (k == 0) return fired;
  const torch::Tensor self = self_mask(k, n, self_cols);  // [k, N]
  xi.masked_fill_(self, 0.0);
  const torch::Tensor off = xi.sum(1, /*keepdim=*/true);  // [k, 1] Σ_{j≠i} ξ_ij
  if (xi_min >= 0) {
    const double cap = 1.0 - xi_min;
    const torch::Tensor over = off > cap;  // [k, 1]
    fired = over.reshape({k});
    // Scale the off-diagonal of the rows over the cap so that it sums to exactly 1 − xi_min.
    xi.mul_(torch::where(over, cap / off, torch::ones_like(off)));
  }
  const torch::Tensor diag = 1.0 - xi.sum(1, /*keepdim=*/true);  // [k, 1] ξ_ii
  xi.scatter_(1, self_cols.to(torch::kInt64).reshape({k, 1}), diag);
  return fired;
}

Attention xi_fedamp(const torch::Tensor& d, const torch::Tensor& self_cols, double alpha_k, double sigma,
                    double xi_min) {
  check_rows("attention fedamp", d, self_cols);
  if (!(sigma > 0)) throw Error(fmt::format("attention fedamp: sigma = {} must be > 0", sigma));
  const torch::Tensor d64 = d.to(torch::kFloat64);  // [k, N]; +inf where absent → exp(−inf) = 0
  Attention out;
  out.xi = (alpha_k / sigma) * torch::exp(-d64 / sigma);  // [k, N]
  out.xi.masked_fill_(~torch::isfinite(d64), 0.0);         // absent clients (and NaN) weigh nothing
  out.guard_rows = finish_rows(out.xi, self_cols, xi_min);
  out.guard_fired = out.guard_rows.sum().item<int64_t>();
  return out;
}

Attention xi_heur(const torch::Tensor& cosine, const torch::Tensor& present, const torch::Tensor& self_cols,
                  double xi_self, double scale, double xi_min) {
  check_rows("attention heur", cosine, self_cols);
  const int64_t k = cosine.size(0), n = cosine.size(1);
  const torch::Tensor others = present.to(torch::kBool).reshape({1, n}) & ~self_mask(k, n, self_cols);  // [k, N]
  torch::Tensor logits = (scale * cosine.to(torch::kFloat64))
                             .masked_fill(~others, -std::numeric_limits<double>::infinity());  // [k, N]
  torch::Tensor soft = torch::softmax(logits, 1);  // [k, N]; NaN on rows with no other client
  soft = torch::where(others, soft, torch::zeros_like(soft));
  Attention out;
  out.xi = (1.0 - xi_self) * soft;  // [k, N]; a row with nobody else gets ξ_ii = 1 below
  out.guard_rows = finish_rows(out.xi, self_cols, xi_min);
  out.guard_fired = out.guard_rows.sum().item<int64_t>();
  return out;
}

Attention xi_samples(const torch::Tensor& present, const torch::Tensor& self_cols, const std::vector<int64_t>& sizes) {
  const int64_t k = self_cols.size(0), n = present.size(0);
  if (static_cast<int64_t>(sizes.size()) != n) throw Error("attention samples: need one sample count per client");
  const torch::Tensor nj = torch::tensor(std::vector<double>(sizes.begin(), sizes.end()), kF64);  // [N]
  // Row i counts the present clients plus i itself.
  const torch::Tensor member = present.to(torch::kBool).reshape({1, n}) | self_mask(k, n, self_cols);  // [k, N]
  torch::Tensor w = torch::where(member, nj.reshape({1, n}).expand({k, n}), torch::zeros({k, n}, kF64));
  Attention out;
  out.xi = w / w.sum(1, /*keepdim=*/true);            // [k, N]
  out.guard_rows = finish_rows(out.xi, self_cols, -1.0);  // no guard: plain sample weights
  out.guard_fired = 0;
  return out;
}

torch::Tensor normalize_fisher_per_tensor(const torch::Tensor& fisher, const std::vector<int64_t>& tensor_sizes) {
  int64_t total = 0;
  for (int64_t s : tensor_sizes) total += s;
  if (fisher.dim() != 1 || fisher.numel() != total)
    throw Error(fmt::format("fisher normalisation: Fisher has {} elements, the shared tensors {}", fisher.numel(), total));
  const torch::Tensor f = fisher.to(torch::kFloat32);  // [S]
  torch::Tensor out = torch::empty_like(f);            // [S]
  int64_t offset = 0;
  for (int64_t s : tensor_sizes) {
    if (s == 0) continue;
    const torch::Tensor part = f.narrow(0, offset, s);  // [s]
    const double mean = part.to(torch::kFloat64).mean().item<double>();
    out.narrow(0, offset, s).copy_(part / (mean + 1e-12));
    offset += s;
  }
  return out;
}

torch::Tensor fisher_param_weight(const torch::Tensor& fisher, const std::vector<int64_t>& tensor_sizes,
                                  FisherNorm fisher_norm, double delta) {
  if (fisher_norm == FisherNorm::per_tensor) return normalize_fisher_per_tensor(fisher, tensor_sizes) + delta;
  return fisher.to(torch::kFloat32) + delta;
}

double fisher_scalar_weight(const torch::Tensor& fisher) {
  const double m = fisher.numel() > 0 ? fisher.to(torch::kFloat64).mean().item<double>() : 0.0;
  return std::max(m, 1e-12);
}

}  // namespace fedsaf
