#pragma once
// The [attention] section, shared by fedamp and fedsaf (docs/algorithms.md#attention); registered with its keys
// in attention_mix.cpp. Read it as config.section<AttentionOptions>().
#include <cstdint>
#include <string>

#include "algo/pairwise.hpp"  // PairwiseMode, PairwisePrecision

namespace fedsaf {

enum class AttentionKernel {
  fedamp,   // ξ_ij = α_K·exp(−d_ij/σ)/σ
  heur,     // (1 − ξ_self)·softmax(heur_scale·cos)
  samples,  // plain sample weights n_j/Σn: the without-AMP ablation
};

struct AttentionOptions {
  AttentionKernel kernel = AttentionKernel::fedamp;
  double alpha_k = 1.0;           // α_K: step of the attention update
  std::string sigma = "auto";     // σ of exp(−d/σ): "auto" (median of the round's d_ij) or a number > 0
  double lambda = 1.0;            // λ: proximal weight, the term is (λ / (2 α_K))·‖w − u_i‖²
  double xi_min = 0.1;            // guard: off-diagonal ξ sum at most 1 − xi_min
  double heur_scale = 10.0;       // heur kernel: softmax temperature σ on cosine similarity
  double xi_self = 0.5;           // heur kernel: ξ_ii
  PairwiseMode exchange = PairwiseMode::ring;  // how uploads travel between ranks
  PairwisePrecision precision = PairwisePrecision::float32;  // arithmetic of the pairwise GEMMs
  int64_t every = 10;             // write the attention matrix every this many rounds (0 = never)
};

}  // namespace fedsaf
