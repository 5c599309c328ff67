// The distributed pairwise stage's maths (see pairwise.hpp); the blocks come from mpi/block_ring.
#include "algo/pairwise.hpp"

#include <fmt/format.h>

#include <chrono>
#include <limits>

#include "core/errors.hpp"

namespace fedsaf {
namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

const auto kF64 = torch::TensorOptions().dtype(torch::kFloat64);

// Below this relative size (of ‖a‖² + ‖b‖²) the expanded distance has lost too many digits to
// cancellation; such pairs are recomputed directly (see pairwise.hpp).
constexpr double kRefine = 1e-9;

}  // namespace

PairwiseExchange::PairwiseExchange(Communicator& comm, PairwiseMode mode, int64_t num_clients, int64_t block_rows,
                                   int64_t block_bytes)
    : ring_(comm, mode, block_rows, block_bytes), num_clients_(num_clients) {
  if (num_clients < 0) throw Error(fmt::format("pairwise: num_clients = {} must be ≥ 0", num_clients));
}

void PairwiseExchange::set_held(const HeldUploads& held) {
  const char* op = "pairwise set_held";
  if (!held.ids.defined() || !held.params.defined() || held.ids.dim() != 1 || held.params.dim() != 2)
    throw Error(fmt::format("{}: ids must be [m] and params [m, S] (pass [0, S] when empty)", op));
  const int64_t m = held.ids.size(0), s = held.params.size(1);
  if (held.params.size(0) != m || held.ids.scalar_type() != torch::kInt64 ||
      held.params.scalar_type() != torch::kFloat32 || !held.params.is_contiguous() || !held.params.is_cpu())
    throw Error(fmt::format("{}: params must be a contiguous CPU float32 [m, S] with m = ids.size(0) = {}", op, m));
  if (held.weights.defined() && (!held.weights.sizes().equals(held.params.sizes()) ||
                                 held.weights.scalar_type() != torch::kFloat32 || !held.weights.is_contiguous()))
    throw Error(fmt::format("{}: weights must be a contiguous float32 tensor shaped like params [{}, {}]", op, m, s));
  if (held.scalar.defined() && (held.scalar.dim() != 1 || held.scalar.size(0) != m))
    throw Error(fmt::format("{}: scalar must be [m] with m = {}", op, m));
  ring_.set_rows(held.params, held.weights);  // collective: counts, S and weights agree
  held_ = held;

  // Ids, ‖θ_j‖² (float64, computed once here by the owner) and scalars of every upload.
  all_ids_ = ring_.gather_rows(held.ids);  // [M] int64
  torch::Tensor side = torch::empty({m, 2}, kF64);  // [m, 2]: ‖θ‖², scalar
  if (m > 0) {
    side.select(1, 0).copy_(held.params.to(torch::kFloat64).square().sum(1));
    side.select(1, 1).copy_(held.scalar.defined() ? held.scalar.to(torch::kFloat64) : torch::ones({m}, kF64));
  }
  const torch::Tensor all_side = ring_.gather_rows(side);  // [M, 2]
  all_norms_ = all_side.select(1, 0).contiguous();          // [M]
  all_scalar_ = all_side.select(1, 1).contiguous();         // [M]
  if (all_ids_.numel() > 0 && (all_ids_.min().item<int64_t>() < 0 || all_ids_.max().item<int64_t>() >= num_clients_))
    throw Error(fmt::format("{}: a client id is outside [0, {})", op, num_clients_));
}

void PairwiseExchange::take_ring_stats() {
  stats_.blocks = ring_.blocks();
  stats_.bytes_moved = ring_.bytes_moved();
  stats_.wait_seconds = ring_.wait_seconds();
}

double PairwiseExchange::transfer_only(bool with_weights) {
  const double seconds = ring_.transfer_only(with_weights);
  take_ring_stats();
  return seconds;
}

PairwiseDistances PairwiseExchange::distances(const torch::Tensor& queries, bool want_cosine) {
  const auto t_start = Clock::now();
  if (!queries.defined() || queries.dim() != 2 || (ring_.numel() >= 0 && queries.size(1) != ring_.numel()))
    throw Error(fmt::format("pairwise distances: queries must be [k, S] with S = {}", ring_.numel()));
  const int64_t k = queries.size(0), n = num_clients_;
  const double inf = std::numeric_limits<double>::infinity();
  BlockRing::Counted q64(ring_.meter(), queries.to(torch::kFloat64).contiguous());  // [k, S]
  const torch::Tensor qn = q64->square().sum(1);                  // [k] ‖q_i‖²
  PairwiseDistances out;
  out.sq_dist = torch::full({k, n}, inf, kF64);                              // [k, N]
  if (want_cosine) out.cosine = torch::zeros({k, n}, kF64);                  // [k, N]
  out.present = torch::zeros({n}, torch::TensorOptions().dtype(torch::kBool));  // [N]
  if (all_ids_.numel() > 0) out.present.index_fill_(0, all_ids_, true);
  ring_.meter().add(out.sq_dist.nbytes() * (want_cosine ? 2 : 1));

  ring_.stream(false, [&](const BlockRing::Block& b, const torch::Tensor& params, const torch::Tensor&) {
    if (k == 0) return;
    BlockRing::Counted p64(ring_.meter(), params.to(torch::kFloat64));        // [b, S] fresh
    const torch::Tensor ids = all_ids_.narrow(0, b.global, b.rows);           // [b]
    const torch::Tensor pn = all_norms_.narrow(0, b.global, b.rows);          // [b]
    const torch::Tensor dots = q64->mm(p64->t());                             // [k, b]
    const torch::Tensor scale = qn.unsqueeze(1) + pn.unsqueeze(0);            // [k, b]
    torch::Tensor d = (scale - 2.0 * dots).clamp_min_(0.0);                   // [k, b]
    // Pairs where cancellation ate the digits: direct Σ (q − θ)².
    const torch::Tensor close = (d < kRefine * scale).nonzero();              // [c, 2]
    auto acc = d.accessor<double, 2>();
    auto cl = close.accessor<int64_t, 2>();
    for (int64_t c = 0; c < close.size(0); ++c) {
      const int64_t i = cl[c][0], j = cl[c][1];
      acc[i][j] = ((*q64)[i] - (*p64)[j]).square().sum().item<double>();
    }
    out.sq_dist.index_copy_(1, ids, d);
    if (want_cosine) {
      const torch::Tensor denom = (qn.unsqueeze(1) * pn.unsqueeze(0)).sqrt();                      // [k, b]
      const torch::Tensor cos = torch::where(denom > 0, dots / denom, torch::zeros_like(dots));     // [k, b]
      out.cosine.index_copy_(1, ids, cos.clamp(-1.0, 1.0));
    }
  });
  ring_.meter().sub(out.sq_dist.nbytes() * (want_cosine ? 2 : 1));
  take_ring_stats();
  stats_.peak_bytes = std::max(stats_.peak_bytes, ring_.meter().peak);
  stats_.total_seconds = seconds_since(t_start);
  return out;
}

torch::Tensor PairwiseExchange::mix(const torch::Tensor& queries, const torch::Tensor& xi, const SelfTerm* self) {
  const auto t_start = Clock::now();
  if (ring_.numel() < 0) throw Error("pairwise mix: set_held must come first");
  const int64_t k = queries.size(0), s = ring_.numel();
  if (queries.dim() != 2 || queries.size(1) != s || xi.dim() != 2 || xi.size(0) != k || xi.size(1) != num_clients_)
    throw Error(fmt::format("pairwise mix: queries must be [k, {}] and xi [k, {}] with the same k", s, num_clients_));
  const torch::Tensor xi64 = xi.to(torch::kFloat64);  // [k, N]
  const bool weighted = ring_.has_weights();
  BlockRing::Counted num(ring_.meter(), torch::zeros({k, s}, kF64));                 // [k, S] Σ_j w_ij ⊙ θ_j
  BlockRing::Counted den(ring_.meter(), torch::zeros({k, weighted ? s : 1}, kF64));  // [k, S] or [k, 1] Σ_j w_ij

  ring_.stream(weighted, [&](const BlockRing::Block& b, const torch::Tensor& params, const torch::Tensor& weights) {
    if (k == 0) return;
    const torch::Tensor ids = all_ids_.narrow(0, b.global, b.rows);                                 // [b]
    const torch::Tensor coef = xi64.index_select(1, ids) * all_scalar_.narrow(0, b.global, b.rows);  // [k, b]
    if (!coef.ne(0).any().item<bool>()) return;  // nobody here weighs this block
    BlockRing::Counted p64(ring_.meter(), params.to(torch::kFloat64));  // [b, S] fresh
    if (weighted) {
      BlockRing::Counted w64(ring_.meter(), weights.to(torch::kFloat64));  // [b, S] fresh
      p64->mul_(*w64);                                    // weights ⊙ θ
      num->addmm_(coef, *p64);
      den->addmm_(coef, *w64);
    } else {
      num->addmm_(coef, *p64);
      den->add_(coef.sum(1, /*keepdim=*/true));
    }
  });

  take_ring_stats();
  BlockRing::Counted q64c(ring_.meter(), queries.to(torch::kFloat64));  // [k, S]
  const torch::Tensor& q64 = *q64c;
  if (self != nullptr && k > 0) {
    if (self->weights.defined() && !weighted)
      throw Error("pairwise mix: self weights given but the held uploads have none");
    torch::Tensor sw = self->xi.to(torch::kFloat64).reshape({k, 1});  // [k, 1] ξ_ii
    if (self->scalar.defined()) sw = sw * self->scalar.to(torch::kFloat64).reshape({k, 1});
    const torch::Tensor w = self->weights.defined() ? sw * self->weights.to(torch::kFloat64) : sw;  // [k, S] or [k, 1]
    num->add_(w * q64);
    den->add_(w);
  }
  // A row with no weight at all keeps its query.
  const torch::Tensor u = torch::where(*den > 0, *num / *den, q64).to(torch::kFloat32);  // [k, S]
  stats_.peak_bytes = std::max(stats_.peak_bytes, ring_.meter().peak);
  stats_.total_seconds = seconds_since(t_start);
  return u;
}

}  // namespace fedsaf
