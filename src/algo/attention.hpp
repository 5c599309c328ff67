#pragma once
// The attention weights ξ of fedamp / fedsaf (docs/algorithms.md#attention) and the Fisher weights of fedsaf's
// mix, as pure functions on tensors. Rows are this rank's selected clients; columns are clients:
// all N, or any set holding every client with an upload and the rows' own (attention_mix passes
// only those; the others would hold 0); self_cols[i] is the column of row i's own client. The
// only communicating function is auto_sigma_global (σ = "auto" must be the same on every rank,
// so its median is over the whole cohort's rows).
//
// Every kernel returns a row-stochastic ξ [k, N] float64 (N: the columns): ξ_ij = 0 for clients j
// that have no upload (absent), Σ_j ξ_ij = 1, ξ_ii = 1 − Σ_{j≠i} ξ_ij. The guard (fedamp and heur
// kernels only; `samples` is the plain sample weighting of the −AMP ablation and is never capped, so that it
// reproduces fedavg / fedper): if Σ_{j≠i} ξ_ij > 1 − xi_min, the off-diagonal entries are scaled to
// sum to 1 − xi_min.
#include <torch/torch.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace fedsaf {

class PairwiseExchange;

struct Attention {
  torch::Tensor xi;          // [k, N] float64, rows sum to 1
  torch::Tensor guard_rows;  // [k] bool: the rows the ξ guard scaled
  int64_t guard_fired = 0;   // how many (guard_rows.sum())
};

// The finite off-diagonal distances of the rows (the sample of which σ = "auto" is the median).
// d: [k, N]; self_cols: [k] int64 → [n_finite] float64.
torch::Tensor finite_offdiag(const torch::Tensor& d, const torch::Tensor& self_cols);
// Median of a 1-D tensor (mean of the two middle values for an even count); 1.0 when empty or
// when the median is not > 0 (then every distance is 0 or none exists, and σ does not matter).
double median_sigma(const torch::Tensor& values);
// Collective over comm: the median of the finite off-diagonal d of every rank's rows (exact, as
// median_sigma of their union; algo/distributed_median.hpp).
double auto_sigma_global(const torch::Tensor& d, const torch::Tensor& self_cols, PairwiseExchange& exchange);
// attention.sigma: "auto" → nullopt; a number > 0 → it; otherwise ConfigError naming the key.
std::optional<double> parse_sigma(const std::string& text);

// fedamp kernel: ξ_ij = α_K · exp(−d_ij/σ) / σ for j ≠ i with finite d_ij.
Attention xi_fedamp(const torch::Tensor& d, const torch::Tensor& self_cols, double alpha_k, double sigma,
                    double xi_min);
// heur kernel: ξ_ij = (1 − ξ_self) · softmax_{j≠i, present}(scale · cos_ij), ξ_ii = ξ_self
// (ξ_ii = 1 when no other client is present). present: [N] bool.
Attention xi_heur(const torch::Tensor& cosine, const torch::Tensor& present, const torch::Tensor& self_cols,
                  double xi_self, double scale, double xi_min);
// samples kernel: ξ_ij = n_j / Σ n over the present clients plus i itself. sizes: n_j of each
// column's client [N].
Attention xi_samples(const torch::Tensor& present, const torch::Tensor& self_cols, const std::vector<int64_t>& sizes);

// In place on xi [k, N] whose diagonal (self) entries are ignored: applies the guard (if xi_min
// ≥ 0), then sets ξ_ii = 1 − Σ_{j≠i} ξ_ij. Returns the rows the guard scaled: [k] bool.
torch::Tensor finish_rows(torch::Tensor& xi, const torch::Tensor& self_cols, double xi_min);

// ---- fedsaf's Fisher weighting --------------------------------------------------------------
// F̂[p] = F[p] / (mean of F over p's tensor + 1e-12). fisher: [S]; tensor_sizes: the numel of each
// parameter tensor of the shared part, in flat order (summing to S). Returns [S] float32.
torch::Tensor normalize_fisher_per_tensor(const torch::Tensor& fisher, const std::vector<int64_t>& tensor_sizes);
enum class FisherNorm {
  per_tensor,  // divide by the tensor's mean
  none,
};
// The per-parameter mix weight of one client for fisher_mode = param: F̂ + δ (fisher_norm
// per_tensor) or F + δ (none). [S] float32.
torch::Tensor fisher_param_weight(const torch::Tensor& fisher, const std::vector<int64_t>& tensor_sizes,
                                  FisherNorm fisher_norm, double delta);
// fisher_mode = scalar: one weight per client, mean(F) (the raw Fisher; the mix divides by
// Σ_j ξ_ij·mean(F_j), so its scale cancels), floored at 1e-12 so a zero Fisher cannot zero a row.
double fisher_scalar_weight(const torch::Tensor& fisher);

}  // namespace fedsaf
