// The distributed pairwise stage (see pairwise.hpp for the maths, the modes and the memory bound).
#include "mpi/pairwise.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <limits>
#include <memory>

#include "core/errors.hpp"
#include "mpi/communicator.hpp"

namespace fedsaf {
namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

const auto kF64 = torch::TensorOptions().dtype(torch::kFloat64);
const auto kF32 = torch::TensorOptions().dtype(torch::kFloat32);
const auto kI64 = torch::TensorOptions().dtype(torch::kInt64);

// A tensor whose bytes the meter counts while it lives.
class Counted {
 public:
  Counted(PairwiseExchange::Meter& meter, torch::Tensor t) : meter_(&meter), t_(std::move(t)) {
    meter_->add(t_.nbytes());
  }
  Counted(const Counted&) = delete;
  Counted& operator=(const Counted&) = delete;
  ~Counted() { meter_->sub(t_.nbytes()); }
  const torch::Tensor& operator*() const { return t_; }
  const torch::Tensor* operator->() const { return &t_; }

 private:
  PairwiseExchange::Meter* meter_;
  torch::Tensor t_;
};

// Below this relative size (of ‖a‖² + ‖b‖²) the expanded distance has lost too many digits to
// cancellation; such pairs are recomputed directly (see pairwise.hpp).
constexpr double kRefine = 1e-9;

}  // namespace

PairwiseMode parse_pairwise_mode(const std::string& name, const std::string& key) {
  if (name == "ring") return PairwiseMode::ring;
  if (name == "allgather") return PairwiseMode::allgather;
  throw ConfigError(fmt::format("{} = '{}': expected ring or allgather", key, name));
}

const char* pairwise_mode_name(PairwiseMode mode) { return mode == PairwiseMode::ring ? "ring" : "allgather"; }

PairwiseExchange::PairwiseExchange(Communicator& comm, PairwiseMode mode, int64_t num_clients, int64_t block_rows,
                                   int64_t block_bytes)
    : comm_(comm), mode_(mode), num_clients_(num_clients), block_rows_(block_rows), block_bytes_(block_bytes) {
  if (num_clients < 0) throw Error(fmt::format("pairwise: num_clients = {} must be ≥ 0", num_clients));
  if (block_rows < 0 || block_bytes <= 0)
    throw Error(fmt::format("pairwise: block_rows = {} must be ≥ 0 and block_bytes = {} > 0", block_rows, block_bytes));
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

  // One small all-gather of (m, S, has_weights): counts, shape and mode agreement.
  const torch::Tensor meta = torch::tensor({m, s, int64_t{held.weights.defined()}}, kI64);  // [3]
  const torch::Tensor all = comm_.allgather(meta);                                         // [R, 3]
  const int R = comm_.size();
  counts_.assign(static_cast<size_t>(R), 0);
  offsets_.assign(static_cast<size_t>(R) + 1, 0);
  bool any_weights = false;
  for (int r = 0; r < R; ++r) {
    counts_[r] = all[r][0].item<int64_t>();
    offsets_[r + 1] = offsets_[r] + counts_[r];
    if (all[r][1].item<int64_t>() != s)
      throw Error(fmt::format("{}: rank {} has S = {}, this rank {}", op, r, all[r][1].item<int64_t>(), s));
    any_weights = any_weights || all[r][2].item<int64_t>() != 0;
  }
  for (int r = 0; r < R; ++r)
    if (any_weights && counts_[r] > 0 && all[r][2].item<int64_t>() == 0)
      throw Error(fmt::format("{}: weights are defined on some ranks but not on rank {}", op, r));
  has_weights_ = any_weights;
  numel_ = s;
  held_ = held;
  if (block_rows_ == 0) block_rows_ = std::max<int64_t>(1, block_bytes_ / std::max<int64_t>(1, s * 4));

  // Ids, ‖θ_j‖² (float64, computed once here by the owner) and scalars of every upload.
  all_ids_ = comm_.allgatherv(held.ids.contiguous()).data;  // [M] int64
  torch::Tensor side = torch::empty({m, 2}, kF64);          // [m, 2]: ‖θ‖², scalar
  if (m > 0) {
    side.select(1, 0).copy_(held.params.to(torch::kFloat64).square().sum(1));
    side.select(1, 1).copy_(held.scalar.defined() ? held.scalar.to(torch::kFloat64) : torch::ones({m}, kF64));
  }
  const torch::Tensor all_side = comm_.allgatherv(side).data;  // [M, 2]
  all_norms_ = all_side.select(1, 0).contiguous();             // [M]
  all_scalar_ = all_side.select(1, 1).contiguous();            // [M]
  if (all_ids_.numel() > 0 && (all_ids_.min().item<int64_t>() < 0 || all_ids_.max().item<int64_t>() >= num_clients_))
    throw Error(fmt::format("{}: a client id is outside [0, {})", op, num_clients_));
}

std::vector<PairwiseExchange::Block> PairwiseExchange::schedule(int rank) const {
  const int R = comm_.size();
  std::vector<Block> blocks;
  for (int s = 0; s < R; ++s) {
    const int origin = (rank - s + R) % R;
    for (int64_t row = 0; row < counts_[origin]; row += block_rows_)
      blocks.push_back({origin, row, std::min(block_rows_, counts_[origin] - row), offsets_[origin] + row});
  }
  return blocks;
}

template <class Use>
void PairwiseExchange::stream(bool with_weights, Use&& use) {
  if (numel_ < 0) throw Error("pairwise: set_held must come before distances or mix");
  const int R = comm_.size(), me = comm_.rank();
  const int64_t s = numel_;
  const std::vector<Block> blocks = schedule(me);
  stats_.blocks = static_cast<int64_t>(blocks.size());
  stats_.bytes_moved = 0;
  stats_.wait_seconds = 0;
  const int factor = with_weights ? 2 : 1;

  auto weights_of = [&](const torch::Tensor& w, int64_t row, int64_t rows) {
    return with_weights ? w.narrow(0, row, rows) : torch::Tensor();
  };

  if (mode_ == PairwiseMode::allgather) {
    const auto t0 = Clock::now();
    Counted params(meter_, comm_.allgatherv(held_.params).data);  // [M, S]
    std::unique_ptr<Counted> weights;
    if (with_weights) {
      // An empty rank may have no weights tensor; it still contributes its [0, S].
      const torch::Tensor mine = held_.weights.defined() ? held_.weights : torch::empty({0, s}, kF32);
      weights = std::make_unique<Counted>(meter_, comm_.allgatherv(mine).data);  // [M, S]
    }
    stats_.wait_seconds = seconds_since(t0);
    stats_.bytes_moved = factor * counts_[me] * s * 4;
    for (const Block& b : blocks)
      use(b, params->narrow(0, b.global, b.rows), with_weights ? (*weights)->narrow(0, b.global, b.rows) : torch::Tensor());
    return;
  }

  // ring: own blocks go straight from the held tensors to every other rank (step s → rank me+s).
  std::vector<Request> sends;
  for (int step = 1; step < R; ++step) {
    const int dest = (me + step) % R;
    for (int64_t row = 0; row < counts_[me]; row += block_rows_) {
      const int64_t rows = std::min(block_rows_, counts_[me] - row);
      sends.push_back(comm_.isend(held_.params.narrow(0, row, rows), dest, 0));
      if (with_weights) sends.push_back(comm_.isend(held_.weights.narrow(0, row, rows), dest, 1));
      stats_.bytes_moved += factor * rows * s * 4;
    }
  }
  std::vector<Block> foreign;
  for (const Block& b : blocks)
    if (b.origin != me) foreign.push_back(b);
  const int64_t buf_rows = foreign.empty() ? 0 : block_rows_;
  // Two receive buffers (× 2 with weights): the whole foreign footprint of the ring.
  Counted buf_p0(meter_, torch::empty({buf_rows, s}, kF32)), buf_p1(meter_, torch::empty({buf_rows, s}, kF32));
  Counted buf_w0(meter_, torch::empty({with_weights ? buf_rows : 0, s}, kF32)),
      buf_w1(meter_, torch::empty({with_weights ? buf_rows : 0, s}, kF32));
  const torch::Tensor bufs_p[2] = {*buf_p0, *buf_p1};
  const torch::Tensor bufs_w[2] = {*buf_w0, *buf_w1};
  Request recv_p[2], recv_w[2];
  auto post = [&](size_t idx) {
    const Block& b = foreign[idx];
    const int slot = static_cast<int>(idx % 2);
    recv_p[slot] = comm_.irecv(bufs_p[slot].narrow(0, 0, b.rows), b.origin, 0);
    if (with_weights) recv_w[slot] = comm_.irecv(bufs_w[slot].narrow(0, 0, b.rows), b.origin, 1);
  };
  for (size_t idx = 0; idx < std::min<size_t>(2, foreign.size()); ++idx) post(idx);
  fail_point("attention");  // test hook: a failure with sends and receives in flight

  // Own blocks first: the first two foreign blocks travel meanwhile.
  for (const Block& b : blocks)
    if (b.origin == me) use(b, held_.params.narrow(0, b.row, b.rows), weights_of(held_.weights, b.row, b.rows));
  for (size_t idx = 0; idx < foreign.size(); ++idx) {
    const Block& b = foreign[idx];
    const int slot = static_cast<int>(idx % 2);
    const auto t0 = Clock::now();
    recv_p[slot].wait();
    if (with_weights) recv_w[slot].wait();
    stats_.wait_seconds += seconds_since(t0);
    use(b, bufs_p[slot].narrow(0, 0, b.rows), with_weights ? bufs_w[slot].narrow(0, 0, b.rows) : torch::Tensor());
    if (idx + 2 < foreign.size()) post(idx + 2);  // this buffer is free again: fetch the block after next
  }
  const auto t0 = Clock::now();
  for (Request& r : sends) r.wait();
  stats_.wait_seconds += seconds_since(t0);
}

double PairwiseExchange::transfer_only(bool with_weights) {
  const auto t0 = Clock::now();
  stream(with_weights && has_weights_, [](const Block&, const torch::Tensor&, const torch::Tensor&) {});
  return seconds_since(t0);
}

PairwiseDistances PairwiseExchange::distances(const torch::Tensor& queries, bool want_cosine) {
  const auto t_start = Clock::now();
  if (!queries.defined() || queries.dim() != 2 || (numel_ >= 0 && queries.size(1) != numel_))
    throw Error(fmt::format("pairwise distances: queries must be [k, S] with S = {}", numel_));
  const int64_t k = queries.size(0), n = num_clients_;
  const double inf = std::numeric_limits<double>::infinity();
  Counted q64(meter_, queries.to(torch::kFloat64).contiguous());  // [k, S]
  const torch::Tensor qn = q64->square().sum(1);                  // [k] ‖q_i‖²
  PairwiseDistances out;
  out.sq_dist = torch::full({k, n}, inf, kF64);                              // [k, N]
  if (want_cosine) out.cosine = torch::zeros({k, n}, kF64);                  // [k, N]
  out.present = torch::zeros({n}, torch::TensorOptions().dtype(torch::kBool));  // [N]
  if (all_ids_.numel() > 0) out.present.index_fill_(0, all_ids_, true);
  meter_.add(out.sq_dist.nbytes() * (want_cosine ? 2 : 1));

  stream(false, [&](const Block& b, const torch::Tensor& params, const torch::Tensor&) {
    if (k == 0) return;
    Counted p64(meter_, params.to(torch::kFloat64));                          // [b, S] fresh
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
  meter_.sub(out.sq_dist.nbytes() * (want_cosine ? 2 : 1));
  stats_.peak_bytes = std::max(stats_.peak_bytes, meter_.peak);
  stats_.total_seconds = seconds_since(t_start);
  return out;
}

torch::Tensor PairwiseExchange::mix(const torch::Tensor& queries, const torch::Tensor& xi, const SelfTerm* self) {
  const auto t_start = Clock::now();
  if (numel_ < 0) throw Error("pairwise mix: set_held must come first");
  const int64_t k = queries.size(0), s = numel_;
  if (queries.dim() != 2 || queries.size(1) != s || xi.dim() != 2 || xi.size(0) != k || xi.size(1) != num_clients_)
    throw Error(fmt::format("pairwise mix: queries must be [k, {}] and xi [k, {}] with the same k", s, num_clients_));
  const torch::Tensor xi64 = xi.to(torch::kFloat64);  // [k, N]
  Counted num(meter_, torch::zeros({k, s}, kF64));                      // [k, S] Σ_j w_ij ⊙ θ_j
  Counted den(meter_, torch::zeros({k, has_weights_ ? s : 1}, kF64));   // [k, S] or [k, 1] Σ_j w_ij

  stream(has_weights_, [&](const Block& b, const torch::Tensor& params, const torch::Tensor& weights) {
    if (k == 0) return;
    const torch::Tensor ids = all_ids_.narrow(0, b.global, b.rows);                                 // [b]
    const torch::Tensor coef = xi64.index_select(1, ids) * all_scalar_.narrow(0, b.global, b.rows);  // [k, b]
    if (!coef.ne(0).any().item<bool>()) return;  // nobody here weighs this block
    Counted p64(meter_, params.to(torch::kFloat64));  // [b, S] fresh
    if (has_weights_) {
      Counted w64(meter_, weights.to(torch::kFloat64));  // [b, S] fresh
      p64->mul_(*w64);                                    // weights ⊙ θ
      num->addmm_(coef, *p64);
      den->addmm_(coef, *w64);
    } else {
      num->addmm_(coef, *p64);
      den->add_(coef.sum(1, /*keepdim=*/true));
    }
  });

  Counted q64c(meter_, queries.to(torch::kFloat64));  // [k, S]
  const torch::Tensor& q64 = *q64c;
  if (self != nullptr && k > 0) {
    if (self->weights.defined() && !has_weights_)
      throw Error("pairwise mix: self weights given but the held uploads have none");
    torch::Tensor sw = self->xi.to(torch::kFloat64).reshape({k, 1});  // [k, 1] ξ_ii
    if (self->scalar.defined()) sw = sw * self->scalar.to(torch::kFloat64).reshape({k, 1});
    const torch::Tensor w = self->weights.defined() ? sw * self->weights.to(torch::kFloat64) : sw;  // [k, S] or [k, 1]
    num->add_(w * q64);
    den->add_(w);
  }
  // A row with no weight at all keeps its query.
  const torch::Tensor u = torch::where(*den > 0, *num / *den, q64).to(torch::kFloat32);  // [k, S]
  stats_.peak_bytes = std::max(stats_.peak_bytes, meter_.peak);
  stats_.total_seconds = seconds_since(t_start);
  return u;
}

}  // namespace fedsaf
