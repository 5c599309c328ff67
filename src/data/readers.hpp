#pragma once
// The individual data set readers behind load_dataset(). Each validates what it reads (magic
// numbers, sizes against the header, label range, truncation, dtypes) and throws DataError
// naming the file and the problem. Normalisation is set by load_dataset, not here.
#include <string>
#include <vector>

#include "core/config.hpp"
#include "data/dataset.hpp"

namespace fedsaf {

// FedProx Synthetic(alpha, beta) (Li et al. 2020), generated per client; sets `group` = client.
// With several ranks each generates the clients of its share of the samples and the rows are
// joined (collective): the same data set, bit for bit, in a fraction of the time.
Dataset make_synthetic(const SyntheticConfig& config, int64_t num_clients, uint64_t seed,
                       const ReaderRanks& ranks = {});

// One IDX image file (idx3, uint8, [N, 28, 28] → x [N, 1, H, W]) and its label file (idx1);
// gzip or raw, detected from the bytes.
Dataset read_idx_pair(const std::string& images_path, const std::string& labels_path);
// MNIST / FashionMNIST folder: train-* and t10k-* files (with or without .gz), train first.
Dataset read_idx_folder(const std::string& dir, const std::string& name);

// CIFAR-10 binary version: the given batch files inside dir (empty = every data_batch_*.bin then
// test_batch.bin); class names from batches.meta.txt when present.
Dataset read_cifar10(const std::string& dir, const std::vector<std::string>& files);

// A fedsaf HDF5 data set file: /x [N,C,H,W] uint8 or [N,D] float32, /y [N] int64, optional
// /group [N] int64; attribute class_names on /y (string array) optional.
Dataset read_hdf5_dataset(const std::string& path);

}  // namespace fedsaf
