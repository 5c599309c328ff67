#include "algo/attention_mix.hpp"

#include <fmt/format.h>

#include <limits>
#include <optional>

#include "algo/pairwise.hpp"
#include "algo/shared_rows.hpp"
#include "core/config_schema.hpp"
#include "core/errors.hpp"
#include "model/tensor_values.hpp"

namespace fedsaf {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// The [attention] keys (config.section<AttentionOptions>()), between fedper's and fedamp's sections.
const bool registered = register_config_section({
    45, "", "",
    {enum_key<AttentionKernel>(
         "attention.kernel",
         "Attention kernel: `fedamp` (ξ_ij = α_K·exp(−d_ij/σ)/σ), `heur` ((1 − ξ_self)·softmax(heur_scale·cos)), `samples` (ξ_ij = n_j/Σn: the without-AMP ablation).",
         {"fedamp", "heur", "samples"}, [](Config& c) -> auto& { return c.section<AttentionOptions>().kernel; }),
     {"attention.alpha_k", "α_K of the fedamp kernel (and of the proximal weight λ/(2α_K)).",
      [](Config& c) -> ConfigValueRef { return &c.section<AttentionOptions>().alpha_k; }, 0, kInf, true},
     {"attention.sigma", "σ of the fedamp kernel: `\"auto\"` (median of the round's squared distances) or a number > 0.",
      [](Config& c) -> ConfigValueRef { return &c.section<AttentionOptions>().sigma; }, -kInf, kInf, false, {}, true},
     {"attention.lambda", "λ: weight of the proximal term (λ/(2α_K))·‖w − u_i‖² (fedamp; fedsaf with init_from_cloud = false uses fedsaf.prox_lambda).",
      [](Config& c) -> ConfigValueRef { return &c.section<AttentionOptions>().lambda; }, 0, kInf},
     {"attention.xi_min", "Guard: when the off-diagonal ξ of a row sum above 1 − xi_min they are scaled to sum to 1 − xi_min.",
      [](Config& c) -> ConfigValueRef { return &c.section<AttentionOptions>().xi_min; }, 0, 1},
     {"attention.heur_scale", "heur kernel: σ multiplying the cosine similarity inside the softmax.",
      [](Config& c) -> ConfigValueRef { return &c.section<AttentionOptions>().heur_scale; }, 0, kInf},
     {"attention.xi_self", "heur kernel: ξ_ii, the weight a client keeps on itself.",
      [](Config& c) -> ConfigValueRef { return &c.section<AttentionOptions>().xi_self; }, 0, 1},
     enum_key<PairwiseMode>(
         "attention.exchange",
         "How uploads travel between ranks: `ring` (blocks passed around, O(2 blocks) memory) or `allgather` (every rank holds all uploads; small runs).",
         {"ring", "allgather"}, [](Config& c) -> auto& { return c.section<AttentionOptions>().exchange; }),
     enum_key<PairwisePrecision>(
         "attention.precision",
         "Arithmetic of the pairwise distances and of the mix: `float32` (matrix products in float32 on uploads centred on their mean; distance errors below 1e-5 of the cohort's spread, close pairs recomputed in float64; about 1.7× faster) or `float64` (float64 products: distances to ~12 digits).",
         {"float32", "float64"}, [](Config& c) -> auto& { return c.section<AttentionOptions>().precision; }),
     {"attention.every", "Write the attention matrix ξ (N×N) to the run file every this many rounds (0 = never; must be 0 beyond 16384 clients, where ξ would not fit).",
      [](Config& c) -> ConfigValueRef { return &c.section<AttentionOptions>().every; }, 0, kInf}},
    [](const Config& c) -> std::string {
      try {
        parse_sigma(c.section<AttentionOptions>().sigma);
        return "";
      } catch (const ConfigError& e) {
        return e.what();
      }
    },
});

}  // namespace

Mix attention_mix(PairwiseExchange& exchange, const AttentionOptions& config, const std::vector<int64_t>& sizes,
                  const MixRows& all_rows, bool keep_xi) {
  const SharedRows shared =
      find_shared_rows(all_rows, exchange.present(), sizes, config.kernel == AttentionKernel::samples);
  const MixRows rows = shared.shared > 0 ? compact_rows(all_rows, shared) : all_rows;  // k' ≤ k rows
  const torch::Tensor& queries = rows.params;  // [k', S]
  // The rows weigh only the held uploads' clients and themselves: C columns, not all N (clients
  // without an upload weigh 0 in every row but their own).
  const torch::Tensor columns = exchange.columns_with(rows.clients);                  // [C] client ids
  const torch::Tensor self_cols = torch::searchsorted(columns, rows.clients);        // [k'] each row's column
  Mix out;
  Attention& att = out.att;
  double& sigma = out.sigma;
  const AttentionKernel kernel = config.kernel;
  const PairwiseDistances pd = exchange.distances(queries, kernel == AttentionKernel::heur, columns);  // sq_dist [k', C]
  out.gemm_flops = exchange.stats().gemm_flops;
  sigma = 0;
  if (kernel == AttentionKernel::fedamp) {
    const std::optional<double> fixed = parse_sigma(config.sigma);
    if (fixed) {
      sigma = *fixed;
    } else {
      // Every row that defines σ counts, shared or not: the distances of its representative.
      const torch::Tensor pick = all_rows.sigma_rows.nonzero().flatten();  // [k''] rows that define σ
      sigma = auto_sigma_global(pd.sq_dist.index_select(0, shared.representative.index_select(0, pick)),
                                self_cols.index_select(0, shared.representative.index_select(0, pick)), exchange);
    }
    att = xi_fedamp(pd.sq_dist, self_cols, config.alpha_k, sigma, config.xi_min);
  } else if (kernel == AttentionKernel::heur) {
    att = xi_heur(pd.cosine, pd.present, self_cols, config.xi_self, config.heur_scale, config.xi_min);
  } else {
    const torch::Tensor column_ids = columns.contiguous();  // [C]
    std::vector<int64_t> column_sizes;                      // n_j of each column's client
    column_sizes.reserve(static_cast<size_t>(column_ids.numel()));
    for (int64_t c = 0; c < column_ids.numel(); ++c)
      column_sizes.push_back(sizes.at(static_cast<size_t>(column_ids.data_ptr<int64_t>()[c])));
    att = xi_samples(pd.present, self_cols, column_sizes);
  }
  const int64_t k = queries.size(0);  // k'
  const torch::Tensor cols = self_cols.reshape({k, 1});  // [k', 1]
  SelfTerm self;
  self.xi = att.xi.gather(1, cols).reshape({k});                 // [k'] ξ_ii
  self.weights = rows.self_weights;                              // [k', S] or undefined
  self.scalar = rows.self_scalar;                                // [k'] or undefined
  const torch::Tensor xi_others = att.xi.scatter(1, cols, 0.0);  // [k', C]: own column from the query
  out.u = exchange.mix(queries, xi_others, &self, columns);      // [k', S]
  out.gemm_flops += exchange.stats().gemm_flops;
  if (keep_xi) {  // ξ over all N clients, for the run file: 0 in the columns not computed
    torch::Tensor full = torch::zeros({k, static_cast<int64_t>(sizes.size())}, att.xi.options());  // [k', N]
    att.xi = full.index_copy_(1, columns, att.xi);
  }
  if (shared.shared > 0) {
    out.att = keep_xi ? expand_attention(att, shared, rows.clients, all_rows.clients)  // [k, N]
                      : expand_guard(att, shared);                                     // guard rows [k] only
    const torch::Tensor representative = shared.representative.contiguous();  // [k]
    out.u_row.assign(representative.data_ptr<int64_t>(), representative.data_ptr<int64_t>() + representative.numel());
    out.shared_rows = shared.shared;
  } else {
    out.u_row.resize(static_cast<size_t>(out.u.size(0)));
    for (size_t i = 0; i < out.u_row.size(); ++i) out.u_row[i] = static_cast<int64_t>(i);
  }
  if (!keep_xi) out.att.xi = torch::Tensor();
  return out;
}

void check_xi_storage(int64_t every, int64_t num_clients) {
  if (every <= 0 || num_clients <= kMaxClientsStoringXi) return;
  const double n = static_cast<double>(num_clients);
  throw ConfigError(fmt::format(
      "attention.every = {}: storing ξ for {} clients would take {:.1f} GB of memory per rank and {:.1f} GB of run "
      "file per stored matrix (N × N); set attention.every = 0 (ξ is stored for at most {} clients)",
      every, num_clients, 8 * n * n / 1e9, 4 * n * n / 1e9, kMaxClientsStoringXi));
}

void add_to_report(AttentionReport& report, const Mix& mix, const torch::Tensor& self_cols, double seconds,
                   PairwiseExchange& exchange) {
  torch::Tensor counts = torch::tensor({self_cols.numel(), mix.att.guard_fired}, torch::kInt64);  // [2] rows, guard fired
  exchange.sum(counts);
  report.rows += counts[0].item<int64_t>();
  report.guard_fired += counts[1].item<int64_t>();
  report.sigma = mix.sigma;
  report.gemm_flops += mix.gemm_flops;
  report.seconds += seconds;
  report.clients = self_cols;
  report.xi = mix.att.xi;
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
  // Their ratio, over ranks × one core's SGEMM rate, is the stage's share of the GEMM peak.
  out.scalars.push_back({"attention/gemm_flops", "flops of the attention stage's matrix products in the round (all ranks)",
                         false, Across::sum, fresh ? report.gemm_flops : 0.0});
  out.scalars.push_back({"attention/seconds", "wall seconds of the attention stage in the round (the slowest rank)",
                         false, Across::max, fresh ? report.seconds : 0.0});
  if (rows > 0) out.note = fmt::format("ξ-guard {}/{}", report.guard_fired, rows);
  ClientRows xi;
  xi.path = "attention/xi";
  xi.unit = "attention weight ξ_ij (row i sums to 1; NaN row: not computed that round)";
  xi.width = num_clients;
  xi.store = rows > 0 && stores_xi(round, every);
  // Only rounds that store it: [k, N] as doubles is 800 MB per rank for 10,000 rows of 10,000 clients.
  if (xi.store && fresh && report.clients.defined() && report.xi.defined()) {
    const torch::Tensor clients = report.clients.to(torch::kCPU, torch::kInt64).contiguous();  // [k]
    xi.clients.assign(clients.data_ptr<int64_t>(), clients.data_ptr<int64_t>() + clients.numel());
    xi.values = to_doubles(report.xi);  // [k, N] row-major
  }
  out.client_rows.push_back(std::move(xi));
}

}  // namespace fedsaf
