#include "sim/federation.hpp"

#include <fmt/format.h>

#include <string>

#include "algo/algorithm_state.hpp"
#include "algo/client_memory.hpp"
#include "algo/pairwise.hpp"
#include "algo/registry.hpp"
#include "client/fisher.hpp"  // shared_tensor_names, shared_tensor_sizes
#include "client/stacked_trainer.hpp"
#include "core/eval_clients.hpp"
#include "mpi/communicator.hpp"
#include "sim/gpu_info.hpp"
#include "sim/host_memory.hpp"
#include "sim/placement.hpp"

namespace fedsaf {

namespace {

// The algorithm's view of the run: the same on every rank except `hosted`.
void fill_context(Federation& fed, const std::vector<int64_t>& train_sizes, int rank, Communicator& comm) {
  const Config& config = fed.config;
  AlgoContext& context = fed.context;
  context = model_context(config, *fed.model, train_sizes, hosted_clients(fed.rank_of, rank));
  context.make_exchange = exchanges_on(comm, context.num_clients);
  int64_t gpu_bytes = 0;
  for (const GpuInfo& g : visible_gpus())
    if (fed.device.is_cuda() && g.index == fed.device.index()) gpu_bytes = g.total_bytes;
  const ClientMemoryBudget budget{
      client_state_budget(config.run.device_state_mb, fed.device, gpu_bytes, fed.choice.ranks_sharing,
                          config.run.state_dir),
      client_state_host_budget(config.run.host_state_mb, config.run.state_dir, memory_available_bytes(),
                               comm.local_size()),
      config.run.state_dir};
  context.states = std::make_shared<ClientStateStore>(std::make_shared<ClientMemory>(fed.device, budget));
}

}  // namespace

AlgoContext model_context(const Config& config, FlatModel& model, const std::vector<int64_t>& train_sizes,
                          std::vector<int64_t> hosted) {
  AlgoContext context;
  context.train = config.train;
  context.seed = config.run.seed;
  context.num_clients = static_cast<int64_t>(train_sizes.size());
  context.train_sizes = train_sizes;
  context.hosted = std::move(hosted);
  context.initial_params = model.params().clone();  // [P]
  context.shared_numel = model.shared_numel(config.model.n_head);
  context.shared_tensor_names = shared_tensor_names(model, config.model.n_head);
  context.shared_tensor_sizes = shared_tensor_sizes(model, config.model.n_head);
  return context;
}

std::unique_ptr<Federation> build_federation(const Config& config, Communicator& comm) {
  auto fed = std::make_unique<Federation>(config);
  const uint64_t seed = config.run.seed;
  // A generated data set is made in parts by the ranks and joined (the same on every rank).
  const ReaderRanks ranks{comm.rank(), comm.size(),
                          [&comm](const torch::Tensor& rows) { return comm.allgatherv(rows).data; }};
  fed->data = load_dataset(config, ranks);
  fed->setup_steps.done("data");
  fed->partition = make_partition(config.partition, seed, config.run.clients, fed->data.labels(), fed->data.groups(),
                                  fed->data.num_classes);
  const auto num_clients = static_cast<int64_t>(fed->partition.clients.size());
  fed->setup_steps.done("partition");
  fed->eval_clients = draw_eval_clients(parse_eval_clients(config.run.eval_clients), seed, num_clients);
  fed->evaluated.assign(static_cast<size_t>(num_clients), false);
  for (int64_t c : fed->eval_clients) fed->evaluated[static_cast<size_t>(c)] = true;
  std::vector<int64_t> train_sizes, test_sizes;  // test: what evaluations score (the placement's cost)
  for (int64_t c = 0; c < num_clients; ++c) {
    train_sizes.push_back(static_cast<int64_t>(fed->partition.clients[static_cast<size_t>(c)].train.size()));
    test_sizes.push_back(fed->eval_size(c));
  }
  fed->costs = estimate_client_costs(train_sizes, test_sizes,
                                     {config.train.local_epochs, config.train.batch_size, config.run.eval_every});
  fed->rank_of = place_by_cost(fed->costs, comm.size());
  fed->setup_steps.done("placement");
  fed->choice = select_device(config.run.device, node_local_rank(comm.local_rank()), comm.local_size(),
                              static_cast<int>(config.run.max_ranks_per_gpu));
  fed->device = fed->choice.device;
  // On a GPU too: the attention stage and the staging of collectives run on the CPU, and
  // LibTorch's default (every core, in every rank) oversubscribes a node with many ranks.
  torch::set_num_threads(static_cast<int>(config.run.threads_per_rank));
  comm.set_cuda_aware(cuda_aware_wanted(config.run.cuda_aware_mpi));
  fed->model = make_model(config.model, fed->data.sample_shape(), fed->data.num_classes, seed);
  fed->model->to(fed->device);
  fed->setup_steps.done("model");
  fill_context(*fed, train_sizes, comm.rank(), comm);
  fed->algorithm = make_algorithm(config);
  fed->algorithm->init(fed->context);
  fed->setup_steps.done("algorithm");
  return fed;
}

void Federation::replace(const std::vector<int>& new_rank_of, int rank, StateReader& state) {
  algorithm.reset();  // its per-client state is in `state` now
  rank_of = new_rank_of;
  context.hosted = hosted_clients(rank_of, rank);
  context.states = std::make_shared<ClientStateStore>(
      std::make_shared<ClientMemory>(device, context.states->memory_budget()));
  algorithm = make_algorithm(config);
  algorithm->init(context);
  load_algorithm_state(*algorithm, *context.states, context.hosted, state);
}

int64_t usable_client_group(int64_t asked, const FlatModel& model, const Algorithm& algorithm,
                            const torch::Device& device) {
  if (asked == 1 || !model.stacks_clients() || !algorithm.local_training().clients_together) return 1;
  return asked == 0 ? automatic_client_group(model.num_params(), device) : asked;
}

int64_t resolve_client_group(const Federation& fed, int rank) {
  const int64_t asked = fed.config.train.client_group;
  const FlatModel& model = *fed.model;
  const int64_t group = usable_client_group(asked, model, *fed.algorithm, fed.device);
  if (group == 1 && asked > 1) {
    if (rank == 0)
      fmt::print(stderr,
                 "fedsaf: warning: train.client_group = {}, but {} cannot train clients together ({}): one at a "
                 "time\n",
                 asked,
                 model.stacks_clients() ? "this " + fed.algorithm->name() + " configuration"
                                        : "model " + fed.config.model.name,
                 model.stacks_clients() ? "fedsaf needs init_from_cloud = true and fisher_source = extra_pass"
                                        : "logreg, mlp and cnn can");
  }
  return group;
}

}  // namespace fedsaf
