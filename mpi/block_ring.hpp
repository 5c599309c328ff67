#pragma once
// The transport of the pairwise stage of fedamp / fedsaf (the maths is src/algo/pairwise.hpp):
// every rank holds some rows (its clients' latest uploads, [m, S], and optionally per-parameter
// weights [m, S]); every rank must see every rank's rows once, block by block, in a fixed order,
// without ever holding them all.
//
// MODES. `ring`: every rank's rows are cut into blocks of at most block_rows rows, and the blocks
// travel around the ring as a ring shift: at step s = 1..R−1 rank r receives the blocks of rank
// r−s and sends its own to rank r+s, with non-blocking isend/irecv into two receive buffers
// (double-buffered: block b+1 is being received while block b is used). Sends go straight from
// the owner's rows, never from a receive buffer: a ring that forwards received blocks from the
// same two buffers can deadlock once ranks own ≥ 2 blocks (every rank's two buffers wait to be
// forwarded, so no rank can receive), and the shift moves exactly the same bytes per rank
// ((R−1)·own rows out, all foreign rows in). No rank ever holds more than two foreign blocks.
// `allgather`: one allgatherv of all rows, then the same blocks are handed out locally. Both modes
// hand out identical blocks in an identical order (own blocks first, then those of ranks r−1,
// r−2, ...), so a computation over them gives bit-identical results.
//
// MEMORY. The ring's receive buffers (2 × block_rows × S float32, × 2 with weights; kept from
// pass to pass, since fresh ones cost their page faults again on every receive) or, for
// allgather, every rank's rows, are counted by the Meter, which the computation also uses for
// its temporaries (Counted); peak() is the stage's peak.
//
// CONTRACT. set_rows, stream, transfer_only, gather_rows and sum are collective over the
// communicator and must be called in the same order on every rank. The rows must not change
// between set_rows and the last stream.
#include <torch/torch.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <vector>

namespace fedsaf {

class Communicator;

enum class PairwiseMode { ring, allgather };

class BlockRing {
 public:
  // Running count of the bytes the stage holds; public so that tests can check the accounting.
  struct Meter {
    int64_t live = 0, peak = 0;
    void add(int64_t bytes) { live += bytes; peak = std::max(peak, live); }
    void sub(int64_t bytes) { live -= bytes; }
    // The first `rows` rows of `buffer` ([≥ rows, numel] of dtype), allocated and counted here
    // when it is missing, too small or of another width or dtype: the stage's buffers are reused
    // from block to block and pass to pass (a fresh [b, S] per block cost as much in page faults
    // as its GEMM).
    torch::Tensor reuse_rows(torch::Tensor& buffer, int64_t rows, int64_t numel, torch::ScalarType dtype) {
      if (!buffer.defined() || buffer.size(0) < rows || buffer.size(1) != numel || buffer.scalar_type() != dtype) {
        if (buffer.defined()) sub(buffer.nbytes());
        buffer = torch::empty({rows, numel}, torch::TensorOptions().dtype(dtype));  // [rows, numel]
        add(buffer.nbytes());
      }
      return buffer.narrow(0, 0, rows);  // [rows, numel]
    }
  };

  // A tensor whose bytes the meter counts while it lives.
  class Counted {
   public:
    Counted(Meter& meter, torch::Tensor t) : meter_(&meter), t_(std::move(t)) { meter_->add(t_.nbytes()); }
    Counted(const Counted&) = delete;
    Counted& operator=(const Counted&) = delete;
    ~Counted() { meter_->sub(t_.nbytes()); }
    const torch::Tensor& operator*() const { return t_; }
    const torch::Tensor* operator->() const { return &t_; }

   private:
    Meter* meter_;
    torch::Tensor t_;
  };

  struct Block {
    int origin;      // rank whose rows these are
    int64_t row;     // first row within origin's rows
    int64_t rows;    // rows in the block
    int64_t global;  // first row within the gathered order (rank 0's rows first)
  };
  // What the block's user gets: params [b, S] and weights [b, S] (undefined without weights).
  using Use = std::function<void(const Block&, const torch::Tensor& params, const torch::Tensor& weights)>;

  // The default block: 64 MiB of float32 rows.
  static constexpr int64_t kDefaultBlockBytes = int64_t{64} << 20;
  // block_rows: rows per block (0 = as many as fit in block_bytes bytes of float32 rows).
  BlockRing(Communicator& comm, PairwiseMode mode, int64_t block_rows = 0, int64_t block_bytes = kDefaultBlockBytes);

  // Collective. This rank's rows: params [m, S] float32 contiguous CPU (m may be 0 and differ per
  // rank), weights like params or undefined (on every rank with rows, or on none: checked).
  void set_rows(const torch::Tensor& params, const torch::Tensor& weights);

  // Collective. Hands every block, in schedule order, to use (with weights when asked and present).
  void stream(bool with_weights, const Use& use);
  // Collective. Moves the blocks exactly as stream would, without using them; returns the seconds
  // it took (the benchmark's communication bound).
  double transfer_only(bool with_weights);

  // Collective: [n_r, *rest] on rank r → [Σ n_r, *rest], rank 0's rows first (the side data of
  // the rows: ids, norms); an in-place sum over ranks.
  torch::Tensor gather_rows(const torch::Tensor& rows);
  void sum(const torch::Tensor& tensor);

  PairwiseMode mode() const { return mode_; }
  int64_t block_rows() const { return block_rows_; }
  int64_t numel() const { return numel_; }  // S (−1 until set_rows)
  bool has_weights() const { return has_weights_; }
  Meter& meter() { return meter_; }
  // Of the last stream: blocks handed out, payload bytes this rank sent, seconds waiting for data.
  int64_t blocks() const { return blocks_; }
  int64_t bytes_moved() const { return bytes_moved_; }
  double wait_seconds() const { return wait_seconds_; }

 private:
  // The blocks rank `rank` uses, in order: its own, then those of rank−1, rank−2, ...
  std::vector<Block> schedule(int rank) const;
  Communicator& comm_;
  PairwiseMode mode_;
  int64_t block_rows_;
  int64_t block_bytes_;
  int64_t numel_ = -1;            // S (−1 until set_rows)
  torch::Tensor params_, weights_;  // this rank's rows
  std::vector<int64_t> counts_;   // [R] rows per rank
  std::vector<int64_t> offsets_;  // [R + 1] prefix sums of counts_
  bool has_weights_ = false;
  torch::Tensor receive_params_[2], receive_weights_[2];  // [block_rows, S] each, once the ring has received
  Meter meter_;
  int64_t blocks_ = 0, bytes_moved_ = 0;
  double wait_seconds_ = 0;
};

}  // namespace fedsaf
