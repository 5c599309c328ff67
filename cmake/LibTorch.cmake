# Finds LibTorch and makes sure its headers and libraries come from the same installation.
#
# TorchConfig.cmake looks its own libraries up with find_library(... PATHS <prefix>/lib), which
# searches the system folders before <prefix>/lib: on a machine that also has Debian's
# libtorch-dev, a pip or cluster LibTorch's headers would be linked against Debian's
# libtorch.so / libc10.so (it configures, then fails or crashes at run time). So when the chosen
# TorchConfig.cmake has its libraries beside it, pin those cache entries to them first.
#
# Where LibTorch comes from (first match): -DTorch_DIR=<dir of TorchConfig.cmake>, then
# -DCMAKE_PREFIX_PATH (scripts/build.sh passes the project venv's
# torch.utils.cmake_prefix_path), then the system (Debian's libtorch-dev).

function(_fedsaf_torch_config_dir out)
  if(Torch_DIR AND EXISTS "${Torch_DIR}/TorchConfig.cmake")
    set(${out} "${Torch_DIR}" PARENT_SCOPE)
    return()
  endif()
  foreach(prefix ${CMAKE_PREFIX_PATH})
    foreach(suffix Torch share/cmake/Torch lib/cmake/Torch)
      if(EXISTS "${prefix}/${suffix}/TorchConfig.cmake")
        set(${out} "${prefix}/${suffix}" PARENT_SCOPE)
        return()
      endif()
    endforeach()
  endforeach()
  set(${out} "" PARENT_SCOPE)
endfunction()

_fedsaf_torch_config_dir(_torch_dir)
if(_torch_dir)
  # TorchConfig.cmake computes its prefix the same way.
  get_filename_component(_torch_prefix "${_torch_dir}/../../../" ABSOLUTE)
  # cache variable → library name, as TorchConfig.cmake names them
  foreach(pair "TORCH_LIBRARY=torch" "c10_LIBRARY=c10" "C10_CUDA_LIBRARY=c10_cuda")
    string(REPLACE "=" ";" pair "${pair}")
    list(GET pair 0 var)
    list(GET pair 1 lib)
    if(EXISTS "${_torch_prefix}/lib/lib${lib}.so")
      set(${var} "${_torch_prefix}/lib/lib${lib}.so" CACHE FILEPATH "LibTorch's ${lib} (pinned to Torch_DIR)" FORCE)
    endif()
  endforeach()
endif()

find_package(Torch REQUIRED)

# A pip LibTorch loads its CUDA libraries (cuDNN, NCCL, cuBLAS, the CUDA runtime) from the nvidia-*
# wheels beside it. The link also records the CUDA toolkit's lib folder (/usr/local/cuda/lib, which
# may hold older cuDNN and NCCL builds) in the run path: put the wheels' folders first, for the
# linker and at run time, so that libtorch_cuda always gets the versions it was built with.
get_filename_component(_torch_site "${Torch_DIR}/../../../.." ABSOLUTE)
file(GLOB _nvidia_lib_dirs LIST_DIRECTORIES true "${_torch_site}/nvidia/*/lib")
if(_nvidia_lib_dirs)
  list(PREPEND CMAKE_BUILD_RPATH ${_nvidia_lib_dirs})
  string(REPLACE ";" ":" _rpath_link "${_nvidia_lib_dirs}")
  add_link_options("LINKER:-rpath-link,${_rpath_link}")
endif()

get_filename_component(_torch_lib_dir "${TORCH_LIBRARY}" DIRECTORY)
get_filename_component(_torch_cfg_dir "${Torch_DIR}/../../../lib" ABSOLUTE)
if(EXISTS "${_torch_cfg_dir}/libtorch.so" AND NOT _torch_lib_dir STREQUAL _torch_cfg_dir)
  message(FATAL_ERROR "LibTorch's headers come from ${Torch_DIR} but its library from ${TORCH_LIBRARY}. "
                      "Remove the build folder's CMakeCache.txt and configure again.")
endif()

# Whether this LibTorch was built with CUDA: then the CUDA-only code paths (device properties,
# pinned staging, CUDA-aware MPI) are compiled too, even on a machine without a GPU.
if(CAFFE2_USE_CUDA)
  set(FEDSAF_WITH_CUDA ON)
else()
  set(FEDSAF_WITH_CUDA OFF)
endif()
message(STATUS "fedsaf: LibTorch ${Torch_VERSION} from ${Torch_DIR} (CUDA: ${FEDSAF_WITH_CUDA})")
