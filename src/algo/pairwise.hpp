#pragma once
// The distributed pairwise stage of fedamp / fedsaf (the maths; the blocks travel between ranks
// through mpi/block_ring.hpp): every selected client needs its squared
// distances to (pass 1), and an attention-weighted mix of (pass 2), the latest uploads of all
// clients, while each upload lives only on the rank that hosts its client.
//
// WHAT A RANK HOLDS (HeldUploads): the latest uploads of its own clients: ids [m], params [m, S],
// optional per-parameter weights [m, S] (for fedsaf: normalised Fisher + δ, computed by the owner)
// and an optional per-client scalar [m]. m may differ per rank (0 included).
//
// COLUMNS: the passes' client axis. By default all N clients ([k, N] results, +inf / 0 for the
// clients without an upload); given `columns` (ascending client ids containing every held upload's
// client, e.g. columns_with(the queries' clients)), only those C ≤ N: with 100,000 clients and a few
// thousand uploads held, [k, N] float64 matrices cost far more than the passes' arithmetic.
// PASS 1 (distances): for the query rows Q [k, S] (this rank's selected clients' shared
// parameters), d [k, C] with d_ij = ‖q_i − θ_j‖² for every held upload j on every rank, +inf where
// client j has no upload, plus cos(q_i, θ_j) [k, C] for the `heur` kernel.
//   HOW: d = ‖a‖² + ‖b‖² − 2 a·b with a = q − c, b = θ − c for a centre c: the dot products are one
//   GEMM per block (an order of magnitude faster than the direct form, which would be k·N·S
//   element-wise subtractions). The expansion cancels when d ≪ ‖a‖² + ‖b‖², so pairs with
//   d < refine·(‖a‖² + ‖b‖²) are recomputed directly as Σ (q − θ)² in float64 (identical models
//   give exactly 0). Norms ‖θ_j − c‖² are computed once by the owner in float64 and shared.
//   PRECISION (attention.precision):
//   - float64: c = 0, the GEMM in float64 (the float32 inputs multiply exactly), refine = 1e-9:
//     d keeps ~12 significant digits while ‖q − θ‖/‖q‖ > 1e-5.
//   - float32 (default): c = the mean of all uploads (float64 sum over the ranks, rounded to
//     float32), a and b rounded to float32, the GEMM in float32 (twice the float64 rate, half the
//     memory traffic) and the norms summed in float64; refine = 1e-4. Centring makes the scale
//     ‖a‖² + ‖b‖² the spread of the cohort instead of the size of the models; the error of d
//     stays below 1e-5 of that scale (tests/pairwise, against a float64 reference: ~1e-7
//     measured), so ξ = exp(−d/σ) changes by less than ~1e-5·scale/σ.
// PASS 2 (mix): given ξ [k, C] (0 where absent), u [k, S] = Σ_j w_ij ⊙ θ_j / Σ_j w_ij with
// w_ij[p] = ξ_ij · scalar_j · weights_j[p] (weights undefined: 1, scalar undefined: 1), computed
// as c + Σ_j w_ij ⊙ (θ_j − c) / Σ_j w_ij. The numerator and denominator take two GEMMs per block
// ((ξ·scalar)[k, b] @ (weights ⊙ (θ − c))[b, S] and (ξ·scalar) @ weights) that accumulate in
// place, in the pass's precision (float32 is safe here: the centred residuals are small and the
// denominator's terms positive, so nothing cancels; u is float32 anyway). An optional SelfTerm adds
// each query's own contribution from the caller's local copy (a client that never uploaded has no
// held upload, but its own model still weighs ξ_ii in the mix). A row whose total weight is 0
// returns the query row unchanged.
//
// MODES (mpi/block_ring.hpp): `ring` passes blocks of uploads around the ranks, `allgather`
// gathers them all; both hand out identical blocks in an identical order and every block is
// converted into the same kind of buffer before any GEMM (the exchange's scratch rows, reused from
// block to block and round to round: so even memory alignment is the same, and no block pays for
// fresh pages), so their results are bit-identical. Results across rank counts differ only by floating-point
// reassociation.
//
// MEMORY (extra, per rank, float32 S-vectors unless stated):
//   ring:      2 receive buffers of block_rows × S (× 2 in pass 2 with weights)
//              + per-block temporaries of block_rows × S in the pass's precision (pass 1: the
//                block; pass 2: the block's weights and weights ⊙ (θ − c))
//              + accumulators in the pass's precision: pass 1 the queries [k, S], distances [k, C]
//                (float64, × 2 with cosines); pass 2 numerator and denominator [k, S] (denominator [k] without
//                weights), the queries [k, S] and the self term's weights [k, S] at the end (these four kept from call to call, at
//                the largest k so far: a fresh [k, S] per call cost its page faults every round)
//   allgather: the whole cohort's uploads (N × S, × 2 with weights) + the same temporaries.
// Every buffer this stage allocates is counted; PairwiseStats::peak_bytes reports the peak.
//
// CONTRACT. set_held, distances, mix, gather_rows and sum are collective over the communicator and must be called
// in the same order on every rank. held.weights / held.scalar must be defined on every rank or on
// none (checked). The held tensors must not change between set_held and the last mix.
#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "algo/row_buffer.hpp"
#include "mpi/block_ring.hpp"

namespace fedsaf {

class Communicator;

// The arithmetic of the passes' matrix products (attention.precision; see PASS 1).
enum class PairwisePrecision { float32, float64 };

struct HeldUploads {
  torch::Tensor ids;      // [m] int64, distinct client ids in [0, N)
  torch::Tensor params;   // [m, S] float32, contiguous
  torch::Tensor weights;  // [m, S] float32, contiguous, or undefined (= 1)
  torch::Tensor scalar;   // [m] float32, or undefined (= 1)
};

struct PairwiseDistances {
  torch::Tensor sq_dist;  // [k, C] float64; +inf where column j's client has no upload
  torch::Tensor cosine;   // [k, C] float64; 0 where absent or a norm is 0; undefined unless asked
  torch::Tensor present;  // [C] bool: column j's client has an upload on some rank
};

// The query's own term of the mix: w_ii = xi · scalar · weights, applied to the query row itself.
struct SelfTerm {
  torch::Tensor xi;       // [k] float64 (ξ_ii)
  torch::Tensor weights;  // [k, S] float32, or undefined (= 1)
  torch::Tensor scalar;   // [k] float32/float64, or undefined (= 1)
};

struct PairwiseStats {
  int64_t peak_bytes = 0;     // peak of the bytes this stage had allocated at once
  int64_t blocks = 0;         // blocks computed in the last pass
  int64_t bytes_moved = 0;    // payload bytes this rank sent in the last pass (uploads only)
  double wait_seconds = 0;    // time spent waiting for transfers in the last pass
  double total_seconds = 0;   // wall time of the last pass
  double gemm_flops = 0;      // flops of the last pass's matrix products (2 per multiply-add)
};

// The attention algorithms' one way to other ranks: the pairwise passes, plus the two small
// collectives of their attention step (σ = "auto" needs every rank's distances; the guard counts
// are summed).
class PairwiseExchange {
 public:
  // block_rows: rows per block (0 = as many as fit in block_bytes bytes of float32 params).
  PairwiseExchange(Communicator& comm, PairwiseMode mode, PairwisePrecision precision, int64_t num_clients,
                   int64_t block_rows = 0, int64_t block_bytes = BlockRing::kDefaultBlockBytes);

  // Collective. Registers this rank's uploads and shares (counts, ids, norms, scalars) once.
  void set_held(const HeldUploads& held);

  // Collective. queries: [k, S] float32 (k may be 0 and differ per rank); columns: [C] int64 (see
  // COLUMNS; undefined: all N clients).
  PairwiseDistances distances(const torch::Tensor& queries, bool want_cosine, const torch::Tensor& columns = {});

  // Collective. xi: [k, C] (float64 or float32; absent clients must be 0, and so must the query's
  // own column when self is given) over `columns` (undefined: all N). Returns u [k, S] float32.
  torch::Tensor mix(const torch::Tensor& queries, const torch::Tensor& xi, const SelfTerm* self = nullptr,
                    const torch::Tensor& columns = {});

  // Collective. Moves the blocks of a pass exactly as distances (with_weights = false) or mix
  // (true) would, without computing anything; returns the seconds it took (the benchmark's
  // communication bound).
  double transfer_only(bool with_weights);

  // Collective: [n_r, *rest] on rank r → [Σ n_r, *rest], rank 0's first; an in-place sum over ranks.
  torch::Tensor gather_rows(const torch::Tensor& rows) { return ring_.gather_rows(rows); }
  void sum(const torch::Tensor& tensor) { ring_.sum(tensor); }

  // [N] bool: client j has an upload on some rank (after set_held).
  torch::Tensor present() const;
  // [C] int64 ascending: the clients with an upload on some rank, and `extra` ([e] int64 client
  // ids, duplicates allowed): the columns a pass needs for queries whose clients are `extra`.
  torch::Tensor columns_with(const torch::Tensor& extra) const;

  PairwiseMode mode() const { return ring_.mode(); }
  PairwisePrecision precision() const { return precision_; }
  int64_t block_rows() const { return ring_.block_rows(); }
  const PairwiseStats& stats() const { return stats_; }  // of the last pass
  void reset_peak() {
    stats_.peak_bytes = 0;
    ring_.meter().peak = ring_.meter().live;
  }

 private:
  void take_ring_stats();  // the last stream's blocks, bytes and waits into stats_
  // [M] int64: the column of each held upload (all_ids_ order) among `columns` (undefined: its
  // client id); Error naming `op` when a held client is missing from them.
  torch::Tensor column_of_uploads(const torch::Tensor& columns, const char* op) const;

  // Query rows minus the centre, in the pass's precision, in a fresh buffer: [k, S].
  torch::Tensor centred(const torch::Tensor& rows) const;
  // Block rows minus the centre, in the pass's precision, into the first b rows of scratch_rows_.
  torch::Tensor centred_block(const torch::Tensor& rows);

  BlockRing ring_;
  PairwisePrecision precision_;
  int64_t num_clients_;
  HeldUploads held_;
  torch::Tensor centre_;      // [S] float32 c (float32 mode; undefined in float64 mode: c = 0)
  torch::Tensor all_ids_;     // [M] int64, gathered (rank 0's first)
  torch::Tensor all_norms_;   // [M] float64 ‖θ_j − c‖²
  torch::Tensor all_plain_;   // [M] float64 ‖θ_j‖² (for cosines)
  torch::Tensor all_dot_c_;   // [M] float64 (θ_j − c)·c (for cosines; 0 in float64 mode)
  torch::Tensor all_scalar_;  // [M] float64 (ones when undefined)
  torch::Tensor scratch_rows_;     // [≥ b, S] a block minus the centre (× its weights in a weighted mix)
  torch::Tensor scratch_weights_;  // [≥ b, S] a block's weights in the pass's precision
  RowBuffer mix_num_, mix_den_, mix_queries_, mix_self_;  // mix's accumulators, queries − c and self weights, [k, S] each, kept
  PairwiseStats stats_;
};

// What AlgoContext::make_exchange holds: exchanges over comm's ranks for num_clients clients.
inline std::function<std::unique_ptr<PairwiseExchange>(PairwiseMode, PairwisePrecision)> exchanges_on(
    Communicator& comm, int64_t num_clients) {
  return [&comm, num_clients](PairwiseMode mode, PairwisePrecision precision) {
    return std::make_unique<PairwiseExchange>(comm, mode, precision, num_clients);
  };
}

}  // namespace fedsaf
