// fedsaf: no-torch
// PLACEHOLDER until the HDF5 layer lands.
