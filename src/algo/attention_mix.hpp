#pragma once
// The attention step shared by fedamp and fedsaf: distances, ξ by kernel, the (Fisher-weighted) mix.
#include <torch/torch.h>

#include <map>
#include <vector>

#include "algo/algorithm.hpp"
#include "algo/attention.hpp"
#include "algo/attention_options.hpp"
#include "core/config.hpp"

namespace fedsaf {

class PairwiseExchange;

// What the attention of one round computed (fedamp: the cohort's rows, in round_begin; fedsaf:
// the next round's cohort, plus every hosted client on evaluation rounds, in server_step).
struct AttentionReport {
  int64_t round = -1;         // the round these rows belong to; -1 = nothing computed yet
  int64_t rows = 0;           // ξ rows computed in this round, summed over all ranks
  int64_t guard_fired = 0;    // of those, rows the ξ guard scaled, summed over all ranks
  double sigma = 0;           // σ used by the fedamp kernel (0 for other kernels)
  double gemm_flops = 0;      // this rank's matrix-product flops in the attention stage this round
  double seconds = 0;         // this rank's wall time in the attention stage this round
  torch::Tensor clients;      // [k] int64: this rank's rows' clients (k may be 0)
  torch::Tensor xi;           // [k, N] float64: this rank's ξ rows, each summing to 1
};

// The k rows (this rank's clients) that get a mix.
struct MixRows {
  torch::Tensor params;        // [k, S] float32 (CPU): the rows' own parameters
  torch::Tensor clients;       // [k] int64: the rows' clients
  torch::Tensor sigma_rows;    // [k] bool: the rows whose distances define σ = "auto" (median over every rank's)
  torch::Tensor self_weights;  // [k, S] the rows' own Fisher weights, or undefined (= 1)
  torch::Tensor self_scalar;   // [k] the rows' own scalar Fisher weights, or undefined (= 1)
};

struct Mix {
  // The distinct mixes: [k', S] float32, u_i = Σ_j w_ij θ_j / Σ_j w_ij, w_ij = ξ_ij·scalar_j·weights_j.
  // Rows computed once (algo/shared_rows.hpp) share one row of u: row i's mix is u[u_row[i]]
  // (not expanded to [k, S]: 280 MB of fresh pages per rank for an evaluation of 10,000 clients).
  torch::Tensor u;
  std::vector<int64_t> u_row;  // [k]
  torch::Tensor row(size_t i) const { return u[u_row.at(i)]; }  // [S] row i's mix
  // [k, S]: every row's mix, a copy (for tests and small callers).
  torch::Tensor all_rows() const { return u.index_select(0, torch::tensor(u_row, torch::kInt64)); }
  Attention att;    // ξ [k, N] (undefined unless keep_xi) and this rank's guard rows and count
  double sigma = 0;  // σ used (0 unless the fedamp kernel)
  int64_t shared_rows = 0;  // rows that took an identical row's result (algo/shared_rows.hpp)
  double gemm_flops = 0;    // this rank's matrix-product flops (distances and mix passes)
};

// The attention step shared by fedamp and fedsaf. The uploads must already be registered on
// `exchange` (set_held). sizes: n_j for every client. Collective. Rows of clients without an
// upload whose inputs are identical are computed once (algo/shared_rows.hpp); σ = "auto" still
// counts every sigma row. Distances, ξ and the mix span only the columns of the clients with an
// upload and of the rows themselves (PairwiseExchange::columns_with): the others weigh 0.
// keep_xi: whether Mix::att keeps ξ [k, N] (for the run file, see stores_xi); without it only the guard's rows are kept (ξ of 10,000 rows × 10,000 clients is
// 800 MB per rank, and expanding shared rows into it costs as much again).
Mix attention_mix(PairwiseExchange& exchange, const AttentionOptions& options, const std::vector<int64_t>& sizes,
                  const MixRows& rows, bool keep_xi = true);

// Whether round `round`'s ξ rows go to the run file (attention.every; 0 = never).
inline bool stores_xi(int64_t round, int64_t every) { return every > 0 && (round + 1) % every == 0; }

// The most clients for which ξ may be stored: every rank combines N × N doubles to write it
// (2 GiB at this N) and the run file grows by 4·N² bytes (1 GiB) per stored matrix.
constexpr int64_t kMaxClientsStoringXi = 16384;
// ConfigError naming attention.every when it asks to store ξ for more than kMaxClientsStoringXi
// clients (called at init, before round 1, rather than failing hours later in a storing round).
void check_xi_storage(int64_t every, int64_t num_clients);

// Collective: adds one attention step to the round's report: its rows and guard count summed
// over ranks, its σ, this rank's GEMM flops and `seconds` (the caller's wall time of the whole
// step: gathering the held uploads included), and this rank's rows (self_cols [k], mix.att.xi [k, N]).
void add_to_report(AttentionReport& report, const Mix& mix, const torch::Tensor& self_cols, double seconds,
                   PairwiseExchange& exchange);

// Round `round`'s attention diagnostics into out: /attention/rows, guard_fired, sigma, gemm_flops
// (summed over ranks) and seconds (the slowest rank's) every round (0 when report is of an earlier round), the ξ rows as /attention/xi every `every` rounds
// (0 = never; width N = num_clients), and the progress note "ξ-guard fired/rows".
void add_attention_diagnostics(Diagnostics& out, const AttentionReport& report, int64_t round, int64_t every,
                               int64_t num_clients);

}  // namespace fedsaf
