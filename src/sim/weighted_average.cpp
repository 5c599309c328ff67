#include "sim/weighted_average.hpp"

#include "mpi/communicator.hpp"

namespace fedsaf {

WeightedAverage::WeightedAverage(int64_t numel, torch::Device device) : numel_(numel) {
  if (numel_ > 0) sum_ = torch::zeros({numel_ + 1}, torch::TensorOptions().dtype(torch::kFloat64).device(device));
}

void WeightedAverage::add(const torch::Tensor& params, double n) {
  if (numel_ == 0) return;
  sum_.narrow(0, 0, numel_).add_(params.narrow(0, 0, numel_).to(torch::kFloat64), n);  // Σ n_k·w_k in float64
  sum_[numel_] += n;                                                                   // Σ n_k
}

torch::Tensor WeightedAverage::reduce(Communicator& comm) {
  if (numel_ == 0) return {};
  comm.allreduce_sum(sum_);  // one call carries both sums
  const double total = sum_[numel_].item<double>();
  const torch::Tensor mean = total > 0 ? (sum_.narrow(0, 0, numel_) / total).to(torch::kFloat32) : torch::Tensor();  // [numel]
  sum_.zero_();
  return mean;
}

}  // namespace fedsaf
