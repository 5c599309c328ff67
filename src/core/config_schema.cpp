// fedsaf: no-torch
#include "core/config_schema.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "core/limits.hpp"

namespace fedsaf {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// Registrations only add (before main); the schema is rebuilt after each one.
std::vector<ConfigSectionSpec>& sections() {
  static std::vector<ConfigSectionSpec> registered;
  return registered;
}
std::vector<ConfigChoice>& choices() {
  static std::vector<ConfigChoice> registered;  // by order within each key
  return registered;
}
std::vector<ConfigKeySpec>& schema_cache() {
  static std::vector<ConfigKeySpec> cache;
  return cache;
}

const std::vector<ConfigKeySpec>& general_keys() {
  static const std::vector<ConfigKeySpec> schema = {
      // ---- [run]
      {"run.seed", "Seed of every random stream (partition, cohorts, initial model, shuffling).",
       [](Config& c) -> ConfigValueRef { return &c.run.seed; }, 0, kInf},
      {"run.rounds", "Number of communication rounds.",
       [](Config& c) -> ConfigValueRef { return &c.run.rounds; }, 1, limits::kMaxRounds},
      {"run.clients", "Number of simulated clients N (for `natural` partitions: must equal the number of groups, or 0 to take it from the data).",
       [](Config& c) -> ConfigValueRef { return &c.run.clients; }, 0, limits::kMaxClients},
      {"run.algorithm", "Federated algorithm:",
       [](Config& c) -> ConfigValueRef { return &c.run.algorithm; }},
      {"run.join_ratio", "Fraction of clients selected per round (cohort = floor(N * join_ratio), at least 1).",
       [](Config& c) -> ConfigValueRef { return &c.run.join_ratio; }, 0, 1, true},
      {"run.eval_every", "Evaluate every this many rounds (and always after the last round).",
       [](Config& c) -> ConfigValueRef { return &c.run.eval_every; }, 1, kInf},
      {"run.eval_batch_size", "Test samples per forward pass when evaluating; 0 = automatic: 64 on the CPU, 1024 on a GPU. On the CPU bench/bench_forward measured the no-grad forward per sample fastest between 16 and 64 for cnn (1.3× faster than at 1024) and resnet18, and flat from 64 up for mlp and logreg. Results do not depend on it beyond float rounding.",
       [](Config& c) -> ConfigValueRef { return &c.run.eval_batch_size; }, 0, 1000000},
      {"run.eval_clients", "Clients scored at each evaluation: `all`, a count (e.g. 1000) or a fraction of run.clients in (0, 1) (e.g. 0.1, at least one client). The sample is drawn once from run.seed, so every evaluation scores the same clients at any rank count; the others get NaN in the per-client metrics, the pooled metrics cover the sample only, and the run file lists it (/partition/eval_clients). Training does not depend on it. For cross-device runs, where evaluating every client costs far more than a round of training.",
       [](Config& c) -> ConfigValueRef { return &c.run.eval_clients; }, -kInf, kInf, false, {}, true},
      {"run.device", "Where each rank trains: `auto` (its GPU when LibTorch has CUDA, else CPU), `cpu` or `cuda`.",
       [](Config& c) -> ConfigValueRef { return &c.run.device; }, -kInf, kInf, false,
       {"auto", "cpu", "cuda"}},
      {"run.max_ranks_per_gpu", "Ranks of one node sharing one GPU (ranks take GPU local_rank mod GPUs) above which the run warns that they compete for its memory and compute.",
       [](Config& c) -> ConfigValueRef { return &c.run.max_ranks_per_gpu; }, 1, 1024},
      {"run.device_state_mb", "MiB of client state (personal models, Fisher diagonals, held uploads) a rank keeps on its device; the rest lives in (pinned) host memory and is copied in when used. 0 = automatic: on a GPU 40 % of its memory divided among the ranks sharing it; on the CPU no limit, or with run.state_dir none (the device is host memory there, and run.host_state_mb decides what stays in it).",
       [](Config& c) -> ConfigValueRef { return &c.run.device_state_mb; }, 0, 1e12},
      {"run.host_state_mb", "MiB of client state a rank keeps in host memory beyond run.device_state_mb; the rest goes to the disk tier in run.state_dir. 0 = automatic: without run.state_dir no limit, with it half of the node's available memory at start divided among the node's ranks.",
       [](Config& c) -> ConfigValueRef { return &c.run.host_state_mb; }, 0, 1e12},
      {"run.state_dir", "Folder for client state beyond run.device_state_mb and run.host_state_mb (node-local scratch, e.g. $TMPDIR on a cluster): each rank keeps it in one memory-mapped scratch file there, deleted as soon as it is created, so nothing outlives the run. Empty = no disk tier. Results are bit-identical in every tier; the disk is only slower. For models whose per-client state does not fit in memory (e.g. fedsaf or fedamp with the cnn and 10,000 clients).",
       [](Config& c) -> ConfigValueRef { return &c.run.state_dir; }},
      {"run.cuda_aware_mpi", "How GPU tensors reach MPI: `auto` (directly when Open MPI reports CUDA support, else staged through pinned host buffers), `on` (directly; an error if MPI lacks CUDA support), `off` (always staged).",
       [](Config& c) -> ConfigValueRef { return &c.run.cuda_aware_mpi; }, -kInf, kInf, false,
       {"auto", "on", "off"}},
      {"run.threads_per_rank", "Intra-op torch threads per rank, on the CPU and for the CPU work of GPU runs (keep ranks × threads ≤ cores).",
       [](Config& c) -> ConfigValueRef { return &c.run.threads_per_rank; }, 1, 1024},
      {"run.out_dir", "Folder for the run file and checkpoints.",
       [](Config& c) -> ConfigValueRef { return &c.run.out_dir; }},
      {"run.checkpoint_every", "Write a checkpoint (out_dir/checkpoints) every this many rounds; 0 = only on a stop signal and after the last round.",
       [](Config& c) -> ConfigValueRef { return &c.run.checkpoint_every; }, 0, kInf},
      {"run.checkpoint_keep", "Complete checkpoints to keep (the newest ones).",
       [](Config& c) -> ConfigValueRef { return &c.run.checkpoint_keep; }, 1, kInf},
      {"run.max_diverged_share", "A client whose model or loss is not finite after local training has diverged: it is left out of that round (aggregation, attention, loss) and keeps its last finite state. The run stops, after a checkpoint, when every client of a cohort diverges, or at least this share of the cohort for run.max_diverged_rounds rounds in a row.",
       [](Config& c) -> ConfigValueRef { return &c.run.max_diverged_share; }, 0, 1, true},
      {"run.max_diverged_rounds", "Rounds in a row with at least run.max_diverged_share of the cohort diverging that stop the run.",
       [](Config& c) -> ConfigValueRef { return &c.run.max_diverged_rounds; }, 1, kInf},
      {"run.rebalance", "Re-place clients between rounds from the ranks' measured speeds when, for two rounds in a row, the ranks wait on average more than this share of the slowest rank's training + evaluation time (1 - mean/max); 0 = never: the placement by estimated cost the run starts with stays. For ranks of unequal speed (mixed nodes or GPUs, shared nodes). Results do not depend on the placement beyond float rounding (the same 1e-5 as across rank counts), but a run that re-places is no longer bit-identical to its rerun, since the decision follows measured time.",
       [](Config& c) -> ConfigValueRef { return &c.run.rebalance; }, 0, 1},
      // ---- [data]
      {"data.dataset", "Data set:",
       [](Config& c) -> ConfigValueRef { return &c.data.dataset; }},
      {"data.path", "Folder of the IDX or CIFAR-10 files, or the HDF5 data set file. Empty: fashionmnist defaults to /usr/share/datasets/fashion-mnist (Debian's dataset-fashion-mnist), cifar10 to $FEDSAF_DATA/cifar-10-batches-bin (FEDSAF_DATA defaults to ~/fedsaf-data).",
       [](Config& c) -> ConfigValueRef { return &c.data.path; }},
      {"data.files", "cifar10 only: batch file names inside data.path; empty = every data_batch_*.bin and test_batch.bin found.",
       [](Config& c) -> ConfigValueRef { return &c.data.files; }},
      {"data.normalize", "Input scaling: `auto` (images: symmetric; float data: none), `none`, `unit` (x/255), `symmetric` ((x/255 - 0.5)/0.5), `standard` (per-channel mean/std of the whole set).",
       [](Config& c) -> ConfigValueRef { return &c.data.normalize; }, -kInf, kInf, false,
       {"auto", "none", "unit", "symmetric", "standard"}},
      // ---- [data.synthetic]
      {"data.synthetic.alpha", "Synthetic(alpha, beta): spread of the per-client model means (0 = same model everywhere).",
       [](Config& c) -> ConfigValueRef { return &c.data.synthetic.alpha; }, 0, kInf},
      {"data.synthetic.beta", "Synthetic(alpha, beta): spread of the per-client input means.",
       [](Config& c) -> ConfigValueRef { return &c.data.synthetic.beta; }, 0, kInf},
      {"data.synthetic.features", "Synthetic: input dimension.",
       [](Config& c) -> ConfigValueRef { return &c.data.synthetic.features; }, 1, 1e6},
      {"data.synthetic.classes", "Synthetic: number of classes.",
       [](Config& c) -> ConfigValueRef { return &c.data.synthetic.classes; }, 2, 1e5},
      {"data.synthetic.size_mu", "Synthetic: per-client sample count is min_samples + lognormal(size_mu, size_sigma), capped at max_samples.",
       [](Config& c) -> ConfigValueRef { return &c.data.synthetic.size_mu; }, -kInf, kInf},
      {"data.synthetic.size_sigma", "Synthetic: sigma of the lognormal sample count.",
       [](Config& c) -> ConfigValueRef { return &c.data.synthetic.size_sigma; }, 0, kInf},
      {"data.synthetic.min_samples", "Synthetic: smallest number of samples per client.",
       [](Config& c) -> ConfigValueRef { return &c.data.synthetic.min_samples; }, 2, 1e7},
      {"data.synthetic.max_samples", "Synthetic: largest number of samples per client.",
       [](Config& c) -> ConfigValueRef { return &c.data.synthetic.max_samples; }, 2, 1e7},
      // ---- [partition]
      {"partition.method", "How samples are dealt to clients: `auto` (natural when the data set has groups, else dirichlet);",
       [](Config& c) -> ConfigValueRef { return &c.partition.method; }, -kInf, kInf, false, {"auto"}},
      {"partition.alpha", "dirichlet: concentration alpha (smaller = more skewed labels).",
       [](Config& c) -> ConfigValueRef { return &c.partition.alpha; }, 0, kInf, true},
      {"partition.min_size", "dirichlet: redraw until every client has at least this many samples.",
       [](Config& c) -> ConfigValueRef { return &c.partition.min_size; }, 0, kInf},
      {"partition.classes_per_client", "pathological: number of classes each client holds.",
       [](Config& c) -> ConfigValueRef { return &c.partition.classes_per_client; }, 1, kInf},
      {"partition.power", "quantity: power-law exponent of the client sizes (size of the k-th client ∝ k^-power).",
       [](Config& c) -> ConfigValueRef { return &c.partition.power; }, 0, kInf},
      {"partition.train_fraction", "Per-client share of samples used for training; the rest is the client's test split.",
       [](Config& c) -> ConfigValueRef { return &c.partition.train_fraction; }, 0, 1, true},
      // ---- [model]
      {"model.name", "Model:",
       [](Config& c) -> ConfigValueRef { return &c.model.name; }},
      {"model.hidden", "mlp: hidden layer widths.",
       [](Config& c) -> ConfigValueRef { return &c.model.hidden; }, 1, kInf},
      {"model.n_head", "Split depth: the first n_head parameterised layers are shared, the rest private; 0 = every layer shared.",
       [](Config& c) -> ConfigValueRef { return &c.model.n_head; }, 0, kInf},
      // ---- [train]
      {"train.local_epochs", "Local epochs per round (E).",
       [](Config& c) -> ConfigValueRef { return &c.train.local_epochs; }, 1, kInf},
      {"train.batch_size", "Local mini-batch size (B).",
       [](Config& c) -> ConfigValueRef { return &c.train.batch_size; }, 1, kInf},
      {"train.lr", "Local SGD learning rate.",
       [](Config& c) -> ConfigValueRef { return &c.train.lr; }, 0, kInf, true},
      {"train.momentum", "Local SGD momentum.",
       [](Config& c) -> ConfigValueRef { return &c.train.momentum; }, 0, 1},
      {"train.weight_decay", "Local SGD weight decay (L2).",
       [](Config& c) -> ConfigValueRef { return &c.train.weight_decay; }, 0, kInf},
      {"train.client_group", "Clients a rank trains together as one stacked block of parameters (client-batched training: one set of kernels per step for G clients, each with its own batches, loss, gradient and step; results equal one-at-a-time training within float rounding). Models logreg, mlp and cnn; resnet18, torchscript models, clients with fewer samples than train.batch_size and fedsaf with init_from_cloud = false or fisher_source = last_epoch train one at a time. 0 = automatic: on the CPU G = min(128, 2 MiB / (4 bytes × parameters)) for models of at most 32,768 parameters, else 1 (bench/bench_stacked: 1.8× faster for the 14k-parameter mlp, 6× for logreg, slower than one at a time for the 159k-parameter mlp and the cnn); on a GPU as many clients as 256 MiB of parameters hold, at most 1024 (not yet measured on a GPU). 1 = one at a time.",
       [](Config& c) -> ConfigValueRef { return &c.train.client_group; }, 0, 4096},
  };
  return schema;
}

// The general keys, each with its registered choices appended to its fixed ones and to its doc
// (" `name` summary;" each, the last ';' a '.'; a prefix choice shows as `name:PATH`), then every
// registered section's keys.
std::vector<ConfigKeySpec> build_schema() {
  std::vector<ConfigKeySpec> schema = general_keys();
  for (ConfigKeySpec& spec : schema) {
    bool any = false;
    for (const ConfigChoice& choice : choices()) {
      if (choice.key != spec.key) continue;
      any = true;
      spec.choices.push_back(choice.name);
      const std::string shown = choice.name.back() == ':' ? choice.name + "PATH" : choice.name;
      spec.doc += fmt::format(" `{}` {};", shown, choice.summary);
    }
    if (any) spec.doc.back() = '.';
  }
  for (const ConfigSectionSpec& section : sections())
    schema.insert(schema.end(), section.keys.begin(), section.keys.end());
  return schema;
}

}  // namespace

bool register_config_section(ConfigSectionSpec section) {
  std::vector<ConfigSectionSpec>& all = sections();
  const auto at = std::upper_bound(all.begin(), all.end(), section.order,
                                   [](int order, const ConfigSectionSpec& s) { return order < s.order; });
  all.insert(at, std::move(section));
  schema_cache() = build_schema();
  return true;
}

const std::vector<ConfigSectionSpec>& config_sections() { return sections(); }

bool register_config_choice(ConfigChoice choice) {
  std::vector<ConfigChoice>& all = choices();
  const auto at = std::upper_bound(all.begin(), all.end(), choice.order,
                                   [](int order, const ConfigChoice& c) { return order < c.order; });
  all.insert(at, std::move(choice));
  schema_cache() = build_schema();
  return true;
}

const std::vector<ConfigKeySpec>& config_schema() {
  if (schema_cache().empty()) schema_cache() = build_schema();
  return schema_cache();
}

}  // namespace fedsaf
