// The transport of the pairwise stage (see block_ring.hpp for the modes and the memory bound).
#include "mpi/block_ring.hpp"

#include <fmt/format.h>

#include <memory>

#include "core/errors.hpp"
#include "core/stopwatch.hpp"
#include "mpi/communicator.hpp"

namespace fedsaf {
namespace {

const auto kF32 = torch::TensorOptions().dtype(torch::kFloat32);
const auto kI64 = torch::TensorOptions().dtype(torch::kInt64);

}  // namespace

BlockRing::BlockRing(Communicator& comm, PairwiseMode mode, int64_t block_rows, int64_t block_bytes)
    : comm_(comm), mode_(mode), block_rows_(block_rows), block_bytes_(block_bytes) {
  if (block_rows < 0 || block_bytes <= 0)
    throw Error(fmt::format("pairwise: block_rows = {} must be ≥ 0 and block_bytes = {} > 0", block_rows, block_bytes));
}

void BlockRing::set_rows(const torch::Tensor& params, const torch::Tensor& weights) {
  const char* op = "pairwise set_held";
  const int64_t m = params.size(0), s = params.size(1);
  // One small all-gather of (m, S, has_weights): counts, shape and mode agreement.
  const torch::Tensor meta = torch::tensor({m, s, int64_t{weights.defined()}}, kI64);  // [3]
  const torch::Tensor all = comm_.allgather(meta);                                    // [R, 3]
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
  params_ = params;
  weights_ = weights;
  if (block_rows_ == 0) block_rows_ = std::max<int64_t>(1, block_bytes_ / std::max<int64_t>(1, s * 4));
}

std::vector<BlockRing::Block> BlockRing::schedule(int rank) const {
  const int R = comm_.size();
  std::vector<Block> blocks;
  for (int s = 0; s < R; ++s) {
    const int origin = (rank - s + R) % R;
    for (int64_t row = 0; row < counts_[origin]; row += block_rows_)
      blocks.push_back({origin, row, std::min(block_rows_, counts_[origin] - row), offsets_[origin] + row});
  }
  return blocks;
}

void BlockRing::stream(bool with_weights, const Use& use) {
  if (numel_ < 0) throw Error("pairwise: set_held must come before distances or mix");
  const int R = comm_.size(), me = comm_.rank();
  const int64_t s = numel_;
  const std::vector<Block> blocks = schedule(me);
  blocks_ = static_cast<int64_t>(blocks.size());
  bytes_moved_ = 0;
  wait_seconds_ = 0;
  const int factor = with_weights ? 2 : 1;

  auto weights_of = [&](const torch::Tensor& w, int64_t row, int64_t rows) {
    return with_weights ? w.narrow(0, row, rows) : torch::Tensor();
  };

  if (mode_ == PairwiseMode::allgather) {
    const auto t0 = Clock::now();
    Counted params(meter_, comm_.allgatherv(params_).data);  // [M, S]
    std::unique_ptr<Counted> weights;
    if (with_weights) {
      // An empty rank may have no weights tensor; it still contributes its [0, S].
      const torch::Tensor mine = weights_.defined() ? weights_ : torch::empty({0, s}, kF32);
      weights = std::make_unique<Counted>(meter_, comm_.allgatherv(mine).data);  // [M, S]
    }
    wait_seconds_ = seconds_since(t0);
    bytes_moved_ = factor * counts_[me] * s * 4;
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
      sends.push_back(comm_.isend(params_.narrow(0, row, rows), dest, 0));
      if (with_weights) sends.push_back(comm_.isend(weights_.narrow(0, row, rows), dest, 1));
      bytes_moved_ += factor * rows * s * 4;
    }
  }
  std::vector<Block> foreign;
  for (const Block& b : blocks)
    if (b.origin != me) foreign.push_back(b);
  // Two receive buffers (× 2 with weights): the whole foreign footprint of the ring.
  torch::Tensor bufs_p[2], bufs_w[2];  // [block_rows, S] each
  for (int slot = 0; slot < 2 && !foreign.empty(); ++slot) {
    bufs_p[slot] = meter_.reuse_rows(receive_params_[slot], block_rows_, numel_, torch::kFloat32);  // [block_rows, S]
    if (with_weights) bufs_w[slot] = meter_.reuse_rows(receive_weights_[slot], block_rows_, numel_, torch::kFloat32);
  }
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
    if (b.origin == me) use(b, params_.narrow(0, b.row, b.rows), weights_of(weights_, b.row, b.rows));
  for (size_t idx = 0; idx < foreign.size(); ++idx) {
    const Block& b = foreign[idx];
    const int slot = static_cast<int>(idx % 2);
    const auto t0 = Clock::now();
    recv_p[slot].wait();
    if (with_weights) recv_w[slot].wait();
    wait_seconds_ += seconds_since(t0);
    use(b, bufs_p[slot].narrow(0, 0, b.rows), with_weights ? bufs_w[slot].narrow(0, 0, b.rows) : torch::Tensor());
    if (idx + 2 < foreign.size()) post(idx + 2);  // this buffer is free again: fetch the block after next
  }
  const auto t0 = Clock::now();
  for (Request& r : sends) r.wait();
  wait_seconds_ += seconds_since(t0);
}

double BlockRing::transfer_only(bool with_weights) {
  const auto t0 = Clock::now();
  stream(with_weights && has_weights_, [](const Block&, const torch::Tensor&, const torch::Tensor&) {});
  return seconds_since(t0);
}

torch::Tensor BlockRing::gather_rows(const torch::Tensor& rows) { return comm_.allgatherv(rows.contiguous()).data; }

void BlockRing::sum(const torch::Tensor& tensor) { comm_.allreduce_sum(tensor); }

}  // namespace fedsaf
