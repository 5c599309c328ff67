#pragma once
// An experiment's configuration: typed structs filled from one TOML file plus `--set key=value`
// overrides. Every key is declared once (type, default, range, doc): the general ones in
// config_schema.cpp, each algorithm's in its own file (register_config_section); the parser, the
// resolved-TOML writer and docs/config.md all come from that one table.
#include <cstdint>
#include <string>
#include <vector>

#include "core/config_sections.hpp"

namespace fedsaf {

struct RunConfig {
  uint64_t seed = 1;
  int64_t rounds = 20;
  int64_t clients = 20;
  std::string algorithm = "fedavg";
  double join_ratio = 1.0;
  int64_t eval_every = 1;
  int64_t eval_batch_size = 0;  // samples per evaluation forward; 0 = automatic (eval_batch_for)
  std::string eval_clients = "all";  // "all", a count or a fraction (core/eval_clients.hpp)
  std::string device = "auto";
  int64_t max_ranks_per_gpu = 4;      // more ranks on one GPU than this: a warning
  double device_state_mb = 0;         // client state kept on the device (MiB); 0 = automatic
  double host_state_mb = 0;           // then in host memory (MiB); 0 = automatic (algo/client_memory.hpp)
  std::string state_dir;              // then on disk in this folder; empty = no disk tier
  std::string cuda_aware_mpi = "auto";  // auto | on | off: pass GPU buffers to MPI directly
  int64_t threads_per_rank = 1;
  std::string out_dir = "runs/default";
  int64_t checkpoint_every = 5;  // rounds between checkpoints; 0 = only on a stop signal and at the end
  int64_t checkpoint_keep = 2;   // complete checkpoints kept in out_dir/checkpoints
  // Diverging clients (non-finite model or loss after local training) are left out of the round;
  // the run stops when all of a cohort diverge, or at least this share for this many rounds in a row.
  double max_diverged_share = 0.5;
  int64_t max_diverged_rounds = 3;
  // Re-place clients between rounds when the ranks' mean idle share exceeds this for two rounds in
  // a row (src/sim/rebalance.hpp); 0 = keep the placement the run started with.
  double rebalance = 0;
};

struct SyntheticConfig {
  double alpha = 1.0;   // spread of the per-client models
  double beta = 1.0;    // spread of the per-client input means
  int64_t features = 60;
  int64_t classes = 10;
  double size_mu = 4.0;     // per-client sample count ~ lognormal(mu, sigma) + min_samples
  double size_sigma = 2.0;
  int64_t min_samples = 50;
  int64_t max_samples = 1000;
};

struct DataConfig {
  std::string dataset = "synthetic";  // synthetic | fashionmnist | mnist | cifar10 | hdf5
  std::string path;                   // folder (idx, cifar10) or file (hdf5); "" = default
  std::vector<std::string> files;     // cifar10: batch files inside path; [] = all found
  std::string normalize = "auto";     // auto | none | unit | symmetric | standard
  SyntheticConfig synthetic;
};

struct PartitionConfig {
  std::string method = "auto";  // auto | iid | dirichlet | pathological | quantity | natural
  double alpha = 0.1;
  int64_t min_size = 10;
  int64_t classes_per_client = 2;
  double power = 1.5;
  double train_fraction = 0.75;
};

struct ModelConfig {
  std::string name = "logreg";  // logreg | mlp | cnn | resnet18 | torchscript:PATH
  std::vector<int64_t> hidden = {200};
  int64_t n_head = 0;  // shared first layers; 0 = all parameterised layers
};

struct TrainConfig {
  int64_t local_epochs = 1;
  int64_t batch_size = 10;
  double lr = 0.005;
  double momentum = 0.0;
  double weight_decay = 0.0;
  int64_t client_group = 0;  // clients trained together as one stacked block; 0 = automatic, 1 = one at a time
};

struct Config {
  RunConfig run;
  DataConfig data;
  PartitionConfig partition;
  ModelConfig model;
  TrainConfig train;
  // The sections of the algorithms and of the attention stage, declared by them (src/algo).
  ConfigSections sections;
  std::string source;  // where it came from: the file name, or "<built-in default>"

  // E.g. config.section<FedSafOptions>(): that section's typed values.
  template <class T>
  T& section() { return sections.get<T>(); }
  template <class T>
  const T& section() const { return sections.get<T>(); }
};

// Parses a TOML file, then applies `key=value` overrides in order. Throws ConfigError naming the
// file, line and key (with the nearest valid key for unknown ones).
Config load_config(const std::string& path, const std::vector<std::string>& overrides = {});
// The built-in default experiment with overrides applied (no file).
Config default_config(const std::vector<std::string>& overrides = {});
// Parses TOML text (`name` is used in error messages in place of a file name).
Config parse_config_text(const std::string& text, const std::string& name,
                         const std::vector<std::string>& overrides = {});

// Keys whose values differ, as "key: A → B" (A from `before`, B from `after`), in schema order.
std::vector<std::string> config_diff(const Config& before, const Config& after);

// The fully resolved configuration as TOML text (every key, in schema order).
std::string to_toml(const Config& config);
// The reference page of every key (Markdown), as committed in docs/config.md.
std::string config_reference_markdown();
// All dotted key names, in schema order.
std::vector<std::string> config_keys();

}  // namespace fedsaf
