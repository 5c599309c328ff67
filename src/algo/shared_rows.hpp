#pragma once
// Mix rows that must come out identical, computed once (attention_mix). A client that has no
// upload anywhere has an absent column (+inf distance, ξ = 0) in every row, its own included, so
// two such clients whose inputs to the mix are equal (parameters, own Fisher weights and scalar,
// and for the `samples` kernel the sample count that enters ξ_ii) get the same distances, the
// same ξ apart from where the diagonal sits, and the same mix u. On an evaluation round early in
// a run most clients have never trained and still hold the common initial model: their rows
// collapse into one, and the pass costs the rows that differ instead of every evaluated client.
// Rows of clients that have an upload are never shared (their own column is a real distance).
#include <torch/torch.h>

#include <cstdint>
#include <vector>

namespace fedsaf {

struct MixRows;
struct Attention;

struct SharedRows {
  torch::Tensor compact;         // [k'] int64: the rows computed (indices into the k rows), ascending
  torch::Tensor representative;  // [k] int64: the compact row (index into compact) each row takes
  int64_t shared = 0;            // k − k': rows that take another row's result
};

// present: [N] bool, client j has an upload on some rank; sizes: n_j per client, compared only
// when with_sizes (the samples kernel). Rows are shared only when equal bit for bit.
SharedRows find_shared_rows(const MixRows& rows, const torch::Tensor& present, const std::vector<int64_t>& sizes,
                            bool with_sizes);

// The k rows' MixRows restricted to the compact rows.
MixRows compact_rows(const MixRows& rows, const SharedRows& shared);

// ξ [k', N] of the compact rows → [k, N] of all rows: a row that takes another's result gets its
// ξ with the diagonal moved to its own column (both columns are absent, so 0 elsewhere), and the
// guard counts it when it fired for its representative.
Attention expand_attention(const Attention& compact, const SharedRows& shared, const torch::Tensor& compact_clients,
                           const torch::Tensor& clients);
// The same without ξ: only the guard's rows [k] and count.
Attention expand_guard(const Attention& compact, const SharedRows& shared);

}  // namespace fedsaf
