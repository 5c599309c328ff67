#pragma once
// The exact median of values spread over ranks without gathering them (σ = "auto" of fedamp /
// fedsaf): a radix selection on the values' bit patterns, 8 bits a pass, each pass one sum over
// the ranks of a 256-bucket histogram of the candidates left. Gathering every rank's finite
// distances instead cost O(rows × N) doubles on every rank (800 MB per rank for a cohort of
// 1,000 rows against 100,000 clients) and a sort of all of them.
#include <torch/torch.h>

#include <functional>

namespace fedsaf {

// Collective: the median of the union of every rank's `values` ([n_r] float64, finite, ≥ 0):
// the middle value, or for an even count the mean of the two middle values (0.5·(a + b)), so
// exactly what sorting the union would give. 1.0 when the union is empty or its median is not
// > 0 (as median_sigma). Throws Error on every rank when any rank holds a negative or non-finite
// value. sum_over_ranks: an in-place sum of an int64 tensor over the ranks; 17 calls at most,
// each on [256] or [2].
double distributed_median(const torch::Tensor& values, const std::function<void(const torch::Tensor&)>& sum_over_ranks);

}  // namespace fedsaf
