// The distributed pairwise stage's maths (see pairwise.hpp); the blocks come from mpi/block_ring.
#include "algo/pairwise.hpp"

#include <fmt/format.h>

#include <limits>

#include "algo/float64_sums.hpp"
#include "core/errors.hpp"
#include "core/stopwatch.hpp"

namespace fedsaf {
namespace {

const auto kF64 = torch::TensorOptions().dtype(torch::kFloat64);

// Below this relative size (of ‖a‖² + ‖b‖²) the expanded distance has lost too many digits to
// cancellation; such pairs are recomputed directly (see pairwise.hpp).
constexpr double kRefine64 = 1e-9;
constexpr double kRefine32 = 1e-4;

// Calls f(begin, count) over [0, rows) in chunks of about 512 KiB of float64 S-rows, so that the
// element-wise temporaries of a chunk stay in the caches (and below malloc's mmap threshold: fresh
// mmap'd pages fault on first touch, which cost as much as the arithmetic here).
template <class F>
void for_row_chunks(int64_t rows, int64_t s, F&& f) {
  const int64_t chunk = std::max<int64_t>(1, (int64_t{512} << 10) / std::max<int64_t>(1, 8 * s));
  for (int64_t begin = 0; begin < rows; begin += chunk) f(begin, std::min(chunk, rows - begin));
}

// Close pairs (rows of `close`: [c, 2] (query, block row)) recomputed as Σ (q − θ)² in float64,
// a chunk of pairs at a time so the temporaries stay small.
void refine_close_pairs(torch::Tensor& d, const torch::Tensor& close, const torch::Tensor& queries,
                        const torch::Tensor& rows) {
  for_row_chunks(close.size(0), queries.size(1), [&](int64_t begin, int64_t count) {
    const torch::Tensor pairs = close.narrow(0, begin, count);        // [c, 2]
    const torch::Tensor qi = pairs.select(1, 0), rj = pairs.select(1, 1);  // [c] each
    const torch::Tensor exact = (queries.index_select(0, qi).to(torch::kFloat64) -
                                 rows.index_select(0, rj).to(torch::kFloat64))
                                    .square()
                                    .sum(1);  // [c]
    d.index_put_({qi, rj}, exact);
  });
}

// Per row of `rows` [m, S] float32 and the centre c [S] float32: ‖fl32(θ − c)‖², ‖θ‖² and
// fl32(θ − c)·c, summed in float64 ([m] each, into the columns of `out` [m, ≥ 3]).
void centred_norms(const torch::Tensor& rows, const torch::Tensor& centre, torch::Tensor& out, int64_t col_norm,
                   int64_t col_plain, int64_t col_dot) {
  for_row_chunks(rows.size(0), rows.size(1), [&](int64_t begin, int64_t count) {
    const torch::Tensor chunk = rows.narrow(0, begin, count);  // [c, S]
    const torch::Tensor r = chunk - centre;                    // [c, S] float32, as the passes round it
    out.select(1, col_norm).narrow(0, begin, count).copy_(r.square().sum(1, false, torch::kFloat64));
    if (col_plain >= 0) out.select(1, col_plain).narrow(0, begin, count).copy_(chunk.square().sum(1, false, torch::kFloat64));
    if (col_dot >= 0) out.select(1, col_dot).narrow(0, begin, count).copy_(r.to(torch::kFloat64).mv(centre.to(torch::kFloat64)));
  });
}

}  // namespace

PairwiseExchange::PairwiseExchange(Communicator& comm, PairwiseMode mode, PairwisePrecision precision,
                                   int64_t num_clients, int64_t block_rows, int64_t block_bytes)
    : ring_(comm, mode, block_rows, block_bytes), precision_(precision), num_clients_(num_clients) {
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

  all_ids_ = ring_.gather_rows(held.ids);  // [M] int64
  const int64_t total = all_ids_.numel();
  centre_ = torch::Tensor();
  if (precision_ == PairwisePrecision::float32) {
    // c = the mean upload: one float64 sum over the ranks (collective on every rank).
    torch::Tensor sum = column_sums_f64(held.params);  // [S]
    ring_.sum(sum);
    centre_ = (sum / static_cast<double>(std::max<int64_t>(total, 1))).to(torch::kFloat32);  // [S]
  }

  // Per upload, computed once here by the owner in float64: ‖θ − c‖² (of the float32 residual the
  // passes use), scalar, ‖θ‖², (θ − c)·c.
  torch::Tensor side = torch::zeros({m, 4}, kF64);  // [m, 4]
  if (m > 0) {
    if (centre_.defined()) {
      centred_norms(held.params, centre_, side, 0, 2, 3);
    } else {
      side.select(1, 0).copy_(held.params.to(torch::kFloat64).square().sum(1));
      side.select(1, 2).copy_(side.select(1, 0));
    }
    side.select(1, 1).copy_(held.scalar.defined() ? held.scalar.to(torch::kFloat64) : torch::ones({m}, kF64));
  }
  const torch::Tensor all_side = ring_.gather_rows(side);  // [M, 4]
  all_norms_ = all_side.select(1, 0).contiguous();          // [M]
  all_scalar_ = all_side.select(1, 1).contiguous();         // [M]
  all_plain_ = all_side.select(1, 2).contiguous();          // [M]
  all_dot_c_ = all_side.select(1, 3).contiguous();          // [M]
  if (all_ids_.numel() > 0 && (all_ids_.min().item<int64_t>() < 0 || all_ids_.max().item<int64_t>() >= num_clients_))
    throw Error(fmt::format("{}: a client id is outside [0, {})", op, num_clients_));
}

torch::Tensor PairwiseExchange::present() const {
  torch::Tensor present = torch::zeros({num_clients_}, torch::TensorOptions().dtype(torch::kBool));  // [N]
  if (all_ids_.defined() && all_ids_.numel() > 0) present.index_fill_(0, all_ids_, true);
  return present;
}

torch::Tensor PairwiseExchange::columns_with(const torch::Tensor& extra) const {
  const torch::Tensor held = all_ids_.defined() ? all_ids_ : torch::zeros({0}, torch::kInt64);  // [M]
  return std::get<0>(torch::_unique(torch::cat({held, extra.to(torch::kInt64).flatten()}), /*sorted=*/true));  // [C]
}

torch::Tensor PairwiseExchange::column_of_uploads(const torch::Tensor& columns, const char* op) const {
  if (!columns.defined()) return all_ids_;  // [M]: the columns are all N clients
  if (columns.dim() != 1 || columns.scalar_type() != torch::kInt64)
    throw Error(fmt::format("{}: columns must be [C] int64 client ids, ascending", op));
  const int64_t c = columns.size(0);
  const torch::Tensor at = torch::searchsorted(columns, all_ids_).clamp_max_(std::max<int64_t>(c - 1, 0));  // [M]
  if (all_ids_.numel() > 0 && (c == 0 || !torch::equal(columns.index_select(0, at), all_ids_)))
    throw Error(fmt::format("{}: the columns must include every held upload's client (see columns_with)", op));
  return at;
}

torch::Tensor PairwiseExchange::centred(const torch::Tensor& rows) const {
  if (centre_.defined()) return rows - centre_;  // [k, S] float32, fresh (one rounding per element)
  return rows.to(torch::kFloat64);               // [k, S] float64, fresh (exact)
}

torch::Tensor PairwiseExchange::centred_block(const torch::Tensor& rows) {
  torch::Tensor out = ring_.meter().reuse_rows(scratch_rows_, rows.size(0), ring_.numel(),
                                                    centre_.defined() ? torch::kFloat32 : torch::kFloat64);  // [b, S]
  if (centre_.defined()) {
    torch::sub_out(out, rows, centre_);  // one rounding per element, as rows − c
  } else {
    out.copy_(rows);  // exact
  }
  return out;
}

void PairwiseExchange::take_ring_stats() {
  stats_.blocks = ring_.blocks();
  stats_.bytes_moved = ring_.bytes_moved();
  stats_.wait_seconds = ring_.wait_seconds();
}

double PairwiseExchange::transfer_only(bool with_weights) {
  stats_.gemm_flops = 0;
  const double seconds = ring_.transfer_only(with_weights);
  take_ring_stats();
  return seconds;
}

PairwiseDistances PairwiseExchange::distances(const torch::Tensor& queries, bool want_cosine,
                                               const torch::Tensor& columns) {
  const auto t_start = Clock::now();
  if (!queries.defined() || queries.dim() != 2 || (ring_.numel() >= 0 && queries.size(1) != ring_.numel()))
    throw Error(fmt::format("pairwise distances: queries must be [k, S] with S = {}", ring_.numel()));
  const torch::Tensor column_of = column_of_uploads(columns, "pairwise distances");  // [M]
  const int64_t k = queries.size(0), n = columns.defined() ? columns.size(0) : num_clients_;  // n = C
  const double inf = std::numeric_limits<double>::infinity();
  const bool centre = centre_.defined();
  const double refine = centre ? kRefine32 : kRefine64;
  // a = q − c in the pass's precision, with ‖a‖² and a·c in float64.
  BlockRing::Counted a(ring_.meter(), centred(queries).contiguous());  // [k, S]
  torch::Tensor qn, qc;                                               // [k] ‖q_i − c‖², (q_i − c)·c
  double cc = 0;                                                      // ‖c‖²
  if (centre) {
    torch::Tensor cols = torch::zeros({k, 3}, kF64);  // [k, 3]
    centred_norms(queries, centre_, cols, 0, -1, 1);
    qn = cols.select(1, 0);
    qc = cols.select(1, 1);
    cc = centre_.to(torch::kFloat64).square().sum().item<double>();
  } else {
    qn = a->square().sum(1);
    qc = torch::zeros({k}, kF64);
  }
  PairwiseDistances out;
  out.sq_dist = torch::full({k, n}, inf, kF64);                              // [k, C]
  if (want_cosine) out.cosine = torch::zeros({k, n}, kF64);                  // [k, C]
  out.present = torch::zeros({n}, torch::TensorOptions().dtype(torch::kBool));  // [C]
  if (column_of.numel() > 0) out.present.index_fill_(0, column_of, true);
  ring_.meter().add(out.sq_dist.nbytes() * (want_cosine ? 2 : 1));
  stats_.gemm_flops = 0;

  ring_.stream(false, [&](const BlockRing::Block& b, const torch::Tensor& params, const torch::Tensor&) {
    if (k == 0) return;
    const torch::Tensor rows = centred_block(params);                         // [b, S] scratch
    const torch::Tensor ids = column_of.narrow(0, b.global, b.rows);          // [b] their columns
    const torch::Tensor pn = all_norms_.narrow(0, b.global, b.rows);          // [b]
    const torch::Tensor dots = a->mm(rows.t()).to(torch::kFloat64);           // [k, b] a·b
    stats_.gemm_flops += 2.0 * static_cast<double>(k) * static_cast<double>(b.rows) * static_cast<double>(a->size(1));
    const torch::Tensor scale = qn.unsqueeze(1) + pn.unsqueeze(0);            // [k, b]
    torch::Tensor d = (scale - 2.0 * dots).clamp_min_(0.0);                   // [k, b]
    refine_close_pairs(d, (d < refine * scale).nonzero(), queries, params);
    out.sq_dist.index_copy_(1, ids, d);
    if (want_cosine) {
      // q·θ = a·b + a·c + b·c + c·c (all but a·b are 0 in float64 mode)
      const torch::Tensor plain =
          centre ? dots + qc.unsqueeze(1) + all_dot_c_.narrow(0, b.global, b.rows).unsqueeze(0) + cc : dots;  // [k, b]
      const torch::Tensor qp = centre ? qn + 2.0 * qc + cc : qn;  // [k] ‖q‖²
      const torch::Tensor denom = (qp.unsqueeze(1) * all_plain_.narrow(0, b.global, b.rows).unsqueeze(0)).sqrt();  // [k, b]
      const torch::Tensor cos = torch::where(denom > 0, plain / denom, torch::zeros_like(plain));  // [k, b]
      out.cosine.index_copy_(1, ids, cos.clamp(-1.0, 1.0));
    }
  });
  ring_.meter().sub(out.sq_dist.nbytes() * (want_cosine ? 2 : 1));
  take_ring_stats();
  stats_.peak_bytes = std::max(stats_.peak_bytes, ring_.meter().peak);
  stats_.total_seconds = seconds_since(t_start);
  return out;
}

torch::Tensor PairwiseExchange::mix(const torch::Tensor& queries, const torch::Tensor& xi, const SelfTerm* self,
                                   const torch::Tensor& columns) {
  const auto t_start = Clock::now();
  if (ring_.numel() < 0) throw Error("pairwise mix: set_held must come first");
  const torch::Tensor column_of = column_of_uploads(columns, "pairwise mix");  // [M]
  const int64_t k = queries.size(0), s = ring_.numel(), n = columns.defined() ? columns.size(0) : num_clients_;
  if (queries.dim() != 2 || queries.size(1) != s || xi.dim() != 2 || xi.size(0) != k || xi.size(1) != n)
    throw Error(fmt::format("pairwise mix: queries must be [k, {}] and xi [k, {}] with the same k", s, n));
  const torch::Tensor xi64 = xi.to(torch::kFloat64);  // [k, C]
  const bool weighted = ring_.has_weights();
  const bool centre = centre_.defined();
  // float32 mode accumulates the centred numerator in float32 inside the GEMM (no cancellation to
  // protect: the residuals are small and the denominator's terms positive); float64 mode in float64.
  const auto acc_type = centre ? torch::kFloat32 : torch::kFloat64;
  // The accumulators live in kept rows (fresh [k, S] tensors each call cost their page faults).
  BlockRing::Counted num(ring_.meter(), mix_num_.rows(k, s, acc_type).zero_());                 // [k, S] Σ_j w_ij ⊙ (θ_j − c)
  BlockRing::Counted den(ring_.meter(), mix_den_.rows(k, weighted ? s : 1, acc_type).zero_());  // [k, S] or [k, 1] Σ_j w_ij
  stats_.gemm_flops = 0;

  ring_.stream(weighted, [&](const BlockRing::Block& b, const torch::Tensor& params, const torch::Tensor& weights) {
    if (k == 0) return;
    const torch::Tensor ids = column_of.narrow(0, b.global, b.rows);                                // [b] their columns
    const torch::Tensor coef = xi64.index_select(1, ids) * all_scalar_.narrow(0, b.global, b.rows);  // [k, b]
    if (!coef.ne(0).any().item<bool>()) return;  // nobody here weighs this block
    // One GEMM [k, b] × [b, S] for the numerator, one more for a weighted denominator.
    stats_.gemm_flops += (weighted ? 4.0 : 2.0) * static_cast<double>(k) * static_cast<double>(b.rows) * static_cast<double>(s);
    const torch::Tensor c = coef.to(acc_type);                 // [k, b]
    const torch::Tensor rows = centred_block(params);  // [b, S] scratch: θ − c
    if (weighted) {
      const torch::Tensor w = ring_.meter().reuse_rows(scratch_weights_, b.rows, ring_.numel(), acc_type).copy_(weights);  // [b, S] scratch
      rows.mul_(w);  // weights ⊙ (θ − c)
      num->addmm_(c, rows);
      den->addmm_(c, w);
    } else {
      num->addmm_(c, rows);
      den->add_(coef.sum(1, /*keepdim=*/true));
    }
  });

  take_ring_stats();
  // The queries (minus c) in the accumulators' type, for the self term (and float64's empty rows).
  torch::Tensor q_rows = mix_queries_.rows(k, s, acc_type);  // [k, S]
  if (centre) {
    torch::sub_out(q_rows, queries, centre_);  // as queries − c
  } else {
    q_rows.copy_(queries);  // exact
  }
  BlockRing::Counted q_acc(ring_.meter(), q_rows);  // [k, S]
  if (self != nullptr && k > 0) {
    if (self->weights.defined() && !weighted)
      throw Error("pairwise mix: self weights given but the held uploads have none");
    torch::Tensor sw = self->xi.to(torch::kFloat64).reshape({k, 1});  // [k, 1] ξ_ii
    if (self->scalar.defined()) sw = sw * self->scalar.to(torch::kFloat64).reshape({k, 1});
    sw = sw.to(acc_type);
    torch::Tensor w = sw;  // [k, 1], or [k, S] in kept rows (may share self->xi's memory: not written)
    if (self->weights.defined()) {
      w = mix_self_.rows(k, s, acc_type);
      torch::mul_out(w, sw, self->weights.to(acc_type));  // as sw ⊙ weights
    }
    den->add_(w);
    num->add_(self->weights.defined() ? w.mul_(*q_acc) : w * *q_acc);  // w ⊙ (q − c), in the kept rows
  }
  // u = c + Σ w ⊙ (θ − c) / Σ w, computed in num's memory; a row with no weight at all keeps its
  // query, bit for bit.
  const torch::Tensor weighed = *den > 0;  // [k, S] or [k, 1] bool
  num->div_(*den);
  const torch::Tensor u = centre ? torch::where(weighed, num->add_(centre_), queries)
                                 : torch::where(weighed, *num, *q_acc).to(torch::kFloat32);  // [k, S] float32
  stats_.peak_bytes = std::max(stats_.peak_bytes, ring_.meter().peak);
  stats_.total_seconds = seconds_since(t_start);
  return u;
}

}  // namespace fedsaf
