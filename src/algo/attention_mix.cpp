#include "algo/attention_mix.hpp"

#include <fmt/format.h>

#include <optional>

#include "core/errors.hpp"
#include "mpi/communicator.hpp"
#include "mpi/pairwise.hpp"

namespace fedsaf {

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

torch::Tensor stack_rows(const std::map<int64_t, torch::Tensor>& by_client, const std::vector<int64_t>& clients,
                         int64_t numel) {
  torch::Tensor out = torch::empty({static_cast<int64_t>(clients.size()), numel}, torch::kFloat32);  // [m, numel]
  for (size_t r = 0; r < clients.size(); ++r)
    out[static_cast<int64_t>(r)].copy_(by_client.at(clients[r]).narrow(0, 0, numel));
  return out;
}

void add_to_report(AttentionReport& report, const Attention& att, const torch::Tensor& self_cols, double sigma,
                   Communicator& comm) {
  torch::Tensor counts = torch::tensor({self_cols.numel(), att.guard_fired}, torch::kInt64);  // [2] rows, guard fired
  comm.allreduce_sum(counts);
  report.rows += counts[0].item<int64_t>();
  report.guard_fired += counts[1].item<int64_t>();
  report.sigma = sigma;
  report.clients = self_cols;
  report.xi = att.xi;
}

void add_attention_diagnostics(Diagnostics& out, const AttentionReport& report, int64_t round, int64_t every,
                               int64_t num_clients) {
  const bool fresh = report.round == round;
  const int64_t rows = fresh ? report.rows : 0;
  out.scalars.push_back({"attention/rows", "ξ rows computed in the round (all ranks)", true, Across::same,
                         static_cast<double>(rows)});
  out.scalars.push_back({"attention/guard_fired", "ξ rows scaled by the guard in the round", true, Across::same,
                         static_cast<double>(fresh ? report.guard_fired : 0)});
  out.scalars.push_back({"attention/sigma", "σ of the fedamp kernel in the round (0: other kernels or none computed)",
                         false, Across::same, fresh ? report.sigma : 0.0});
  if (rows > 0) out.note = fmt::format("ξ-guard {}/{}", report.guard_fired, rows);
  ClientRows xi;
  xi.path = "attention/xi";
  xi.unit = "attention weight ξ_ij (row i sums to 1; NaN row: not computed that round)";
  xi.width = num_clients;
  xi.store = rows > 0 && every > 0 && (round + 1) % every == 0;
  if (fresh && report.clients.defined()) {
    const torch::Tensor clients = report.clients.to(torch::kCPU, torch::kInt64).contiguous();  // [k]
    const torch::Tensor values = report.xi.to(torch::kCPU, torch::kFloat64).contiguous();      // [k, N]
    xi.clients.assign(clients.data_ptr<int64_t>(), clients.data_ptr<int64_t>() + clients.numel());
    xi.values.assign(values.data_ptr<double>(), values.data_ptr<double>() + values.numel());
  }
  out.client_rows.push_back(std::move(xi));
}

}  // namespace fedsaf
