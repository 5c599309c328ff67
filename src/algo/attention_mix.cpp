#include "algo/attention_mix.hpp"

#include <fmt/format.h>

#include <optional>

#include "core/errors.hpp"
#include "mpi/communicator.hpp"
#include "mpi/pairwise.hpp"

namespace fedsaf {

// The attention step shared by fedamp and fedsaf (declared again in fedsaf.cpp). The uploads must
// already be registered on `exchange` (set_held). Collective.
//   queries [k, S] float32 (CPU): the rows' own parameters; self_cols [k] int64: the rows' clients;
//   sigma_rows [k] bool: the rows whose distances define σ = "auto" (median over every rank's);
//   self_weights [k, S] / self_scalar [k]: the rows' own Fisher weights, or undefined (= 1).
// Returns u [k, S] float32 with u_i = Σ_j w_ij θ_j / Σ_j w_ij, w_ij = ξ_ij·scalar_j·weights_j; fills
// att (ξ [k, N], this rank's guard count) and sigma (0 unless the fedamp kernel).
torch::Tensor attention_mix(PairwiseExchange& exchange, Communicator& comm, const AttentionConfig& config,
                            const std::vector<int64_t>& sizes, const torch::Tensor& queries,
                            const torch::Tensor& self_cols, const torch::Tensor& sigma_rows,
                            const torch::Tensor& self_weights, const torch::Tensor& self_scalar, Attention& att,
                            double& sigma) {
  const std::string& kernel = config.kernel;
  const PairwiseDistances pd = exchange.distances(queries, kernel == "heur");  // sq_dist [k, N]
  sigma = 0;
  if (kernel == "fedamp") {
    const std::optional<double> fixed = parse_sigma(config.sigma);
    if (fixed) {
      sigma = *fixed;
    } else {
      const torch::Tensor pick = sigma_rows.nonzero().flatten();  // [k'] rows that define σ
      sigma = auto_sigma_global(pd.sq_dist.index_select(0, pick), self_cols.index_select(0, pick), comm);
    }
    att = xi_fedamp(pd.sq_dist, self_cols, config.alpha_k, sigma, config.xi_min);
  } else if (kernel == "heur") {
    att = xi_heur(pd.cosine, pd.present, self_cols, config.xi_self, config.heur_scale, config.xi_min);
  } else if (kernel == "samples") {
    att = xi_samples(pd.present, self_cols, sizes);
  } else {
    throw ConfigError(fmt::format("attention.kernel = '{}': expected fedamp, heur or samples", kernel));
  }
  const int64_t k = queries.size(0);
  const torch::Tensor cols = self_cols.reshape({k, 1});  // [k, 1]
  SelfTerm self;
  self.xi = att.xi.gather(1, cols).reshape({k});                 // [k] ξ_ii
  self.weights = self_weights;                                   // [k, S] or undefined
  self.scalar = self_scalar;                                     // [k] or undefined
  const torch::Tensor xi_others = att.xi.scatter(1, cols, 0.0);  // [k, N]: own column from the query
  return exchange.mix(queries, xi_others, &self);                // [k, S]
}

}  // namespace fedsaf
